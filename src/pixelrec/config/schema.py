"""The root configuration: one attribute per section; each section lives in its own module."""

from __future__ import annotations

from pydantic import model_validator

from pixelrec.config.base import Section
from pixelrec.config.data import DataConfig
from pixelrec.config.evaluation import EvaluationConfig
from pixelrec.config.features import FeaturesConfig
from pixelrec.config.hybrid import EnsembleConfig, MultimodalEASEConfig
from pixelrec.config.model import ModelConfig, TrainingConfig
from pixelrec.config.serving import RecommendationConfig, ServingConfig
from pixelrec.config.tuning import TuningConfig


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
    multimodal_ease: MultimodalEASEConfig = MultimodalEASEConfig()
    ensemble: EnsembleConfig = EnsembleConfig()
    recommendation: RecommendationConfig = RecommendationConfig()
    serving: ServingConfig = ServingConfig()
    tuning: TuningConfig = TuningConfig()

    @model_validator(mode="after")
    def _repeats_consistent(self) -> Config:
        if self.evaluation.repeats_are_hits and self.data.filtering.repeats != "keep":
            raise ValueError(
                "evaluation.repeats_are_hits: true needs data.filtering.repeats: keep; with "
                "repeats dropped no held-out item can repeat a known one, so unmasking known "
                "items would only rank them again")
        return self
