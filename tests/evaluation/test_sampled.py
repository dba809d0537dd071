"""Negative sampling, sampled retrieval and the ranking task."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from pixelrec.config import load_config
from pixelrec.evaluation import evaluate_interactions
from pixelrec.evaluation.sampled import SAMPLED_WARNING, sample_negatives
from pixelrec.models.baselines import PopularityRecommender, RandomRecommender

from .helpers import FixedScores, frame


def evaluation(*sets):
    return load_config(None, ["evaluation.k_values=[1,2]", "evaluation.bootstrap_samples=20",
                              *sets]).evaluation


def test_negatives_exclude_positives_are_distinct_and_reproducible():
    pos = sp.random(300, 50, density=0.3, random_state=0, format="csr")
    neg = sample_negatives(pos, 10, None, seed=3)
    assert neg.shape == (300, 10) and (neg >= 0).all()
    assert not pos[np.arange(300)[:, None], neg].toarray().any()
    assert all(len(set(row)) == 10 for row in neg)
    np.testing.assert_array_equal(neg, sample_negatives(pos, 10, None, seed=3))
    assert not np.array_equal(neg, sample_negatives(pos, 10, None, seed=4))


def test_too_few_negatives_are_padded():
    pos = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 0]]))
    neg = sample_negatives(pos, 5, None, seed=0)
    assert sorted(neg[0].tolist()) == [-1, -1, 2]
    assert sorted(neg[1].tolist()) == [0, 1, 2]


def test_popularity_sampling_prefers_popular_items():
    pos = sp.csr_matrix((2000, 3))
    neg = sample_negatives(pos, 1, np.array([1.0, 1.0, 98.0]), seed=0)
    assert (neg[:, 0] == 2).mean() == pytest.approx(0.98, abs=0.02)


def test_sampled_retrieval_ranks_positive_among_negatives():
    # every non-positive item scores below the positive: hit at rank 1 whatever is sampled
    items = [f"i{j}" for j in range(6)]
    train = frame([("u", "i0")])
    model = FixedScores({"u": [9, 5, 0, 0, 0, 0]}).fit(train, items=items)
    out = evaluate_interactions(model, frame([("u", "i1")]), [train], seed=0,
                                evaluation=evaluation("evaluation.sampling.enabled=true",
                                                      "evaluation.sampling.num_negatives=3"))
    assert out["metrics"]["ndcg@1"] == 1.0 and out["metrics"]["precision@2"] == 0.5
    assert out["sampling"]["warning"] == SAMPLED_WARNING and "cold_items" not in out


def test_ranking_task_known_scores_with_a_tie():
    # candidates: positive i1 (score 2) and every other unseen item: i2 (2, tie), i3 (1)
    items = ["i0", "i1", "i2", "i3"]
    train = frame([("u", "i0")])
    model = FixedScores({"u": [9, 2, 2, 1]}).fit(train, items=items)
    out = evaluate_interactions(model, frame([("u", "i1")]), [train], seed=0, task="ranking",
                                evaluation=evaluation("evaluation.sampling.num_negatives=5"))
    assert out["metrics"]["auc"] == pytest.approx(0.75)
    assert out["metrics"]["gauc"] == pytest.approx(0.75)
    assert out["metrics"]["mrr"] in (1.0, 0.5)  # the tie is broken at random under the seed
    assert out["beyond_accuracy"] is None and out["ci95"]["auc"] is None


def test_random_scorer_has_auc_one_half():
    rng = np.random.default_rng(0)
    users = [f"u{i}" for i in range(300)]
    train = frame([(u, f"i{j}") for u in users for j in rng.choice(200, 5, replace=False)])
    test = frame([(u, f"i{j}") for u in users for j in rng.choice(200, 2, replace=False)])
    model = RandomRecommender(seed=1).fit(train)
    out = evaluate_interactions(model, test, [train], seed=0, task="ranking",
                                evaluation=evaluation())
    assert out["metrics"]["auc"] == pytest.approx(0.5, abs=0.03)
    assert out["metrics"]["gauc"] == pytest.approx(0.5, abs=0.03)


def test_popularity_beats_random_in_the_ranking_task():
    rng = np.random.default_rng(1)
    users = [f"u{i}" for i in range(200)]
    pick = lambda n: rng.choice(100, n, replace=False, p=np.arange(100, 0, -1) / 5050)  # noqa: E731
    train = frame([(u, f"i{j}") for u in users for j in pick(8)])
    test = frame([(u, f"i{j}") for u in users for j in pick(2)])
    model = PopularityRecommender().fit(train)
    out = evaluate_interactions(model, test, [train], seed=0, task="ranking",
                                evaluation=evaluation())
    assert out["metrics"]["auc"] > 0.6
