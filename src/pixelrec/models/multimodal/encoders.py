"""Pretrained encoders inside the item tower (fine-tuning), and the raw item inputs they read.

With `model.freeze_vision` / `model.freeze_language` false the encoder is an `EncoderModule` of
the item tower: during training it encodes the batch's positives and negatives from their raw
inputs (processed image files, item text from `features.text_template`) with gradients; for
ranking the whole catalogue is encoded once, in eval mode and without gradients
(`ItemTower.encode_catalogue`). A frozen `EncoderModule` (`trainable=False`) has no gradients
and stays in eval mode whatever `train()` is called with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from pixelrec.features.registry import EncoderSpec

FLAGS = {"image": ("freeze_vision", "vision_model"), "text": ("freeze_language", "language_model")}


class EncoderModule(nn.Module):
    """One pretrained encoder as a trainable module: raw inputs -> [n, dim] float32 vectors.

    Images are uint8 [n, h, w, 3] arrays decoded with the spec's preprocessing, texts a list of
    strings; the output is the encoder's own (pooled, and for sentence models normalised)
    embedding, exactly what the feature cache stores for the same weights.
    """

    def __init__(self, spec: EncoderSpec, trainable: bool = True) -> None:
        super().__init__()
        from pixelrec.features.encoders import new_encoder

        self.spec = spec
        self.modality = spec.modality
        self._encoder = new_encoder(spec, "cpu", trainable=True)  # preprocessing + pooling
        self.net = self._encoder.model
        self.dim = int(self._encoder.dim)
        self.trainable = True
        self.set_trainable(trainable)

    def set_trainable(self, trainable: bool) -> EncoderModule:
        """Frozen (`False`): no gradients, and eval mode from now on."""
        self.trainable = bool(trainable)
        self.net.requires_grad_(self.trainable)
        if not self.trainable:
            super().train(False)
        return self

    def train(self, mode: bool = True) -> EncoderModule:
        return super().train(mode and self.trainable)

    def forward(self, raw: Any) -> torch.Tensor:
        encoder = self._encoder
        encoder.model = self.net
        encoder.device = next(self.net.parameters()).device
        return encoder.forward(encoder.prepare(raw)).float()


def fine_tuned_modalities(model_cfg) -> list[str]:
    """Modalities whose encoder is fine-tuned (`freeze_*` false), in tower order."""
    return [m for m, (flag, name) in FLAGS.items()
            if getattr(model_cfg, name) is not None and not getattr(model_cfg, flag)]


def build_encoder_modules(config) -> dict[str, EncoderModule]:
    """Trainable encoders (pretrained weights) for every fine-tuned modality of `config`."""
    from pixelrec.features.compute import encoder_specs

    modalities = fine_tuned_modalities(config.model)
    if not modalities:
        return {}
    specs = encoder_specs(config)
    return {m: EncoderModule(specs[m]) for m in modalities}


def select(raw: Any, ok: np.ndarray) -> Any:
    """The entries of a raw batch (array or list) where `ok` is True."""
    if isinstance(raw, np.ndarray):
        return raw[ok]
    return [r for r, keep in zip(raw, ok, strict=True) if keep]


class RawInputs:
    """Per catalogue row: the processed image path and the item text, for encoders in the tower."""

    def __init__(self, texts: Sequence[str], image_paths: Sequence[str | None]) -> None:
        self.texts, self.image_paths = list(texts), list(image_paths)

    @classmethod
    def from_config(cls, config, item_ids: Sequence[str]) -> RawInputs:
        """Inputs of `item_ids` from the processed item table and `data.processed_image_folder`
        (text rendered with `features.text_template`, as for the feature cache)."""
        from pixelrec.features.compute import items_for

        inputs = items_for(config, [str(i) for i in item_ids])
        return cls(inputs.texts, inputs.image_paths)

    def __len__(self) -> int:
        return len(self.texts)

    def fetch(self, modality: str, rows: np.ndarray, spec: EncoderSpec,
              augment: dict[str, Any] | None = None,
              rng: np.random.Generator | None = None) -> tuple[Any, np.ndarray]:
        """(raw batch, ok [n]) of catalogue `rows`; `augment` (parameters of
        `data.<modality>_augmentation`) draws an augmented version of each from `rng`."""
        if augment is not None and rng is None:
            raise ValueError("augmentation needs a generator (rng)")
        if modality == "image":
            from pixelrec.features.imaging import decode_batch

            paths = [self.image_paths[r] for r in rows]
            seeds = None
            if augment is not None:
                seeds = [[int(s)] for s in rng.integers(0, 1 << 62, len(paths))]
            return decode_batch(paths, spec.preprocessing, augment, seeds)
        texts = [self.texts[r] for r in rows]
        if augment is not None:
            from pixelrec.data.augmentation import augment_text

            texts = [augment_text(t, augment, rng) for t in texts]
        return texts, np.array([bool(t) for t in texts], dtype=bool)
