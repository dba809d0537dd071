"""Feature settings: the `features` section and `data.cache_config`, read by precompute and the cache."""

from __future__ import annotations

from pydantic import Field

from pixelrec.config.base import Section


class CacheConfig(Section):
    enabled: bool = True
    max_memory_items: int = Field(10000, ge=0)
    cache_directory: str = "data/cache"
    use_disk: bool = True


class FeaturesConfig(Section):
    text_template: str = "{title}. {tag}. {description}"
    batch_size: int = Field(32, ge=1)
