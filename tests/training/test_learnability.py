"""On a tiny dataset the model memorises the training interactions (near-perfect recall)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pixelrec.config import validate_config
from pixelrec.models.multimodal import load_multimodal_recommender
from pixelrec.training import train_model


def test_overfits_tiny_dataset(tmp_path):
    rng = np.random.default_rng(0)
    items = [f"i{k}" for k in range(40)]
    rows = [(f"u{u}", items[i], t) for u in range(30)
            for t, i in enumerate(rng.choice(40, 4, replace=False))]
    train = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    splits = tmp_path / "splits"
    splits.mkdir()
    for name in ("train", "val", "test"):
        train.to_parquet(splits / f"{name}.parquet")
    pd.DataFrame({"item_id": items, "tag": ""}).to_parquet(tmp_path / "items.parquet")
    config = validate_config({
        "seed": 0, "checkpoint_dir": str(tmp_path / "ckpt"), "results_dir": str(tmp_path / "res"),
        "data": {"split_data_path": str(splits),
                 "processed_item_info_path": str(tmp_path / "items.parquet")},
        "model": {"vision_model": None, "language_model": None, "embedding_dim": 32,
                  "id_dropout": 0.0, "dropout_rate": 0.0, "user_history": "none",
                  "use_user_id": True,
                  "use_tags": False},
        "training": {"epochs": 60, "batch_size": 40, "learning_rate": 0.05, "patience": 60,
                     "weight_decay": 0.0, "scheduler": "none", "progress": False,
                     "validation_metric": "val_loss"},
        "evaluation": {"k_values": [4]},
    })
    train_model(config, device="cpu")
    rec = load_multimodal_recommender(config, "last")
    users = sorted(train["user_id"].unique())
    top, _ = rec.recommend(users, k=4, exclude_seen=False)
    truth = train.groupby("user_id")["item_id"].apply(set)
    recall = np.mean([len(set(row) & truth[u]) / 4 for u, row in zip(users, top, strict=True)])
    assert recall >= 0.95
