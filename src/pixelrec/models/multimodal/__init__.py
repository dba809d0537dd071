"""The multimodal two-tower recommender: content + id item tower, history-pooling user tower."""

from pixelrec.models.multimodal.fusion import FUSIONS, register_fusion
from pixelrec.models.multimodal.loading import load_multimodal_recommender
from pixelrec.models.multimodal.network import MultimodalNetwork
from pixelrec.models.multimodal.recommender import MultimodalRecommender

__all__ = ["FUSIONS", "MultimodalNetwork", "MultimodalRecommender",
           "load_multimodal_recommender", "register_fusion"]
