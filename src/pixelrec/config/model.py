"""The `model` and `training` sections, read by the multimodal model and its trainer.

Every key is documented in docs/configuration.md (model / training tables).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from pixelrec.config.base import Section

# Validation metrics the trainer can early-stop on: a full-ranking metric at some k, or val_loss.
VALIDATION_METRIC = re.compile(r"^[a-z][a-z0-9_]*@[1-9]\d*$")


class ModelConfig(Section):
    vision_model: str | None = "efficientnet-lite0"
    language_model: str | None = "sentence-bert"
    freeze_vision: bool = True
    freeze_language: bool = True
    embedding_dim: int = Field(64, ge=1)
    fusion_type: Literal["concatenate", "gated", "attention", "sum"] = "concatenate"
    fusion_hidden_dims: list[int] = Field(default_factory=lambda: [128])
    fusion_activation: Literal["relu", "gelu", "tanh", "leaky_relu"] = "relu"
    use_batch_norm: bool = False
    dropout_rate: float = Field(0.1, ge=0, lt=1)
    num_attention_heads: int = Field(4, ge=1)
    attention_dropout: float = Field(0.1, ge=0, lt=1)
    content_scale: float = Field(1.0, gt=0)
    use_item_id: bool = True
    item_id_fusion: Literal["residual", "token"] = "residual"
    id_dropout: float = Field(0.1, ge=0, le=1)
    new_item_loss_weight: float = Field(1.0, ge=0)
    item_bias: bool = True
    use_tags: bool = True
    use_user_id: bool = False
    user_history: Literal["none", "mean", "attention", "transformer"] = "transformer"
    history_length: int = Field(50, ge=1)
    history_layers: int = Field(2, ge=1)
    history_heads: int = Field(2, ge=1)
    history_dropout: float = Field(0.2, ge=0, lt=1)
    history_mean_skip: bool = True
    similarity: Literal["dot", "cosine"] = "dot"
    temperature: float = Field(0.1, gt=0, le=10)
    scorer: Literal["dot", "mlp"] = "dot"
    scorer_hidden_dims: list[int] = Field(default_factory=lambda: [64])
    use_contrastive: bool = True
    contrastive_weight: float = Field(0.1, ge=0)
    contrastive_temperature: float = Field(0.07, ge=0.01, le=1.0)

    @field_validator("fusion_hidden_dims", "scorer_hidden_dims")
    @classmethod
    def _positive_dims(cls, value: list[int]) -> list[int]:
        if any(d < 1 for d in value):
            raise ValueError(f"every hidden size must be >= 1, got {value}")
        return value

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> ModelConfig:
        if self.fusion_type == "attention" and self.embedding_dim % self.num_attention_heads:
            raise ValueError(f"model.embedding_dim ({self.embedding_dim}) must be divisible by "
                             f"model.num_attention_heads ({self.num_attention_heads}) for "
                             f"attention fusion")
        return self

    @model_validator(mode="after")
    def _users_have_a_representation(self) -> ModelConfig:
        if self.user_history == "none" and not self.use_user_id:
            raise ValueError("model.user_history is none and model.use_user_id is false: the "
                             "user tower would have no input; set model.use_user_id: true or a "
                             "history encoder (transformer, mean, attention)")
        if self.user_history == "transformer" and self.embedding_dim % self.history_heads:
            raise ValueError(f"model.embedding_dim ({self.embedding_dim}) must be divisible by "
                             f"model.history_heads ({self.history_heads})")
        return self

    @model_validator(mode="after")
    def _fine_tuned_encoder_exists(self) -> ModelConfig:
        for flag, key, name in (("freeze_vision", "vision_model", self.vision_model),
                                ("freeze_language", "language_model", self.language_model)):
            if not getattr(self, flag) and name is None:
                raise ValueError(f"model.{flag} is false but model.{key} is null: there is no "
                                 f"encoder to fine-tune; set model.{key} or model.{flag}: true")
        return self

    @field_validator("vision_model", "language_model")
    @classmethod
    def _known_encoder(cls, value: str | None, info: ValidationInfo) -> str | None:
        from pixelrec.features.registry import encoder_name_problem  # light: no torch import

        modality = "image" if info.field_name == "vision_model" else "text"
        problem = encoder_name_problem(value, modality)
        if problem:
            raise ValueError(problem)
        return value


class TrainingConfig(Section):
    batch_size: int = Field(1024, ge=1)
    learning_rate: float = Field(3e-3, gt=0)
    encoder_learning_rate: float = Field(1e-4, gt=0)
    epochs: int = Field(30, ge=1)
    patience: int = Field(5, ge=1)
    loss: Literal["bce", "bpr", "softmax"] = "softmax"
    negative_sampling_ratio: int = Field(2, ge=1)
    negative_sampling_strategy: Literal["random", "popularity"] = "random"
    logq_correction: bool = True
    full_softmax_max_items: int = Field(50000, ge=0)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    sparse_embeddings: Literal["auto"] | bool = "auto"
    history_vectors: Literal["auto", "live", "table"] = "auto"
    history_refresh_steps: int = Field(100, ge=1)
    weight_decay: float = Field(0.01, ge=0)
    ema_decay: float = Field(0.99, ge=0, lt=1)
    momentum: float = Field(0.9, ge=0, lt=1)
    scheduler: Literal["none", "reduce_on_plateau", "cosine", "step"] = "none"
    warmup_steps: int = Field(0, ge=0)
    scheduler_step_size: int = Field(5, ge=1)
    scheduler_gamma: float = Field(0.5, gt=0, lt=1)
    scheduler_patience: int = Field(1, ge=0)
    gradient_clip_norm: float | None = Field(5.0, gt=0)
    gradient_accumulation_steps: int = Field(1, ge=1)
    validation_metric: str = "ndcg@10"
    validation_users: int | None = Field(10000, ge=1)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    num_threads: int | None = Field(None, ge=1)
    bf16: bool = True
    progress: bool = True
    use_wandb: bool = False
    wandb_project: str = "pixelrec"
    wandb_entity: str | None = None

    @field_validator("validation_metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        from pixelrec.evaluation.metrics import TOPK_METRICS  # light: numpy only

        if value in ("val_loss", "none"):
            return value
        if not VALIDATION_METRIC.match(value) or value.split("@")[0] not in TOPK_METRICS:
            raise ValueError(f"must be val_loss, none or <metric>@<k> with metric one of "
                             f"{', '.join(TOPK_METRICS)} (registered top-k metrics; e.g. "
                             f"ndcg@10), got {value!r}")
        return value

    @model_validator(mode="after")
    def _sparse_needs_adam(self) -> TrainingConfig:
        if self.sparse_embeddings is True and self.optimizer == "sgd":
            raise ValueError("training.sparse_embeddings: true steps the id tables with Adam; "
                             "use training.optimizer: adam or adamw, or sparse_embeddings: "
                             "auto/false")
        return self
