"""Raw loading through the column mapping, and the errors for bad input files."""

from __future__ import annotations

import pandas as pd
import pytest

from pixelrec.config import load_config
from pixelrec.data.loading import load_interactions, load_items
from pixelrec.errors import DataError


def cfg(tmp_path, **data):
    overrides = [f"data.{k}={v}" for k, v in data.items()]
    return load_config(None, [f"data.item_info_path={tmp_path / 'items.csv'}",
                              f"data.interactions_path={tmp_path / 'inter.csv'}",
                              "data.image_folder=null", *overrides]).data


def test_movielens_style_mapping(tmp_path):
    pd.DataFrame({"movieId": ["007", "12"], "name": ["A", "B"], "genres": ["x|y", "z"],
                  "year": [1990, 2000]}).to_csv(tmp_path / "items.csv", index=False)
    pd.DataFrame({"userId": [1, 2], "movieId": ["007", "12"],
                  "when": ["2021-01-01", "2021-01-02 12:00:00"]}).to_csv(tmp_path / "inter.csv",
                                                                          index=False)
    data = cfg(tmp_path, **{"columns.item_id": "movieId", "columns.user_id": "userId",
                            "columns.timestamp": "when", "columns.title": "name",
                            "columns.tag": "genres", "columns.description": "null",
                            "numerical_features_cols": "[year]"})
    items, dupes = load_items(data)
    assert dupes == 0
    assert items["item_id"].tolist() == ["007", "12"]  # leading zeros kept
    assert items["tag"].tolist() == ["x|y", "z"]
    assert items["description"].isna().all()
    inter = load_interactions(data)
    assert inter["timestamp"].tolist() == [1609459200, 1609588800]
    assert inter["user_id"].tolist() == ["1", "2"]


def test_millisecond_timestamps(tmp_path):
    pd.DataFrame({"user_id": [1], "item_id": [1], "timestamp": [1609459200123]}).to_csv(
        tmp_path / "inter.csv", index=False)
    data = cfg(tmp_path, **{"columns.timestamp_unit": "ms"})
    assert load_interactions(data)["timestamp"].tolist() == [1609459200]


def test_missing_file_names_path_and_key(tmp_path):
    with pytest.raises(DataError, match="interactions file not found.*data.interactions_path"):
        load_interactions(cfg(tmp_path))


def test_missing_column_lists_columns_and_key(tmp_path):
    pd.DataFrame({"user": [1], "item_id": [1], "timestamp": [1]}).to_csv(tmp_path / "inter.csv",
                                                                         index=False)
    with pytest.raises(DataError) as err:
        load_interactions(cfg(tmp_path))
    msg = str(err.value)
    assert "'user_id' (for user_id)" in msg and "data.columns.user_id" in msg
    assert "user, item_id, timestamp" in msg


def test_unparsable_timestamp_names_rows(tmp_path):
    pd.DataFrame({"user_id": [1, 2, 3], "item_id": [1, 1, 1],
                  "timestamp": ["2021-01-01", "yesterday", "soon"]}).to_csv(
        tmp_path / "inter.csv", index=False)
    with pytest.raises(DataError, match=r"could not be parsed.*2 row\(s\).*2, 3"):
        load_interactions(cfg(tmp_path))


def test_empty_ids_name_rows(tmp_path):
    pd.DataFrame({"user_id": [1, None], "item_id": [1, 1], "timestamp": [1, 2]}).to_csv(
        tmp_path / "inter.csv", index=False)
    with pytest.raises(DataError, match="'user_id' is empty in 1 row.*: 2"):
        load_interactions(cfg(tmp_path))


def items_csv(tmp_path, rows):
    cols = ["item_id", "title", "tag", "description", "view_number"]
    pd.DataFrame(rows, columns=cols).to_csv(tmp_path / "items.csv", index=False)
    return cfg(tmp_path, numerical_features_cols="[view_number]")


def test_non_numeric_value_in_numeric_column(tmp_path):
    data = items_csv(tmp_path, [[1, "a", "t", "d", 5], [2, "b", "t", "d", "many"]])
    with pytest.raises(DataError, match="'view_number' is not a number.*: 2"):
        load_items(data)


def test_duplicate_items_identical_are_dropped_conflicting_fail(tmp_path):
    data = items_csv(tmp_path, [[1, "a", "t", "d", 5], [1, "a", "t", "d", 5], [2, "b", "t", "d", 1]])
    items, dupes = load_items(data)
    assert dupes == 1 and items["item_id"].tolist() == ["1", "2"]
    data = items_csv(tmp_path, [[1, "a", "t", "d", 5], [1, "other", "t", "d", 5]])
    with pytest.raises(DataError, match="appear more than once with different metadata: 1"):
        load_items(data)


def test_missing_image_folder(tmp_path):
    items_csv(tmp_path, [[1, "a", "t", "d", 5]])
    data = load_config(None, [f"data.item_info_path={tmp_path / 'items.csv'}",
                              f"data.image_folder={tmp_path / 'nope'}",
                              "data.numerical_features_cols=[view_number]"]).data
    with pytest.raises(DataError, match="image folder not found.*data.image_folder"):
        load_items(data)


def test_hm_style_parquet_with_image_column(tmp_path):
    images = tmp_path / "images" / "010"
    images.mkdir(parents=True)
    pd.DataFrame({"article_id": ["0108775015"], "prod_name": ["Strap top"],
                  "price": [0.5]}).to_parquet(tmp_path / "items.parquet")
    pd.DataFrame({"customer_id": ["c1"], "article_id": ["0108775015"],
                  "t_dat": ["2020-09-01"]}).to_parquet(tmp_path / "inter.parquet")
    data = load_config(None, [
        f"data.item_info_path={tmp_path / 'items.parquet'}",
        f"data.interactions_path={tmp_path / 'inter.parquet'}",
        f"data.image_folder={tmp_path / 'images'}",
        "data.columns.item_id=article_id", "data.columns.user_id=customer_id",
        "data.columns.timestamp=t_dat", "data.columns.title=prod_name",
        "data.columns.tag=null", "data.columns.description=null",
        "data.columns.image_pattern='{item_id:.3}/{item_id}.jpg'",
        "data.numerical_features_cols=[price]"]).data
    items, _ = load_items(data)
    assert items["item_id"].tolist() == ["0108775015"]
    assert items["image_source"].tolist() == [str(images / "0108775015.jpg")]
    inter = load_interactions(data)
    assert inter.to_dict("records") == [{"user_id": "c1", "item_id": "0108775015",
                                         "timestamp": 1598918400}]
