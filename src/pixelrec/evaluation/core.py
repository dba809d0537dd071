"""Evaluate one fitted recommender on held-out interactions: the code shared by
`pixelrec evaluate` and validation during training.

Evaluation tasks are a registry, `TASKS` (name -> function), that `evaluate_interactions`
dispatches on: `retrieval` (full ranking, or sampled candidates when
`evaluation.sampling.enabled`) and `ranking` (AUC, GAUC, NDCG, MRR over sampled candidates).
A task receives an `EvaluationInput` and returns a dict with `per_user` (metric -> one value
per evaluated user), optionally `aggregate` (metric -> headline number, when that is not the
mean over users), and any further result keys (`beyond_accuracy`, `sampling`, ...); a nested
dict holding its own `per_user` (e.g. `cold_items`) is summarised the same way.
New tasks register with `@register_task("name")`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pixelrec import registry
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


@dataclass
class EvaluationInput:
    """What a task evaluates: the fitted model, the evaluated users (`targets`: their rows,
    relevant items and masked seen items), the frames they came from, and the settings."""

    recommender: Recommender
    targets: Targets
    test: pd.DataFrame
    exclude: Sequence[pd.DataFrame]
    evaluation: EvaluationConfig
    seed: int
    item_embeddings: np.ndarray | None = None


TaskFn = Callable[[EvaluationInput], dict]
TASKS: dict[str, TaskFn] = {}


def register_task(name: str) -> Callable[[TaskFn], TaskFn]:
    """Register an evaluation task `fn(EvaluationInput) -> dict` as `name` (`--eval_task`)."""
    def add(fn: TaskFn) -> TaskFn:
        return registry.add(TASKS, "evaluation task", name, fn)
    return add


def evaluate_interactions(recommender: Recommender, test: pd.DataFrame,
                          exclude: Sequence[pd.DataFrame] = (), *,
                          evaluation: EvaluationConfig, seed: int, task: str = "retrieval",
                          item_embeddings: np.ndarray | None = None,
                          bootstrap: bool = True) -> dict:
    """Metrics of `recommender` on `test`, masking the items in `exclude` (train, val).

    Returns {"metrics", "ci95", "per_k", "beyond_accuracy", "per_user", "counts", ...};
    `item_embeddings` (aligned with `recommender.item_ids_`) enable intra-list diversity.
    """
    run = registry.lookup(TASKS, "evaluation task", task)
    all_users = test["user_id"].nunique() if evaluation.max_users is not None else 0
    test = sample_users(test, evaluation.max_users, seed)
    targets = build_targets(recommender, test, exclude,
                            mask_seen=not evaluation.repeats_are_hits)
    if len(targets.user_ids) == 0:
        raise DataError(f"no test user has a test item left to rank (counts: {targets.counts}); "
                        f"check that the test file holds interactions with catalogue items.")
    out = run(EvaluationInput(recommender, targets, test, exclude, evaluation, seed,
                              item_embeddings))
    out["counts"] = targets.counts
    if all_users > (evaluation.max_users or 0):
        out["user_sample"] = {"users": evaluation.max_users, "of": int(all_users), "seed": seed,
                              "key": "evaluation.max_users"}
    per_user = _finish(out, evaluation, seed, bootstrap)
    for value in out.values():
        if isinstance(value, dict) and "per_user" in value:
            _finish(value, evaluation, seed, bootstrap)
    out["per_user"] = {"user_id": targets.user_ids.tolist(),
                       **{m: np.asarray(v).tolist() for m, v in per_user.items()}}
    return out


def sample_users(frame: pd.DataFrame, max_users: int | None, seed: int) -> pd.DataFrame:
    """The rows of at most `max_users` users of `frame`: a sample of its distinct users drawn
    with `seed` (all rows when `max_users` is None or not below the user count)."""
    users = pd.unique(frame["user_id"])
    if max_users is None or len(users) <= max_users:
        return frame
    chosen = np.random.default_rng([seed, 7]).choice(len(users), max_users, replace=False)
    return frame[frame["user_id"].isin(users[np.sort(chosen)])]


@register_task("retrieval")
def retrieval(inp: EvaluationInput) -> dict:
    """Top-k metrics over every item (plus beyond-accuracy and the cold-items variant), or over
    sampled candidates when `evaluation.sampling.enabled`."""
    if inp.evaluation.sampling.enabled:
        return _candidate_evaluation(inp, "retrieval")
    out = _full_ranking(inp.recommender, inp.targets, inp.evaluation, inp.item_embeddings)
    cold = _cold_items(inp.recommender, inp.test, inp.exclude, inp.evaluation)
    if cold is not None:
        out["cold_items"] = cold
    return out


@register_task("ranking")
def ranking(inp: EvaluationInput) -> dict:
    """AUC, GAUC, NDCG and MRR over each user's relevant items plus sampled negatives."""
    return _candidate_evaluation(inp, "ranking")


