"""Recommender types by name (`--recommender_type`, `recommendation.recommender_type`).

Each baseline registers itself with `@register_recommender("name")`; `create_recommender` builds
an unfitted one from the config with `cls.from_config(config, ...)`. `kind` says what it needs:
`collaborative` (interactions only), `content` (also item embeddings from the feature cache),
`trained` (`multimodal`: trained by `pixelrec train` and loaded from its checkpoint).

This module imports nothing heavy, so the config and the CLI can check names without loading
torch: `recommender_names()` adds the built-in names to what is registered so far; lookups
first import the built-in models (`pixelrec.models.baselines`), which registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pixelrec import registry

if TYPE_CHECKING:
    from pixelrec.models.base import Recommender

# The names `pixelrec.models.baselines` registers, plus the trained model; a test checks them.
BUILTIN_RECOMMENDERS = ("random", "popularity", "item_knn", "user_knn", "ease", "als", "bpr",
                        "content_knn", "multimodal")


@dataclass(frozen=True)
class RecommenderEntry:
    kind: str
    build: Callable[..., Recommender]  # (config, **inputs) -> an unfitted recommender


RECOMMENDERS: dict[str, RecommenderEntry] = {}


def register_recommender(name: str, kind: str = "collaborative") -> Callable[[type], type]:
    """Register a `Recommender` subclass as `name`; it is built with `cls.from_config(config)`,
    and for `kind="content"` with `item_embeddings=` and `item_ids=` too."""
    if kind not in ("collaborative", "content"):
        raise ValueError(f"kind must be collaborative or content, got {kind!r}")

    def add(cls: type) -> type:
        if "name" not in vars(cls):
            cls.name = name
        registry.add(RECOMMENDERS, "recommender", name, RecommenderEntry(kind, cls.from_config))
        return cls
    return add


def _trained_only(config: Any, **inputs: Any) -> Recommender:
    raise ValueError("multimodal is trained with `pixelrec train` and loaded from its checkpoint "
                     "(pixelrec.models.multimodal.load_multimodal_recommender)")


registry.add(RECOMMENDERS, "recommender", "multimodal", RecommenderEntry("trained", _trained_only))


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
    """Import the baselines (they register themselves), then list built-ins in their order."""
    import pixelrec.models.baselines  # noqa: F401

    order = {name: k for k, name in enumerate(recommender_names())}
    if list(RECOMMENDERS) != sorted(RECOMMENDERS, key=order.__getitem__):
        entries = sorted(RECOMMENDERS.items(), key=lambda item: order[item[0]])
        RECOMMENDERS.clear()
        RECOMMENDERS.update(entries)
