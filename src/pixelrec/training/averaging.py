"""`WeightAverage`: an exponential moving average (EMA) of a network's weights.

Validation, checkpoints and the served model read the averaged weights (`averaged()`), the
optimiser keeps stepping the raw ones. Early updates use the warm-up decay
`min(decay, (1 + n) / (10 + n))` so the average is not dominated by the random initial weights.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


class WeightAverage:
    """EMA of `module`'s parameters (`decay` in (0, 1)); buffers (feature tables) are not
    averaged."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.module, self.decay, self.updates = module, decay, 0
        self.shadow = {k: v.detach().clone() for k, v in self._tracked().items()}

    def _tracked(self) -> dict[str, torch.Tensor]:
        return dict(self.module.named_parameters())

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        """Fold the module's current weights into the average (after an optimiser step)."""
        decay = self.current_decay()
        for key, value in self._tracked().items():
            self.shadow[key].lerp_(value.detach(), 1 - decay)
        self.updates += 1

    @contextlib.contextmanager
    def averaged(self) -> Iterator[None]:
        """Swap the averaged weights in for the block, then the raw ones back."""
        raw = {k: v.detach().clone() for k, v in self._tracked().items()}
        self.module.load_state_dict(self.shadow, strict=False)
        try:
            yield
        finally:
            self.module.load_state_dict(raw, strict=False)

    def state_dict(self) -> dict:
        return {"shadow": {k: v.cpu() for k, v in self.shadow.items()}, "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        device = {k: v.device for k, v in self._tracked().items()}
        self.shadow = {k: v.to(device[k]) for k, v in state["shadow"].items()}
        self.updates = state["updates"]
