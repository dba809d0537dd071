"""Evaluation: full-ranking and sampled metrics, beyond-accuracy, bootstrap CIs, comparison."""

from pixelrec.evaluation.core import TASKS, evaluate_interactions
from pixelrec.evaluation.results import format_result, format_results_table, load_result
from pixelrec.evaluation.runner import evaluate_recommender

__all__ = [
    "TASKS",
    "evaluate_interactions",
    "evaluate_recommender",
    "format_result",
    "format_results_table",
    "load_result",
]
