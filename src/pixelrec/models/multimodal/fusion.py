"""Fusion of modality tokens [batch, n_tokens, dim] into one item vector [batch, out_dim].

New fusions register with `@register_fusion("name")`; `model.fusion_type` picks one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

FUSIONS: dict[str, type[nn.Module]] = {}

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU,
}


def register_fusion(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator adding a fusion under `name` (a taken name raises ValueError)."""
    from pixelrec import registry

    def add(cls):
        return registry.add(FUSIONS, "fusion", name, cls)
    return add


def mlp(sizes: list[int], activation: str = "relu", batch_norm: bool = False,
        dropout: float = 0.0) -> nn.Sequential:
    """Linear layers `sizes[0] -> ... -> sizes[-1]`; activation (+BN, dropout) between them."""
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if k < len(sizes) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


@register_fusion("concatenate")
class ConcatFusion(nn.Module):
    """Concatenate the tokens and run an MLP (`fusion_hidden_dims`)."""

    def __init__(self, n_tokens: int, dim: int, out_dim: int, cfg) -> None:
        super().__init__()
        self.net = mlp([n_tokens * dim, *cfg.fusion_hidden_dims, out_dim], cfg.fusion_activation,
                       cfg.use_batch_norm, cfg.dropout_rate)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.net(tokens.flatten(1))


@register_fusion("sum")
class SumFusion(nn.Module):
    """Sum of the tokens, then a linear map to `out_dim`."""

    def __init__(self, n_tokens: int, dim: int, out_dim: int, cfg) -> None:
        super().__init__()
        self.out = nn.Linear(dim, out_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(tokens.sum(1))


@register_fusion("gated")
class GatedFusion(nn.Module):
    """Learned per-item softmax weights over modalities; `last_weights` keeps the latest ones."""

    def __init__(self, n_tokens: int, dim: int, out_dim: int, cfg) -> None:
        super().__init__()
        self.gate = nn.Linear(n_tokens * dim, n_tokens)
        self.out = nn.Linear(dim, out_dim)
        self.last_weights: torch.Tensor | None = None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.gate(tokens.flatten(1)), dim=-1)
        self.last_weights = weights.detach()
        return self.out((weights.unsqueeze(-1) * tokens).sum(1))


@register_fusion("attention")
class AttentionFusion(nn.Module):
    """Multi-head self-attention across modality tokens, residual + LayerNorm, mean pooling."""

    def __init__(self, n_tokens: int, dim: int, out_dim: int, cfg) -> None:
        super().__init__()
        self.modality = nn.Parameter(torch.zeros(n_tokens, dim))
        self.attn = nn.MultiheadAttention(dim, cfg.num_attention_heads,
                                          dropout=cfg.attention_dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, out_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = tokens + self.modality
        attended, _ = self.attn(x, x, x, need_weights=False)
        return self.out(self.norm(x + attended).mean(1))


def build_fusion(name: str, n_tokens: int, dim: int, out_dim: int, cfg) -> nn.Module:
    if name not in FUSIONS:
        raise ValueError(f"unknown fusion {name!r}; registered: {sorted(FUSIONS)}")
    return FUSIONS[name](n_tokens, dim, out_dim, cfg)
