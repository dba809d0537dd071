"""$PIXELREC_PLUGINS: modules imported before the CLI parses, so what they register is usable."""

from __future__ import annotations

import json
import sys

import pandas as pd
import yaml

from pixelrec.cli.main import main
from pixelrec.models import RECOMMENDERS

PLUGIN = '''
from pixelrec.models import register_recommender
from pixelrec.models.baselines import PopularityRecommender


@register_recommender("plugin_popularity")
class PluginPopularity(PopularityRecommender):
    """Popularity under another name."""
'''


def test_plugin_module_registers_a_recommender_for_the_cli(tmp_path, monkeypatch):
    (tmp_path / "pixelrec_test_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PIXELREC_PLUGINS", "pixelrec_test_plugin")
    pd.DataFrame({"user_id": ["u1", "u2", "u2"], "item_id": ["a", "a", "b"],
                  "timestamp": 1}).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"user_id": ["u1"], "item_id": ["b"], "timestamp": 2}).to_csv(
        tmp_path / "test.csv", index=False)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "results_dir": str(tmp_path / "results"),
        "data": {"processed_item_info_path": str(tmp_path / "none.parquet"),
                 "cache_config": {"cache_directory": str(tmp_path / "cache")}},
        "evaluation": {"k_values": [1], "bootstrap_samples": 20}}))
    try:
        assert main(["evaluate", "--config", str(config), "--recommender_type",
                     "plugin_popularity", "--train_data", str(tmp_path / "train.csv"),
                     "--test_data", str(tmp_path / "test.csv"), "--output", "p.json"]) == 0
    finally:
        RECOMMENDERS.pop("plugin_popularity", None)
        sys.modules.pop("pixelrec_test_plugin", None)
    result = json.loads((tmp_path / "results" / "p.json").read_text())
    assert result["metrics"]["hit_rate@1"] == 1.0  # u1 saw a; b is the next most popular


def test_unimportable_plugin_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("PIXELREC_PLUGINS", "no_such_pixelrec_plugin")
    assert main(["--help"]) == 2
    assert "PIXELREC_PLUGINS" in capsys.readouterr().err
