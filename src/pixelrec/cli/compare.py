"""`pixelrec compare A.json B.json`: side-by-side metrics with paired differences and tests."""

from __future__ import annotations

import argparse

HELP = "compare two evaluation results: paired difference, its 95% CI and a significance test"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("result_a", help="baseline result JSON (A)")
    parser.add_argument("result_b", help="result JSON to compare against A (B)")
    parser.add_argument("--metrics", nargs="+", help="metrics to show (default: all shared)")


def run(args: argparse.Namespace) -> int:
    from pixelrec.cli._common import load
    from pixelrec.evaluation import load_result
    from pixelrec.evaluation.compare import compare_results, format_comparison

    config = load(args)
    a, b = load_result(args.result_a), load_result(args.result_b)
    rows = compare_results(a, b, config.evaluation.bootstrap_samples, config.seed, args.metrics)
    print(format_comparison(rows, args.result_a, args.result_b))
    return 0
