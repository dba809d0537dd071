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
    from pixelrec.config import Config
    from pixelrec.models.base import Recommender


def create_recommender(name: str, config: Config, **inputs: Any) -> Recommender:
    """An unfitted recommender of type `name` with its hyper-parameters from `config`; `inputs`
    (`checkpoint`, `features`, `item_embeddings` + `item_ids`) go to the models that use them.
    Every recommender is then fitted the same way: `.fit(train, items=..., val=...)`."""
    return get_recommender(name).build(config, **inputs)


# Ours: the models this framework exists for; the rest are baselines to compare against.
OURS = ("multimodal", "multimodal_ease", "ensemble")

_TYPES = {"COLLABORATIVE_TYPES": ("collaborative",), "CONTENT_TYPES": ("content",)}


def __getattr__(name: str) -> Any:
    if name in _TYPES:
        return recommender_types(*_TYPES[name])
    if name == "RECOMMENDER_TYPES":
        return recommender_types()
    if name == "BASELINE_TYPES":
        return tuple(n for n in recommender_types() if n not in OURS)
    if name == "Recommender":
        return importlib.import_module("pixelrec.models.base").Recommender
    raise AttributeError(f"module 'pixelrec.models' has no attribute {name!r}")


__all__ = [
    "BASELINE_TYPES",
    "COLLABORATIVE_TYPES",
    "CONTENT_TYPES",
    "OURS",
    "RECOMMENDERS",
    "RECOMMENDER_TYPES",
    "Recommender",
    "create_recommender",
    "get_recommender",
    "recommender_names",
    "recommender_types",
    "register_recommender",
]
