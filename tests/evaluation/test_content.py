"""content_knn and intra-list diversity read item embeddings from the feature cache."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from pixelrec.cli.main import main
from pixelrec.config import load_config
from pixelrec.evaluation.embeddings import load_item_embeddings
from pixelrec.features import open_cache

ITEMS = ["a", "b", "c", "d", "e"]
VECTORS = np.array([[1, 0], [0, 1], [0, 1], [0.9, 0.1], [0.5, 0.5]], dtype=np.float32)


@pytest.fixture
def cached(tmp_path):
    config = {"results_dir": str(tmp_path / "results"),
              "data": {"split_data_path": str(tmp_path / "splits"),
                       "processed_item_info_path": str(tmp_path / "none.parquet"),
                       "cache_config": {"cache_directory": str(tmp_path / "cache")}},
              "evaluation": {"k_values": [1], "bootstrap_samples": 20}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cfg = load_config(path)
    cache = open_cache(cfg, writable=True)  # the real key of the configured encoders
    for modality in ("image", "text"):
        cache.put(modality, ITEMS, ["h"] * 5, VECTORS, np.ones(5, dtype=bool))
    cache.close()
    (tmp_path / "splits").mkdir()
    pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["a", "b"]}).to_parquet(
        tmp_path / "splits" / "train.parquet")
    pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["d", "c"]}).to_parquet(
        tmp_path / "splits" / "test.parquet")
    return tmp_path, path, cfg


def test_loader_concatenates_normalised_modalities(cached):
    _, _, cfg = cached
    emb, ids = load_item_embeddings(cfg)
    assert ids == ITEMS and emb.shape == (5, 4)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), np.sqrt(2), rtol=1e-6)


def test_content_knn_ranks_the_cold_look_alike_first(cached):
    tmp, path, _ = cached
    assert main(["evaluate", "--config", str(path), "--recommender_type", "content_knn",
                 "--output", "content.json"]) == 0
    result = json.loads((tmp / "results" / "content.json").read_text())
    # u1 saw a -> d (cold, like a) first; u2 saw b -> c (identical to b) first
    assert result["per_user"]["precision@1"] == [1.0, 1.0]
    assert result["metadata"]["item_embeddings"] is True
    assert result["cold_items"]["metrics"]["hit_rate@1"] == 1.0  # c, d, e are cold
    assert result["beyond_accuracy"]["intra_list_diversity"] is not None
