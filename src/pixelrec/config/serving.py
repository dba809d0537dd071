"""The `recommendation` and `serving` sections, read by `pixelrec recommend`, `serve` and `report`.

Every key is documented in docs/configuration.md (recommendation / serving tables).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pixelrec.config.base import Section

API_KEY_ENV = "PIXELREC_API_KEY"


class AnnConfig(Section):
    """Top-k search over item vectors with FAISS (optional package `faiss-cpu`)."""

    enabled: bool | Literal["auto"] = Field(
        "auto", description="auto: an approximate index from approximate_above items when "
        "faiss-cpu is installed, exact search otherwise; true: always FAISS; false: never")
    approximate_above: int = Field(100_000, ge=1, description="catalogue size from which the "
                                   "index is approximate (index_type) instead of exact")
    index_type: Literal["ivf", "hnsw"] = "ivf"
    ivf_nprobe: int = Field(16, ge=1)
    hnsw_m: int = Field(32, ge=4)
    hnsw_ef_search: int = Field(128, ge=1)
    recall_check_users: int = Field(200, ge=1)


class RecommendationConfig(Section):
    top_k: int = Field(10, ge=1)
    recommender_type: str = "multimodal"
    checkpoint: str = "best"
    chunk_size: int = Field(1024, ge=1, description="users scored per batch")
    ann: AnnConfig = AnnConfig()

    @field_validator("recommender_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        from pixelrec.models.registry import recommender_names  # light: no torch import

        if value not in recommender_names():
            raise ValueError(f"must be one of {', '.join(recommender_names())} (or a name "
                             f"registered with pixelrec.models.register_recommender), "
                             f"got {value!r}")
        return value


class ServingConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_key: str | None = None
    max_k: int = Field(100, ge=1)
    max_history: int = Field(1000, ge=1)
    max_upload_bytes: int = Field(5_000_000, ge=1024)
    torch_threads: int = Field(1, ge=1)
    added_items_dir: str | None = None

    @field_validator("api_key")
    @classmethod
    def _usable_key(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(f"must not be empty: an empty key would turn the key check off. "
                             f"Set a key, or null to serve without one (then ${API_KEY_ENV} "
                             f"is used when set)")
        if value is not None and value != value.strip():
            raise ValueError("must not start or end with whitespace: HTTP drops it from the "
                             "X-API-Key header, so no request could match")
        return value
