"""Evaluate one fitted recommender on held-out interactions: the code shared by
`pixelrec evaluate` and validation during training."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pixelrec.config.evaluation import EvaluationConfig
from pixelrec.errors import DataError
from pixelrec.evaluation.beyond import beyond_accuracy
from pixelrec.evaluation.metrics import TOPK_METRICS
from pixelrec.evaluation.retrieval import evaluate_retrieval
from pixelrec.evaluation.sampled import (
    SAMPLED_WARNING,
    build_candidates,
    candidate_scores,
    ranking_task,
    sample_negatives,
    sampled_topk,
)
from pixelrec.evaluation.stats import bootstrap_ci
from pixelrec.evaluation.targets import Targets, build_targets
from pixelrec.models.base import Recommender, interaction_matrix

TASKS = ("retrieval", "ranking")


def evaluate_interactions(recommender: Recommender, test: pd.DataFrame,
                          exclude: Sequence[pd.DataFrame] = (), *,
                          evaluation: EvaluationConfig, seed: int, task: str = "retrieval",
                          item_embeddings: np.ndarray | None = None,
                          bootstrap: bool = True) -> dict:
    """Metrics of `recommender` on `test`, masking the items in `exclude` (train, val).

    Returns {"metrics", "ci95", "per_k", "beyond_accuracy", "per_user", "counts", ...};
    `item_embeddings` (aligned with `recommender.item_ids_`) enable intra-list diversity.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    targets = build_targets(recommender, test, exclude)
    if len(targets.user_ids) == 0:
        raise DataError(f"no test user has a test item left to rank (counts: {targets.counts}); "
                        f"check that the test file holds interactions with catalogue items.")
    sampled = task == "ranking" or evaluation.sampling.enabled
    if sampled:
        out = _candidate_evaluation(recommender, targets, [test, *exclude], evaluation, seed,
                                    task)
    else:
        out = _full_ranking(recommender, targets, evaluation, item_embeddings)
    out["counts"] = targets.counts
    per_user = _finish(out, evaluation, seed, bootstrap)
    if not sampled:
        cold = _cold_items(recommender, test, exclude, evaluation)
        if cold is not None:
            _finish(cold, evaluation, seed, bootstrap)
            out["cold_items"] = cold
    out["per_user"] = {"user_id": targets.user_ids.tolist(),
                       **{m: v.tolist() for m, v in per_user.items()}}
    return out


def _full_ranking(recommender: Recommender, targets: Targets, evaluation: EvaluationConfig,
                  item_embeddings: np.ndarray | None) -> dict:
    k_ba = evaluation.beyond_accuracy.k
    lists = evaluate_retrieval(recommender, targets, evaluation.k_values, evaluation.chunk_size,
                               list_length=k_ba)
    top = lists.top_items[:, :k_ba]
    extra = beyond_accuracy(top, recommender.item_popularity_, recommender.train_matrix_.shape[0],
                            evaluation.beyond_accuracy.head_fraction, item_embeddings)
    return {"_per_user": lists.metrics, "beyond_accuracy": extra}


def _cold_items(recommender: Recommender, test: pd.DataFrame, exclude: Sequence[pd.DataFrame],
                evaluation: EvaluationConfig) -> dict | None:
    """Cold-candidates-only variant: rank only items without train interactions."""
    cold = recommender.item_popularity_ == 0
    if not cold.any():
        return None
    targets = build_targets(recommender, test, exclude, candidates=cold)
    if len(targets.user_ids) == 0:
        return None
    lists = evaluate_retrieval(recommender, targets, evaluation.k_values, evaluation.chunk_size,
                               candidates=cold)
    return {"_per_user": lists.metrics, "counts": targets.counts, "n_candidates": int(cold.sum())}


def _candidate_evaluation(recommender: Recommender, targets: Targets,
                          frames: list[pd.DataFrame], evaluation: EvaluationConfig, seed: int,
                          task: str) -> dict:
    sampling = evaluation.sampling
    users = pd.Index(targets.user_ids)
    positives = interaction_matrix(pd.concat(frames, ignore_index=True)
                                   .astype({"user_id": str, "item_id": str}),
                                   users, recommender.item_index_)
    weights = recommender.item_popularity_ + 1.0 if sampling.strategy == "popularity" else None
    negatives = sample_negatives(positives, sampling.num_negatives, weights, seed)
    cands = build_candidates(targets, negatives, seed)
    scores = candidate_scores(recommender, targets, cands, evaluation.chunk_size)
    out: dict = {"sampling": {"num_negatives": sampling.num_negatives,
                              "strategy": sampling.strategy, "warning": SAMPLED_WARNING}}
    if task == "ranking":
        aggregate, per_user = ranking_task(scores, cands)
        out.update({"_per_user": per_user, "_aggregate": aggregate, "beyond_accuracy": None})
    else:
        out.update({"_per_user": sampled_topk(scores, cands, targets.n_relevant,
                                              evaluation.k_values),
                    "beyond_accuracy": None})
    return out


def _finish(out: dict, evaluation: EvaluationConfig, seed: int,
            bootstrap: bool) -> dict[str, np.ndarray]:
    """Turn `out["_per_user"]` into means, bootstrap CIs and per-k tables; return the arrays."""
    per_user = out.pop("_per_user")
    metrics = out.pop("_aggregate", None) or {
        m: float(np.mean(v)) if len(v) else float("nan")
        for m, v in per_user.items() if not m.endswith("_weight")}
    ci = bootstrap_ci(per_user, evaluation.bootstrap_samples, seed) if bootstrap else {}
    out["metrics"] = metrics
    out["ci95"] = {m: ci.get(m) for m in metrics}
    if all(f"{name}@{k}" in metrics for k in evaluation.k_values for name in TOPK_METRICS):
        out["per_k"] = {str(k): {name: metrics[f"{name}@{k}"] for name in TOPK_METRICS}
                        for k in evaluation.k_values}
    return per_user
