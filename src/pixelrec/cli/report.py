"""`pixelrec report`: a self-contained HTML report of every evaluated model, with pictures."""

from __future__ import annotations

import argparse

from pixelrec.cli.recommend import RECOMMENDER_CHOICES

HELP = "write results_dir/report/index.html: metrics with CIs, curves, galleries, cold items"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample_users", type=int, default=4, metavar="N",
                        help="users shown in the gallery (default: %(default)s)")
    parser.add_argument("--baseline", choices=[c for c in RECOMMENDER_CHOICES
                                               if c != "multimodal"],
                        help="baseline shown beside the multimodal model in the gallery "
                             "(default: the best evaluated baseline)")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.report import write_report

    path = write_report(load(args), sample_users=args.sample_users, baseline=args.baseline)
    print(f"report written to {path}")
    return 0
