"""A corpus of bad inputs run through the CLI: each exits 2 with a message naming the file, row
or key, and leaves the outputs of an earlier run byte for byte as they were. Plus the inputs that
used to be mishandled and must now go through: NA-like ids, decompression bombs, an empty val."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from pixelrec.cli.main import main
from pixelrec.evaluation.data import read_split
from pixelrec.training.data import read_interactions

USERS = ["NA", "null", "u3", "u4"]
ITEMS = ["None", "nan", "i3", "i4", "i5", "i6"]


def write_dataset(tmp: Path) -> Path:
    """Tiny raw files (every user rates every item; ids pandas would read as NA) and a config
    writing under tmp/out; returns the config path."""
    raw = tmp / "raw"
    raw.mkdir()
    pd.DataFrame({"item_id": ITEMS, "title": [f"title {i}" for i in ITEMS]}).to_csv(
        raw / "items.csv", index=False)
    rows = [(u, i) for u in USERS for i in ITEMS]
    order = np.random.default_rng(0).permutation(len(rows))
    pd.DataFrame({"user_id": [u for u, _ in rows], "item_id": [i for _, i in rows],
                  "timestamp": 1609459200 + order * 60}).to_csv(raw / "inter.csv", index=False)
    out = tmp / "out"
    data = {
        "item_info_path": str(raw / "items.csv"), "interactions_path": str(raw / "inter.csv"),
        "image_folder": None,
        "processed_item_info_path": str(out / "processed" / "item_info.parquet"),
        "processed_interactions_path": str(out / "processed" / "interactions.parquet"),
        "processed_image_folder": str(out / "processed" / "images"),
        "scaler_path": str(out / "processed" / "scaler.json"),
        "split_data_path": str(out / "splits"), "write_csv": True, "num_workers": 1,
        "columns": {"tag": None, "description": None}, "numerical_features_cols": [],
        "filtering": {"min_user_interactions": 1, "min_item_interactions": 1},
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump({"results_dir": str(out / "results"), "data": data}))
    return path


def set_key(config: Path, dotted: str, value) -> None:
    tree = yaml.safe_load(config.read_text())
    *parents, last = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    config.write_text(yaml.safe_dump(tree))


def edit_csv(path: Path, row: int, column: str, value) -> None:
    """Set one cell (0-based data row) of a raw CSV, keeping the ids as text."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `folder` (temp leftovers show up as new)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_previous_outputs(out: Path) -> None:
    """Sentinels standing for the outputs of an earlier run."""
    for name in ("processed/item_info.parquet", "processed/interactions.parquet",
                 "processed/preprocess_report.json", "splits/train.parquet",
                 "splits/split_stats.json"):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"previous {name}\n".encode())


def raw(tmp: Path, name: str) -> Path:
    return tmp / "raw" / name


def break_timestamps(tmp: Path) -> None:
    frame = pd.read_csv(raw(tmp, "inter.csv"), dtype=str, keep_default_na=False)
    frame.loc[[3, 7, 11, 15, 19], "timestamp"] = "garbage"
    frame.to_csv(raw(tmp, "inter.csv"), index=False)


def latin1_title(tmp: Path) -> None:
    path = raw(tmp, "items.csv")
    path.write_bytes(path.read_bytes().replace(b"title i3", "titlé i3".encode("latin-1")))


def bad_yaml(tmp: Path) -> None:
    config = tmp / "config.yaml"
    config.write_text(config.read_text() + "data: [unclosed\n")


Edit = Callable[[Path], None]
FLAGS = {"preprocess": ["--no_progress"], "split": []}
# (id, command, edit, expected message parts: "{raw}" is the raw folder, "{tmp}" the test dir)
CASES: list[tuple[str, str, Edit, list[str]]] = [
    ("missing_file", "preprocess", lambda t: raw(t, "inter.csv").unlink(),
     ["interactions file not found: {raw}/inter.csv", "`data.interactions_path`"]),
    ("missing_column", "preprocess",
     lambda t: set_key(t / "config.yaml", "data.columns.timestamp", "when"),
     ["{raw}/inter.csv is missing column(s) 'when' (for timestamp)", "data.columns.timestamp"]),
    ("empty_id", "preprocess", lambda t: edit_csv(raw(t, "inter.csv"), 4, "user_id", ""),
     ["{raw}/inter.csv: column 'user_id' is empty in 1 row(s)", "excluded): 5.",
      "`data.columns.user_id`"]),
    ("conflicting_item_rows", "preprocess",
     lambda t: raw(t, "items.csv").write_text(raw(t, "items.csv").read_text() + "i3,other\n"),
     ["{raw}/items.csv: 1 item id(s) appear more than once with different metadata: i3",
      "data rows 3, 7", "`data.columns.item_id`"]),
    ("non_utf8", "preprocess", latin1_title,
     ["item info file {raw}/items.csv: data row 3 (1-based, header excluded), column 'title' "
      "is not valid utf-8 text (byte 0xe9)", "`data.encoding`"]),
    ("garbage_timestamps", "preprocess", break_timestamps,
     ["{raw}/inter.csv: column 'timestamp'", "in 5 row(s)", "4, 8, 12, 16, 20",
      "'garbage'", "`data.columns.timestamp`"]),
    ("milliseconds_as_seconds", "preprocess",
     lambda t: edit_csv(raw(t, "inter.csv"), 2, "timestamp", "1609459200123"),
     ["{raw}/inter.csv: column 'timestamp' is outside the years 1900-2199 as epoch seconds",
      ": 3; their values: '1609459200123'", "`data.columns.timestamp_unit: ms`"]),
    ("unknown_encoding", "preprocess",
     lambda t: set_key(t / "config.yaml", "data.encoding", "klingon"),
     ["invalid configuration in {tmp}/config.yaml", "data.encoding",
      "unknown text encoding 'klingon'"]),
    ("unknown_config_key", "split",
     lambda t: set_key(t / "config.yaml", "data.splitting.stratgy", "random"),
     ["unknown key 'stratgy' in section data.splitting", "did you mean 'strategy'?"]),
    ("malformed_yaml", "preprocess", bad_yaml,
     ["config file {tmp}/config.yaml is not valid YAML at line", "Fix the syntax there."]),
    ("corrupt_processed_file", "split", lambda t: None,  # the sentinel is not Parquet
     ["could not read processed interactions file {tmp}/out/processed/interactions.parquet",
      "run `pixelrec preprocess` first"]),
]


