"""`pixelrec precompute`, `pixelrec cache list|stats|clear` and their seed-script wrappers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pixelrec.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_file(items_dir) -> Path:
    data = {"model": {"vision_model": None},
            "features": {"num_workers": 0},
            "data": {"processed_item_info_path": str(items_dir / "processed/item_info.parquet"),
                     "processed_image_folder": str(items_dir / "processed/images"),
                     "cache_config": {"cache_directory": str(items_dir / "cache")}}}
    path = items_dir / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_precompute_and_cache_commands(config_file, items_dir, capsys, monkeypatch):
    cfg = ["--config", str(config_file)]
    assert main(["precompute", *cfg, "--max_items", "4", "--no_progress"]) == 0
    out = capsys.readouterr().out
    assert "precompute none_sentence-bert: 4 items" in out and "text: 4 computed" in out
    assert main(["precompute", *cfg, "--no_progress"]) == 0
    assert "text: 8 computed, 4 reused, 1 missing" in capsys.readouterr().out
    assert main(["precompute", *cfg, "--no_progress", "--force_recompute"]) == 0
    assert "text: 12 computed, 0 reused" in capsys.readouterr().out
    assert main(["precompute", *cfg, "--no_progress", "--set",
                 "model.vision_model=efficientnet-lite0", "--max_items", "2"]) == 0
    capsys.readouterr()

    assert main(["cache", "list", *cfg]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["NAME", "IMAGE", "TEXT", "ITEMS", "SIZE", "CREATED"]
    rows = {line.split()[0]: line.split() for line in listing[1:]}
    assert rows["none_sentence-bert"][1:4] == ["None", "sentence-bert", "12"]
    assert rows["efficientnet-lite0_sentence-bert"][1:4] == ["efficientnet-lite0",
                                                             "sentence-bert", "2"]

    assert main(["cache", *cfg, "stats", "none_sentence-bert"]) == 0
    stats = capsys.readouterr().out
    assert "text: 11/12 present (91.7%), 1 missing, dim 384, norm min 1.000 mean 1.000" in stats
    assert '"fingerprint"' in stats and '"dtype": "float32"' in stats

    assert main(["cache", "stats", "nope", *cfg]) == 2
    assert "no feature cache named 'nope'" in capsys.readouterr().err

    assert main(["cache", "stats", *cfg]) == 2  # two caches: which one?
    assert "name a cache (caches: " in capsys.readouterr().err
    assert main(["cache", "clear", "none_sentence-bert", *cfg]) == 0
    assert not (items_dir / "cache" / "none_sentence-bert").exists()
    assert main(["cache", "stats", *cfg]) == 0  # the only cache left
    assert "cache efficientnet-lite0_sentence-bert" in capsys.readouterr().out

    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert main(["cache", "clear", "--all", *cfg]) == 2
    assert "without confirmation; re-run with --yes" in capsys.readouterr().err
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["cache", "clear", "--all", *cfg]) == 1
    assert (items_dir / "cache" / "efficientnet-lite0_sentence-bert").exists()
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["cache", "clear", "--all", *cfg]) == 0
    assert not (items_dir / "cache" / "efficientnet-lite0_sentence-bert").exists()
    assert main(["cache", "list", *cfg]) == 0
    assert "no feature caches" in capsys.readouterr().out


def test_bad_arguments_exit_2(config_file, capsys, tmp_path, monkeypatch):
    import huggingface_hub.constants as hc

    assert main(["precompute", "--config", str(config_file), "--max_items", "0"]) == 2
    assert "--max_items must be at least 1" in capsys.readouterr().err
    assert main(["cache", "clear", "--config", str(config_file)]) == 2
    assert "either a cache NAME or --all" in capsys.readouterr().err
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "empty_hf_cache"))
    assert main(["precompute", "--config", str(config_file), "--set",
                 "model.vision_model=clip", "--no_progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model.vision_model = 'clip' needs") and "Traceback" not in err


def test_seed_scripts(config_file):
    def script(name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(REPO / "scripts" / name), *args],
                              capture_output=True, text=True, cwd=REPO)

    done = script("precompute_cache.py", "--config", str(config_file), "--max_items", "3",
                  "--no_progress")
    assert done.returncode == 0, done.stderr
    assert "3 items" in done.stdout
    listed = script("cache.py", "list", "--config", str(config_file))
    assert listed.returncode == 0 and "none_sentence-bert" in listed.stdout
    cleared = script("cache.py", "clear", "--all", "--yes", "--config", str(config_file))
    assert cleared.returncode == 0 and "deleted" in cleared.stdout
