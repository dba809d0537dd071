"""Shared fixtures: a small demo dataset generated once, and configs pointing into tmp dirs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from pixelrec.config import load_config
from pixelrec.data.demo import write_demo


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models run fastest, and steadiest on a shared 2-core box, with one torch thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def trained(small_demo, tmp_path_factory):
    """A tiny trained multimodal model on the small demo (read-only: copy before writing)."""
    from tests.inference.helpers import build_trained

    return build_trained(small_demo, tmp_path_factory.mktemp("trained") / "work")


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    """A 120-item, 80-user demo dataset (read-only for tests: copy before changing it)."""
    out = tmp_path_factory.mktemp("demo") / "raw"
    write_demo(out, n_items=120, n_users=80, seed=0)
    return out


def demo_config_dict(raw: Path, work: Path, **data_overrides) -> dict:
    """A config dict reading the demo files in `raw` and writing every output under `work`."""
    data = {
        "item_info_path": str(raw / "item_info.csv"),
        "interactions_path": str(raw / "interactions.csv"),
        "image_folder": str(raw / "images"),
        "processed_item_info_path": str(work / "processed" / "item_info.parquet"),
        "processed_interactions_path": str(work / "processed" / "interactions.parquet"),
        "processed_image_folder": str(work / "processed" / "images"),
        "scaler_path": str(work / "processed" / "scaler.json"),
        "split_data_path": str(work / "splits"),
        "num_workers": 1,
        "filtering": {"min_user_interactions": 3, "min_item_interactions": 2},
    }
    data.update(data_overrides)
    return {"results_dir": str(work / "results"), "checkpoint_dir": str(work / "models"),
            "data": data}


@pytest.fixture
def make_config(tmp_path):
    """Write a config file for `raw` with outputs under tmp_path; return (path, Config)."""

    def make(raw: Path, **data_overrides):
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(demo_config_dict(raw, tmp_path, **data_overrides)))
        return path, load_config(path)

    return make


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Tiny random Hugging Face models saved like the hub ships them, built once per session:
    `tiny_models("bert") -> Path` (see `tests.features.conftest.build_tiny` for the kinds)."""
    from tests.features.conftest import build_tiny

    root = tmp_path_factory.mktemp("tiny_models")
    built: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in built:
            built[kind] = build_tiny(kind, root / kind)
        return built[kind]

    return get
