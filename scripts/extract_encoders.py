"""Seed-compatible wrapper: same as `pixelrec extract-encoders`."""

from _bootstrap import run

if __name__ == "__main__":
    run("extract-encoders")
