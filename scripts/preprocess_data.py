"""Seed-compatible wrapper: same as `pixelrec preprocess`."""

from _bootstrap import run

if __name__ == "__main__":
    run("preprocess")
