"""Cached multimodal item embeddings for `content_knn` and intra-list diversity."""

from __future__ import annotations

import numpy as np

from pixelrec.errors import PixelRecError


def load_item_embeddings(config) -> tuple[np.ndarray, list[str]]:
    """(embeddings, item_ids) of every item in the feature cache of the configured encoders:
    per-modality L2-normalised vectors side by side, so their cosine averages the modalities'.

    Evaluation never encodes the catalogue itself: without a precomputed cache this raises, and
    a cache built with other encoders or settings is refused by the cache.
    """
    from pixelrec.features import cache_directory, open_cache, side_by_side

    directory = cache_directory(config)
    if not (directory / "manifest.json").exists():
        raise PixelRecError(f"no feature cache at {directory}; run `pixelrec precompute` first "
                            f"(or set data.cache_config.cache_directory).")
    with open_cache(config) as cache:
        ids = list(cache.item_ids)
        if not ids or not cache.modalities:
            raise PixelRecError(f"feature cache {directory} holds no embeddings; run `pixelrec "
                                f"precompute` first.")
        matrix = side_by_side({m: cache.load_all(m, ids) for m in cache.modalities})
    return matrix, ids


def try_item_embeddings(config) -> tuple[np.ndarray, list[str]] | None:
    """The cached embeddings when a cache exists and loads, else None (optional metrics)."""
    try:
        return load_item_embeddings(config)
    except PixelRecError:
        return None
