"""Evaluation: full-ranking and sampled metrics, beyond-accuracy, bootstrap CIs, comparison.

Entry points are imported lazily, so `pixelrec.evaluation.metrics` (numpy only) stays light.
Metrics and evaluation tasks are registries: `register_metric` / `TOPK_METRICS` and
`register_task` / `TASKS`.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "TASKS": "pixelrec.evaluation.core",
    "EvaluationInput": "pixelrec.evaluation.core",
    "evaluate_interactions": "pixelrec.evaluation.core",
    "register_task": "pixelrec.evaluation.core",
    "TOPK_METRICS": "pixelrec.evaluation.metrics",
    "register_metric": "pixelrec.evaluation.metrics",
    "format_result": "pixelrec.evaluation.results",
    "format_results_table": "pixelrec.evaluation.results",
    "load_result": "pixelrec.evaluation.results",
    "evaluate_recommender": "pixelrec.evaluation.runner",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pixelrec.evaluation' has no attribute {name!r}")
