"""Baseline internals against small hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pixelrec.errors import ConfigError
from pixelrec.models.baselines import EASERecommender, PopularityRecommender
from pixelrec.models.baselines.knn import topk_cosine


def frame(pairs):
    return pd.DataFrame(pairs, columns=["user_id", "item_id"])


def test_topk_cosine_with_shrinkage_keeps_the_best_neighbour():
    rows = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1]], dtype=np.float32))
    sim = topk_cosine(rows, k=1, shrinkage=1.0).toarray()
    expected = np.zeros((3, 3))
    expected[0, 1] = expected[1, 0] = 1 / (np.sqrt(2) + 1)
    expected[2, 0] = 1 / (2 + 1)
    np.testing.assert_allclose(sim, expected, rtol=1e-6)


def test_topk_cosine_is_blocked_over_rows(monkeypatch):
    import pixelrec.models.baselines.knn as knn

    x = sp.random(50, 30, density=0.2, random_state=0, format="csr", dtype=np.float32)
    full = topk_cosine(x, k=5, shrinkage=2.0).toarray()
    monkeypatch.setattr(knn, "_BLOCK", 7)
    np.testing.assert_allclose(topk_cosine(x, k=5, shrinkage=2.0).toarray(), full, rtol=1e-6)


def test_topk_cosine_equals_the_dense_brute_force():
    x = sp.random(80, 40, density=0.15, random_state=1, format="csr", dtype=np.float32)
    dense = x.toarray().astype(np.float64)
    norms = np.linalg.norm(dense, axis=1)
    sim = dense @ dense.T / (norms[:, None] * norms[None, :] + 3.0 + 1e-12)
    np.fill_diagonal(sim, 0.0)
    expected = np.zeros_like(sim)
    for i, row in enumerate(sim):
        best = [j for j in np.argsort(-row, kind="stable")[:6] if row[j] > 0]
        expected[i, best] = row[best]
    np.testing.assert_allclose(topk_cosine(x, k=6, shrinkage=3.0).toarray(), expected,
                               rtol=1e-5, atol=1e-7)


def test_low_rank_ease_at_full_rank_is_exact_ease_and_approximates_below():
    rng = np.random.default_rng(0)
    train = frame([(f"u{u}", f"i{i}") for u in range(40) for i in range(15)
                   if rng.random() < 0.3])
    users = sorted(train["user_id"].unique())
    exact = EASERecommender(l2=3.0).fit(train).score(users)
    full = EASERecommender(l2=3.0, rank=15).fit(train)
    assert full.weights_ is None  # no items x items matrix
    np.testing.assert_allclose(full.score(users), exact, atol=1e-5)
    errors = [np.abs(EASERecommender(l2=3.0, rank=r).fit(train).score(users) - exact).max()
              for r in (2, 8, 15)]
    assert errors[0] > errors[1] > errors[2]


def test_ease_above_its_dense_limit_names_the_low_rank_option():
    train = frame([("a", "x"), ("a", "y"), ("b", "x"), ("b", "z")])
    with pytest.raises(ConfigError, match="evaluation.baselines.ease.rank"):
        EASERecommender(max_items=2).fit(train)
    model = EASERecommender(max_items=2, rank=2).fit(train)  # the approximation has no limit
    assert model.score(["a"]).shape == (1, 3)


def test_ease_closed_form():
    # X = [[1, 1], [1, 0]], l2 = 1: P = inv([[3, 1], [1, 2]]) = [[2, -1], [-1, 3]] / 5
    model = EASERecommender(l2=1.0).fit(frame([("a", "x"), ("a", "y"), ("b", "x")]))
    np.testing.assert_allclose(model.weights_, [[0, 1 / 3], [1 / 2, 0]], rtol=1e-6)
    assert model.score(["b"])[0] == pytest.approx([0, 1 / 3])


def test_popularity_counts_distinct_train_users():
    model = PopularityRecommender().fit(
        frame([("a", "x"), ("a", "x"), ("b", "x"), ("b", "y")]), items=["x", "y", "z"])
    assert model.item_popularity_.tolist() == [2, 1, 0]
    ids, scores = model.recommend(["new user"], k=2)
    assert ids[0].tolist() == ["x", "y"] and scores[0].tolist() == [2, 1]


def test_ids_are_strings_and_catalogue_keeps_given_order():
    train = pd.DataFrame({"user_id": [1, 2], "item_id": [10, 20]})
    model = PopularityRecommender().fit(train, items=["30", "10"])
    assert model.item_ids_.tolist() == ["30", "10", "20"]
    assert model.user_rows(["1", "2", "3"]).tolist() == [0, 1, -1]
