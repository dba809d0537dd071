"""Optimisers and learning-rate schedules (linear warmup, then cosine / step / plateau)."""

from __future__ import annotations

import math

import torch
from torch import nn

OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}


ENCODER_PREFIX = "item_tower.encoders."


def build_optimizer(model: nn.Module, cfg) -> torch.optim.Optimizer:
    """Weight decay on weight matrices only: not on biases, norms or the contrastive temperature.

    Fine-tuned encoder weights (`item_tower.encoders.*`) get their own groups at
    `training.encoder_learning_rate`; every group records its peak rate as `base_lr`.
    """
    decay, no_decay, enc_decay, enc_no_decay = [], [], [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        skip = param.ndim < 2 or name.endswith("log_scale")
        if name.startswith(ENCODER_PREFIX):
            (enc_no_decay if skip else enc_decay).append(param)
        else:
            (no_decay if skip else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay, "base_lr": cfg.learning_rate},
              {"params": no_decay, "weight_decay": 0.0, "base_lr": cfg.learning_rate}]
    if enc_decay or enc_no_decay:
        groups += [{"params": enc_decay, "weight_decay": cfg.weight_decay,
                    "base_lr": cfg.encoder_learning_rate},
                   {"params": enc_no_decay, "weight_decay": 0.0,
                    "base_lr": cfg.encoder_learning_rate}]
    kwargs = {"lr": cfg.learning_rate}
    if cfg.optimizer == "sgd":
        kwargs["momentum"] = cfg.momentum
    return OPTIMIZERS[cfg.optimizer](groups, **kwargs)


class LRSchedule:
    """lr = base_lr x warmup(step) x factor per parameter group (base_lr: `learning_rate`, or
    `encoder_learning_rate` for fine-tuned encoders); the factor follows `training.scheduler`.

    `cosine` anneals to 0 over all steps, `step` multiplies by `scheduler_gamma` every
    `scheduler_step_size` epochs, `reduce_on_plateau` does so after `scheduler_patience` epochs
    without validation improvement. Call `step()` per optimiser step and `epoch_end(score)`.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, cfg, steps_per_epoch: int) -> None:
        self.optimizer, self.cfg = optimizer, cfg
        self.total = max(1, steps_per_epoch * cfg.epochs)
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.steps = 0
        self.epochs = 0
        self.factor = 1.0
        self.best = -math.inf
        self.bad = 0
        self._apply()

    def lr(self) -> float:
        """The current rate of the main groups (encoder groups scale from their own peak)."""
        return self.cfg.learning_rate * self.scale()

    def scale(self) -> float:
        """Warmup x schedule factor, applied to every group's `base_lr`."""
        cfg = self.cfg
        warm = min(1.0, (self.steps + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
        if cfg.scheduler == "cosine":
            after = max(0, self.steps - cfg.warmup_steps)
            span = max(1, self.total - cfg.warmup_steps)
            factor = 0.5 * (1.0 + math.cos(math.pi * min(1.0, after / span)))
        elif cfg.scheduler == "step":
            factor = cfg.scheduler_gamma ** (self.steps // (self.steps_per_epoch
                                                             * cfg.scheduler_step_size))
        else:
            factor = self.factor
        return warm * factor

    def _apply(self) -> None:
        scale = self.scale()
        for group in self.optimizer.param_groups:
            group["lr"] = group.get("base_lr", self.cfg.learning_rate) * scale

    def step(self) -> None:
        self.steps += 1
        self._apply()

    def epoch_end(self, score: float) -> None:
        """`score`: the validation value, higher is better."""
        self.epochs += 1
        if self.cfg.scheduler != "reduce_on_plateau":
            return
        if score > self.best:
            self.best, self.bad = score, 0
        else:
            self.bad += 1
            if self.bad > self.cfg.scheduler_patience:
                self.factor *= self.cfg.scheduler_gamma
                self.bad = 0
        self._apply()

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("steps", "epochs", "factor", "best", "bad")}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
        self._apply()
