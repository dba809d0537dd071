"""Seed-compatible wrapper: same as `pixelrec split` (e.g. --sample_n 100000)."""

from _bootstrap import run

if __name__ == "__main__":
    run("split")
