"""The frozen-encoder contract: eval mode, `torch.inference_mode()`, float32 numpy out, a known dim."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pixelrec.features.registry import EncoderSpec


def pick_device(device: str) -> torch.device:
    """"auto" -> cuda, then mps, then cpu; an explicit device must exist."""
    from pixelrec.errors import ConfigError

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("features.device = cuda but no CUDA device is visible; use auto or cpu.")
    return torch.device(device)


class Encoder:
    """A frozen pretrained network turning a batch of inputs into [n, dim] float32 vectors."""

    modality = ""

    def __init__(self, spec: EncoderSpec, device: torch.device, trainable: bool = False):
        """`trainable`: for fine-tuning (`pixelrec.models.multimodal.encoders`): the weights keep
        requiring gradients and no inference-only optimisation (tracing) is applied."""
        self.spec = spec
        self.device = device
        self.trainable = trainable
        self.model: torch.nn.Module = self._load().to(device).eval()
        self.model.requires_grad_(trainable)
        self.dim = int(self.encode(self._example()).shape[1])

    def encode(self, batch: Any) -> np.ndarray:
        with torch.inference_mode():
            out = self.forward(self.prepare(batch))
        return out.float().cpu().numpy()

    def _load(self) -> torch.nn.Module:
        raise NotImplementedError

    def _example(self) -> Any:
        raise NotImplementedError

    def prepare(self, batch: Any) -> Any:
        """Turn raw inputs into model inputs on the device."""
        raise NotImplementedError

    def forward(self, inputs: Any) -> torch.Tensor:
        raise NotImplementedError


class ImageEncoder(Encoder):
    """Takes uint8 [n, h, w, 3] batches decoded by `pixelrec.features.imaging.decode_batch`."""

    modality = "image"

    def _example(self) -> np.ndarray:
        crop = self.spec.preprocessing["crop"]
        return np.zeros((1, crop, crop, 3), dtype=np.uint8)

    def prepare(self, batch: np.ndarray) -> torch.Tensor:
        pre = self.spec.preprocessing
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).permute(0, 3, 1, 2)
        mean = torch.tensor(pre["mean"], device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(pre["std"], device=self.device).view(1, 3, 1, 1)
        x = (x.float() / 255.0 - mean) / std
        if pre["channels_last"]:
            return x.contiguous(memory_format=torch.channels_last)
        return x.contiguous()


class TextEncoder(Encoder):
    """Takes a list of strings; tokenises with padding, truncation and the spec's max length."""

    modality = "text"

    def _example(self) -> list[str]:
        return ["example"]
