"""Recommenders: the shared interface, the baselines and a factory keyed by `--recommender_type`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixelrec.models.base import Recommender
from pixelrec.models.baselines import (
    ALSRecommender,
    BPRRecommender,
    ContentKNNRecommender,
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    RandomRecommender,
    UserKNNRecommender,
)

if TYPE_CHECKING:
    import numpy as np

    from pixelrec.config import Config

# Baselines that need only interactions; `content_knn` also needs item embeddings.
COLLABORATIVE_TYPES = ("random", "popularity", "item_knn", "user_knn", "ease", "als", "bpr")
CONTENT_TYPES = ("content_knn",)
# Trained models: loaded from a checkpoint, not fitted by `create_recommender`.
TRAINED_TYPES = ("multimodal",)
BASELINE_TYPES = COLLABORATIVE_TYPES + CONTENT_TYPES
RECOMMENDER_TYPES = BASELINE_TYPES + TRAINED_TYPES


def create_recommender(name: str, config: Config, item_embeddings: np.ndarray | None = None,
                       item_ids: list[str] | None = None) -> Recommender:
    """An unfitted recommender of type `name` with its hyper-parameters from `config`."""
    params = config.evaluation.baselines
    seed = config.seed
    if name == "random":
        return RandomRecommender(seed=seed)
    if name == "popularity":
        return PopularityRecommender()
    if name == "item_knn":
        return ItemKNNRecommender(**params.item_knn.model_dump())
    if name == "user_knn":
        return UserKNNRecommender(**params.user_knn.model_dump())
    if name == "ease":
        return EASERecommender(**params.ease.model_dump())
    if name == "als":
        return ALSRecommender(**params.als.model_dump(), seed=seed)
    if name == "bpr":
        return BPRRecommender(**params.bpr.model_dump(), seed=seed)
    if name in TRAINED_TYPES:
        raise ValueError(f"{name} is trained with `pixelrec train` and loaded from its "
                         f"checkpoint (pixelrec.models.multimodal.load_multimodal_recommender)")
    if name == "content_knn":
        if item_embeddings is None or item_ids is None:
            raise ValueError("content_knn needs item_embeddings and item_ids")
        return ContentKNNRecommender(item_embeddings, item_ids)
    raise ValueError(f"unknown recommender type {name!r}; choose one of {RECOMMENDER_TYPES}")


__all__ = [
    "BASELINE_TYPES",
    "COLLABORATIVE_TYPES",
    "CONTENT_TYPES",
    "RECOMMENDER_TYPES",
    "TRAINED_TYPES",
    "Recommender",
    "create_recommender",
]
