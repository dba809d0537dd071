"""Load raw item and interaction files through `data.columns` into canonical, validated frames.

Canonical interactions: `user_id` (str), `item_id` (str), `timestamp` (int64 unix seconds).
Canonical items: `item_id` (str), `title`, `tag`, `description` (raw text, may be NaN),
the numeric columns named in `data.numerical_features_cols`, and `image_source` (path or "").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pixelrec.config import DataConfig
from pixelrec.errors import DataError, format_rows
from pixelrec.io import read_table

TEXT_FIELDS = ("title", "tag", "description")
UNIT_DIVISOR = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
UNIT_NAME = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
EPOCH = pd.Timestamp(0, tz="UTC")
PLAUSIBLE = (pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC"))


def load_interactions(data: DataConfig) -> pd.DataFrame:
    """Read `data.interactions_path` and return canonical interactions (row order kept)."""
    cols = data.columns
    path = data.interactions_path
    mapping = {"user_id": cols.user_id, "item_id": cols.item_id, "timestamp": cols.timestamp}
    raw = read_table(path, str_columns=(cols.user_id, cols.item_id), what="interactions",
                     config_key="data.interactions_path", encoding=data.encoding)
    _require_columns(raw, mapping, path)
    out = pd.DataFrame({
        "user_id": _ids(raw[cols.user_id], path, cols.user_id, "user_id"),
        "item_id": _ids(raw[cols.item_id], path, cols.item_id, "item_id"),
        "timestamp": parse_timestamps(raw[cols.timestamp], path, cols.timestamp,
                                      cols.timestamp_unit),
    })
    return out


def load_items(data: DataConfig) -> tuple[pd.DataFrame, int]:
    """Read `data.item_info_path`; return canonical items and the number of exact duplicate rows.

    Exact duplicate rows are dropped; rows sharing an item id with different metadata are an error.
    """
    cols = data.columns
    path = data.item_info_path
    mapping = {"item_id": cols.item_id}
    mapping.update({f: getattr(cols, f) for f in TEXT_FIELDS if getattr(cols, f)})
    mapping.update({c: c for c in data.numerical_features_cols})
    if cols.image:
        mapping["image"] = cols.image
    raw = read_table(path, str_columns=(cols.item_id,), what="item info",
                     config_key="data.item_info_path", encoding=data.encoding)
    _require_columns(raw, mapping, path)
    items = pd.DataFrame({"item_id": _ids(raw[cols.item_id], path, cols.item_id, "item_id")})
    for field in TEXT_FIELDS:
        source = getattr(cols, field)
        items[field] = raw[source].astype(object) if source else np.nan
    for col in data.numerical_features_cols:
        items[col] = _numeric(raw[col], path, col)
    items["image_source"] = _image_sources(raw, items["item_id"], data)
    return _dedupe_items(items, path)


def parse_timestamps(values: pd.Series, path: str, column: str, unit: str) -> pd.Series:
    """Numbers are epoch times in `unit`, text is parsed as a date; returns int64 unix seconds.

    Values that are neither, and numbers outside the years 1900-2199 (milliseconds read as
    seconds land near the year 50,000), are errors naming the rows.
    """
    numeric = pd.to_numeric(values, errors="coerce")
    seconds = (numeric // UNIT_DIVISOR[unit]).astype(float)
    text = values.notna() & numeric.isna()
    if text.any():
        dates = pd.to_datetime(values[text], errors="coerce", utc=True, format="mixed")
        seconds[text] = (dates - EPOCH) // pd.Timedelta(seconds=1)
    _fail_rows(seconds.isna(), path, column,
               "is empty or could not be parsed as a timestamp (expected epoch numbers or dates "
               "like 2021-03-01 12:00:00)", "data.columns.timestamp", values)
    low, high = ((t - EPOCH) // pd.Timedelta(seconds=1) for t in PLAUSIBLE)
    _fail_rows(numeric.notna() & ((seconds < low) | (seconds >= high)), path, column,
               f"is outside the years {PLAUSIBLE[0].year}-{PLAUSIBLE[1].year - 1} as epoch "
               f"{UNIT_NAME[unit]} (epoch milliseconds need `data.columns.timestamp_unit: ms`)",
               "data.columns.timestamp_unit", values)
    return seconds.astype(np.int64).rename(None)


def image_source(item_id: str, data: DataConfig, column_value: object = None) -> str:
    """Where the raw image of `item_id` lives: the image column if set, else the pattern."""
    folder = Path(data.image_folder) if data.image_folder else None
    if data.columns.image:
        if not isinstance(column_value, str) or not column_value.strip():
            return ""
        path = Path(column_value.strip())
        return str(path if path.is_absolute() or folder is None else folder / path)
    if folder is None:
        return ""
    return str(folder / data.columns.image_pattern.format(item_id=item_id))


def _image_sources(raw: pd.DataFrame, item_ids: pd.Series, data: DataConfig) -> list[str]:
    if not data.image_folder and not data.columns.image:
        return [""] * len(item_ids)
    if data.image_folder and not Path(data.image_folder).is_dir():
        raise DataError(
            f"image folder not found: {data.image_folder}. Set `data.image_folder` to the folder "
            f"holding the item images, or to null to preprocess without images."
        )
    values = raw[data.columns.image] if data.columns.image else [None] * len(item_ids)
    return [image_source(i, data, v) for i, v in zip(item_ids, values, strict=True)]


def _require_columns(raw: pd.DataFrame, mapping: dict[str, str], path: str) -> None:
    missing = [(canon, col) for canon, col in mapping.items() if col not in raw.columns]
    if not missing:
        return
    described = ", ".join(f"'{col}' (for {canon})" for canon, col in missing)
    keys = ", ".join(_config_key_for(canon) for canon, _ in missing)
    raise DataError(
        f"{path} is missing column(s) {described}. Its columns are: "
        f"{', '.join(map(str, raw.columns))}. Map them with {keys} in your config "
        f"(set a text column to null if your data has none)."
    )


def _config_key_for(canonical: str) -> str:
    if canonical in ("user_id", "item_id", "timestamp", "image", *TEXT_FIELDS):
        return f"data.columns.{canonical}"
    return "data.numerical_features_cols"


def _ids(values: pd.Series, path: str, column: str, canonical: str) -> pd.Series:
    text = values.astype("string").str.strip()
    _fail_rows(text.isna() | (text == ""), path, column, "is empty",
               f"data.columns.{canonical}")
    return text.astype(object).rename(None)


def _numeric(values: pd.Series, path: str, column: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    numeric = pd.to_numeric(values, errors="coerce")
    _fail_rows(numeric.isna() & values.notna(), path, column,
               "is not a number", "data.numerical_features_cols", values)
    return numeric.astype(float)


def _fail_rows(bad: pd.Series, path: str, column: str, problem: str, key: str,
               values: pd.Series | None = None) -> None:
    """Raise naming how many rows are `bad` and the first few (with their `values`, if given)."""
    if not bad.any():
        return
    rows = np.flatnonzero(bad.to_numpy())
    shown = "" if values is None else "; their values: " + ", ".join(
        repr(str(values.iloc[r])) for r in rows[:5])
    raise DataError(
        f"{path}: column '{column}' {problem} in {len(rows)} row(s); first data rows "
        f"(1-based, header excluded): {format_rows(rows + 1)}{shown}. Fix those rows or change "
        f"`{key}`."
    )


def _dedupe_items(items: pd.DataFrame, path: str) -> tuple[pd.DataFrame, int]:
    exact = items.duplicated(keep="first")
    deduped = items[~exact]
    conflict = deduped["item_id"].duplicated(keep=False)
    if conflict.any():
        ids = list(dict.fromkeys(deduped.loc[conflict, "item_id"]))
        rows = np.flatnonzero(items["item_id"].isin(ids[:5]).to_numpy()) + 1
        raise DataError(
            f"{path}: {len(ids)} item id(s) appear more than once with different metadata: "
            f"{format_rows(ids)} (data rows {format_rows(rows, limit=10)}). Keep one row per "
            f"item in the item table, or check `data.columns.item_id` points at a unique id."
        )
    return deduped.reset_index(drop=True), int(exact.sum())
