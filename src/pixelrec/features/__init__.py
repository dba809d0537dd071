"""Pretrained item encoders and the item feature cache.

Entry points (imported lazily so `import pixelrec.features` stays cheap, e.g. in worker processes):
`precompute`, `open_cache`, `item_features`, `item_views`, `item_embedding_matrix`,
`SimpleFeatureCache`.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "precompute": "pixelrec.features.compute",
    "open_cache": "pixelrec.features.compute",
    "item_features": "pixelrec.features.compute",
    "item_views": "pixelrec.features.compute",
    "item_embedding_matrix": "pixelrec.features.compute",
    "side_by_side": "pixelrec.features.compute",
    "cache_directory": "pixelrec.features.compute",
    "summary_line": "pixelrec.features.compute",
    "SimpleFeatureCache": "pixelrec.features.cache",
    "load_encoder": "pixelrec.features.encoders",
    "resolve_vision": "pixelrec.features.registry",
    "resolve_text": "pixelrec.features.registry",
    "check_model_name": "pixelrec.features.registry",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pixelrec.features' has no attribute {name!r}")
