"""Cached multimodal item embeddings for `content_knn` and intra-list diversity."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixelrec.errors import PixelRecError


def load_item_embeddings(config) -> tuple[np.ndarray, list[str]]:
    """(embeddings, item_ids) from the feature cache: per-modality L2-normalised vectors
    concatenated, so their cosine averages the modalities' cosines. Missing rows are zeros."""
    try:
        from pixelrec.features.cache import SimpleFeatureCache, cache_name, read_manifest
    except ImportError as exc:
        raise PixelRecError(f"the feature cache is unavailable ({exc}); run `pixelrec "
                            f"precompute` first.") from None
    directory = Path(config.data.cache_config.cache_directory) / cache_name(
        config.model.vision_model, config.model.language_model)
    if not (directory / "manifest.json").exists():
        raise PixelRecError(f"no feature cache at {directory}; run `pixelrec precompute` first "
                            f"(or set data.cache_config.cache_directory).")
    manifest = read_manifest(directory)
    cache = SimpleFeatureCache(directory, manifest["key"], writable=False)
    try:
        ids = cache.item_ids
        blocks = []
        for modality in cache.modalities:
            vectors, present = cache.load_all(modality, ids)
            vectors = np.where(present[:, None], vectors, 0.0).astype(np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            blocks.append(vectors / np.maximum(norms, 1e-12))
    finally:
        cache.close()
    if not blocks or not ids:
        raise PixelRecError(f"feature cache {directory} holds no embeddings; run `pixelrec "
                            f"precompute` first.")
    return np.concatenate(blocks, axis=1), ids


def try_item_embeddings(config) -> tuple[np.ndarray, list[str]] | None:
    """The cached embeddings when a cache exists and loads, else None (optional metrics)."""
    try:
        return load_item_embeddings(config)
    except PixelRecError:
        return None
