"""`pixelrec report`: a self-contained HTML report of every evaluated model, with pictures."""

from __future__ import annotations

import argparse

HELP = "write results_dir/report/index.html: metrics with CIs, curves, galleries, cold items"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample_users", type=int, default=4, metavar="N",
                        help="users shown in the gallery (default: %(default)s)")
    parser.add_argument("--baseline", metavar="NAME",
                        help="baseline shown beside the multimodal model in the gallery "
                             "(default: the best evaluated baseline)")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.errors import ConfigError
    from pixelrec.models import BASELINE_TYPES
    from pixelrec.report import write_report

    if args.baseline is not None and args.baseline not in BASELINE_TYPES:
        raise ConfigError(f"--baseline must be one of {', '.join(BASELINE_TYPES)}, "
                          f"got {args.baseline!r}.")
    path = write_report(load(args), sample_users=args.sample_users, baseline=args.baseline)
    print(f"report written to {path}")
    return 0
