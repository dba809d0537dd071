"""The demo dataset: deterministic, in the PixelRec schema, and its content predicts behaviour."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from pixelrec.data.demo import NUMERIC_COLUMNS, generate_demo, write_demo


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files_in_different_folders(tmp_path):
    write_demo(tmp_path / "a", n_items=40, n_users=30, seed=3)
    write_demo(tmp_path / "nested" / "b", n_items=40, n_users=30, seed=3)
    a, b = tree_digest(tmp_path / "a"), tree_digest(tmp_path / "nested" / "b")
    assert a == b
    assert {"item_info.csv", "interactions.csv", "demo_params.json"} <= set(a)
    assert sum(k.startswith("images/") for k in a) >= 38


def test_different_seed_differs(tmp_path):
    write_demo(tmp_path / "a", n_items=40, n_users=30, seed=1)
    write_demo(tmp_path / "b", n_items=40, n_users=30, seed=2)
    assert (tmp_path / "a" / "interactions.csv").read_bytes() != (
        tmp_path / "b" / "interactions.csv").read_bytes()


def test_pixelrec_schema(small_demo):
    items = pd.read_csv(small_demo / "item_info.csv")
    inter = pd.read_csv(small_demo / "interactions.csv")
    assert list(items.columns) == ["item_id", "title", "tag", "description", *NUMERIC_COLUMNS]
    assert list(inter.columns) == ["item_id", "user_id", "timestamp"]
    assert items["item_id"].is_unique
    assert inter["item_id"].isin(items["item_id"]).all()
    assert (small_demo / "images" / "1.jpg").exists() or (small_demo / "images" / "2.jpg").exists()


def test_content_predicts_behaviour():
    """Users concentrate on few categories, and an item's tag/title reveal its category."""
    data = generate_demo(n_items=400, n_users=300, seed=0)
    merged = data.interactions.merge(data.item_attributes, on="item_id")
    top_share = (merged.groupby("user_id")["category"]
                 .agg(lambda c: c.value_counts(normalize=True).iloc[0]))
    # 8 categories: uniform taste would give a top share near 1/8 + noise
    assert top_share.mean() > 0.4
    tag_cat = data.item_info["tag"].str.split("|").str[0]
    from pixelrec.data.demo import CATEGORIES
    truth = data.item_attributes["category"].map(lambda i: list(CATEGORIES)[i])
    assert (tag_cat.to_numpy() == truth.to_numpy()).mean() > 0.85


def test_popularity_shows_in_counts_and_time_drifts():
    data = generate_demo(n_items=300, n_users=200, seed=0)
    counts = data.interactions["item_id"].value_counts().reindex(data.item_info["item_id"],
                                                                 fill_value=0)
    corr = np.corrcoef(np.log1p(counts.to_numpy()),
                       np.log1p(data.item_info["view_number"].to_numpy()))[0, 1]
    assert corr > 0.5
    ts = data.interactions["timestamp"]
    assert ts.max() - ts.min() > 100 * 24 * 3600
    # items are released over time: late items have no interactions early on
    first_seen = data.interactions.groupby("item_id")["timestamp"].min()
    assert first_seen.quantile(0.9) - first_seen.quantile(0.1) > 30 * 24 * 3600
