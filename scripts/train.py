"""Seed-compatible wrapper: same as `pixelrec train` (--device, --resume, --use_wandb, ...)."""

from _bootstrap import run

if __name__ == "__main__":
    run("train")
