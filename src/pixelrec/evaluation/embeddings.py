"""Cached multimodal item embeddings for `content_knn` and intra-list diversity."""

from __future__ import annotations

import numpy as np

from pixelrec.errors import PixelRecError


def load_item_embeddings(config, modalities=None) -> tuple[np.ndarray, list[str]]:
    """(embeddings, item_ids) of every item in the feature cache of the configured encoders:
    per-modality L2-normalised vectors side by side, so their cosine averages the modalities'
    (`modalities`: which of the cache's; default all).

    Evaluation never encodes the catalogue itself: without a precomputed cache this raises, and
    a cache built with other encoders or settings is refused by the cache.
    """
    from pixelrec.features import side_by_side

    directory, open_existing = _existing_cache(config)
    with open_existing() as cache:
        ids = list(cache.item_ids)
        if not ids or not cache.modalities:
            raise PixelRecError(f"feature cache {directory} holds no embeddings; run `pixelrec "
                                f"precompute` first.")
        chosen = [m for m in cache.modalities if modalities is None or m in modalities]
        if not chosen:
            raise PixelRecError(f"feature cache {directory} holds {list(cache.modalities)}, "
                                f"none of the requested modalities {list(modalities)}; set "
                                f"model.vision_model / model.language_model and precompute.")
        matrix = side_by_side({m: cache.load_all(m, ids) for m in chosen})
    return matrix, ids


def _existing_cache(config):
    """(cache folder, a function opening it read-only); raises when nothing was precomputed."""
    from pixelrec.features import cache_directory, open_cache

    directory = cache_directory(config)
    if not (directory / "manifest.json").exists():
        raise PixelRecError(f"no feature cache at {directory}; run `pixelrec precompute` first "
                            f"(or set data.cache_config.cache_directory).")
    return directory, lambda: open_cache(config)


def try_item_embeddings(config) -> tuple[np.ndarray, list[str]] | None:
    """The cached embeddings when a cache exists and loads, else None (optional metrics)."""
    try:
        return load_item_embeddings(config)
    except PixelRecError:
        return None


def load_modality_vectors(config, modalities) -> dict[str, tuple[np.ndarray, list[str]]]:
    """{modality: (vectors, item_ids)} of the feature cache, each as encoded (zero rows where
    an item lacks the modality); every requested modality must be in the cache."""
    directory, open_existing = _existing_cache(config)
    with open_existing() as cache:
        ids = list(cache.item_ids)
        missing = [m for m in modalities if m not in cache.modalities]
        if missing:
            raise PixelRecError(f"feature cache {directory} has no {missing} vectors (it holds "
                                f"{list(cache.modalities)}); set model.vision_model / "
                                f"model.language_model and run `pixelrec precompute`, or drop "
                                f"them from the recommender's modalities.")
        out = {}
        for modality in modalities:
            vectors, mask = cache.load_all(modality, ids)
            out[modality] = (np.where(np.asarray(mask)[:, None], vectors, 0.0)
                             .astype(np.float32), ids)
    return out
