"""`pixelrec preprocess`: clean text, validate images, filter interactions, scale numbers."""

from __future__ import annotations

import argparse

HELP = "preprocess raw item/interaction files and images into data.processed_* outputs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no_progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.data.preprocess import preprocess

    config = load(args)
    report = preprocess(config, progress=not args.no_progress)
    inter, items, users = report["interactions"], report["items"], report["users"]
    print(f"preprocessed: {inter['rows_out']}/{inter['rows_in']} interactions, "
          f"{items['rows_out']}/{items['rows_in']} items, {users['out']}/{users['in']} users "
          f"-> {config.data.processed_interactions_path}")
    return 0
