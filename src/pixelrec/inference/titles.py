"""Item titles for display: the processed item table's, then those of items added at serve time."""

from __future__ import annotations

import pandas as pd


def item_titles(config) -> dict[str, str]:
    """item id -> title ("" when the item has none, or the table has no title column)."""
    from pixelrec.data.items import read_processed_items
    from pixelrec.inference.added import AddedItemStore, added_items_dir

    table = read_processed_items(config.data.processed_item_info_path)
    titles = table.get("title", pd.Series([""] * len(table), index=table.index))
    out = dict(zip(table["item_id"].astype(str), titles.fillna("").astype(str), strict=True))
    added, _ = AddedItemStore(added_items_dir(config)).load()
    for _, row in added.iterrows():
        out[str(row["item_id"])] = str(row.get("title") or "")
    return out
