"""The root configuration: one attribute per section; each section lives in its own module."""

from __future__ import annotations

from pixelrec.config.base import Section
from pixelrec.config.data import DataConfig
from pixelrec.config.evaluation import EvaluationConfig
from pixelrec.config.features import FeaturesConfig
from pixelrec.config.hybrid import EnsembleConfig, MultimodalEASEConfig
from pixelrec.config.model import ModelConfig, TrainingConfig
from pixelrec.config.serving import RecommendationConfig, ServingConfig


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
