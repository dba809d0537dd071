"""Items added after training (`POST /items`): raw fields, encoder vectors and images on disk.

Layout under the folder: `images/<hash of item_id><suffix>`, `features.npz` (per modality `<m>_vectors`,
`<m>_mask`, plus `item_ids`) and `items.parquet`, written in that order, each atomically; the
table is the commit point, so an interrupted write leaves the previous state readable.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from pixelrec.io import write_bytes_atomic, write_table
from pixelrec.models.multimodal.content import Features

TABLE, FEATURES, IMAGES = "items.parquet", "features.npz", "images"


def added_items_dir(config) -> Path:
    """`serving.added_items_dir`, by default `<checkpoint_dir>/added_items`."""
    return Path(config.serving.added_items_dir or Path(config.checkpoint_dir) / "added_items")


def file_stem(item_id: str) -> str:
    """A safe file name for any item id (ids may hold '/', '..' or other characters)."""
    return hashlib.blake2b(str(item_id).encode("utf-8"), digest_size=12).hexdigest()


class AddedItemStore:
    """Reads and appends the added items of one folder."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def load(self) -> tuple[pd.DataFrame, Features]:
        """(table, features aligned with the table); empty when nothing was added yet."""
        table_path = self.directory / TABLE
        if not table_path.exists():
            return pd.DataFrame({"item_id": pd.Series([], dtype=object)}), {}
        table = pd.read_parquet(table_path)
        table["item_id"] = table["item_id"].astype(str)
        with np.load(self.directory / FEATURES, allow_pickle=False) as npz:
            where = pd.Index(npz["item_ids"].astype(str)).get_indexer(table["item_id"])
            modalities = sorted({k[:-len("_mask")] for k in npz.files if k.endswith("_mask")})
            features = {m: (npz[f"{m}_vectors"][where], npz[f"{m}_mask"][where])
                        for m in modalities}
        return table, features

    def append(self, row: dict, features: Features, image: bytes | None = None,
               suffix: str = ".jpg") -> Path | None:
        """Persist one more item; returns the stored image path (None without an image)."""
        table, old = self.load()
        image_path = None
        if image is not None:
            image_path = self.directory / IMAGES / f"{file_stem(row['item_id'])}{suffix}"
            write_bytes_atomic(image_path, image)
        row = {**row, "image_file": image_path.name if image_path else ""}
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
        arrays = {"item_ids": table["item_id"].to_numpy(dtype=str)}
        for modality, (vectors, mask) in features.items():
            prev = old.get(modality, (np.zeros((0, vectors.shape[1]), np.float32),
                                      np.zeros(0, bool)))
            arrays[f"{modality}_vectors"] = np.concatenate([prev[0], vectors]).astype(np.float32)
            arrays[f"{modality}_mask"] = np.concatenate([prev[1], mask]).astype(bool)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        write_bytes_atomic(self.directory / FEATURES, buffer.getvalue())
        write_table(table, self.directory / TABLE)
        return image_path
