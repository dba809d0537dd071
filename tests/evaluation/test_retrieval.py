"""Full-ranking evaluation: masking, relevance, cold variant and chunking, with known scores."""

from __future__ import annotations

import numpy as np
import pytest

from pixelrec.config import load_config
from pixelrec.errors import ConfigError
from pixelrec.evaluation import evaluate_interactions
from pixelrec.evaluation.retrieval import evaluate_retrieval
from pixelrec.evaluation.targets import build_targets
from pixelrec.models.baselines import PopularityRecommender

from .helpers import FixedScores, frame

ITEMS = ["a", "b", "c", "d", "e"]
TRAIN = frame([("u1", "a"), ("u2", "b"), ("u2", "c")])
# u1 ranks a > b > c > d > e; u2 ranks e > d > c > b > a
MODEL = FixedScores({"u1": [5, 4, 3, 2, 1], "u2": [1, 2, 3, 4, 5]}).fit(TRAIN, items=ITEMS)


def evaluation(**overrides):
    sets = [f"evaluation.{k}={v}" for k, v in overrides.items()]
    return load_config(None, ["evaluation.k_values=[1,2]", "evaluation.bootstrap_samples=20",
                              *sets]).evaluation


def test_seen_items_are_masked_and_test_overlap_is_dropped():
    test = frame([("u1", "a"), ("u1", "c"), ("u2", "b"), ("u2", "d")])
    targets = build_targets(MODEL, test, [TRAIN])
    assert targets.counts["test_items_masked_as_seen"] == 2  # (u1, a) and (u2, b)
    lists = evaluate_retrieval(MODEL, targets, [1, 2])
    # u1: a masked -> [b, c]; u2: b, c masked -> [e, d]
    assert lists.top_items[:, :2].tolist() == [[1, 2], [4, 3]]
    assert lists.metrics["hit_rate@1"].tolist() == [0.0, 0.0]
    assert lists.metrics["mrr@2"].tolist() == [0.5, 0.5]


def test_repeats_are_hits_masks_nothing_and_keeps_repeated_test_items():
    test = frame([("u1", "a"), ("u1", "c"), ("u2", "b"), ("u2", "d")])
    targets = build_targets(MODEL, test, [TRAIN], mask_seen=False)
    assert targets.counts["test_items_masked_as_seen"] == 0
    assert targets.n_relevant.tolist() == [2, 2]
    lists = evaluate_retrieval(MODEL, targets, [1, 2])
    # nothing masked: u1 ranks [a, b] (a, a train item repeated in test, is a hit); u2 [e, d]
    assert lists.top_items[:, :2].tolist() == [[0, 1], [4, 3]]
    assert lists.metrics["hit_rate@1"].tolist() == [1.0, 0.0]
    assert lists.metrics["mrr@2"].tolist() == [1.0, 0.5]
    config = load_config(None, ["data.filtering.repeats=keep", "evaluation.repeats_are_hits=true",
                                "evaluation.k_values=[1]", "evaluation.bootstrap_samples=20"])
    result = evaluate_interactions(MODEL, test, [TRAIN], evaluation=config.evaluation, seed=0)
    assert result["metrics"]["hit_rate@1"] == 0.5


def test_repeats_are_hits_needs_repeats_kept():
    with pytest.raises(ConfigError, match="data.filtering.repeats: keep"):
        load_config(None, ["evaluation.repeats_are_hits=true"])


def test_val_items_are_masked_when_given():
    test = frame([("u1", "c")])
    val = frame([("u1", "b")])
    lists = evaluate_retrieval(MODEL, build_targets(MODEL, test, [TRAIN, val]), [1])
    assert lists.metrics["precision@1"].tolist() == [1.0]


def test_unknown_items_and_users_are_counted():
    test = frame([("u1", "zzz"), ("u1", "b"), ("u3", "a"), ("u4", "zzz")])
    targets = build_targets(MODEL, test, [TRAIN])
    assert targets.counts["test_interactions_with_unknown_item"] == 2
    assert targets.counts["users_without_test_positives"] == 1  # u4 had only the unknown item
    assert targets.counts["unknown_users"] == 1 and targets.user_ids.tolist() == ["u1", "u3"]


def test_chunk_size_does_not_change_results():
    rng = np.random.default_rng(0)
    users = [f"u{i}" for i in range(40)]
    train = frame([(u, f"i{j}") for u in users for j in rng.choice(30, 5, replace=False)])
    test = frame([(u, f"i{j}") for u in users for j in rng.choice(30, 2, replace=False)])
    model = PopularityRecommender().fit(train)
    one = evaluate_retrieval(model, build_targets(model, test, [train]), [5], chunk_size=3)
    many = evaluate_retrieval(model, build_targets(model, test, [train]), [5], chunk_size=1000)
    np.testing.assert_array_equal(one.top_items, many.top_items)


def test_cold_items_variant_and_minus_inf_is_never_recommended():
    train = frame([("u1", "a"), ("u2", "a"), ("u2", "b")])
    test = frame([("u1", "b"), ("u1", "x"), ("u2", "y")])
    model = PopularityRecommender().fit(train, items=["a", "b", "x", "y"])
    out = evaluate_interactions(model, test, [train], evaluation=evaluation(), seed=0)
    # u1: [b] then cold x, y are -inf (not recommended): hits [1, 0] of 2 relevant; u2: nothing
    assert out["metrics"]["recall@2"] == pytest.approx(0.25)
    assert out["metrics"]["precision@1"] == pytest.approx(0.5)
    cold = out["cold_items"]
    assert cold["n_candidates"] == 2 and cold["counts"]["evaluated_users"] == 2
    assert cold["metrics"]["hit_rate@2"] == 0.0


def test_result_carries_per_user_arrays_ci_and_per_k_tables():
    test = frame([("u1", "b"), ("u2", "e"), ("u2", "a")])
    out = evaluate_interactions(MODEL, test, [TRAIN], evaluation=evaluation(), seed=0)
    assert out["per_user"]["user_id"] == ["u1", "u2"]
    assert out["per_user"]["ndcg@1"] == [1.0, 1.0]
    assert out["metrics"]["recall@1"] == pytest.approx(0.75)
    assert out["ci95"]["recall@1"][0] <= 0.75 <= out["ci95"]["recall@1"][1]
    assert out["per_k"]["2"]["precision"] == out["metrics"]["precision@2"]
    assert out["beyond_accuracy"]["k"] == 5  # 10 requested, capped at the catalogue size


def test_no_evaluable_user_is_a_data_error():
    from pixelrec.errors import DataError

    with pytest.raises(DataError, match="no test user"):
        evaluate_interactions(MODEL, frame([("u1", "a")]), [TRAIN], evaluation=evaluation(),
                              seed=0)
