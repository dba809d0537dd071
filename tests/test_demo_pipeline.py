"""`pixelrec demo` end to end on a tiny dataset: every stage runs and the table is printed."""

from __future__ import annotations

import json

import pytest
import yaml

from pixelrec.cli.main import main
from tests.conftest import demo_config_dict


@pytest.mark.slow
def test_demo_runs_every_stage(tmp_path, capsys):
    cfg = demo_config_dict(tmp_path / "raw", tmp_path)
    cfg["data"]["cache_config"] = {"cache_directory": str(tmp_path / "cache")}
    cfg["training"] = {"epochs": 2, "num_threads": 1, "progress": False}
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["demo", "--config", str(path), "--n_items", "60", "--n_users", "50"]) == 0
    out = capsys.readouterr().out
    for name in ("popularity", "item_knn", "ease", "als", "content_knn", "multimodal"):
        assert f"\n{name} " in out
        result = json.loads((tmp_path / "results" / f"eval_{name}_retrieval.json").read_text())
        assert 0.0 <= result["metrics"]["ndcg@10"] <= 1.0
    assert "Validation NDCG@10: multimodal" in out
    assert (tmp_path / "results" / "report" / "index.html").exists()
    assert f"pixelrec serve --config {path}" in out
    # a second run reuses the data, the images and the feature cache
    assert main(["demo", "--config", str(path), "--n_items", "60", "--n_users", "50"]) == 0
    again = capsys.readouterr().out
    assert "reusing" in again
