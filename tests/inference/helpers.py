"""A tiny trained multimodal model on the small demo (synthetic encoder features), shared by
the inference, serving and report tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from pixelrec.cli.main import main
from pixelrec.config import validate_config
from tests.conftest import demo_config_dict
from tests.training.conftest import synthetic_features


def tiny_config_dict(raw: Path, work: Path) -> dict:
    cfg = demo_config_dict(raw, work)
    cfg["data"]["cache_config"] = {"cache_directory": str(work / "cache")}
    cfg.update({"seed": 3,
                "model": {"embedding_dim": 16, "fusion_hidden_dims": [32], "history_length": 10,
                          "use_item_id": False, "item_bias": False},
                "training": {"epochs": 2, "batch_size": 128, "progress": False,
                             "learning_rate": 0.01, "device": "cpu"},
                "evaluation": {"k_values": [5, 10], "bootstrap_samples": 50},
                "recommendation": {"top_k": 5},
                "serving": {"added_items_dir": str(work / "added")}})
    return cfg


def build_trained(raw: Path, work: Path) -> Path:
    """Preprocess and split through the CLI, then train 2 epochs; returns the work folder."""
    import yaml

    from pixelrec.training import train_model

    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict(raw, work)))
    assert main(["preprocess", "--config", str(path), "--no_progress"]) == 0
    assert main(["split", "--config", str(path)]) == 0
    config = validate_config(tiny_config_dict(raw, work))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        features = synthetic_features(config)
        train_model(config, device="cpu", features=features)
    finally:
        torch.set_num_threads(threads)
    fill_cache(config, features)
    return work


def fill_cache(config, features) -> None:
    """Store `features` in the feature cache as if the configured encoders had made them, so
    every loading path (CLI, server process, report) finds the features the model was
    trained on."""
    from pixelrec.features.compute import input_hashes, open_cache, read_items

    inputs = read_items(config)
    with open_cache(config, writable=True) as cache:
        for modality, (vectors, ok) in features.items():
            cache.put(modality, inputs.item_ids, input_hashes(inputs, modality), vectors, ok)
        cache.write_info()


def copy_work(trained: Path, target: Path) -> tuple[Path, object]:
    """A private copy of a trained work folder (config paths rewritten) and its Config."""
    import yaml

    shutil.copytree(trained, target)
    text = (trained / "config.yaml").read_text().replace(str(trained), str(target))
    (target / "config.yaml").write_text(text)
    return target / "config.yaml", validate_config(yaml.safe_load(text))


def features_for(config):
    return synthetic_features(config)


def user_with_history(config, min_items: int = 3) -> tuple[str, list[str]]:
    import pandas as pd

    train = pd.read_parquet(Path(config.data.split_data_path) / "train.parquet")
    counts = train.groupby("user_id").size()
    user = str(counts[counts >= min_items].index[0])
    return user, train.loc[train["user_id"] == user, "item_id"].astype(str).tolist()


def clone_fields(config, item_id: str) -> dict:
    """The raw fields of an item (as a client would post them): text and unscaled numbers."""
    import pandas as pd

    table = pd.read_csv(config.data.item_info_path, dtype={"item_id": str})
    row = table.loc[table["item_id"] == item_id].iloc[0]
    fields = {c: row[c] for c in ("title", "tag", "description")}
    fields.update({c: float(row[c]) for c in config.data.numerical_features_cols})
    return fields


def clone_embedder(features, config):
    """An embedder that returns the synthetic features of the item whose title matches."""
    import pandas as pd

    table = pd.read_parquet(config.data.processed_item_info_path)
    where = {str(t): k for k, t in enumerate(table["title"])}

    def embed(image, text):
        row = next((k for t, k in where.items() if t and text.startswith(t)), None)
        out = {}
        for modality, (vectors, mask) in features.items():
            if row is None:
                out[modality] = (np.zeros((1, vectors.shape[1]), np.float32), np.zeros(1, bool))
            else:
                out[modality] = (vectors[row:row + 1].copy(), mask[row:row + 1].copy())
        return out

    return embed
