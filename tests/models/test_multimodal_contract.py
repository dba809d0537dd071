"""The shared recommender contract, run on a multimodal model trained on the block data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from pixelrec import testing
from pixelrec.config import validate_config
from pixelrec.models import create_recommender
from pixelrec.models.multimodal import MultimodalRecommender, load_multimodal_recommender
from pixelrec.testing import block_data


def block_config(tmp) -> object:
    """A small multimodal model over the block data; its content is each item's group tag."""
    train, held, items = block_data()
    held_frame = pd.DataFrame({"user_id": list(held), "item_id": list(held.values())})
    for name, frame in (("train", train), ("val", held_frame), ("test", held_frame)):
        frame.to_parquet(tmp / f"{name}.parquet")
    # Content: the group of each item as its tag (cold items carry their group's tag too).
    groups = [i[4] if i.startswith("cold") else i[1] for i in items]
    pd.DataFrame({"item_id": items, "tag": [f"group{g}" for g in groups]}).to_parquet(
        tmp / "items.parquet")
    return validate_config({
        "seed": 0, "checkpoint_dir": str(tmp / "ckpt"), "results_dir": str(tmp / "res"),
        "data": {"split_data_path": str(tmp), "processed_item_info_path": str(tmp / "items.parquet")},
        "model": {"vision_model": None, "language_model": None, "embedding_dim": 16,
                  "history_length": 6},
        "training": {"epochs": 25, "batch_size": 30, "learning_rate": 0.02, "patience": 25,
                     "progress": False},
        "evaluation": {"k_values": [1, 10]},
    })


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> MultimodalRecommender:
    """Built like every recommender and trained by `fit` (early stopping on the held items)."""
    torch.set_num_threads(1)
    config = block_config(tmp_path_factory.mktemp("mm_block"))
    return testing.fit_on_blocks(create_recommender("multimodal", config, checkpoint="none"))


@pytest.mark.parametrize("check", testing.RECOMMENDER_CHECKS, ids=lambda c: c.__name__)
def test_contract(model, check):
    check(model)


def test_fit_trained_and_the_checkpoint_reloads_to_the_same_scores(model):
    assert model.fit_summary()["trained"]["epochs"] >= 1
    again = load_multimodal_recommender(model.config, "best", train=block_data()[0])
    users = list(block_data()[1])[:4]
    np.testing.assert_allclose(again.score(users), model.score(users), rtol=1e-5, atol=1e-5)


def test_held_out_item_and_own_group_cold_item_rank_first(model):
    """The held-out item competes only with the cold item of the same group (same content)."""
    _, held, _ = block_data()
    ids, _ = model.recommend(list(held), k=2)
    for user, top in zip(held, ids, strict=True):
        assert set(top) == {held[user], f"cold{user[1]}"}


def test_cold_items_rank_within_their_group(model):
    _, held, _ = block_data()
    scores = model.score(list(held))
    cold = [model.item_ids_.tolist().index(f"cold{g}") for g in range(3)]
    for row, user in enumerate(held):
        assert scores[row, cold].argmax() == int(user[1])


def test_new_user_is_scored_from_the_history(model):
    ids, _ = model.recommend_histories([["i2_0", "i2_1", "i2_2"], ["i0_3"]], k=3)
    assert set(ids[0]) <= {"i2_3", "i2_4", "i2_5", "cold2"}
    assert all(i.startswith(("i0_", "cold0")) for i in ids[1]) and "i0_3" not in ids[1]
    scores = model.score_histories([["i1_0", "unknown-item"]])
    assert scores.shape == (1, len(model.item_ids_))
