"""Seed-compatible wrapper: same as `pixelrec precompute` (--max_items N, --force_recompute)."""

from _bootstrap import run

if __name__ == "__main__":
    run("precompute")
