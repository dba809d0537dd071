"""PixelRec Multimodal: multimodal recommender systems from raw items and interactions."""

__version__ = "0.1.0"
