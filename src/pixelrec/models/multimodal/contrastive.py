"""Symmetric InfoNCE between the projected image and text embeddings of a batch's items."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# The learnable temperature stays inside this range (CLIP clamps its logit scale likewise).
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 1.0


class ContrastiveAlignment(nn.Module):
    """InfoNCE over items with both modalities; rows must be distinct items (no duplicates)."""

    def __init__(self, temperature: float) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    @property
    def temperature(self) -> float:
        return float(1.0 / self.log_scale.detach().clamp(*self._bounds()).exp())

    @staticmethod
    def _bounds() -> tuple[float, float]:
        return math.log(1.0 / MAX_TEMPERATURE), math.log(1.0 / MIN_TEMPERATURE)

    def forward(self, image: torch.Tensor, text: torch.Tensor, present: torch.Tensor
                ) -> torch.Tensor:
        image, text = image[present], text[present]
        if len(image) < 2:
            return image.sum() * 0.0
        scale = self.log_scale.clamp(*self._bounds()).exp()
        logits = scale * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
        target = torch.arange(len(image), device=image.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
