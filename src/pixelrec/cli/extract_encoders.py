"""`pixelrec extract-encoders`: the user and item id encoders of the trained model."""

from __future__ import annotations

import argparse

HELP = "write the user/item id encoders (JSON + seed-compatible pickles) to checkpoint_dir/encoders"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="best",
                        help="best (default), last or a checkpoint path")
    parser.add_argument("--output_dir", help="default: <checkpoint_dir>/encoders")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.training.encoders import extract_encoders

    config = load(args)
    paths = extract_encoders(config, args.checkpoint, args.output_dir)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
