"""Recommender types by name (`--recommender_type`, `recommendation.recommender_type`).

Every recommender registers itself with `@register_recommender("name")`; `create_recommender`
builds an unfitted one with `cls.from_config(config, **inputs)`, and `fit(train, items, val)`
fits it, whatever it is (the multimodal model trains there). `kind` is descriptive:
`collaborative` (interactions only) or `content` (also reads the feature cache and can score
items without interactions).

This module imports nothing heavy, so the config and the CLI can check names without loading
torch: `recommender_names()` adds the built-in names to what is registered so far; lookups
first import the built-in models (`pixelrec.models.baselines`, `pixelrec.models.multimodal`,
`pixelrec.models.ensemble`), which registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pixelrec import registry

if TYPE_CHECKING:
    from pixelrec.models.base import Recommender

# The names the built-in modules register, in display order; a test checks them.
BUILTIN_RECOMMENDERS = ("random", "popularity", "item_knn", "user_knn", "ease", "als", "bpr",
                        "content_knn", "multimodal_ease", "multimodal", "ensemble")


@dataclass(frozen=True)
class RecommenderEntry:
    kind: str
    build: Callable[..., Recommender]  # (config, **inputs) -> an unfitted recommender
    cls: type | None = None


RECOMMENDERS: dict[str, RecommenderEntry] = {}


def register_recommender(name: str, kind: str = "collaborative") -> Callable[[type], type]:
    """Register a `Recommender` subclass as `name`; it is built with
    `cls.from_config(config, **inputs)` (inputs a model may use: `checkpoint`, `features`,
    `item_embeddings` + `item_ids`; each takes what applies and ignores the rest)."""
    if kind not in ("collaborative", "content"):
        raise ValueError(f"kind must be collaborative or content, got {kind!r}")

    def add(cls: type) -> type:
        if "name" not in vars(cls):
            cls.name = name
        registry.add(RECOMMENDERS, "recommender", name,
                     RecommenderEntry(kind, cls.from_config, cls))
        return cls
    return add


def recommender_names() -> tuple[str, ...]:
    """Every known name (built-in ones first) without importing any model."""
    return tuple(dict.fromkeys([*BUILTIN_RECOMMENDERS, *RECOMMENDERS]))


def recommender_types(*kinds: str) -> tuple[str, ...]:
    """Registered names of the given kinds (all kinds when none given), in registry order."""
    _load_builtins()
    return tuple(n for n, e in RECOMMENDERS.items() if not kinds or e.kind in kinds)


def get_recommender(name: str) -> RecommenderEntry:
    """The entry registered as `name`; an unknown name raises ConfigError listing them all."""
    _load_builtins()
    return registry.lookup(RECOMMENDERS, "recommender type", name)


def _load_builtins() -> None:
    """Import the built-in models (they register themselves), then list them in their order."""
    import pixelrec.models.baselines  # noqa: F401
    import pixelrec.models.ensemble  # noqa: F401
    import pixelrec.models.multimodal  # noqa: F401
    import pixelrec.models.multimodal_ease  # noqa: F401

    order = {name: k for k, name in enumerate(recommender_names())}
    if list(RECOMMENDERS) != sorted(RECOMMENDERS, key=order.__getitem__):
        entries = sorted(RECOMMENDERS.items(), key=lambda item: order[item[0]])
        RECOMMENDERS.clear()
        RECOMMENDERS.update(entries)
