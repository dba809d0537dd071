"""Item content as model inputs: frozen encoder vectors, numeric columns, tag tokens, id rows.

Everything is aligned with one catalogue order (`item_ids`); a model keeps these arrays as
non-persistent buffers, so checkpoints hold only the vocabularies needed to rebuild them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pixelrec.errors import DataError

Features = dict[str, tuple[np.ndarray, np.ndarray]]


def split_tags(value: object) -> list[str]:
    """Tag tokens of one `tag` cell (", "-separated after preprocessing; "|" also accepted)."""
    if not isinstance(value, str):
        return []
    parts = value.replace("|", ",").split(",")
    return [p.strip().lower() for p in parts if p.strip()]


@dataclass
class ItemContent:
    """Model inputs per catalogue item; `id_rows` is 0 for items without an id embedding."""

    item_ids: list[str]
    modalities: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (vectors, present mask)
    numeric: np.ndarray | None  # [n, n_numeric] float32
    tags: np.ndarray | None  # [n, max_tags] int64, 0 = padding
    id_rows: np.ndarray  # [n] int64
    tag_vocab: list[str]
    id_items: list[str]

    def __len__(self) -> int:
        return len(self.item_ids)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    out = np.asarray(vectors, dtype=np.float32).copy()
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def tag_matrix(cells: Sequence[object], vocab: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """Padded tag-token rows (1-based; unknown tags dropped) and the vocabulary used."""
    tokens = [split_tags(c) for c in cells]
    if vocab is None:
        vocab = sorted({t for row in tokens for t in row})
    where = {t: k + 1 for k, t in enumerate(vocab)}
    rows = [[where[t] for t in row if t in where] for row in tokens]
    out = np.zeros((len(rows), max((len(r) for r in rows), default=0) or 1), dtype=np.int64)
    for k, row in enumerate(rows):
        out[k, :len(row)] = row
    return out, vocab


def build_content(item_ids: Sequence[str], table: pd.DataFrame | None, features: Features,
                  numeric_cols: Sequence[str], *, use_tags: bool, id_items: Sequence[str],
                  tag_vocab: list[str] | None = None) -> ItemContent:
    """Assemble `ItemContent` for `item_ids`.

    `table` is the processed item table (item_id, tag, numeric columns), `features` maps a
    modality to (vectors, mask) aligned with `item_ids`, `id_items` lists the items that own an
    id embedding (row k+1), normally the training items. Encoder vectors are L2-normalised.
    """
    ids = [str(i) for i in item_ids]
    modalities = {}
    for name, (vectors, mask) in features.items():
        if len(vectors) != len(ids):
            raise DataError(f"{name} features have {len(vectors)} rows for {len(ids)} items; "
                            f"re-run `pixelrec precompute`.")
        modalities[name] = (_normalise(vectors), np.array(mask, dtype=bool))
    rows = None
    if table is not None:
        index = pd.Index(table["item_id"].astype(str))
        rows = index.get_indexer(ids)
        if (rows < 0).any():
            raise DataError(f"{int((rows < 0).sum())} items are not in the processed item table "
                            f"(e.g. {np.asarray(ids)[rows < 0][0]!r}); re-run `pixelrec "
                            f"preprocess` or check data.processed_item_info_path.")
    numeric = None
    cols = [c for c in numeric_cols if table is not None and c in table.columns]
    if cols:
        values = table[cols].to_numpy(dtype=np.float32)[rows]
        numeric = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    tags = None
    vocab: list[str] = list(tag_vocab or [])
    if use_tags and table is not None and "tag" in table.columns:
        tags, vocab = tag_matrix(table["tag"].to_numpy(dtype=object)[rows], tag_vocab)
    id_index = {item: k + 1 for k, item in enumerate(id_items)}
    id_rows = np.fromiter((id_index.get(i, 0) for i in ids), dtype=np.int64, count=len(ids))
    return ItemContent(ids, modalities, numeric, tags, id_rows, vocab, list(id_items))
