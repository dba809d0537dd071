"""Top-k and candidate metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pixelrec.evaluation.metrics import (
    candidate_ranking_metrics,
    global_auc,
    metric_keys,
    topk_metrics,
    user_auc,
)

LOG3 = math.log2(3)


def one(hits, n_rel, ks):
    out = topk_metrics(np.array([hits], dtype=bool), np.array([n_rel]), ks)
    return {k: float(v[0]) for k, v in out.items()}


def test_keys_are_lowercase_name_at_k_in_order():
    assert metric_keys([5]) == ["precision@5", "recall@5", "f1@5", "hit_rate@5", "ndcg@5",
                                "mrr@5", "map@5"]


def test_hits_at_ranks_one_and_three_with_two_relevant():
    m = one([1, 0, 1, 0, 0], 2, [1, 3, 5])
    assert m["precision@1"] == 1.0 and m["recall@1"] == 0.5
    assert m["f1@1"] == pytest.approx(2 / 3)
    assert m["ndcg@1"] == 1.0 and m["mrr@1"] == 1.0 and m["map@1"] == 1.0
    assert m["precision@3"] == pytest.approx(2 / 3) and m["recall@3"] == 1.0
    assert m["f1@3"] == pytest.approx(0.8)
    # DCG = 1 + 1/log2(4) = 1.5; IDCG over 2 relevant = 1 + 1/log2(3)
    assert m["ndcg@3"] == pytest.approx(1.5 / (1 + 1 / LOG3))
    assert m["map@3"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["precision@5"] == pytest.approx(0.4)
    assert m["f1@5"] == pytest.approx(2 * 0.4 / 1.4)
    assert m["ndcg@5"] == pytest.approx(m["ndcg@3"]) and m["map@5"] == pytest.approx(m["map@3"])
    assert m["hit_rate@5"] == 1.0


def test_fewer_relevant_than_k_uses_min_in_ideal_and_map():
    m = one([0, 1, 0, 0, 0], 1, [1, 3])
    assert all(m[f"{n}@1"] == 0.0 for n in ("precision", "recall", "f1", "hit_rate", "ndcg",
                                           "mrr", "map"))
    assert m["precision@3"] == pytest.approx(1 / 3) and m["recall@3"] == 1.0
    assert m["f1@3"] == pytest.approx(0.5)
    assert m["ndcg@3"] == pytest.approx(1 / LOG3)  # ideal: one hit at rank 1
    assert m["mrr@3"] == 0.5
    assert m["map@3"] == 0.5  # precision@2 x 1 / min(1, 3)


def test_more_relevant_than_k_caps_ideal_at_k():
    m = one([1, 1, 1, 1, 1], 7, [5])
    assert m["precision@5"] == 1.0 and m["recall@5"] == pytest.approx(5 / 7)
    assert m["ndcg@5"] == pytest.approx(1.0) and m["map@5"] == pytest.approx(1.0)


def test_no_hits_are_all_zero_and_f1_is_not_nan():
    m = one([0, 0, 0], 3, [3])
    assert set(m.values()) == {0.0}


def test_list_shorter_than_k_counts_missing_ranks_as_misses():
    m = one([1, 0], 2, [5])
    assert m["precision@5"] == pytest.approx(0.2) and m["recall@5"] == 0.5
    assert m["ndcg@5"] == pytest.approx(1 / (1 + 1 / LOG3))


def test_rows_are_independent_users():
    out = topk_metrics(np.array([[1, 0], [0, 1]], dtype=bool), np.array([1, 1]), [2])
    assert out["mrr@2"].tolist() == [1.0, 0.5]
    assert out["ndcg@2"].tolist() == pytest.approx([1.0, 1 / LOG3])


def test_user_without_relevant_items_is_rejected():
    with pytest.raises(ValueError):
        topk_metrics(np.zeros((1, 2), dtype=bool), np.array([0]), [1])


def test_user_auc_counts_ties_as_half():
    # positive 1.0 vs negatives 1.0 (tie) and 0.0 (win): (0.5 + 1) / 2
    pos = np.array([[1.0]])
    neg = np.array([[1.0, 0.0, 9.0]])
    auc = user_auc(pos, np.array([[True]]), neg, np.array([[True, True, False]]))
    assert auc.tolist() == [0.75]


def test_user_auc_without_negatives_is_nan():
    auc = user_auc(np.array([[1.0]]), np.array([[True]]), np.array([[0.0]]),
                   np.array([[False]]))
    assert math.isnan(auc[0])


def test_global_auc_with_ties():
    # positives 3, 1; negatives 1, 0: pairs (3>1, 3>0, 1=1, 1>0) = 3.5 / 4
    assert global_auc(np.array([3.0, 1.0, 1.0, 0.0]),
                      np.array([True, True, False, False])) == pytest.approx(0.875)


def test_candidate_ndcg_and_mrr_over_the_whole_list():
    labels = np.array([[False, True, False, True], [True, False, False, False]])
    valid = np.array([[True, True, True, True], [True, True, False, False]])
    out = candidate_ranking_metrics(labels, valid)
    ideal = 1 + 1 / LOG3
    assert out["ndcg"].tolist() == pytest.approx([(1 / LOG3 + 1 / math.log2(5)) / ideal, 1.0])
    assert out["mrr"].tolist() == [0.5, 1.0]
