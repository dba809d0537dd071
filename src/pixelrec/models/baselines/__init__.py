"""Baseline recommenders, all implementing `pixelrec.models.base.Recommender`."""

from pixelrec.models.baselines.content import ContentKNNRecommender
from pixelrec.models.baselines.ease import EASERecommender
from pixelrec.models.baselines.factorization import ALSRecommender, BPRRecommender
from pixelrec.models.baselines.knn import ItemKNNRecommender, UserKNNRecommender
from pixelrec.models.baselines.simple import PopularityRecommender, RandomRecommender

__all__ = [
    "ALSRecommender",
    "BPRRecommender",
    "ContentKNNRecommender",
    "EASERecommender",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "RandomRecommender",
    "UserKNNRecommender",
]
