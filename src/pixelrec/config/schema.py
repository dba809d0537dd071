"""The root configuration and the sections owned by the model, training and serving stages."""

from __future__ import annotations

from pydantic import Field

from pixelrec.config.base import Section
from pixelrec.config.data import DataConfig
from pixelrec.config.evaluation import EvaluationConfig
from pixelrec.config.features import FeaturesConfig


class ModelConfig(Section):
    vision_model: str | None = "efficientnet-lite0"
    language_model: str | None = "sentence-bert"
    embedding_dim: int = Field(64, ge=1)


class TrainingConfig(Section):
    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    epochs: int = Field(20, ge=1)
    patience: int = Field(3, ge=1)


class RecommendationConfig(Section):
    top_k: int = Field(10, ge=1)


class Config(Section):
    """Everything a pipeline run needs; every key is documented in docs/configuration.md."""

    checkpoint_dir: str = "models/checkpoints"
    results_dir: str = "results"
    seed: int = 42
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    data: DataConfig = DataConfig()
    features: FeaturesConfig = FeaturesConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    recommendation: RecommendationConfig = RecommendationConfig()
