"""Matrix factorisation through the `implicit` library: ALS and BPR."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from pixelrec.config.tuning import FloatRange, IntRange
from pixelrec.models.base import Recommender
from pixelrec.models.registry import register_recommender


class _ImplicitRecommender(Recommender):
    """Shared fit/vectors for implicit's CPU models (score = user factors . item factors)."""

    @classmethod
    def from_config(cls, config, **inputs) -> _ImplicitRecommender:
        params = getattr(config.evaluation.baselines, cls.name)  # section named like the model
        return cls(**params.model_dump(), seed=config.seed)

    def _model_class(self) -> type:
        raise NotImplementedError

    def _params(self) -> dict:
        raise NotImplementedError

    def _fit(self, matrix: sp.csr_matrix) -> None:
        model_class = self._model_class()  # import first: limits apply to loaded libraries
        with threadpool_limits(1, "blas"):  # implicit's own advice: BLAS threads fight its own
            model = model_class(**self._params(), random_state=self.seed)
            model.fit(matrix, show_progress=False)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def _user_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.user_factors_[rows]

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_


@register_recommender("als")
class ALSRecommender(_ImplicitRecommender):
    """Weighted matrix factorisation for implicit feedback (Hu, Koren & Volinsky 2008)."""

    name = "als"
    search_space = {"evaluation.baselines.als.factors": IntRange(32, 128, log=True),
                    "evaluation.baselines.als.regularization": FloatRange(0.01, 1.0, log=True),
                    "evaluation.baselines.als.alpha": FloatRange(1.0, 20.0, log=True),
                    "evaluation.baselines.als.iterations": IntRange(15, 30)}

    def __init__(self, factors: int = 64, regularization: float = 0.01, alpha: float = 1.0,
                 iterations: int = 15, seed: int = 42):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed

    def _model_class(self) -> type:
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares

    def _params(self) -> dict:
        return {"factors": self.factors, "regularization": self.regularization,
                "alpha": self.alpha, "iterations": self.iterations}


@register_recommender("bpr")
class BPRRecommender(_ImplicitRecommender):
    """Bayesian personalised ranking (Rendle et al. 2009); item factors carry a bias column."""

    name = "bpr"
    search_space = {"evaluation.baselines.bpr.factors": IntRange(32, 128, log=True),
                    "evaluation.baselines.bpr.learning_rate": FloatRange(0.01, 0.05, log=True),
                    "evaluation.baselines.bpr.regularization": FloatRange(0.001, 0.01, log=True),
                    "evaluation.baselines.bpr.iterations": IntRange(100, 200)}

    def __init__(self, factors: int = 64, learning_rate: float = 0.01,
                 regularization: float = 0.01, iterations: int = 100, num_threads: int = 1,
                 seed: int = 42):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.num_threads = num_threads
        self.seed = seed

    def _model_class(self) -> type:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking

    def _params(self) -> dict:
        return {"factors": self.factors, "learning_rate": self.learning_rate,
                "regularization": self.regularization, "iterations": self.iterations,
                "num_threads": self.num_threads}
