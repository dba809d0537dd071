"""The `evaluation` section, read by `pixelrec evaluate` and by validation during training.

Baseline hyper-parameters live here too (`evaluation.baselines`): baselines exist to be evaluated.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pixelrec.config.base import Section
from pixelrec.config.hybrid import DENSE_ITEM_LIMIT


class KNNConfig(Section):
    """Sparse cosine neighbourhood model (`item_knn`, `user_knn`)."""

    k_neighbors: int = Field(100, ge=1, description="neighbours kept per item (user)")
    shrinkage: float = Field(10.0, ge=0, description="added to the cosine denominator")


class EASEConfig(Section):
    l2: float = Field(500.0, gt=0, description="L2 regularisation of the item-item weights")
    max_items: int = Field(DENSE_ITEM_LIMIT, ge=1,
                           description="largest catalogue for the dense solve")
    rank: int | None = Field(None, ge=1, description="null: the exact dense solve; r: the "
                             "low-rank (r) plus diagonal approximation, for any catalogue size")


class ALSConfig(Section):
    factors: int = Field(64, ge=1)
    regularization: float = Field(0.01, ge=0)
    alpha: float = Field(1.0, gt=0, description="confidence scaling of observed interactions")
    iterations: int = Field(15, ge=1)


class BPRConfig(Section):
    factors: int = Field(64, ge=1)
    learning_rate: float = Field(0.01, gt=0)
    regularization: float = Field(0.01, ge=0)
    iterations: int = Field(100, ge=1)
    num_threads: int = Field(1, ge=0, description="implicit's threads: 1 is bit-reproducible; "
                                                  "0 (all cores) is faster but its lock-free "
                                                  "updates vary from run to run")


class ContentKNNConfig(Section):
    modalities: list[Literal["image", "text"]] = Field(
        default_factory=lambda: ["image", "text"],
        description="feature-cache modalities compared (side by side, each L2-normalised)")

    @field_validator("modalities")
    @classmethod
    def _some(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one modality: image, text")
        return list(dict.fromkeys(value))


class BaselinesConfig(Section):
    item_knn: KNNConfig = KNNConfig()
    user_knn: KNNConfig = KNNConfig()
    ease: EASEConfig = EASEConfig()
    als: ALSConfig = ALSConfig()
    bpr: BPRConfig = BPRConfig()
    content_knn: ContentKNNConfig = ContentKNNConfig()


class SamplingConfig(Section):
    """Sampled negatives: the `ranking` task always uses them; retrieval only when enabled."""

    enabled: bool = False
    num_negatives: int = Field(100, ge=1)
    strategy: Literal["uniform", "popularity"] = "uniform"


class BeyondAccuracyConfig(Section):
    k: int = Field(10, ge=1, description="length of the recommendation lists measured")
    head_fraction: float = Field(0.2, gt=0, lt=1, description="most popular share of items "
                                 "that forms the head; the rest is the long tail")


class EvaluationConfig(Section):
    k_values: list[int] = Field(default_factory=lambda: [5, 10, 20, 50])
    chunk_size: int = Field(512, ge=1, description="users scored per batch (bounds memory)")
    max_users: int | None = Field(None, ge=1, description="evaluate a seeded sample of this "
                                  "many test users (null: every one)")
    bootstrap_samples: int = Field(1000, ge=10)
    fold_in_val: bool = Field(True, description="test with the val interactions as known "
                                                 "history (after selection on val)")
    repeats_are_hits: bool = Field(
        False, description="a held-out item the user already has counts as a hit and known "
        "items are not masked (evaluation, recommend, serve); needs data.filtering.repeats: keep")
    sampling: SamplingConfig = SamplingConfig()
    beyond_accuracy: BeyondAccuracyConfig = BeyondAccuracyConfig()
    baselines: BaselinesConfig = BaselinesConfig()

    @field_validator("k_values")
    @classmethod
    def _positive_unique(cls, value: list[int]) -> list[int]:
        if not value or any(k < 1 for k in value):
            raise ValueError("must be a non-empty list of positive integers, e.g. [5, 10, 20]")
        return sorted(set(value))
