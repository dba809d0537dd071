"""EASE (Steck, WWW 2019): closed-form item-item weights with a zero diagonal; exact (dense
solve) or, for catalogues too large for it, a low-rank-plus-diagonal approximation."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from pixelrec.config.tuning import FloatRange
from pixelrec.models.base import Recommender
from pixelrec.models.registry import register_recommender


def top_singular(matrix: sp.spmatrix, rank: int, seed: int = 0, oversample: int = 10,
                 power_iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(s [r], Vt [r, n]): the `rank` largest singular values and right singular vectors of a
    sparse `matrix` [m, n] by a randomized range finder with power iterations (Halko et al.
    2011); exact when rank + oversample >= min(m, n)."""
    m, n = matrix.shape
    k = min(rank + oversample, m, n)
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(matrix @ rng.standard_normal((n, k)))[0]
    for _ in range(power_iterations):
        basis = np.linalg.qr(matrix @ np.linalg.qr(matrix.T @ basis)[0])[0]
    small = np.asarray(matrix.T @ basis).T  # [k, n]
    _, values, vt = np.linalg.svd(small, full_matrices=False)
    return values[:rank], vt[:rank]


@register_recommender("ease")
class EASERecommender(Recommender):
    """B = I - P diagMat(1 / diag(P)), P = (X'X + l2 I)^-1; score = x_u B.

    Exact (`rank` None): a dense solve, 12 n_items^2 bytes at its peak (`multimodal_ease.solve`),
    refused above `max_items`. With `rank` r: X'X is approximated by its r leading eigenpairs
    plus the diagonal it leaves (G ~ U U' + D0, U = V diag(s) from a randomized SVD of X), so
    P = (D + U U')^-1 with D = D0 + l2 I has the Woodbury form D^-1 - A C A', A = D^-1 U,
    C = (I + U' A)^-1: memory and time grow with n_items x r, and r = n_items is exact EASE."""

    name = "ease"
    search_space = {"evaluation.baselines.ease.l2": FloatRange(50.0, 5000.0, log=True)}

    def __init__(self, l2: float = 500.0, max_items: int = 20000, rank: int | None = None,
                 seed: int = 0):
        self.l2 = l2
        self.max_items = max_items
        self.rank = rank
        self.seed = seed

    @classmethod
    def from_config(cls, config, **inputs) -> EASERecommender:
        return cls(**config.evaluation.baselines.ease.model_dump(), seed=config.seed)

    def _fit(self, matrix: sp.csr_matrix) -> None:
        if self.rank is not None:
            return self._fit_low_rank(sp.csr_matrix(matrix, dtype=np.float64))
        from pixelrec.models.multimodal_ease import check_dense_size, dense_gram, solve

        check_dense_size(matrix.shape[1], self.max_items, "ease",
                         "evaluation.baselines.ease.max_items",
                         alternative="set evaluation.baselines.ease.rank (e.g. 256: a low-rank "
                         "plus diagonal approximation whose memory grows with items x rank), "
                         "or use item_knn")
        self.weights_ = solve(dense_gram(matrix), self.l2, 0.0, None, overwrite_gram=True)

    def _fit_low_rank(self, matrix: sp.csr_matrix) -> None:
        values, vt = top_singular(matrix, self.rank, seed=self.seed)
        factors = vt.T * values  # U [n, r]: X'X ~ U U'
        counts = np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel()  # diag(X'X)
        inverse_d = 1.0 / (np.maximum(counts - (factors ** 2).sum(axis=1), 0.0) + self.l2)
        left = factors * inverse_d[:, None]  # A = D^-1 U
        core = np.linalg.inv(np.eye(len(values)) + factors.T @ left)  # C
        left_core = left @ core  # A C
        self.weights_ = None
        self.inverse_d_ = inverse_d.astype(np.float32)
        self.left_ = left_core.astype(np.float32)
        self.right_ = left.astype(np.float32)  # A
        self.diag_p_ = (inverse_d - np.einsum("ja,ja->j", left_core, left)).astype(np.float32)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        history = self.train_matrix_[rows]
        if self.weights_ is not None:
            return np.asarray(history @ self.weights_)
        # x B = x - (x P) / diag(P), x P = x D^-1 - (x A C) A'
        dense = history.toarray().astype(np.float32)
        product = dense * self.inverse_d_ - (history @ self.left_) @ self.right_.T
        return dense - product / self.diag_p_
