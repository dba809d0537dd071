"""Neighbourhood models: sparse cosine similarity with shrinkage, top-k neighbours per row."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from pixelrec.config.tuning import FloatRange, IntRange
from pixelrec.models.base import Recommender
from pixelrec.models.registry import register_recommender

_BLOCK = 1024  # rows of the similarity computed at a time


def topk_cosine(matrix: sp.csr_matrix, k: int, shrinkage: float) -> sp.csr_matrix:
    """Row-row cosine `x.y / (|x||y| + shrinkage)` keeping each row's `k` best other rows
    (positive similarities only; ties go to the lower row index).

    Computed in blocks of rows, each a sparse product: memory grows with the co-occurring
    pairs of the block, never with `n_rows x n_rows` (nor `_BLOCK x n_rows`)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    n = matrix.shape[0]
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()).astype(np.float32)
    transposed = matrix.T.tocsc()
    k = min(k, max(n - 1, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        block = (matrix[start:stop] @ transposed).tocoo()
        row, col = block.row, block.col
        value = block.data / (norms[start + row] * norms[col] + shrinkage + 1e-12)
        keep = (value > 0) & (col != start + row)
        row, col, value = row[keep], col[keep], value[keep]
        order = np.lexsort((col, -value, row))  # by row, then best first, ties: lower index
        row, col, value = row[order], col[order], value[order]
        first = np.searchsorted(row, np.arange(stop - start))
        rank = np.arange(len(row)) - first[row]
        best = rank < k
        rows.append(start + row[best])
        cols.append(col[best])
        vals.append(value[best])
    return sp.csr_matrix((np.concatenate(vals).astype(np.float32),
                          (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


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
