"""Feature settings: the `features` section and `data.cache_config`, read by precompute and the cache."""

from __future__ import annotations

import string
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from pixelrec.config.base import Section

TEXT_COLUMNS = ("title", "tag", "description")


class CacheConfig(Section):
    enabled: bool = True
    max_memory_items: int = Field(10000, ge=0)
    cache_directory: str = "data/cache"
    use_disk: bool = True


class FeaturesConfig(Section):
    text_template: str = "{title}. {tag}. {description}"
    image_batch_size: int = Field(4, ge=1, description="images per encoder forward")
    text_batch_size: int = Field(32, ge=1, description="texts per encoder forward")
    max_text_length: int = Field(128, ge=8, le=4096, description="tokens; longer text is truncated")
    num_workers: int | Literal["auto"] = Field(
        "auto", description="image decode processes; 0 decodes inline; auto: by cores and device")
    encode_processes: int | Literal["auto"] = Field(
        "auto", description="encoding worker processes; 1 encodes in this process")
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"

    @field_validator("num_workers", "encode_processes")
    @classmethod
    def _auto_or_at_least(cls, value: int | str, info: ValidationInfo) -> int | str:
        least = {"num_workers": 0, "encode_processes": 1}[info.field_name]
        if isinstance(value, int) and value < least:
            raise ValueError(f"must be 'auto' or an integer >= {least}")
        return value

    @field_validator("text_template")
    @classmethod
    def _template_uses_known_columns(cls, value: str) -> str:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError as exc:
            raise ValueError(f"is not a valid template: {exc}") from None
        unknown = [f for f in fields if f not in TEXT_COLUMNS]
        if not fields or unknown:
            raise ValueError(
                f"must use only the placeholders {{title}}, {{tag}}, {{description}} "
                f"(found {fields or 'none'})"
            )
        return value
