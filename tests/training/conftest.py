"""Prepared small demo data (preprocessed and split once) and synthetic item features."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pixelrec.config import validate_config
from pixelrec.data.preprocess import preprocess
from pixelrec.data.split_stage import create_splits
from tests.conftest import demo_config_dict


@pytest.fixture(scope="session")
def prepared_demo(small_demo, tmp_path_factory) -> Path:
    """The small demo, preprocessed and split (temporal); read-only, copy before writing."""
    work = tmp_path_factory.mktemp("prepared")
    config = validate_config(demo_config_dict(small_demo, work))
    preprocess(config)
    create_splits(config)
    return work


def synthetic_features(config, dims=(("image", 12), ("text", 8)), seed=0):
    """Per-modality (vectors, mask) aligned with the processed item table: a noisy code of the
    item's first tag (its category) plus noise, a few items missing each modality."""
    table = pd.read_parquet(config.data.processed_item_info_path)
    first = table["tag"].astype(str).str.split(",").str[0].str.strip()
    codes = pd.factorize(first)[0]
    rng = np.random.default_rng(seed)
    out = {}
    for name, dim in dims:
        basis = rng.normal(size=(codes.max() + 1, dim)).astype(np.float32)
        vectors = basis[codes] + 0.3 * rng.normal(size=(len(table), dim)).astype(np.float32)
        mask = rng.random(len(table)) > 0.05
        vectors[~mask] = 0.0
        out[name] = (vectors, mask)
    return out


@pytest.fixture
def train_config(prepared_demo, small_demo, tmp_path):
    """A Config over the prepared demo with outputs under tmp_path; `overrides` are dotted."""

    def make(**overrides):
        work = tmp_path / "work"
        if not work.exists():
            shutil.copytree(prepared_demo, work)
        raw = demo_config_dict(small_demo, work)
        raw["data"]["cache_config"] = {"cache_directory": str(work / "cache")}  # never the repo's
        raw.update({"seed": 3, "model": {"embedding_dim": 16, "fusion_hidden_dims": [32],
                                         "history_length": 10},
                    "training": {"epochs": 2, "batch_size": 128, "progress": False,
                                 "learning_rate": 0.01},
                    "evaluation": {"k_values": [10, 20]}})
        for key, value in overrides.items():
            node = raw
            *parents, last = key.split("__")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        return validate_config(raw)

    return make


def interrupt_and_resume(config, features, epoch: int = 2) -> dict:
    """Train `config` until a KeyboardInterrupt after `epoch`, then `--resume last`; returns the
    resumed run's summary."""
    from pixelrec.training import train_model

    def interrupt(record):
        if record["epoch"] == epoch:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(config, device="cpu", features=features, callbacks=[interrupt])
    return train_model(config, device="cpu", features=features, resume="last")
