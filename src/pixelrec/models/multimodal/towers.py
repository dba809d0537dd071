"""Item tower (content + optional id -> fusion) and user tower (id + pooled history)."""

from __future__ import annotations

import math

import torch
from torch import nn

from pixelrec.models.multimodal.content import ItemContent
from pixelrec.models.multimodal.fusion import build_fusion, mlp


class ItemTower(nn.Module):
    """Item vectors from modality tokens: projected encoder vectors (a learned embedding where
    a modality is missing), numeric MLP, tag embedding bag and the item-id embedding."""

    def __init__(self, content: ItemContent, cfg) -> None:
        super().__init__()
        d = cfg.embedding_dim
        self.id_dropout = cfg.id_dropout
        self.modalities = sorted(content.modalities)
        self.proj = nn.ModuleDict()
        self.missing = nn.ParameterDict()
        for name in self.modalities:
            vectors, _ = content.modalities[name]
            self.proj[name] = nn.Linear(vectors.shape[1], d)
            self.missing[name] = nn.Parameter(torch.zeros(d))
        if _joint_space(cfg, content):
            # One encoder for both modalities (e.g. CLIP): start both projections equal, so the
            # projected image and text embeddings begin in the encoder's joint space.
            self.proj["text"].load_state_dict(self.proj["image"].state_dict())
        self.numeric = None
        if content.numeric is not None:
            self.numeric = mlp([content.numeric.shape[1], d, d], cfg.fusion_activation)
        self.tags = None
        if content.tags is not None:
            self.tags = nn.EmbeddingBag(len(content.tag_vocab) + 1, d, mode="mean", padding_idx=0)
            self.missing["tags"] = nn.Parameter(torch.zeros(d))
        self.ids = nn.Embedding(len(content.id_items) + 1, d) if cfg.use_item_id else None
        for emb in (self.tags, self.ids):
            if emb is not None:
                nn.init.normal_(emb.weight, std=0.05)
        n_tokens = (len(self.modalities) + (self.numeric is not None) + (self.tags is not None)
                    + (self.ids is not None))
        if n_tokens == 0:
            raise ValueError("the item tower has no inputs: enable an encoder, numeric "
                             "features, tags or model.use_item_id")
        self.fusion = build_fusion(cfg.fusion_type, n_tokens, d, d, cfg)
        self.set_content(content)

    def set_content(self, content: ItemContent) -> None:
        """(Re)bind the per-item input arrays (non-persistent buffers)."""
        for name in self.modalities:
            vectors, mask = content.modalities[name]
            self.register_buffer(f"x_{name}", torch.as_tensor(vectors), persistent=False)
            self.register_buffer(f"m_{name}", torch.as_tensor(mask), persistent=False)
        if self.numeric is not None:
            self.register_buffer("x_numeric", torch.as_tensor(content.numeric), persistent=False)
        if self.tags is not None:
            self.register_buffer("x_tags", torch.as_tensor(content.tags), persistent=False)
        self.register_buffer("id_rows", torch.as_tensor(content.id_rows), persistent=False)

    @property
    def n_items(self) -> int:
        return len(self.id_rows)

    def modality_tokens(self, items: torch.Tensor) -> dict[str, torch.Tensor]:
        """Projected encoder tokens per modality for catalogue rows `items` (missing -> learned)."""
        out = {}
        for name in self.modalities:
            x = self.proj[name](getattr(self, f"x_{name}")[items])
            present = getattr(self, f"m_{name}")[items].unsqueeze(-1)
            out[name] = torch.where(present, x, self.missing[name])
        return out

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        tokens = list(self.modality_tokens(items).values())
        if self.numeric is not None:
            tokens.append(self.numeric(self.x_numeric[items]))
        if self.tags is not None:
            tags = self.x_tags[items]
            bag = self.tags(tags)
            tokens.append(torch.where((tags > 0).any(1, keepdim=True), bag, self.missing["tags"]))
        if self.ids is not None:
            rows = self.id_rows[items]
            if self.training and self.id_dropout > 0:
                keep = torch.rand(rows.shape, device=rows.device) >= self.id_dropout
                rows = rows * keep
            tokens.append(self.ids(rows))
        return self.fusion(torch.stack(tokens, 1))


def _joint_space(cfg, content: ItemContent) -> bool:
    """Image and text come from one joint-space encoder (same name, same dimension)."""
    if {"image", "text"} - set(content.modalities) or cfg.vision_model != cfg.language_model:
        return False
    return content.modalities["image"][0].shape[1] == content.modalities["text"][0].shape[1]


class UserTower(nn.Module):
    """User vector = id embedding (row 0: unknown user) + a map of the pooled history items."""

    def __init__(self, n_users: int, cfg) -> None:
        super().__init__()
        d = cfg.embedding_dim
        self.ids = nn.Embedding(n_users + 1, d)
        nn.init.normal_(self.ids.weight, std=0.05)
        self.pooling = cfg.user_history
        if self.pooling != "none":
            self.history_map = nn.Linear(d, d)
        if self.pooling == "attention":
            self.key = nn.Linear(d, d, bias=False)
            self.query = nn.Parameter(torch.zeros(d))

    def forward(self, users: torch.Tensor, history: torch.Tensor | None = None,
                history_mask: torch.Tensor | None = None) -> torch.Tensor:
        """`users` [B] id rows; `history` [B, H, d] item vectors with `history_mask` [B, H]."""
        vec = self.ids(users)
        if self.pooling == "none" or history is None:
            return vec
        mask = history_mask.unsqueeze(-1).to(history.dtype)
        if self.pooling == "mean":
            pooled = (history * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        else:
            query = (vec + self.query).unsqueeze(1)
            logits = (self.key(history) * query).sum(-1) / math.sqrt(history.shape[-1])
            logits = logits.masked_fill(~history_mask, float("-inf"))
            weights = torch.nan_to_num(torch.softmax(logits, -1), nan=0.0).unsqueeze(-1)
            pooled = (weights * history).sum(1)
        return vec + self.history_map(pooled)
