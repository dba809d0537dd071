"""`multimodal_ease` (closed form with a content prior) and `ensemble` (a tuned blend)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from pixelrec import testing
from pixelrec.errors import ConfigError
from pixelrec.models import multimodal_ease
from pixelrec.models.baselines import EASERecommender, PopularityRecommender, RandomRecommender
from pixelrec.models.ensemble import EnsembleRecommender, normalise
from pixelrec.models.multimodal_ease import (
    MultimodalEASERecommender,
    content_similarity,
    solve,
    spd_inverse,
)


def random_train(seed=0, users=30, items=12):
    rng = np.random.default_rng(seed)
    rows = [(f"u{u}", f"i{i}") for u in range(users) for i in range(items)
            if rng.random() < 0.3]
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


def features(items, seed=0):
    rng = np.random.default_rng(seed)
    return {"text": (rng.normal(size=(len(items), 4)).astype(np.float32), items)}


def test_delta_zero_is_ease():
    train = random_train()
    ease = EASERecommender(l2=3.0).fit(train)
    mease = MultimodalEASERecommender(l2=3.0, delta=0.0).fit(train)
    assert np.abs(mease.weights_ - ease.weights_).max() < 1e-5
    assert np.allclose(mease.score(["u0", "u5"]), ease.score(["u0", "u5"]), atol=1e-5)


def test_solution_is_the_constrained_minimum():
    """At the solution the gradient of the objective is zero off the diagonal."""
    rng = np.random.default_rng(1)
    x = (rng.random((40, 6)) < 0.4).astype(np.float64)
    gram = x.T @ x
    prior = np.abs(rng.normal(size=(6, 6)))
    np.fill_diagonal(prior, 0.0)
    b = solve(gram, 2.0, 5.0, prior).astype(np.float64)
    assert np.allclose(np.diag(b), 0.0)
    gradient = -gram + gram @ b + 2.0 * b + 5.0 * (b - prior)  # (half) the gradient in B
    off = ~np.eye(6, dtype=bool)
    assert np.abs(gradient[off]).max() < 1e-4


def test_content_similarity_keeps_top_neighbours_normalised():
    vectors = {"text": np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])}
    sim = content_similarity(vectors, {"text": 1.0}, neighbours=1).toarray()
    assert np.allclose(np.diag(sim), 0.0)
    assert (np.count_nonzero(sim, axis=0) == 1).all()  # one neighbour per column
    assert np.allclose(sim.sum(axis=0), 1.0)
    assert sim[1, 0] == 1.0 and sim[3, 2] == 1.0  # each item's nearest other item


def test_cold_items_are_scored_through_content():
    train, _, items = testing.block_data()
    emb = testing.block_embeddings(items)
    model = MultimodalEASERecommender(l2=1.0, delta=5.0, neighbours=3,
                                      item_features={"embedding": (emb, items)},
                                      modalities={"embedding": 1.0}).fit(train, items=items)
    scores = model.score(["u0_0", "u2_3"])
    cold = [items.index(f"cold{g}") for g in range(3)]
    # a cold item's column of B holds its content neighbours (its group's items): the users of
    # that group score it above zero, and above the other groups' cold items
    assert scores[0, cold[0]] > 0 and scores[1, cold[2]] > 0
    assert scores[0, cold].argmax() == 0 and scores[1, cold].argmax() == 2


def test_too_large_catalogue_is_refused_before_allocating():
    train = random_train()
    with pytest.raises(ConfigError, match="multimodal_ease.max_items = 5 .*item_knn"):
        MultimodalEASERecommender(delta=0.0, max_items=5).fit(train)
    with pytest.raises(ConfigError, match="evaluation.baselines.ease.max_items"):
        EASERecommender(max_items=5).fit(train)


def test_a_solve_larger_than_the_available_memory_is_refused(monkeypatch):
    monkeypatch.setattr(multimodal_ease, "_available_bytes", lambda: 1000)
    # 12 items: EASE's peak is 12 * 12^2 = 1728 bytes, above the 1000 available
    with pytest.raises(ConfigError, match=r"needs about 0\.0 GB at its peak, but only 0\.0 GB"):
        EASERecommender().fit(random_train())
    monkeypatch.setattr(multimodal_ease, "_available_bytes", lambda: 10 ** 9)
    EASERecommender().fit(random_train())


def test_spd_inverse_is_exact_and_in_place():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2 * 2048 + 7, 5))  # more than one block of the symmetrising loop
    matrix = a @ a.T + 3.0 * np.eye(len(a))
    expected = np.linalg.inv(matrix)
    work = matrix.copy()
    inverse = spd_inverse(work)
    assert np.shares_memory(inverse, work)
    assert np.allclose(inverse, expected, atol=1e-12) and np.array_equal(inverse, inverse.T)
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        spd_inverse(-np.eye(3))


def test_solve_leaves_the_gram_matrix_alone_unless_asked():
    x = sp.csr_matrix(np.random.default_rng(0).random((20, 6)) < 0.4, dtype=np.float64)
    gram = (x.T @ x).toarray()
    before = gram.copy()
    kept = solve(gram, 2.0, 0.0, None)
    assert np.array_equal(gram, before)
    assert np.array_equal(solve(gram, 2.0, 0.0, None, overwrite_gram=True), kept)


def test_delta_needs_item_features():
    with pytest.raises(ConfigError, match="needs item features"):
        MultimodalEASERecommender(delta=1.0).fit(random_train())


# ---- ensemble ------------------------------------------------------------------------------

def test_normalisation_per_user_keeps_minus_inf():
    scores = np.array([[1.0, 2.0, 3.0, -np.inf], [5.0, 5.0, 8.0, 2.0]], dtype=np.float32)
    import torch

    z = normalise(torch.as_tensor(scores), "zscore").numpy()
    assert np.isneginf(z[0, 3]) and np.allclose(z[0, :3], [-1.2247, 0.0, 1.2247], atol=1e-4)
    m = normalise(torch.as_tensor(scores), "minmax").numpy()
    assert np.allclose(m[1], [0.5, 0.5, 1.0, 0.0])


def test_one_member_reproduces_its_ranking():
    train, _, items = testing.block_data()
    alone = EASERecommender(l2=1.0).fit(train, items=items)
    ens = EnsembleRecommender({"ease": EASERecommender(l2=1.0)}, weights=[1.0])
    ens.fit(train, items=items)
    users = sorted(set(train["user_id"]))
    a, _ = alone.recommend(users, k=5)
    b, _ = ens.recommend(users, k=5)
    assert (a == b).all()


def test_weights_are_tuned_on_val_towards_the_member_that_finds_it():
    members = {"random": RandomRecommender(), "ease": EASERecommender(l2=1.0),
               "popularity": PopularityRecommender()}
    ens = testing.fit_on_blocks(EnsembleRecommender(members, trials=12, seed=0))
    weights = dict(zip(members, ens.weights_, strict=True))
    assert weights["ease"] > 0.5 and weights["ease"] == max(weights.values())
    assert ens.fit_summary()["tuning"]["value"] > 0.9  # val NDCG@10 of the chosen blend
    testing.check_held_out_item_ranks_first(ens)


def test_cold_offset_lifts_new_items_when_val_holds_them():
    train, _, items = testing.block_data()
    emb = testing.block_embeddings(items)
    mease = MultimodalEASERecommender(l2=1.0, delta=5.0, neighbours=3,
                                      item_features={"embedding": (emb, items)},
                                      modalities={"embedding": 1.0})
    val = pd.DataFrame({"user_id": [f"u{g}_{j}" for g in range(3) for j in range(6)],
                        "item_id": [f"cold{g}" for g in range(3) for _ in range(6)]})
    ens = EnsembleRecommender({"mease": mease, "popularity": PopularityRecommender()},
                              trials=6, seed=0).fit(train, items=items, val=val)
    assert ens.cold_offset_ > 0  # new items must beat the user's unseen warm item
    top, _ = ens.recommend(["u1_2"], k=1)
    assert top[0, 0] == "cold1"


def test_fold_in_keeps_the_tuned_weights_and_refits_members():
    members = {"ease": EASERecommender(l2=1.0), "popularity": PopularityRecommender()}
    ens = testing.fit_on_blocks(EnsembleRecommender(members, trials=6, seed=0))
    weights, cold = ens.weights_.copy(), ens.cold_weights_.copy()
    train, _, items = testing.block_data()
    more = pd.concat([train, testing.held_out_frame()], ignore_index=True)
    ens.fold_in(more)
    assert np.array_equal(ens.weights_, weights) and np.array_equal(ens.cold_weights_, cold)
    assert ens.members["ease"].train_matrix_.nnz == len(more)
    assert ens.train_matrix_.nnz == len(more)
    assert sp.issparse(ens.train_matrix_)
