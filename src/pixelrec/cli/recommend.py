"""`pixelrec recommend`: top-K recommendations for chosen users, written as JSON or CSV."""

from __future__ import annotations

import argparse

HELP = "write top-K recommendations for users (unknown users get popularity, marked)"

# Flags shared with `serve`: argument name -> config key.
RECOMMENDER_FLAGS = {"recommender_type": "recommendation.recommender_type",
                     "checkpoint": "recommendation.checkpoint"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--users", nargs="+", metavar="USER_ID", help="user ids")
    who.add_argument("--user_file", help="text file with one user id per line")
    who.add_argument("--sample_users", type=int, metavar="N",
                     help="N known users sampled with the config seed (default: every known user)")
    who.add_argument("--history_file", help="CSV/Parquet with user_id, item_id (, timestamp): "
                                            "users known only by these interactions")
    parser.add_argument("--top_k", type=int, help="list length (recommendation.top_k)")
    from pixelrec.models.registry import recommender_names  # light: no torch import

    parser.add_argument("--recommender_type", metavar="NAME",
                        help=f"recommendation.recommender_type: {', '.join(recommender_names())} "
                             f"(baselines are fitted on train now)")
    parser.add_argument("--checkpoint", help="multimodal checkpoint: best, last or a path "
                                             "(recommendation.checkpoint)")
    parser.add_argument("--output", default="recommendations",
                        help="file name under results_dir (a path if it has a directory part); "
                             "the format's extension is added when missing "
                             "(default: %(default)s)")
    parser.add_argument("--format", dest="fmt", choices=("json", "csv"), default="json")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pixelrec.cli._common import load
    from pixelrec.inference import generate_recommendations, load_engine
    from pixelrec.inference.output import preview

    config = load(args, RECOMMENDER_FLAGS)
    output = args.output
    if Path(output).suffix.lower() != f".{args.fmt}":
        output = f"{output}.{args.fmt}"
    engine = load_engine(config)
    if engine.ann is not None:
        print("ANN index: " + ", ".join(f"{k} {v}" for k, v in engine.ann.report.items()))
    result, path = generate_recommendations(
        config, users=args.users, user_file=args.user_file, sample_users=args.sample_users,
        history_file=args.history_file, top_k=args.top_k, output=output, fmt=args.fmt, engine=engine)
    fallback = sum(1 for entry in result.values() if entry["fallback"])
    print(f"{config.recommendation.recommender_type}: recommendations for {len(result)} users "
          f"({fallback} unknown -> popularity fallback) written to {path}")
    print(preview(result))
    return 0
