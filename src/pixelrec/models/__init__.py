"""Recommenders: the shared interface, the baselines and a registry keyed by `--recommender_type`.

Names are imported lazily, so `pixelrec.models.registry` stays light (config validation, CLI).
The `*_TYPES` tuples are read from the registry when asked for, so they include recommenders
registered with `register_recommender` since.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pixelrec.models.registry import (
    RECOMMENDERS,
    get_recommender,
    recommender_names,
    recommender_types,
    register_recommender,
)

if TYPE_CHECKING:
    import numpy as np

    from pixelrec.config import Config
    from pixelrec.models.base import Recommender


def create_recommender(name: str, config: Config, item_embeddings: np.ndarray | None = None,
                       item_ids: list[str] | None = None) -> Recommender:
    """An unfitted recommender of type `name` with its hyper-parameters from `config`."""
    entry = get_recommender(name)
    if entry.kind != "content":
        return entry.build(config)
    if item_embeddings is None or item_ids is None:
        raise ValueError(f"{name} needs item_embeddings and item_ids")
    return entry.build(config, item_embeddings=item_embeddings, item_ids=item_ids)


# name -> the kinds it lists; BASELINE_TYPES are the ones `create_recommender` fits.
_TYPES = {
    "COLLABORATIVE_TYPES": ("collaborative",),
    "CONTENT_TYPES": ("content",),
    "TRAINED_TYPES": ("trained",),
    "BASELINE_TYPES": ("collaborative", "content"),
}


def __getattr__(name: str) -> Any:
    if name in _TYPES:
        return recommender_types(*_TYPES[name])
    if name == "RECOMMENDER_TYPES":
        return recommender_types("collaborative", "content") + recommender_types("trained")
    if name == "Recommender":
        return importlib.import_module("pixelrec.models.base").Recommender
    raise AttributeError(f"module 'pixelrec.models' has no attribute {name!r}")


__all__ = [
    "BASELINE_TYPES",
    "COLLABORATIVE_TYPES",
    "CONTENT_TYPES",
    "RECOMMENDERS",
    "RECOMMENDER_TYPES",
    "TRAINED_TYPES",
    "Recommender",
    "create_recommender",
    "get_recommender",
    "recommender_names",
    "recommender_types",
    "register_recommender",
]
