"""Reference points: uniformly random scores and train popularity."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from pixelrec.models.base import Recommender
from pixelrec.models.registry import register_recommender


@register_recommender("random")
class RandomRecommender(Recommender):
    """I.i.d. uniform scores over every item (cold ones included); reproducible under `seed`."""

    name = "random"
    scores_cold_items = True

    def __init__(self, seed: int = 42):
        self.seed = seed

    @classmethod
    def from_config(cls, config, **inputs) -> RandomRecommender:
        return cls(seed=config.seed)

    def _fit(self, matrix: sp.csr_matrix) -> None:
        self.generator_ = torch.Generator().manual_seed(self.seed)

    def _score_users(self, rows: np.ndarray) -> torch.Tensor:
        return self._score_unknown(len(rows))

    def _score_unknown(self, n: int) -> torch.Tensor:
        return torch.rand((n, len(self.item_ids_)), generator=self.generator_)


@register_recommender("popularity")
class PopularityRecommender(Recommender):
    """Scores every user's items by the number of distinct train users of each item."""

    name = "popularity"

    def _fit(self, matrix: sp.csr_matrix) -> None:
        pass

    def _score_users(self, rows: np.ndarray) -> torch.Tensor:
        return self._score_unknown(len(rows))
