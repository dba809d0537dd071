"""The preprocess stage end to end on the small demo, plus bad-input behaviour."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

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
