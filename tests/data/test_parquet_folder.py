"""Raw tables as a folder of Parquet part files (as Spark, Hive or a warehouse export writes
them): read whole, partitions kept, a corrupt part named before anything is written."""

from __future__ import annotations

import pandas as pd
import pytest

from pixelrec.config import validate_config
from pixelrec.data.loading import load_interactions
from pixelrec.data.preprocess import preprocess
from pixelrec.errors import DataError
from tests.conftest import demo_config_dict


def _spark_folder(frame: pd.DataFrame, folder, parts: int = 3):
    """`frame` split over part files the way Spark writes them, with its marker files."""
    folder.mkdir(parents=True)
    size = -(-len(frame) // parts)
    for k in range(parts):
        frame.iloc[k * size:(k + 1) * size].to_parquet(
            folder / f"part-{k:05d}-abc.snappy.parquet", index=False)
        (folder / f".part-{k:05d}-abc.snappy.parquet.crc").write_bytes(b"\x00crc")
    (folder / "_SUCCESS").write_bytes(b"")
    return folder


def test_a_spark_folder_reads_as_the_whole_table(small_demo, tmp_path):
    source = pd.read_csv(small_demo / "interactions.csv", dtype={"user_id": str, "item_id": str})
    folder = _spark_folder(source, tmp_path / "interactions")
    config = validate_config(demo_config_dict(small_demo, tmp_path / "work",
                                              interactions_path=str(folder)))
    from_folder = load_interactions(config.data)
    from_csv = load_interactions(validate_config(demo_config_dict(small_demo, tmp_path / "w2")).data)
    pd.testing.assert_frame_equal(from_folder.reset_index(drop=True),
                                  from_csv.reset_index(drop=True))
    report = preprocess(config, progress=False)
    assert report["interactions"]["rows_in"] == len(source)
    assert (tmp_path / "work" / "processed" / "interactions.parquet").exists()


def test_hive_partition_folders_become_columns(small_demo, tmp_path):
    source = pd.read_csv(small_demo / "interactions.csv", dtype={"user_id": str, "item_id": str})
    root = tmp_path / "by_day"
    halves = {"a": source.iloc[: len(source) // 2], "b": source.iloc[len(source) // 2:]}
    for day, frame in halves.items():
        _spark_folder(frame, root / f"day={day}", parts=2)
    config = validate_config(demo_config_dict(small_demo, tmp_path / "work",
                                              interactions_path=str(root)))
    loaded = load_interactions(config.data)
    assert len(loaded) == len(source)
    from pixelrec.io import read_parquet_folder

    raw = read_parquet_folder(root)
    assert sorted(raw["day"].unique()) == ["a", "b"]
    assert (raw["day"] == "a").sum() == len(halves["a"])


def test_a_corrupt_part_is_named_and_nothing_is_written(small_demo, tmp_path):
    source = pd.read_csv(small_demo / "interactions.csv", dtype={"user_id": str, "item_id": str})
    folder = _spark_folder(source, tmp_path / "interactions", parts=4)
    (folder / "part-00002-abc.snappy.parquet").write_bytes(b"PAR1 this is truncated")
    work = tmp_path / "work"
    config = validate_config(demo_config_dict(small_demo, work, interactions_path=str(folder)))
    with pytest.raises(DataError) as err:
        preprocess(config, progress=False)
    message = str(err.value)
    assert "part file part-00002-abc.snappy.parquet (file 3 of 4)" in message
    assert str(folder) in message and "Nothing was written" in message
    assert not work.exists() or not any(p.is_file() for p in work.rglob("*"))


def test_an_empty_folder_says_what_it_looked_for(tmp_path, small_demo):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_bytes(b"")
    config = validate_config(demo_config_dict(small_demo, tmp_path / "work",
                                              interactions_path=str(tmp_path / "empty")))
    with pytest.raises(DataError, match="holds no Parquet files.*data.interactions_path"):
        load_interactions(config.data)
