"""Beyond-accuracy metrics of the recommendation lists (exposure, novelty, diversity).

`top` is (n_users, k) item columns, -1 where a slot is empty. Popularity = number of distinct
train users per item. Definitions:
  coverage             distinct recommended items / catalogue size
  gini                 Gini index of how often each catalogue item is recommended (0 = equal)
  novelty              mean self-information -log2((pop + 1) / (n_train_users + 1)) of the items
                       in a list, averaged over users (add-one so cold items stay finite)
  personalisation      1 - mean over user pairs of |L_u & L_v| / k, computed exactly from item
                       exposure counts: sum_i C(c_i, 2) / (C(n_users, 2) k)
  intra_list_diversity mean over users of the mean pairwise cosine distance of the list's item
                       embeddings (None without embeddings)
  long_tail_share      share of recommended slots outside the head (the ceil(head_fraction x
                       n_items) most popular items, ties by catalogue order)
  average_popularity   mean over users of the mean train popularity of the list
"""

from __future__ import annotations

import math

import numpy as np

_BLOCK = 4096


def gini(values: np.ndarray) -> float:
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(((2 * ranks - n - 1) * x).sum() / (n * total))


def intra_list_diversity(top: np.ndarray, embeddings: np.ndarray) -> float | None:
    """Mean pairwise cosine distance inside each list, via |sum e|^2 = sum |e|^2 + 2 sum_pairs."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = (embeddings / np.maximum(norms, 1e-12)).astype(np.float32)
    values = []
    for start in range(0, len(top), _BLOCK):
        block = top[start:start + _BLOCK]
        vec = unit[np.maximum(block, 0)] * (block >= 0)[:, :, None]
        total = vec.sum(axis=1)
        sq = (vec * vec).sum(axis=(1, 2))
        m = (block >= 0).sum(axis=1)
        pairs = m * (m - 1) / 2
        cos_sum = ((total * total).sum(axis=1) - sq) / 2
        values.append(np.where(pairs > 0, 1 - cos_sum / np.maximum(pairs, 1), np.nan))
    values = np.concatenate(values) if values else np.array([])
    return None if np.all(np.isnan(values)) else float(np.nanmean(values))


def beyond_accuracy(top: np.ndarray, popularity: np.ndarray, n_train_users: int,
                    head_fraction: float = 0.2,
                    embeddings: np.ndarray | None = None) -> dict[str, float | int | None]:
    """All beyond-accuracy metrics for lists `top` (see the module docstring)."""
    n_users, k = top.shape
    n_items = len(popularity)
    valid = top >= 0
    items = top[valid]
    exposure = np.bincount(items, minlength=n_items)
    per_slot = np.where(valid, 1.0, 0.0)
    slots = np.maximum(valid.sum(axis=1), 1)
    pop = np.asarray(popularity, dtype=np.float64)
    info = -np.log2((pop + 1) / (n_train_users + 1))
    head = np.zeros(n_items, dtype=bool)
    head[np.argsort(-pop, kind="stable")[: math.ceil(head_fraction * n_items)]] = True
    pairs = n_users * (n_users - 1) / 2
    overlap = (exposure * (exposure - 1) / 2).sum() / (pairs * k) if pairs else float("nan")
    has_list = valid.any(axis=1)

    def list_mean(values: np.ndarray) -> float:
        per_user = (values[np.maximum(top, 0)] * per_slot).sum(axis=1) / slots
        return float(per_user[has_list].mean()) if has_list.any() else float("nan")

    return {
        "k": int(k),
        "coverage": float((exposure > 0).sum() / n_items) if n_items else 0.0,
        "gini": gini(exposure),
        "novelty": list_mean(info),
        "personalisation": float(1 - overlap) if pairs else None,
        "intra_list_diversity": None if embeddings is None else intra_list_diversity(top, embeddings),
        "long_tail_share": float((~head[items]).mean()) if len(items) else 0.0,
        "average_popularity": list_mean(pop),
    }
