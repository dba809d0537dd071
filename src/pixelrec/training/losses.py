"""Recommendation losses. `pairwise` losses see (positive [B], negatives [B, r]) scores;
`listwise` ones see a logits matrix [B, C] over candidates (column b = row b's positive).

New losses register with `@register_loss("name")`; `training.loss` picks one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

LOSSES: dict[str, type[Loss]] = {}


def register_loss(name: str) -> Callable[[type[Loss]], type[Loss]]:
    """Class decorator adding a loss under `name` (a taken name raises ValueError)."""
    from pixelrec import registry

    def add(cls):
        return registry.add(LOSSES, "loss", name, cls)
    return add


class Loss:
    kind = "pairwise"

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@register_loss("bce")
class BCELoss(Loss):
    """Binary cross-entropy: positives labelled 1, sampled negatives 0."""

    def __call__(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        scores = torch.cat([pos.unsqueeze(1), neg], 1)
        labels = torch.zeros_like(scores)
        labels[:, 0] = 1.0
        return F.binary_cross_entropy_with_logits(scores, labels)


@register_loss("bpr")
class BPRLoss(Loss):
    """Bayesian personalised ranking: -log sigmoid(positive - negative), mean over pairs."""

    def __call__(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        return -F.logsigmoid(pos.unsqueeze(1) - neg).mean()


@register_loss("softmax")
class SoftmaxLoss(Loss):
    """Cross-entropy of each row's target among the candidates: every train item (full
    softmax), or in-batch + sampled candidates with log-Q correction.

    `target` [R] is the target's column; `valid` [R, C] (optional) is False where a candidate
    is another positive of the row's user (never a negative); `log_q` [C] (optional) is the log
    probability that each candidate was sampled, subtracted from its logit.
    """

    kind = "listwise"

    def __call__(self, logits: torch.Tensor, target: torch.Tensor,
                 valid: torch.Tensor | None = None,
                 log_q: torch.Tensor | None = None) -> torch.Tensor:
        logits = logits.float()
        if log_q is not None:
            logits = logits - log_q
        if valid is not None:
            logits = logits.masked_fill(~valid, torch.finfo(logits.dtype).min)
        return F.cross_entropy(logits, target)


def build_loss(name: str) -> Loss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; registered: {sorted(LOSSES)}")
    return LOSSES[name]()
