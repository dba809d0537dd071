"""The preprocess stage end to end on the small demo, plus bad-input behaviour."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pixelrec.cli.main import main
from pixelrec.data.preprocess import preprocess
from pixelrec.errors import DataError


def test_outputs_report_and_rerun(small_demo, make_config, tmp_path):
    _, config = make_config(small_demo)
    report = preprocess(config, progress=False)
    items = pd.read_parquet(config.data.processed_item_info_path)
    inter = pd.read_parquet(config.data.processed_interactions_path)
    assert list(inter.columns) == ["user_id", "item_id", "timestamp"]
    assert inter["item_id"].isin(items["item_id"]).all()
    assert not inter.duplicated(["user_id", "item_id"]).any()
    assert (inter.groupby("user_id").size() >= 3).all()
    assert (inter.groupby("item_id").size() >= 2).all()
    assert {"title", "tag", "description", "image_path", "has_image", "has_text"} <= set(items)
    assert not items["description"].str.contains("<").any()  # HTML stripped
    assert not (items[["title", "tag", "description"]] == "nan").any().any()
    assert items["view_number"].abs().max() < 10  # scaled
    assert items["comment_number"].notna().all()  # imputed
    assert report["interactions"]["rows_out"] == len(inter)
    r = report["interactions"]
    assert r["rows_in"] - r["duplicates_dropped"] - r["unknown_item_dropped"] - \
        r["k_core_dropped"] == r["rows_out"]
    saved = json.loads((tmp_path / "processed" / "preprocess_report.json").read_text())
    assert saved["interactions"] == report["interactions"]
    assert (tmp_path / "processed" / "resolved_config.yaml").exists()
    assert (tmp_path / "processed" / "scaler.json").exists()
    again = preprocess(config, progress=False)
    assert again["images"]["reused_unchanged"] == report["images"]["processed"]
    pd.testing.assert_frame_equal(items, pd.read_parquet(config.data.processed_item_info_path))


def test_missing_modality_drop_policy(small_demo, make_config):
    _, config = make_config(small_demo, missing_modality_policy="drop")
    report = preprocess(config, progress=False)
    items = pd.read_parquet(config.data.processed_item_info_path)
    assert items["has_image"].all() and items["has_text"].all()
    assert report["items"]["dropped_missing_modality"] == 120 - len(items)
    assert report["items"]["dropped_missing_modality"] >= 1  # the demo lacks a few images


def test_corrupt_image_is_rejected_with_reason(small_demo, make_config, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(small_demo, raw)
    victim = sorted((raw / "images").glob("*.jpg"))[0]
    victim.write_bytes(b"garbage")
    _, config = make_config(raw)
    report = preprocess(config, progress=False)
    assert report["images"]["corrupt"] == 1
    assert report["images"]["rejected_examples"][0]["item_id"] == victim.stem
    items = pd.read_parquet(config.data.processed_item_info_path)
    assert not items.set_index("item_id").loc[victim.stem, "has_image"]


def test_filtering_to_nothing_writes_nothing(small_demo, make_config, tmp_path):
    _, config = make_config(small_demo, filtering={"min_user_interactions": 10_000,
                                                    "min_item_interactions": 1})
    with pytest.raises(DataError, match="no interactions left.*min_user_interactions"):
        preprocess(config, progress=False)
    assert not (tmp_path / "processed" / "item_info.parquet").exists()
    assert not (tmp_path / "processed" / "interactions.parquet").exists()


def test_catalogue_is_the_items_that_kept_an_interaction(small_demo, make_config, tmp_path):
    strict = {"min_user_interactions": 3, "min_item_interactions": 4}
    _, config = make_config(small_demo, filtering=strict)
    report = preprocess(config, progress=False)
    items = pd.read_parquet(config.data.processed_item_info_path)
    inter = pd.read_parquet(config.data.processed_interactions_path)
    assert set(items["item_id"]) == set(inter["item_id"])  # interacted (default)
    dropped = report["items"]["dropped_without_interactions"]
    assert dropped >= 1 and dropped == 120 - len(items)

    _, config = make_config(small_demo, filtering=strict, catalogue="all")
    report = preprocess(config, progress=False)
    every = pd.read_parquet(config.data.processed_item_info_path)
    assert len(every) == 120 and "dropped_without_interactions" not in report["items"]
    assert set(items["item_id"]) < set(every["item_id"])


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `folder`."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def missing_images(raw: Path) -> list[str]:
    ids = pd.read_csv(raw / "item_info.csv", dtype={"item_id": str})["item_id"]
    return [i for i in ids if not (raw / "images" / f"{i}.jpg").exists()]


def test_wrong_image_pattern_exits_2_and_keeps_previous_outputs(small_demo, make_config,
                                                                tmp_path, capsys):
    config, _ = make_config(small_demo)
    assert main(["preprocess", "--config", str(config), "--no_progress"]) == 0
    before = snapshot(tmp_path / "processed")
    capsys.readouterr()
    config, _ = make_config(small_demo, columns={"image_pattern": "{item_id}.png"})
    code = main(["preprocess", "--config", str(config), "--no_progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    first = str(pd.read_csv(small_demo / "item_info.csv", dtype=str)["item_id"][0])
    existing = sorted(p.name for p in (small_demo / "images").iterdir())[:5]
    assert "error: 120 of 120 items (100%) have no image file, more than " \
           "`data.max_missing_image_share` (0.5) allows" in err
    assert "`data.columns.image_pattern` '{item_id}.png'" in err
    assert f"it tried {small_demo / 'images' / (first + '.png')}, which does not exist" in err
    assert f"Files that do exist in {small_demo / 'images'}: {', '.join(existing)}." in err
    assert "Fix `data.columns.image_pattern`" in err
    assert snapshot(tmp_path / "processed") == before

    # raising the key lets a text-only run through, every image counted as missing
    assert main(["preprocess", "--config", str(config), "--no_progress",
                 "--set", "data.max_missing_image_share=1"]) == 0
    report = json.loads((tmp_path / "processed" / "preprocess_report.json").read_text())
    assert report["images"]["missing"] == 120 and report["images"]["ok"] == 0


def test_a_few_missing_images_warn_with_the_count(small_demo, make_config, tmp_path, caplog):
    raw = tmp_path / "raw"
    shutil.copytree(small_demo, raw)
    for victim in sorted((raw / "images").glob("*.jpg"))[:3]:
        victim.unlink()
    missing = missing_images(raw)
    assert len(missing) >= 4  # the demo lacks a few images of its own
    config, _ = make_config(raw)
    with caplog.at_level(logging.WARNING, logger="pixelrec.data.processors.steps"):
        assert main(["preprocess", "--config", str(config), "--no_progress"]) == 0
    share = f"{len(missing) / 120:.0%}"
    assert [r.getMessage() for r in caplog.records] == [
        f"{len(missing)} of 120 items ({share}) have no image file (e.g. for item "
        f"'{missing[0]}' it tried {raw / 'images' / (missing[0] + '.jpg')} with "
        f"`data.columns.image_pattern` '{{item_id}}.jpg'); they are kept without an image "
        f"(`data.missing_modality_policy: impute`)"]
    report = json.loads((tmp_path / "processed" / "preprocess_report.json").read_text())
    assert report["images"]["missing"] == len(missing)


def test_an_entirely_empty_text_column_warns(small_demo, make_config, tmp_path, caplog):
    raw = tmp_path / "raw"
    shutil.copytree(small_demo, raw)
    items = pd.read_csv(raw / "item_info.csv", dtype=str, keep_default_na=False)
    items["description"] = ""
    items.to_csv(raw / "item_info.csv", index=False)
    _, config = make_config(raw)
    with caplog.at_level(logging.WARNING, logger="pixelrec.data.processors.steps"):
        preprocess(config, progress=False)
    empty = [r.getMessage() for r in caplog.records if "empty for every item" in r.getMessage()]
    assert empty == [
        f"column 'description' (`data.columns.description`) of {raw / 'item_info.csv'} is empty "
        f"for every item: no description text reaches the model. Map "
        f"`data.columns.description` to the column holding it, or set it to null if your data "
        f"has none."]
