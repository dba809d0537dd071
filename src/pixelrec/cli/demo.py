"""`pixelrec demo`: the whole pipeline on the built-in synthetic data, ending with a table."""

from __future__ import annotations

import argparse

HELP = "run every pipeline stage on the built-in demo data and print a results table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(config="configs/demo.yaml")
    parser.add_argument("--n_items", type=int, default=2000,
                        help="synthetic items, each with a picture and text (default: %(default)s)")
    parser.add_argument("--n_users", type=int, default=1500,
                        help="synthetic users (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="demo data seed (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.pipeline import run_demo

    config = load(args)
    print(run_demo(config, n_items=args.n_items, n_users=args.n_users, seed=args.seed,
                   config_path=args.config))
    return 0
