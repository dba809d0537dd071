"""The CLI end to end (demo-data -> preprocess -> split), the seed scripts, and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pixelrec.cli.main import main
from tests.conftest import demo_config_dict

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pixelrec", *args], capture_output=True,
                          text=True, cwd=REPO)


def test_help_lists_commands_and_starts_light():
    out = run_cli("--help")
    assert out.returncode == 0
    for cmd in ("demo-data", "preprocess", "split", "demo"):
        assert cmd in out.stdout
    code = ("import sys; from pixelrec.cli.main import build_parser; build_parser(); "
            "heavy = [m for m in ('torch', 'pandas', 'transformers', 'sentence_transformers') "
            "if m in sys.modules]; print(heavy)")
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert probe.stdout.strip() == "[]"


def test_demo_data_preprocess_split_end_to_end(tmp_path, capsys):
    raw = tmp_path / "raw"
    assert main(["demo-data", "--out", str(raw), "--n_items", "80", "--n_users", "60"]) == 0
    cfg = demo_config_dict(raw, tmp_path)
    cfg["data"]["write_csv"] = True
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["preprocess", "--config", str(path), "--no_progress"]) == 0
    for strategy in ("temporal", "leave_one_out", "cold_item"):
        assert main(["split", "--config", str(path), "--strategy", strategy]) == 0
        stats = json.loads((tmp_path / "splits" / "split_stats.json").read_text())
        assert stats["strategy"] == strategy
        test = pd.read_csv(tmp_path / "splits" / "test.csv", dtype={"user_id": str,
                                                                     "item_id": str})
        pq = pd.read_parquet(tmp_path / "splits" / "test.parquet")
        assert len(test) == len(pq) == stats["test"]["interactions"] > 0
        assert yaml.safe_load((tmp_path / "splits" / "resolved_config.yaml").read_text())[
            "data"]["splitting"]["strategy"] == strategy
    out = capsys.readouterr().out
    assert "cold_item split written" in out


def test_seed_script_with_sample_n(tmp_path, small_demo):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(demo_config_dict(small_demo, tmp_path)))
    assert main(["preprocess", "--config", str(path), "--no_progress"]) == 0
    for script, extra in (("create_splits.py", ["--sample_n", "300"]),
                          ("preprocess_data.py", ["--no_progress"])):
        out = subprocess.run([sys.executable, f"scripts/{script}", "--config", str(path), *extra],
                             capture_output=True, text=True, cwd=REPO)
        assert out.returncode == 0, out.stderr
    stats = json.loads((tmp_path / "splits" / "split_stats.json").read_text())
    assert stats["rows_after_sampling"] <= 300 < stats["rows_in"]


@pytest.mark.parametrize("args, message", [
    (["split", "--config", "nope.yaml"], "config file not found"),
    (["split", "--set", "data.splitting.stratgy=x"], "did you mean 'strategy'"),
    (["preprocess", "--set", "data.item_info_path=/no/such/items.csv"],
     "item info file not found: /no/such/items.csv. Set `data.item_info_path`"),
    (["split", "--set", "data.processed_interactions_path=/no/such/i.parquet"],
     "Set `data.processed_interactions_path` to the right path or run `pixelrec preprocess` "
     "first."),
])
def test_bad_input_exits_2_with_clear_message(args, message):
    out = run_cli(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_failed_split_leaves_previous_outputs_intact(tmp_path, small_demo):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(demo_config_dict(small_demo, tmp_path)))
    assert main(["preprocess", "--config", str(path), "--no_progress"]) == 0
    assert main(["split", "--config", str(path)]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "splits").iterdir()}
    # a cold split of a single sampled user is refused: nothing may change on disk
    code = main(["split", "--config", str(path), "--sample_users", "1", "--strategy",
                 "cold_user"])
    assert code == 2
    after = {p.name: p.read_bytes() for p in (tmp_path / "splits").iterdir()}
    assert before == after
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".splits")]
