"""`pixelrec precompute`: encode every item's image and text once into the feature cache."""

from __future__ import annotations

import argparse

HELP = "encode item images and texts with the configured encoders into the feature cache"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max_items", type=int, default=None, metavar="N",
                        help="only the first N items of the processed item table")
    parser.add_argument("--force_recompute", action="store_true",
                        help="encode the items again even when cached (with --max_items only those "
                             "N, keeping the rest of the cache)")
    parser.add_argument("--no_progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.errors import PixelRecError
    from pixelrec.features import precompute, summary_line

    if args.max_items is not None and args.max_items < 1:
        raise PixelRecError(f"--max_items must be at least 1, got {args.max_items}.")
    config = load(args)
    summary = precompute(config, max_items=args.max_items, force=args.force_recompute,
                         progress=not args.no_progress)
    print(summary_line(summary))
    return 0
