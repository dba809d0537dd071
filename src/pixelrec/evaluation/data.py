"""Split files and the item catalogue for evaluation; ids are always strings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from pixelrec.data.items import read_processed_items
from pixelrec.errors import DataError
from pixelrec.io import read_table


def default_split_path(split_dir: str | Path, name: str) -> Path:
    """`<split_dir>/<name>.parquet`, or its `.csv` twin when only that exists."""
    parquet = Path(split_dir) / f"{name}.parquet"
    csv = parquet.with_suffix(".csv")
    return csv if not parquet.exists() and csv.exists() else parquet


def read_split(path: str | Path, what: str, option: str) -> pd.DataFrame:
    """user_id/item_id (str) and, when present, timestamp of a split file (rows in file order,
    which `pixelrec split` writes per user in time order); a missing column is a DataError
    naming the file."""
    frame = read_table(path, str_columns=("user_id", "item_id"), what=what,
                       config_key=f"{option} or data.split_data_path", made_by="pixelrec split")
    missing = [c for c in ("user_id", "item_id") if c not in frame.columns]
    if missing:
        raise DataError(f"{what} file {path} lacks column(s) {missing}; split files need user_id "
                        f"and item_id (write them with `pixelrec split`, or pass {option}).")
    cols = ["user_id", "item_id"] + (["timestamp"] if "timestamp" in frame.columns else [])
    frame = frame[cols].dropna(subset=["user_id", "item_id"])
    return frame.astype({"user_id": str, "item_id": str}).reset_index(drop=True)


def catalogue(item_table: str | Path, frames: list[pd.DataFrame]) -> tuple[list[str], str]:
    """All items of the processed item table when it exists, else the union of the splits'."""
    path = Path(item_table)
    if path.exists():
        return read_processed_items(path)["item_id"].tolist(), str(path)
    items = pd.unique(np.concatenate([f["item_id"].to_numpy(dtype=object) for f in frames]))
    return sorted(items), "split files"


def file_info(path: str | Path, frame: pd.DataFrame) -> dict:
    """Path, row count and content hash of one split file (for result metadata)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return {"path": str(path), "rows": len(frame), "sha256": digest.hexdigest()[:16]}


def dataset_fingerprint(files: dict[str, dict]) -> str:
    blob = "|".join(f"{name}:{info['sha256']}" for name, info in sorted(files.items()))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
