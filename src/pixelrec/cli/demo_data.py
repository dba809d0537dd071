"""`pixelrec demo-data`: write the deterministic synthetic demo dataset."""

from __future__ import annotations

import argparse

HELP = "generate the synthetic demo dataset (item_info.csv, interactions.csv, images/)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="data/demo", help="output folder (default: %(default)s)")
    parser.add_argument("--n_items", type=int, default=2000,
                        help="synthetic items, each with a picture and text (default: %(default)s)")
    parser.add_argument("--n_users", type=int, default=1500,
                        help="synthetic users (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="demo data seed (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from pixelrec.data.demo import write_demo
    from pixelrec.errors import PixelRecError

    if args.n_items < 20 or args.n_users < 10:
        raise PixelRecError("--n_items must be >= 20 and --n_users >= 10 for a usable demo.")
    params = write_demo(args.out, args.n_items, args.n_users, args.seed)
    print(f"demo dataset written to {args.out}: {params['n_items']} items "
          f"({params['images']} images), {params['n_users']} users, "
          f"{params['interactions']} interactions")
    return 0
