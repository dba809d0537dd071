"""Seed-compatible wrapper: same as `pixelrec recommend` (e.g. --users u1 u2 --top_k 20)."""

from _bootstrap import run

if __name__ == "__main__":
    run("recommend")
