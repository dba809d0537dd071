"""Item tower (content + optional id -> fusion) and user tower (id + pooled history)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pixelrec.models.multimodal.content import ItemContent
from pixelrec.models.multimodal.encoders import EncoderModule, RawInputs, select
from pixelrec.models.multimodal.fusion import build_fusion, mlp


class ItemTower(nn.Module):
    """Item vectors from modality tokens: projected encoder vectors (a learned embedding where
    a modality is missing), numeric MLP, tag embedding bag and the item-id embedding.

    Encoder vectors come from per-item tables (`x_<modality>`, L2-normalised). In training mode
    two things can replace a table row: this epoch's cached augmented view (`train_vectors`), and
    for a modality with an `EncoderModule` (fine-tuning) a live encoding of the item's raw input
    (`raw`, augmented with `augment` / `augment_rng` when set) for the items in `live`. Eval mode
    reads only the clean tables; `encode_catalogue` refreshes them from the encoders.
    """

    def __init__(self, content: ItemContent, cfg,
                 encoders: Mapping[str, EncoderModule] | None = None) -> None:
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
        self.encoders = nn.ModuleDict(dict(encoders or {}))
        for name, encoder in self.encoders.items():
            if name not in self.modalities or encoder.dim != self.proj[name].in_features:
                raise ValueError(f"the {name} encoder ({encoder.dim}-d) does not match the "
                                 f"item inputs ({sorted(self.modalities)})")
        self.raw: RawInputs | None = None
        self.augment: dict[str, dict] = {}
        self.augment_rng: np.random.Generator | None = None
        self.train_vectors: dict[str, torch.Tensor] = {}
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

    def input_buffers(self) -> list[torch.Tensor]:
        """The per-item input buffers (catalogue data, never saved), not the weights."""
        names = [f"{p}_{m}" for m in self.modalities for p in ("x", "m")]
        names += [n for n in ("x_numeric", "x_tags", "id_rows") if hasattr(self, n)]
        return [getattr(self, n) for n in names]

    @property
    def n_items(self) -> int:
        return len(self.id_rows)

    def modality_tokens(self, items: torch.Tensor, live: torch.Tensor | None = None
                        ) -> dict[str, torch.Tensor]:
        """Projected encoder tokens per modality for catalogue rows `items` (missing -> learned).

        In training mode, items also in `live` are encoded from their raw inputs by the tower's
        encoders (with gradients when trainable); the others read the tables.
        """
        out = {}
        for name in self.modalities:
            table = self.train_vectors.get(name) if self.training else None
            if table is None:
                table = getattr(self, f"x_{name}")
            x = table[items]
            present = getattr(self, f"m_{name}")[items]
            if self.training and live is not None and name in self.encoders:
                x = self._encode_live(name, items, live, x, present)
            out[name] = torch.where(present.unsqueeze(-1), self.proj[name](x), self.missing[name])
        return out

    def _encode_live(self, name: str, items: torch.Tensor, live: torch.Tensor, x: torch.Tensor,
                     present: torch.Tensor) -> torch.Tensor:
        """`x` with the rows of present items in `live` replaced by their encoder output."""
        if self.raw is None:
            raise RuntimeError(f"the {name} encoder of the item tower has no raw inputs; set "
                               f"ItemTower.raw (RawInputs.from_config) before training")
        where = (torch.isin(items, live) & present).nonzero().squeeze(1)
        if len(where) == 0:
            return x
        encoder = self.encoders[name]
        raw, ok = self.raw.fetch(name, items[where].cpu().numpy(), encoder.spec,
                                 self.augment.get(name), self.augment_rng)
        if not ok.any():
            return x
        vectors = F.normalize(encoder(select(raw, ok)), dim=-1).to(x.dtype)
        return x.index_put((where[torch.as_tensor(ok, device=where.device)],), vectors)

    @torch.no_grad()
    def encode_catalogue(self, batch_sizes: Mapping[str, int]) -> None:
        """Encode every item's clean raw input with the tower's encoders (eval mode, no
        gradients, `batch_sizes[modality]` at a time) into the tables read for ranking and for
        history items."""
        for name, encoder in self.encoders.items():
            if self.raw is None:
                raise RuntimeError(f"the {name} encoder of the item tower has no raw inputs")
            was_training = encoder.training
            encoder.eval()
            table = torch.zeros((self.n_items, encoder.dim))
            present = np.zeros(self.n_items, dtype=bool)
            try:
                for start in range(0, self.n_items, batch_sizes[name]):
                    rows = np.arange(start, min(start + batch_sizes[name], self.n_items))
                    raw, ok = self.raw.fetch(name, rows, encoder.spec)
                    if ok.any():
                        table[rows[ok]] = F.normalize(encoder(select(raw, ok)), dim=-1).cpu()
                    present[rows] = ok
            finally:
                encoder.train(was_training)
            getattr(self, f"x_{name}").copy_(table)
            getattr(self, f"m_{name}").copy_(torch.as_tensor(present))

    def forward(self, items: torch.Tensor, live: torch.Tensor | None = None,
                tokens: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Item vectors of catalogue rows; `tokens` are `modality_tokens(items, live)` when the
        caller already has them."""
        if tokens is None:
            tokens = self.modality_tokens(items, live)
        tokens = list(tokens.values())
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
