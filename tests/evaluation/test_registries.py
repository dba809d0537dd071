"""The metric and evaluation-task registries: a registered metric / task is used end to end by
`evaluate_interactions`, with values computed by hand; a taken name is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pixelrec.errors import ConfigError
from pixelrec.evaluation import (
    TASKS,
    TOPK_METRICS,
    EvaluationInput,
    evaluate_interactions,
    register_metric,
    register_task,
)
from pixelrec.evaluation.retrieval import hit_matrix, top_lists

from .helpers import frame
from .test_retrieval import MODEL, TRAIN, evaluation

# MODEL ranks u1: a > b > c > d > e and u2: e > d > c > b > a; train masks u1 {a}, u2 {b, c}.
# u1's relevant {b, d}: list [b, c, d, e] -> hits [1, 0, 1, 0]; u2's relevant {d}: [e, d, a]
TEST = frame([("u1", "b"), ("u1", "d"), ("u2", "d")])
INV_LOG3 = 1 / math.log2(3)


@pytest.fixture
def dcg():
    @register_metric("dcg")
    def dcg(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
        """Unnormalised DCG@k: sum of 1 / log2(rank + 1) over the hits in the top k."""
        return (hits / np.log2(np.arange(2, k + 2))).sum(axis=1)

    yield dcg
    del TOPK_METRICS["dcg"]


@pytest.fixture
def r_precision():
    @register_task("r_precision")
    def r_precision(inp: EvaluationInput) -> dict:
        """Share of each user's relevant items found in their top |relevant|."""
        n = inp.targets.n_relevant
        top = top_lists(inp.recommender, inp.targets, int(n.max()), inp.evaluation.chunk_size)
        hits = hit_matrix(inp.targets, top) & (np.arange(top.shape[1]) < n[:, None])
        return {"per_user": {"r_precision": hits.sum(axis=1) / n}}

    yield r_precision
    del TASKS["r_precision"]


def test_registered_metric_appears_in_every_part_of_the_result(dcg):
    out = evaluate_interactions(MODEL, TEST, [TRAIN], evaluation=evaluation(), seed=0)
    assert out["per_user"]["dcg@1"] == [1.0, 0.0]
    assert out["per_user"]["dcg@2"] == pytest.approx([1.0, INV_LOG3])
    assert out["metrics"]["dcg@2"] == pytest.approx((1 + INV_LOG3) / 2)
    assert out["per_k"]["1"]["dcg"] == 0.5
    lo, hi = out["ci95"]["dcg@2"]
    assert lo <= out["metrics"]["dcg@2"] <= hi
    assert out["metrics"]["ndcg@2"] == pytest.approx((1 / (1 + INV_LOG3) + INV_LOG3) / 2)
    sampled = evaluate_interactions(MODEL, TEST, [TRAIN], evaluation=evaluation(
        **{"sampling.enabled": "true"}), seed=0)
    assert "dcg@2" in sampled["metrics"]


def test_registered_task_runs_through_evaluate_interactions(r_precision):
    out = evaluate_interactions(MODEL, TEST, [TRAIN], evaluation=evaluation(), seed=0,
                                task="r_precision")
    # u1: top 2 [b, c] holds 1 of {b, d}; u2: top 1 [e] misses {d}
    assert out["per_user"] == {"user_id": ["u1", "u2"], "r_precision": [0.5, 0.0]}
    assert out["metrics"] == {"r_precision": 0.25}
    assert out["counts"]["evaluated_users"] == 2


def test_unknown_task_lists_the_registered_ones(r_precision):
    with pytest.raises(ConfigError, match="retrieval, ranking, r_precision"):
        evaluate_interactions(MODEL, TEST, [TRAIN], evaluation=evaluation(), seed=0,
                              task="nope")


def test_taken_names_are_refused(dcg, r_precision):
    with pytest.raises(ValueError, match="already registered"):
        register_metric("ndcg")(dcg)
    with pytest.raises(ValueError, match="already registered"):
        register_metric("dcg")(dcg)
    with pytest.raises(ValueError, match="already registered"):
        register_task("retrieval")(r_precision)
    assert list(TOPK_METRICS)[:7] == ["precision", "recall", "f1", "hit_rate", "ndcg", "mrr",
                                      "map"]


def test_a_metric_must_return_one_value_per_user():
    @register_metric("broken")
    def broken(hits, n_relevant, k):
        return hits.sum()

    try:
        with pytest.raises(ValueError, match="one value per user"):
            evaluate_interactions(MODEL, TEST, [TRAIN], evaluation=evaluation(), seed=0)
    finally:
        del TOPK_METRICS["broken"]
