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

    config = load(args, {"strategy": "data.splitting.strategy",
                          "sample_n": "data.splitting.sample_n",
                          "sample_users": "data.splitting.sample_users"})
    stats = create_splits(config)
    counts = ", ".join(f"{p} {stats[p]['interactions']}" for p in ("train", "val", "test"))
    removed = sum(stats["removed"].values())
    print(f"{stats['strategy']} split written to {config.data.split_data_path}: {counts} "
          f"interactions; {removed} val/test rows removed (user or item not in train)")
    return 0
