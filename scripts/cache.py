"""Seed-compatible wrapper: same as `pixelrec cache list|stats NAME|clear NAME|clear --all`."""

from _bootstrap import run

if __name__ == "__main__":
    run("cache")
