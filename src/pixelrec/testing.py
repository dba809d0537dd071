"""The recommender contract, shipped so that a plug-in author can run it (the idea of
scikit-learn's `check_estimator` and implicit's shared test mixin).

Every built-in recommender passes these checks in the project's own suite. For yours:

    from pixelrec.testing import check_recommender
    check_recommender(MyRecommender(), personalised=True)   # AssertionError names the check

or one pytest test per check:

    from pixelrec.testing import RECOMMENDER_CHECKS, fit_on_blocks

    @pytest.fixture(scope="module")
    def model():
        return fit_on_blocks(MyRecommender())

    @pytest.mark.parametrize("check", RECOMMENDER_CHECKS, ids=lambda c: c.__name__)
    def test_contract(model, check):
        check(model)

The data is a block matrix (`block_data`): 3 groups of 6 users x 6 items where user j of a group
saw every item of its group but item j (its held-out item, the val split), plus one item per
group without interactions (`coldG`, whose content, `block_embeddings`, leans to group G).
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

GROUPS, SIZE = 3, 6


def block_data() -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """(train, held-out item per user, catalogue incl. one cold item per group)."""
    rows, held = [], {}
    for g in range(GROUPS):
        for j in range(SIZE):
            user = f"u{g}_{j}"
            held[user] = f"i{g}_{j}"
            rows += [(user, f"i{g}_{i}") for i in range(SIZE) if i != j]
    train = pd.DataFrame(rows, columns=["user_id", "item_id"])
    train["timestamp"] = np.arange(len(train))
    items = [f"i{g}_{i}" for g in range(GROUPS) for i in range(SIZE)]
    return train, held, items + [f"cold{g}" for g in range(GROUPS)]


def block_embeddings(items: list[str]) -> np.ndarray:
    """One-hot group embeddings with a little noise; `coldG` leans (less purely) to group G."""
    rng = np.random.default_rng(0)
    groups = [int(i[4]) if i.startswith("cold") else int(i[1]) for i in items]
    cold = np.array([i.startswith("cold") for i in items])[:, None]
    return np.eye(GROUPS)[groups] + 0.2 * cold + 0.01 * rng.random((len(items), GROUPS))


def held_out_frame() -> pd.DataFrame:
    """The held-out items as a split frame (what `fit_on_blocks` passes as `val`)."""
    _, held, _ = block_data()
    return pd.DataFrame({"user_id": list(held), "item_id": list(held.values()),
                         "timestamp": 10_000})


def fit_on_blocks(model):
    """`model` fitted on the block data (val = the held-out items); returns it."""
    train, _, items = block_data()
    model.fit(train, items=items, val=held_out_frame())
    return model


def _users(n: int | None = None) -> list[str]:
    users = list(block_data()[1])
    return users if n is None else users[:n]


# ---- the checks (each takes a model fitted by `fit_on_blocks`) --------------------------------

def check_fit_indexes_users_and_the_whole_catalogue(model) -> None:
    train, _, items = block_data()
    assert set(model.item_ids_) == set(items), "item_ids_ must be the catalogue given to fit"
    assert model.train_matrix_.shape == (train.user_id.nunique(), len(items))
    assert model.train_matrix_.nnz == len(train)


def check_score_shape_and_dtype(model) -> None:
    scores = model.score(_users(4))
    assert scores.shape == (4, len(model.item_ids_)) and scores.dtype == np.float32


def check_recommend_excludes_seen_items(model) -> None:
    train, _, _ = block_data()
    users = _users()
    ids, scores = model.recommend(users, k=3)
    assert ids.shape == (len(users), 3) and scores.shape == (len(users), 3)
    seen = set(zip(train.user_id, train.item_id, strict=True))
    assert not any((u, i) in seen for u, row in zip(users, ids, strict=True) for i in row), \
        "recommend(exclude_seen=True) returned a train item"
    assert np.all(np.diff(scores, axis=1) <= 0), "lists must be best first"


def check_recommend_can_include_seen_items(model) -> None:
    ids, _ = model.recommend(_users(1), k=len(model.item_ids_), exclude_seen=False)
    assert len(set(ids[0])) == len(model.item_ids_)


def check_unknown_users_get_finite_fallback_scores(model) -> None:
    scores = model.score(["nobody", "nobody-else"])
    assert scores.shape == (2, len(model.item_ids_))
    assert np.isfinite(scores).sum(axis=1).min() >= len(model.item_ids_) - GROUPS
    ids, _ = model.recommend(["nobody"], k=2)
    assert ids.shape == (1, 2)


def check_cold_items_are_minus_inf_unless_the_model_scores_them(model) -> None:
    scores = model.score(_users())
    cold = np.isin(model.item_ids_, [f"cold{g}" for g in range(GROUPS)])
    if model.scores_cold_items:
        assert np.isfinite(scores[:, cold]).all(), "scores_cold_items but a cold item is -inf"
    else:
        assert np.isneginf(scores[:, cold]).all() and np.isfinite(scores[:, ~cold]).all()


def check_vector_models_score_by_dot_product(model) -> None:
    if not model.has_vectors:
        return
    users = _users(5)
    expected = model.user_vectors(users) @ model.item_vectors().T
    scores = model.score(users)
    finite = np.isfinite(scores)
    np.testing.assert_allclose(scores[finite], expected[finite], rtol=1e-5, atol=1e-5)


def check_save_load_round_trip(model) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pkl"
        model.save(path)
        loaded = type(model).load(path)
    np.testing.assert_array_equal(loaded.score(_users(3)), model.score(_users(3)))


def check_held_out_item_ranks_first(model) -> None:
    """Personalised models only: each user's held-out item is the obvious next one."""
    _, held, _ = block_data()
    ids, _ = model.recommend(list(held), k=1)
    assert ids[:, 0].tolist() == list(held.values()), "a held-out item did not rank first"


def check_refit_is_reproducible(model) -> None:
    """Two fits of copies on the same data (same seed) give bit-identical first scores."""
    first, second = (fit_on_blocks(pickle.loads(pickle.dumps(model))) for _ in range(2))
    np.testing.assert_array_equal(first.score(_users()), second.score(_users()),
                                  err_msg="a second fit with the same seed scored differently")


RECOMMENDER_CHECKS: list[Callable] = [
    check_fit_indexes_users_and_the_whole_catalogue,
    check_score_shape_and_dtype,
    check_recommend_excludes_seen_items,
    check_recommend_can_include_seen_items,
    check_unknown_users_get_finite_fallback_scores,
    check_cold_items_are_minus_inf_unless_the_model_scores_them,
    check_vector_models_score_by_dot_product,
    check_save_load_round_trip,
    check_refit_is_reproducible,
]


def check_unfitted_raises(model) -> None:
    """An unfitted model refuses to score with a clear error."""
    from pixelrec.errors import PixelRecError

    try:
        model.score(["u"])
    except PixelRecError as exc:
        assert "not fitted" in str(exc)
        return
    raise AssertionError("an unfitted model scored without raising PixelRecError")


def check_recommender(model, personalised: bool = True) -> None:
    """Run every check on `model` (unfitted: it is copied, checked unfitted, then fitted on
    the block data); `personalised` adds `check_held_out_item_ranks_first`."""
    check_unfitted_raises(pickle.loads(pickle.dumps(model)))
    fitted = fit_on_blocks(model)
    for check in RECOMMENDER_CHECKS + ([check_held_out_item_ranks_first] if personalised else []):
        check(fitted)
