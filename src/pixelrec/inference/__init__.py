"""Inference: top-K recommendations for known, unknown and history-only users, similar items,
new items from content, and the files `pixelrec recommend` writes."""

from pixelrec.inference.engine import RecommendationEngine, Recommendations
from pixelrec.inference.loading import known_interactions, load_engine, load_recommender
from pixelrec.inference.output import generate_recommendations, select_users

__all__ = [
    "RecommendationEngine",
    "Recommendations",
    "generate_recommendations",
    "known_interactions",
    "load_engine",
    "load_recommender",
    "select_users",
]
