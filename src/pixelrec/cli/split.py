"""`pixelrec split`: leakage-free train/val/test splits of the processed interactions."""

from __future__ import annotations

import argparse

HELP = "split processed interactions into train/val/test (data.splitting)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", help="override data.splitting.strategy")
    parser.add_argument("--sample_n", type=int,
                        help="sample about N interactions by whole users before splitting")
    parser.add_argument("--sample_users", type=int, help="sample N whole users before splitting")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.data.split_stage import create_splits

    extra = []
    if args.strategy:
        extra.append(f"data.splitting.strategy={args.strategy}")
    if args.sample_n is not None:
        extra.append(f"data.splitting.sample_n={args.sample_n}")
    if args.sample_users is not None:
        extra.append(f"data.splitting.sample_users={args.sample_users}")
    config = load(args, extra)
    stats = create_splits(config)
    counts = ", ".join(f"{p} {stats[p]['interactions']}" for p in ("train", "val", "test"))
    removed = sum(stats["removed"].values())
    print(f"{stats['strategy']} split written to {config.data.split_data_path}: {counts} "
          f"interactions; {removed} val/test rows removed (user or item not in train)")
    return 0
