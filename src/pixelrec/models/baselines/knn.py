"""Neighbourhood models: sparse cosine similarity with shrinkage, top-k neighbours per row."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from pixelrec.config.tuning import FloatRange, IntRange
from pixelrec.models.base import Recommender
from pixelrec.models.registry import register_recommender

_BLOCK = 1024  # rows per dense similarity block: memory is _BLOCK x n_rows floats


def topk_cosine(matrix: sp.csr_matrix, k: int, shrinkage: float) -> sp.csr_matrix:
    """Row-row cosine `x.y / (|x||y| + shrinkage)` keeping each row's `k` best other rows.

    Computed in blocks of rows so memory stays `_BLOCK x n_rows`, never `n_rows x n_rows`.
    """
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    n = matrix.shape[0]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()).astype(np.float32)
    transposed = matrix.T.tocsc()
    k = min(k, max(n - 1, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        block = (matrix[start:stop] @ transposed).toarray()
        block /= norms[start:stop, None] * norms[None, :] + shrinkage + 1e-12
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        top = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < n else \
            np.broadcast_to(np.arange(n), (stop - start, n))
        top_vals = np.take_along_axis(block, top, axis=1)
        keep = top_vals > 0
        rows.append(np.broadcast_to(np.arange(start, stop)[:, None], top.shape)[keep])
        cols.append(top[keep])
        vals.append(top_vals[keep])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, n), dtype=np.float32)


@register_recommender("item_knn")
class ItemKNNRecommender(Recommender):
    """score(u, i) = sum over the user's items j of sim(j, i), i among j's `k_neighbors`."""

    name = "item_knn"
    search_space = {"evaluation.baselines.item_knn.k_neighbors": IntRange(20, 400, log=True),
                    "evaluation.baselines.item_knn.shrinkage": FloatRange(0.0, 50.0)}

    def __init__(self, k_neighbors: int = 100, shrinkage: float = 10.0):
        self.k_neighbors = k_neighbors
        self.shrinkage = shrinkage

    @classmethod
    def from_config(cls, config, **inputs) -> ItemKNNRecommender:
        return cls(**config.evaluation.baselines.item_knn.model_dump())

    def _fit(self, matrix: sp.csr_matrix) -> None:
        self.similarity_ = topk_cosine(matrix.T.tocsr(), self.k_neighbors, self.shrinkage)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return (self.train_matrix_[rows] @ self.similarity_).toarray()


@register_recommender("user_knn")
class UserKNNRecommender(Recommender):
    """score(u, i) = sum over u's `k_neighbors` most similar users v of sim(u, v) x [v saw i]."""

    name = "user_knn"
    search_space = {"evaluation.baselines.user_knn.k_neighbors": IntRange(20, 400, log=True),
                    "evaluation.baselines.user_knn.shrinkage": FloatRange(0.0, 50.0)}

    def __init__(self, k_neighbors: int = 100, shrinkage: float = 10.0):
        self.k_neighbors = k_neighbors
        self.shrinkage = shrinkage

    @classmethod
    def from_config(cls, config, **inputs) -> UserKNNRecommender:
        return cls(**config.evaluation.baselines.user_knn.model_dump())

    def _fit(self, matrix: sp.csr_matrix) -> None:
        self.similarity_ = topk_cosine(matrix, self.k_neighbors, self.shrinkage)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return (self.similarity_[rows] @ self.train_matrix_).toarray()
