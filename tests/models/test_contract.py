"""The contract every recommender passes (implicit-style shared test over all models).

Parametrised over the registry: every recommender registered when this module is collected (the
baselines, and e.g. one a plugin registered) runs the contract; the trained multimodal model runs
it in test_multimodal_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from pixelrec.config import load_config
from pixelrec.models import BASELINE_TYPES, Recommender, create_recommender, get_recommender

from .blocks import block_data, block_embeddings

SMALL = [
    "evaluation.baselines.item_knn.k_neighbors=10",
    "evaluation.baselines.user_knn.k_neighbors=10",
    "evaluation.baselines.ease.l2=1.0",
    "evaluation.baselines.als.factors=8",
    "evaluation.baselines.bpr.factors=8",
    "evaluation.baselines.bpr.learning_rate=0.05",
    "evaluation.baselines.bpr.iterations=300",
]
PERSONALISED = [t for t in BASELINE_TYPES if t not in ("random", "popularity")]


def fitted(name: str) -> Recommender:
    train, _, items = block_data()
    kwargs = {}
    if get_recommender(name).kind == "content":
        kwargs = {"item_embeddings": block_embeddings(items), "item_ids": items}
    return create_recommender(name, load_config(None, SMALL), **kwargs).fit(train, items=items)


@pytest.fixture
def block():
    return block_data()


@pytest.fixture(scope="module", params=BASELINE_TYPES)
def model(request):
    return fitted(request.param)


def test_fit_indexes_users_and_the_whole_catalogue(model, block):
    train, _, items = block
    assert set(model.item_ids_) == set(items)
    assert model.train_matrix_.shape == (train.user_id.nunique(), len(items))
    assert model.train_matrix_.nnz == len(train)


def test_score_shape_and_dtype(model, block):
    _, held, items = block
    users = list(held)[:4]
    scores = model.score(users)
    assert scores.shape == (4, len(items)) and scores.dtype == np.float32


def test_recommend_excludes_seen_items(model, block):
    train, held, _ = block
    users = list(held)
    ids, scores = model.recommend(users, k=3)
    assert ids.shape == (len(users), 3) and scores.shape == (len(users), 3)
    seen = set(zip(train.user_id, train.item_id, strict=True))
    assert not any((u, i) in seen for u, row in zip(users, ids, strict=True) for i in row)
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_recommend_can_include_seen_items(model, block):
    _, held, items = block
    ids, _ = model.recommend(list(held)[:1], k=len(items), exclude_seen=False)
    assert len(set(ids[0])) == len(items)


def test_held_out_item_ranks_first(model, block):
    if model.name not in PERSONALISED:
        pytest.skip("non-personalised models cannot find a user's held-out item")
    _, held, _ = block
    ids, _ = model.recommend(list(held), k=1)
    assert ids[:, 0].tolist() == list(held.values())


def test_unknown_users_get_finite_fallback_scores(model, block):
    _, _, items = block
    scores = model.score(["nobody", "nobody-else"])
    assert scores.shape == (2, len(items))
    assert np.isfinite(scores).sum(axis=1).min() >= len(items) - 3
    ids, _ = model.recommend(["nobody"], k=2)
    assert ids.shape == (1, 2)


def test_cold_items_are_minus_inf_unless_the_model_scores_them(model, block):
    _, held, _ = block
    scores = model.score(list(held))
    cold = np.isin(model.item_ids_, ["cold0", "cold1", "cold2"])
    if model.scores_cold_items:
        assert np.isfinite(scores[:, cold]).all()
    else:
        assert np.isneginf(scores[:, cold]).all() and np.isfinite(scores[:, ~cold]).all()


def test_vector_models_score_by_dot_product(model, block):
    if not model.has_vectors:
        pytest.skip("no vector path")
    _, held, _ = block
    users = list(held)[:5]
    expected = model.user_vectors(users) @ model.item_vectors().T
    scores = model.score(users)
    finite = np.isfinite(scores)
    np.testing.assert_allclose(scores[finite], expected[finite], rtol=1e-5, atol=1e-6)


def test_save_load_round_trip(model, block, tmp_path):
    _, held, _ = block
    path = tmp_path / "model.pkl"
    model.save(path)
    loaded = type(model).load(path)
    users = list(held)[:3]
    np.testing.assert_array_equal(loaded.score(users), model.score(users))


def test_unfitted_model_raises_a_clear_error():
    from pixelrec.errors import PixelRecError
    from pixelrec.models.baselines import PopularityRecommender

    with pytest.raises(PixelRecError, match="not fitted"):
        PopularityRecommender().score(["u"])


def test_content_knn_recommends_cold_items_of_the_users_group():
    model = fitted("content_knn")
    ids, _ = model.recommend(["u1_0"], k=2)
    assert set(ids[0]) == {"i1_0", "cold1"}
