"""`pixelrec serve`: the HTTP API over a trained model (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse

from pixelrec.cli.recommend import RECOMMENDER_FLAGS

HELP = "serve recommendations over HTTP (binds 127.0.0.1 by default; see docs/serving.md)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to bind (serving.host, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (serving.port, default 8000)")
    from pixelrec.models.registry import recommender_names  # light: no torch import

    parser.add_argument("--recommender_type", metavar="NAME",
                        help=f"recommendation.recommender_type: {', '.join(recommender_names())}")
    parser.add_argument("--checkpoint", help="best, last or a path (recommendation.checkpoint)")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.serving import serve

    serve(load(args, RECOMMENDER_FLAGS), host=args.host, port=args.port)
    return 0
