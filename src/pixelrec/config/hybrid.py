"""The `multimodal_ease` and `ensemble` sections: the content-aware item-item model and the blend
of recommenders (see docs/training.md, "Beyond the two-tower model")."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from pixelrec.config.base import Section

# Dense item x item solves hold about four n x n float64 matrices: 20k items ~ 13 GB.
DENSE_ITEM_LIMIT = 20000


class MultimodalEASEConfig(Section):
    """min ||X - XB||^2 + l2 ||B||^2 + delta ||B - S||^2 with diag(B) = 0, S from content."""

    l2: float = Field(500.0, gt=0, description="L2 regularisation of the item-item weights")
    delta: float = Field(50.0, ge=0, description="pull of B towards the content similarity S; "
                                                 "0 is plain EASE")
    modalities: dict[Literal["image", "text"], float] = Field(
        default_factory=lambda: {"image": 1.0, "text": 1.0},
        description="feature-cache modalities in S and their weights")
    neighbours: int = Field(50, ge=1, description="content neighbours kept per item in S")
    max_items: int = Field(DENSE_ITEM_LIMIT, ge=1,
                           description="largest catalogue for the dense solve")

    @field_validator("modalities")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("give at least one modality with a positive weight, e.g. "
                             "{image: 1.0, text: 1.0}")
        return value


class EnsembleConfig(Section):
    """Per-user normalised scores of several recommenders, blended with weights tuned on val."""

    members: list[str] = Field(default_factory=lambda: ["multimodal", "multimodal_ease",
                                                        "popularity"])
    weights: list[float] | None = Field(None, description="fixed warm-item weights (one per "
                                        "member); null: tuned on the val split")
    cold_weights: list[float] | None = Field(None, description="fixed weights for items "
                                             "without train interactions; null: tuned")
    cold_offset: float | None = Field(None, description="added to the blend of items without "
                                      "train interactions (z units); null: tuned")
    normalisation: Literal["zscore", "minmax", "rank"] = "zscore"
    trials: int = Field(40, ge=1, description="weight settings tried on val (random search "
                        "around the best so far, after the single members and equal weights)")
    tuning_users: int = Field(5000, ge=1, description="val users the weights are tuned on "
                              "(a seeded sample when there are more)")
    metric: str = Field("ndcg@10", description="val metric the weights maximise")

    @field_validator("members")
    @classmethod
    def _members(cls, value: list[str]) -> list[str]:
        from pixelrec.models.registry import recommender_names

        if not value:
            raise ValueError("name at least one member recommender")
        if len(set(value)) != len(value):
            raise ValueError(f"members must be distinct, got {value}")
        unknown = [m for m in value if m not in recommender_names() or m == "ensemble"]
        if unknown:
            raise ValueError(f"unknown or nested member(s) {unknown}; members are registered "
                             f"recommenders other than ensemble: "
                             f"{', '.join(n for n in recommender_names() if n != 'ensemble')}")
        return value

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        from pixelrec.evaluation.metrics import TOPK_METRICS

        name, _, k = value.partition("@")
        if name not in TOPK_METRICS or not k.isdigit() or int(k) < 1:
            raise ValueError(f"must be <metric>@<k> with metric one of {', '.join(TOPK_METRICS)}"
                             f", got {value!r}")
        return value

    @model_validator(mode="after")
    def _weights_match(self) -> EnsembleConfig:
        for key in ("weights", "cold_weights"):
            weights = getattr(self, key)
            if weights is not None and (len(weights) != len(self.members)
                                        or any(w < 0 for w in weights)):
                raise ValueError(f"ensemble.{key} needs one non-negative weight per member "
                                 f"({len(self.members)}: {self.members}), got {weights}")
        return self
