"""Top-k by inner product with FAISS (optional `faiss-cpu`): exact `IndexFlatIP` below
`recommendation.ann.approximate_above` items, HNSW or IVF above it, with a recall@k check
against exact search whenever an approximate index is built.

IVF searches in L2 after the usual reduction of inner-product search to nearest neighbours:
every item gets one more coordinate sqrt(R^2 - |x|^2) (R: the largest item norm when the index
is built), every query a 0 there, so |q - x'|^2 = |q|^2 + R^2 - 2 q.x and the nearest item is
the one with the largest inner product. Trained ranking vectors have very different norms (the
item-bias column among them), where clustering by inner product fails: on a trained model's 100k
item vectors IVF by inner product found 0.5% of the exact top 10, IVF after the reduction 100%
(`bench/ann_scale.py`). HNSW keeps inner product: the reduction raised its recall@10 there
from 0.956 to 0.998 but cut it from 0.998 to 0.605 on isotropic random vectors.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from pixelrec.config.serving import AnnConfig

FAISS_MISSING = ("recommendation.ann.enabled is true but the optional package faiss-cpu is not "
                 "installed (`pip install faiss-cpu`); using exact batched search instead.")


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class AnnIndex:
    """An inner-product index over item vectors; `columns[j]` is the item column of row j."""

    def __init__(self, vectors: np.ndarray, columns: np.ndarray, cfg: AnnConfig) -> None:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        self.approximate = n >= cfg.approximate_above
        self.reduced = self.approximate and cfg.index_type == "ivf"  # searched in L2
        self.radius = float(np.linalg.norm(vectors, axis=1).max(initial=0.0))
        if not self.approximate:
            index, self.kind = faiss.IndexFlatIP(dim), "flat (exact)"
        elif cfg.index_type == "hnsw":
            index = faiss.IndexHNSWFlat(dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = cfg.hnsw_ef_search
            self.kind = f"hnsw (M={cfg.hnsw_m}, efSearch={cfg.hnsw_ef_search})"
        else:
            nlist = max(1, min(n // 39, int(4 * math.sqrt(n))))  # faiss wants ~39 points/list
            index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim + 1), dim + 1, nlist)
            index.nprobe = min(cfg.ivf_nprobe, nlist)
            self.kind = f"ivf (nlist={nlist}, nprobe={index.nprobe})"
        indexed = self._items(vectors)
        if not index.is_trained:
            index.train(indexed)
        index.add(indexed)
        self.index, self.columns = index, np.asarray(columns, dtype=np.int64)
        # items added later with a norm above the radius: outside the reduction, searched exactly
        self.outside = np.zeros((0, dim), np.float32)
        self.outside_columns = np.zeros(0, np.int64)
        self.report: dict = {"index": self.kind, "n_items": n}

    def _items(self, vectors: np.ndarray) -> np.ndarray:
        """Item vectors as indexed: as they are, or for IVF with the L2-reduction column."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self.reduced:
            return vectors
        extra = np.sqrt(np.maximum(self.radius ** 2 - (vectors ** 2).sum(1), 0.0))
        return np.ascontiguousarray(np.hstack([vectors, extra[:, None].astype(np.float32)]))

    def add(self, vectors: np.ndarray, columns: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        columns = np.asarray(columns, dtype=np.int64)
        if self.reduced:
            out = np.linalg.norm(vectors, axis=1) > self.radius
            self.outside = np.concatenate([self.outside, vectors[out]])
            self.outside_columns = np.concatenate([self.outside_columns, columns[out]])
            vectors, columns = vectors[~out], columns[~out]
        if len(vectors):
            self.index.add(self._items(vectors))
            self.columns = np.concatenate([self.columns, columns])

    def raw_search(self, users: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, item columns) of the `width` best items, -1 columns where none."""
        width = min(width, self.index.ntotal)
        users = np.ascontiguousarray(users, dtype=np.float32)
        if not self.reduced:
            scores, rows = self.index.search(users, width)
        else:  # squared L2 in the reduced space -> inner product
            padded = np.ascontiguousarray(np.hstack([users, np.zeros((len(users), 1),
                                                                     np.float32)]))
            dist, rows = self.index.search(padded, width)
            scores = ((users ** 2).sum(1, keepdims=True) + self.radius ** 2 - dist) / 2
            scores = scores.astype(np.float32)
        cols = np.where(rows >= 0, self.columns[np.maximum(rows, 0)], -1)
        if len(self.outside):
            scores = np.hstack([np.where(cols >= 0, scores, -np.inf), users @ self.outside.T])
            cols = np.hstack([cols, np.broadcast_to(self.outside_columns,
                                                    (len(users), len(self.outside)))])
            best = np.argsort(-scores, axis=1, kind="stable")[:, :width]
            scores, cols = np.take_along_axis(scores, best, 1), np.take_along_axis(cols, best, 1)
        return scores, cols

    def search(self, users, k: int, seen_positions: np.ndarray,
               seen_columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` (scores, columns) per user without the masked pairs (position of the user
        in `users`, item column)."""
        users = np.asarray(users, dtype=np.float32)
        extra = int(np.bincount(seen_positions).max()) if len(seen_positions) else 0
        scores, cols = self.raw_search(users, k + extra)
        n_cols = int(max(cols.max(initial=0), seen_columns.max(initial=0))) + 1
        keys = np.sort(seen_positions * n_cols + seen_columns)
        query = np.arange(len(users), dtype=np.int64)[:, None] * n_cols + cols
        if len(keys):
            pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
            drop = keys[pos] == query
        else:
            drop = np.zeros(cols.shape, dtype=bool)
        scores = np.where(drop | (cols < 0), -np.inf, scores)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(np.maximum(cols, 0),
                                                                        order, 1)

    def check_recall(self, users: np.ndarray, items: np.ndarray, k: int) -> float:
        """Mean recall@k of this index against exact search over `items` (rows of the index)."""
        exact = torch.topk(torch.as_tensor(users) @ torch.as_tensor(items).T,
                           min(k, len(items)), dim=1).indices.numpy()
        _, found = self.raw_search(users, k)
        exact_cols = self.columns[exact]
        hits = [len(set(a) & set(b)) / len(a) for a, b in zip(exact_cols, found, strict=True)]
        recall = float(np.mean(hits)) if hits else 1.0
        self.report[f"recall@{k}"] = round(recall, 4)
        return recall


def wanted(cfg: AnnConfig, n_items: int) -> bool:
    """Whether to build an index: `enabled` true, or auto with faiss installed and a catalogue
    of at least `approximate_above` items (below it exact batched search is as fast)."""
    if cfg.enabled == "auto":
        return n_items >= cfg.approximate_above and faiss_available()
    return bool(cfg.enabled)


def build_index(item_vectors: np.ndarray, allowed: np.ndarray, user_vectors: np.ndarray,
                cfg: AnnConfig, k: int, seed: int = 0) -> AnnIndex | None:
    """The index over the `allowed` item columns, or None (with a warning) without faiss.

    An approximate index is checked at once: recall@k against exact search for up to
    `cfg.recall_check_users` users, stored in `index.report`.
    """
    if not faiss_available():
        warnings.warn(FAISS_MISSING, stacklevel=2)
        return None
    columns = np.flatnonzero(allowed)
    items = np.asarray(item_vectors, dtype=np.float32)[columns]
    index = AnnIndex(items, columns, cfg)
    if index.approximate and len(user_vectors):
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(user_vectors), min(cfg.recall_check_users, len(user_vectors)),
                          replace=False)
        index.check_recall(np.asarray(user_vectors, dtype=np.float32)[pick], items, k)
        index.report["recall_users"] = len(pick)
    return index
