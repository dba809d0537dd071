"""`pixelrec tune`: Optuna search of a recommender's hyper-parameters on the val split."""

from __future__ import annotations

import argparse

HELP = ("tune a recommender's hyper-parameters on the val split (Optuna, resumable); write the "
        "best config and a table of trials")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pixelrec.models.registry import recommender_names  # light: no torch import

    parser.add_argument("--recommender_type", required=True, metavar="NAME",
                        help=f"a registered recommender: {', '.join(recommender_names())}")
    parser.add_argument("--trials", type=int, required=True, metavar="N",
                        help="finished (complete or pruned) trials the study should hold in "
                             "all; re-running resumes it and runs only the missing ones")
    parser.add_argument("--timeout", type=float, metavar="S",
                        help="start no new trial after S seconds (the running one finishes)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pixelrec.tuning import import_optuna

    import_optuna()  # before anything heavy: a missing optional dependency is exit 2 at once
    from pixelrec.cli._common import load
    from pixelrec.tuning import format_trials, tune

    config = load(args)
    summary = tune(config, args.recommender_type, args.trials, timeout=args.timeout,
                   progress=not args.no_progress)
    print(f"study {summary['study']} ({summary['storage']}): {summary['finished_trials']} "
          f"finished trial(s), {summary['ran']} run now; objective val {summary['metric']} "
          f"(maximised)")
    print(format_trials(summary))
    best = summary["best"]
    if best is None:
        print("no trial completed yet, so there is no best configuration; re-run to continue.")
        return 1
    print(f"best: trial {best['number']}, val {summary['metric']} {best['value']:.6f}")
    print(f"wrote {summary['best_config']} (pixelrec train/evaluate --config it) and "
          f"{summary['trials_file']}")
    return 0
