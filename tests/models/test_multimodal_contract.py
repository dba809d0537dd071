"""The shared recommender contract, run on a multimodal model trained on the block data."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from pixelrec.config import validate_config
from pixelrec.models.multimodal import MultimodalRecommender, load_multimodal_recommender
from pixelrec.training import train_model
from tests.models.blocks import block_data
from tests.models.test_contract import (  # noqa: F401  (collected here with our `model` fixture)
    block,
    test_cold_items_are_minus_inf_unless_the_model_scores_them,
    test_fit_indexes_users_and_the_whole_catalogue,
    test_recommend_can_include_seen_items,
    test_recommend_excludes_seen_items,
    test_save_load_round_trip,
    test_score_shape_and_dtype,
    test_unknown_users_get_finite_fallback_scores,
    test_vector_models_score_by_dot_product,
)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> MultimodalRecommender:
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("mm_block")
    train, held, items = block_data()
    held_frame = pd.DataFrame({"user_id": list(held), "item_id": list(held.values())})
    for name, frame in (("train", train), ("val", held_frame), ("test", held_frame)):
        frame.to_parquet(tmp / f"{name}.parquet")
    # Content: the group of each item as its tag (cold items carry their group's tag too).
    groups = [i[4] if i.startswith("cold") else i[1] for i in items]
    pd.DataFrame({"item_id": items, "tag": [f"group{g}" for g in groups]}).to_parquet(
        tmp / "items.parquet")
    config = validate_config({
        "seed": 0, "checkpoint_dir": str(tmp / "ckpt"), "results_dir": str(tmp / "res"),
        "data": {"split_data_path": str(tmp), "processed_item_info_path": str(tmp / "items.parquet")},
        "model": {"vision_model": None, "language_model": None, "embedding_dim": 16},
        "training": {"epochs": 25, "batch_size": 30, "learning_rate": 0.02, "patience": 25,
                     "progress": False},
        "evaluation": {"k_values": [1, 10]},
    })
    train_model(config, device="cpu")
    return load_multimodal_recommender(config)


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
