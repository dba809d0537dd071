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
    """Item vectors and biases from modality tokens: projected encoder vectors (a learned
    embedding where a modality is missing), numeric MLP and tag embedding bag, fused by
    `model.fusion_type`, plus the item-id embedding (`model.item_id_fusion`: `residual` adds it
    to the fused content vector, `token` feeds it to the fusion as one more token).

    Encoder vectors come from per-item tables (`x_<modality>`, L2-normalised). In training mode
    two things can replace a table row: this epoch's cached augmented view (`train_vectors`), and
    for a modality with an `EncoderModule` (fine-tuning) a live encoding of the item's raw input
    (`raw`, augmented with `augment` / `augment_rng` when set) for the items in `live`. Eval mode
    reads only the clean tables; `encode_catalogue` refreshes them from the encoders.

    Items without an id of their own (no train interactions, or dropped by `model.id_dropout`
    in training) share id row 0, a learned "new item" embedding and bias (DropoutNet-style:
    trained on the dropped ids, so a new item scores as a typical item with its own content).
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
        n_ids = len(content.id_items) + 1
        self.ids = nn.Embedding(n_ids, d) if cfg.use_item_id else None
        self.id_token = self.ids is not None and cfg.item_id_fusion == "token"
        for emb in (self.tags, self.ids):
            if emb is not None:
                nn.init.normal_(emb.weight, std=0.05)
        n_content = len(self.modalities) + (self.numeric is not None) + (self.tags is not None)
        n_tokens = n_content + self.id_token
        if n_tokens == 0 and self.ids is None:
            raise ValueError("the item tower has no inputs: enable an encoder, numeric "
                             "features, tags or model.use_item_id")
        self.fusion = build_fusion(cfg.fusion_type, n_tokens, d, d, cfg) if n_tokens else None
        self.content_scale = cfg.content_scale
        # item bias = a per-id bias (with the id embedding) + a linear map of the content
        self.bias = self.content_bias = None
        if cfg.item_bias and self.ids is not None:
            self.bias = nn.Embedding(n_ids, 1)
            nn.init.zeros_(self.bias.weight)
        if cfg.item_bias and self.fusion is not None:
            self.content_bias = nn.Linear(d, 1)
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
                tokens: dict[str, torch.Tensor] | None = None, as_new: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(vectors [n, d], biases [n] or None) of catalogue rows; `tokens` are
        `modality_tokens(items, live)` when the caller already has them; `as_new` scores every
        item as a brand-new one (id row 0, content only)."""
        rows = self.id_rows[items]
        rows = torch.zeros_like(rows) if as_new else self._drop_ids(rows)
        inputs = self._content_tokens(items, live, tokens)
        return self._assemble(self._fuse(inputs, rows), rows)

    def with_new(self, items: torch.Tensor, tokens: dict[str, torch.Tensor]
                 ) -> tuple[tuple[torch.Tensor, torch.Tensor | None],
                            tuple[torch.Tensor, torch.Tensor | None]]:
        """`forward(items, tokens=tokens)` and `forward(items, tokens=tokens, as_new=True)`
        at once: with the id as a residual the fused content is the same for both, so the
        fusion runs once."""
        rows = self._drop_ids(self.id_rows[items])
        inputs = self._content_tokens(items, None, tokens)
        content = self._fuse(inputs, rows)
        new_rows = torch.zeros_like(rows)
        new_content = self._fuse(inputs, new_rows) if self.id_token else content
        return self._assemble(content, rows), self._assemble(new_content, new_rows)

    def _drop_ids(self, rows: torch.Tensor) -> torch.Tensor:
        """Id rows with `model.id_dropout` of them set to 0 (the new-item row) in training."""
        if self.training and self.id_dropout > 0:
            return rows * (torch.rand(rows.shape, device=rows.device) >= self.id_dropout)
        return rows

    def _content_tokens(self, items: torch.Tensor, live: torch.Tensor | None,
                        tokens: dict[str, torch.Tensor] | None) -> list[torch.Tensor]:
        """The content tokens of catalogue rows: modalities, numeric, tags."""
        out = list((self.modality_tokens(items, live) if tokens is None else tokens).values())
        if self.numeric is not None:
            out.append(self.numeric(self.x_numeric[items]))
        if self.tags is not None:
            tags = self.x_tags[items]
            bag = self.tags(tags)
            out.append(torch.where((tags > 0).any(1, keepdim=True), bag, self.missing["tags"]))
        return out

    def _fuse(self, inputs: list[torch.Tensor], rows: torch.Tensor) -> torch.Tensor | None:
        """The fused content vector (with the id token when `model.item_id_fusion: token`)."""
        tokens = [*inputs, self.ids(rows)] if self.id_token else inputs
        if not tokens:
            return None
        content = self.fusion(torch.stack(tokens, 1))
        return content if self.id_token else content * self.content_scale

    def _assemble(self, content: torch.Tensor | None, rows: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(vectors, biases): the content plus the id residual, the id bias plus the content's."""
        vectors = content
        if self.ids is not None and not self.id_token:
            vectors = self.ids(rows) if content is None else content + self.ids(rows)
        parts = [] if self.bias is None else [self.bias(rows).squeeze(-1)]
        if self.content_bias is not None:
            parts.append(self.content_bias(content).squeeze(-1))
        return vectors, (sum(parts) if parts else None)


def _joint_space(cfg, content: ItemContent) -> bool:
    """Image and text come from one joint-space encoder (same name, same dimension)."""
    if {"image", "text"} - set(content.modalities) or cfg.vision_model != cfg.language_model:
        return False
    return content.modalities["image"][0].shape[1] == content.modalities["text"][0].shape[1]


class UserTower(nn.Module):
    """User vector = optional user-id embedding (row 0: unknown user) + an encoding of the
    user's most recent train items: `mean` / `attention` pooling (then a linear map), or
    `transformer`, a causal self-attention encoder over the items in time order (SASRec-style;
    the user vector is its output at the latest item)."""

    def __init__(self, n_users: int, cfg) -> None:
        super().__init__()
        d = cfg.embedding_dim
        self.ids = None
        if cfg.use_user_id:
            self.ids = nn.Embedding(n_users + 1, d)
            nn.init.normal_(self.ids.weight, std=0.05)
        self.pooling = cfg.user_history
        if self.pooling in ("mean", "attention"):
            self.history_map = nn.Linear(d, d)
        if self.pooling == "attention":
            self.key = nn.Linear(d, d, bias=False)
            self.query = nn.Parameter(torch.zeros(d))
        if self.pooling == "transformer":
            self.encoder = HistoryEncoder(d, cfg.history_length, cfg.history_layers,
                                          cfg.history_heads, cfg.history_dropout,
                                          cfg.history_mean_skip)

    def _id_vectors(self, users: torch.Tensor) -> torch.Tensor | None:
        return None if self.ids is None else self.ids(users)

    def forward(self, users: torch.Tensor, history: torch.Tensor | None = None,
                history_mask: torch.Tensor | None = None) -> torch.Tensor:
        """`users` [B] id rows; `history` [B, H, d] item vectors, most recent first, with
        `history_mask` [B, H] (False: no item)."""
        vec = self._id_vectors(users)
        if self.pooling == "none" or history is None:
            if vec is None:
                raise ValueError("this user tower encodes histories; pass one")
            return vec
        if self.pooling == "transformer":
            encoded = self.encoder.last(*chronological(history, history_mask))
        else:
            encoded = self.history_map(self._pool(history, history_mask, vec))
        return encoded if vec is None else vec + encoded

    def _pool(self, history: torch.Tensor, history_mask: torch.Tensor,
              vec: torch.Tensor | None) -> torch.Tensor:
        mask = history_mask.unsqueeze(-1).to(history.dtype)
        if self.pooling == "mean":
            return (history * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        query = self.query if vec is None else vec + self.query
        query = query.expand(len(history), -1).unsqueeze(1)
        logits = (self.key(history) * query).sum(-1) / math.sqrt(history.shape[-1])
        logits = logits.masked_fill(~history_mask, float("-inf"))
        weights = torch.nan_to_num(torch.softmax(logits, -1), nan=0.0).unsqueeze(-1)
        return (weights * history).sum(1)

    def sequence(self, users: torch.Tensor, items: torch.Tensor, mask: torch.Tensor
                 ) -> torch.Tensor:
        """Transformer only: user vectors [B, L, d] after each position of time-ordered item
        vectors `items` [B, L, d] (left-aligned, `mask` False after the end)."""
        out = self.encoder(items, mask)
        vec = self._id_vectors(users)
        return out if vec is None else out + vec.unsqueeze(1)


def chronological(history: torch.Tensor, mask: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Most-recent-first rows with holes -> oldest-first rows, left-aligned (padding last)."""
    n = mask.sum(1, keepdim=True)
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    # valid entries first, keeping their most-recent-first order, then reverse the valid prefix
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
    source = torch.gather(order, 1, (n - 1 - positions).clamp_min(0))
    out_mask = positions < n
    out = torch.gather(history, 1, source.unsqueeze(-1).expand(-1, -1, history.shape[-1]))
    return out * out_mask.unsqueeze(-1).to(out.dtype), out_mask


class HistoryEncoder(nn.Module):
    """Causal self-attention over time-ordered item vectors (pre-norm transformer layers with
    learned positions): position t sees items 0..t only, so training predicts every next item
    of a sequence at once and no later item can change an earlier position's output."""

    def __init__(self, dim: int, length: int, layers: int, heads: int, dropout: float,
                 mean_skip: bool = False) -> None:
        super().__init__()
        self.positions = nn.Embedding(length, dim)
        nn.init.normal_(self.positions.weight, std=0.02)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.mean_map = nn.Linear(dim, dim) if mean_skip else None

    def forward(self, items: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, L, d] outputs of left-aligned item vectors [B, L, d] (`mask` [B, L])."""
        length = items.shape[1]
        if length > self.positions.num_embeddings:
            raise ValueError(f"histories of {length} items exceed model.history_length "
                             f"({self.positions.num_embeddings})")
        keep = mask.unsqueeze(-1).to(items.dtype)
        x = self.dropout(items + self.positions.weight[:length]) * keep
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=items.device), 1)
        # No final LayerNorm: the residual stream starts as the items themselves, so an
        # untrained encoder already points at the latest item (and the mean of those so far).
        out = self.layers(x, mask=causal)
        if self.mean_map is not None:  # + a map of the mean of the items so far (causal)
            count = keep.cumsum(1).clamp_min(1.0)
            out = out + self.mean_map((items * keep).cumsum(1) / count)
        return out

    def last(self, items: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, d]: the output at each row's latest item (position 0 for an empty row)."""
        out = self(items, mask)
        last = (mask.sum(1) - 1).clamp_min(0)
        return out[torch.arange(len(out), device=out.device), last]
