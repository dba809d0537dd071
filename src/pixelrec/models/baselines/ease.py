"""EASE (Steck, WWW 2019): closed-form item-item weights with a zero diagonal."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from pixelrec.config.tuning import FloatRange
from pixelrec.models.base import Recommender
from pixelrec.models.registry import register_recommender


@register_recommender("ease")
class EASERecommender(Recommender):
    """B = I - P diagMat(1 / diag(P)), P = (X'X + l2 I)^-1; score = x_u B. Memory: 12 n_items^2
    bytes at the peak of the solve (`multimodal_ease.solve`)."""

    name = "ease"
    search_space = {"evaluation.baselines.ease.l2": FloatRange(50.0, 5000.0, log=True)}

    def __init__(self, l2: float = 500.0, max_items: int = 20000):
        self.l2 = l2
        self.max_items = max_items

    @classmethod
    def from_config(cls, config, **inputs) -> EASERecommender:
        return cls(**config.evaluation.baselines.ease.model_dump())

    def _fit(self, matrix: sp.csr_matrix) -> None:
        from pixelrec.models.multimodal_ease import check_dense_size, dense_gram, solve

        check_dense_size(matrix.shape[1], self.max_items, "ease",
                         "evaluation.baselines.ease.max_items")
        self.weights_ = solve(dense_gram(matrix), self.l2, 0.0, None, overwrite_gram=True)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.train_matrix_[rows] @ self.weights_)
