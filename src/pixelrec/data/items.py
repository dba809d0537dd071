"""The processed item table, as every later stage reads it."""

from __future__ import annotations

import os

import pandas as pd

from pixelrec.errors import DataError
from pixelrec.io import read_table


def read_processed_items(path: str | os.PathLike) -> pd.DataFrame:
    """`data.processed_item_info_path` with `item_id` as text; one row per item (first kept)."""
    table = read_table(path, str_columns=("item_id",), what="processed item table",
                       config_key="data.processed_item_info_path", made_by="pixelrec preprocess")
    if "item_id" not in table.columns:
        raise DataError(f"processed item table {path} has no item_id column; re-run "
                        f"`pixelrec preprocess`.")
    return table.drop_duplicates("item_id").reset_index(drop=True)
