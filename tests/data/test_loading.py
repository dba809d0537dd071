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


NA_LIKE = ["NA", "null", "None", "nan"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_na_like_ids_are_ids_and_only_empty_cells_are_empty(tmp_path, suffix):
    items = pd.DataFrame({"item_id": NA_LIKE, "title": ["a", "b", "c", "d"]})
    inter = pd.DataFrame({"user_id": NA_LIKE, "item_id": NA_LIKE[::-1], "timestamp": [1, 2, 3, 4]})
    for frame, name in ((items, "items"), (inter, "inter")):
        path = tmp_path / f"{name}{suffix}"
        if suffix == ".parquet":
            frame.to_parquet(path)
        else:
            frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    data = load_config(None, [f"data.item_info_path={tmp_path / f'items{suffix}'}",
                              f"data.interactions_path={tmp_path / f'inter{suffix}'}",
                              "data.image_folder=null", "data.columns.tag=null",
                              "data.columns.description=null",
                              "data.numerical_features_cols=[]"]).data
    assert load_items(data)[0]["item_id"].tolist() == NA_LIKE
    loaded = load_interactions(data)
    assert loaded["user_id"].tolist() == NA_LIKE
    assert loaded["item_id"].tolist() == NA_LIKE[::-1]


def test_empty_cell_next_to_na_like_ids_is_the_only_empty_one(tmp_path):
    (tmp_path / "inter.csv").write_text("user_id,item_id,timestamp\nNA,null,1\n,None,2\n")
    with pytest.raises(DataError, match=r"'user_id' is empty in 1 row\(s\).*: 2\."):
        load_interactions(cfg(tmp_path))


def test_non_utf8_names_file_row_column_and_encoding_key(tmp_path):
    (tmp_path / "items.csv").write_bytes("item_id,title\n1,ok\n2,café\n".encode("cp1252"))
    with pytest.raises(DataError) as err:
        load_items(cfg(tmp_path, numerical_features_cols="[]", **{"columns.tag": "null",
                                                                 "columns.description": "null"}))
    msg = str(err.value)
    assert f"{tmp_path / 'items.csv'}: data row 2 (1-based, header excluded), column 'title'" in msg
    assert "not valid utf-8 text (byte 0xe9)" in msg and "`data.encoding`" in msg
    assert "data.item_info_path" not in msg
    items, _ = load_items(cfg(tmp_path, encoding="cp1252", numerical_features_cols="[]",
                              **{"columns.tag": "null", "columns.description": "null"}))
    assert items["title"].tolist() == ["ok", "café"]


def test_unknown_encoding_is_a_config_error():
    from pixelrec.errors import ConfigError

    with pytest.raises(ConfigError, match="data.encoding.*unknown text encoding 'klingon'"):
        load_config(None, ["data.encoding=klingon"])


def write_timestamps(tmp_path, values):
    pd.DataFrame({"user_id": 1, "item_id": 1, "timestamp": values}).to_csv(
        tmp_path / "inter.csv", index=False)


def test_few_garbage_timestamps_among_numbers_are_counted_exactly(tmp_path):
    write_timestamps(tmp_path, [1609459200 + i for i in range(2000)] + ["oops"] * 5)
    with pytest.raises(DataError) as err:
        load_interactions(cfg(tmp_path))
    msg = str(err.value)
    assert "in 5 row(s)" in msg
    assert "2001, 2002, 2003, 2004, 2005; their values: 'oops', 'oops'" in msg


def test_mixed_iso_and_epoch_timestamps_both_parse(tmp_path):
    write_timestamps(tmp_path, ["2021-01-01", "1609459200", "2021-01-01T00:00:10Z", "junk"])
    with pytest.raises(DataError, match=r"in 1 row\(s\).*: 4; their values: 'junk'"):
        load_interactions(cfg(tmp_path))
    write_timestamps(tmp_path, ["2021-01-01", "1609459200", "2021-01-01T00:00:10Z"])
    assert load_interactions(cfg(tmp_path))["timestamp"].tolist() == [1609459200, 1609459200,
                                                                      1609459210]


def test_milliseconds_read_as_seconds_are_refused_with_the_unit_key(tmp_path):
    write_timestamps(tmp_path, [1, 1609459200, 1609459200123])
    with pytest.raises(DataError) as err:
        load_interactions(cfg(tmp_path))
    msg = str(err.value)
    assert "outside the years 1900-2199 as epoch seconds" in msg
    assert "in 1 row(s)" in msg and ": 3; their values: '1609459200123'" in msg
    assert "`data.columns.timestamp_unit: ms`" in msg