@pytest.mark.parametrize("command, edit, expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_exits_2_names_where_and_keeps_previous_outputs(tmp_path, capsys, command,
                                                                  edit, expected):
    config = write_dataset(tmp_path)
    write_previous_outputs(tmp_path / "out")
    edit(tmp_path)
    before = snapshot(tmp_path / "out")
    code = main([command, "--config", str(config), *FLAGS[command]])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    for part in expected:
        assert part.format(raw=tmp_path / "raw", tmp=tmp_path) in err
    assert snapshot(tmp_path / "out") == before


def test_na_like_ids_survive_preprocess_split_and_every_split_reader(tmp_path):
    config = write_dataset(tmp_path)
    assert main(["preprocess", "--config", str(config), "--no_progress"]) == 0
    assert main(["split", "--config", str(config)]) == 0
    report = json.loads((tmp_path / "out" / "processed" / "preprocess_report.json").read_text())
    assert report["interactions"]["rows_out"] == len(USERS) * len(ITEMS)
    splits = tmp_path / "out" / "splits"
    for suffix in (".parquet", ".csv"):
        train = read_interactions(splits / f"train{suffix}", "train split")
        assert set(train["user_id"]) == set(USERS) and set(train["item_id"]) == set(ITEMS)
        parts = [read_split(splits / f"{name}{suffix}", f"{name} split", "--test")
                 for name in ("train", "val", "test")]
        assert sum(map(len, parts)) == len(USERS) * len(ITEMS)
        assert not any(part[["user_id", "item_id"]].isna().any().any() for part in parts)


def test_decompression_bomb_is_rejected_with_a_reason_not_a_crash(tmp_path, capsys, recwarn):
    config = write_dataset(tmp_path)
    images = tmp_path / "raw" / "images"
    images.mkdir()
    for item in ITEMS:
        Image.new("RGB", (40, 40), "red").save(images / f"{item}.jpg")
    # 20000x20000 (Pillow raises DecompressionBombError) as a 1-bit PNG named .jpg: ~50 KB
    Image.new("1", (20_000, 20_000)).save(images / "i3.jpg", format="PNG")
    set_key(config, "data.image_folder", str(images))
    assert main(["preprocess", "--config", str(config), "--no_progress"]) == 0
    report = json.loads((tmp_path / "out" / "processed" / "preprocess_report.json").read_text())
    assert report["images"]["too_large"] == 1 and report["images"]["ok"] == len(ITEMS) - 1
    assert report["images"]["rejected_examples"] == [{
        "item_id": "i3", "status": "too_large",
        "reason": "20000x20000 = 400,000,000 pixels is above the maximum 89,478,485 "
                  "(data.image_validation.max_pixels)"}]
    assert "DecompressionBomb" not in capsys.readouterr().err
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_split_with_an_empty_val_part_warns_with_the_counts(tmp_path, caplog):
    config = write_dataset(tmp_path)
    assert main(["preprocess", "--config", str(config), "--no_progress"]) == 0
    tiny_val = ["--set", "data.splitting.train_ratio=0.898", "--set",
                "data.splitting.val_ratio=0.001", "--set", "data.splitting.test_ratio=0.101"]
    with caplog.at_level(logging.WARNING, logger="pixelrec.data.split_stage"):
        assert main(["split", "--config", str(config), *tiny_val]) == 0
    stats = json.loads((tmp_path / "out" / "splits" / "split_stats.json").read_text())
    assert stats["val"]["interactions"] == 0
    counts = f"train {stats['train']['interactions']}, val 0, test {stats['test']['interactions']}"
    assert [r.getMessage() for r in caplog.records] == [
        f"the 'temporal' split left the val part empty ({counts} interactions; removed: {{}}): "
        f"early stopping and tuning get no validation data. Raise `data.splitting.val_ratio` "
        f"or use more data."]
    caplog.clear()
    no_val = ["--set", "data.splitting.train_ratio=0.9", "--set", "data.splitting.val_ratio=0",
              "--set", "data.splitting.test_ratio=0.1"]
    with caplog.at_level(logging.WARNING, logger="pixelrec.data.split_stage"):
        assert main(["split", "--config", str(config), *no_val]) == 0
    assert not caplog.records  # no val part was asked for