def _full_ranking(recommender: Recommender, targets: Targets, evaluation: EvaluationConfig,
                  item_embeddings: np.ndarray | None) -> dict:
    k_ba = evaluation.beyond_accuracy.k
    lists = evaluate_retrieval(recommender, targets, evaluation.k_values, evaluation.chunk_size,
                               list_length=k_ba)
    top = lists.top_items[:, :k_ba]
    extra = beyond_accuracy(top, recommender.item_popularity_, recommender.train_matrix_.shape[0],
                            evaluation.beyond_accuracy.head_fraction, item_embeddings)
    return {"per_user": lists.metrics, "beyond_accuracy": extra}


def _cold_items(recommender: Recommender, test: pd.DataFrame, exclude: Sequence[pd.DataFrame],
                evaluation: EvaluationConfig) -> dict | None:
    """Cold-candidates-only variant: rank only items without train interactions."""
    cold = recommender.item_popularity_ == 0
    if not cold.any():
        return None
    targets = build_targets(recommender, test, exclude, candidates=cold,
                            mask_seen=not evaluation.repeats_are_hits)
    if len(targets.user_ids) == 0:
        return None
    lists = evaluate_retrieval(recommender, targets, evaluation.k_values, evaluation.chunk_size,
                               candidates=cold)
    return {"per_user": lists.metrics, "counts": targets.counts, "n_candidates": int(cold.sum())}


def _candidate_evaluation(inp: EvaluationInput, task: str) -> dict:
    recommender, targets, sampling = inp.recommender, inp.targets, inp.evaluation.sampling
    users = pd.Index(targets.user_ids)
    positives = interaction_matrix(pd.concat([inp.test, *inp.exclude], ignore_index=True)
                                   .astype({"user_id": str, "item_id": str}),
                                   users, recommender.item_index_)
    weights = recommender.item_popularity_ + 1.0 if sampling.strategy == "popularity" else None
    negatives = sample_negatives(positives, sampling.num_negatives, weights, inp.seed)
    cands = build_candidates(targets, negatives, inp.seed)
    scores = candidate_scores(recommender, targets, cands, inp.evaluation.chunk_size)
    out: dict = {"sampling": {"num_negatives": sampling.num_negatives,
                              "strategy": sampling.strategy, "warning": SAMPLED_WARNING},
                 "beyond_accuracy": None}
    if task == "ranking":
        out["aggregate"], out["per_user"] = ranking_task(scores, cands)
    else:
        out["per_user"] = sampled_topk(scores, cands, targets.n_relevant,
                                       inp.evaluation.k_values)
    return out


def _finish(out: dict, evaluation: EvaluationConfig, seed: int,
            bootstrap: bool) -> dict[str, np.ndarray]:
    """Turn `out["per_user"]` into means, bootstrap CIs and per-k tables; return the arrays."""
    per_user = out.pop("per_user")
    metrics = out.pop("aggregate", None) or {
        m: float(np.mean(v)) if len(v) else float("nan")
        for m, v in per_user.items() if not m.endswith("_weight")}
    ci = bootstrap_ci(per_user, evaluation.bootstrap_samples, seed) if bootstrap else {}
    out["metrics"] = metrics
    out["ci95"] = {m: ci.get(m) for m in metrics}
    if all(f"{name}@{k}" in metrics for k in evaluation.k_values for name in TOPK_METRICS):
        out["per_k"] = {str(k): {name: metrics[f"{name}@{k}"] for name in TOPK_METRICS}
                        for k in evaluation.k_values}
    return per_user
