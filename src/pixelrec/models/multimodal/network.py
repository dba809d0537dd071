"""`MultimodalNetwork`: item tower + user tower + scorer (+ contrastive alignment).

`forward(batch)` returns the training losses (so DistributedDataParallel sees one call);
`item_vectors` / `user_vectors` / `score_matrix` serve inference.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pixelrec.models.multimodal.content import ItemContent
from pixelrec.models.multimodal.contrastive import ContrastiveAlignment
from pixelrec.models.multimodal.encoders import EncoderModule
from pixelrec.models.multimodal.fusion import mlp
from pixelrec.models.multimodal.towers import ItemTower, UserTower


class Scorer(nn.Module):
    """`dot`: u . i;  `mlp`: the seed's pairwise head MLP([u, i, u * i])."""

    def __init__(self, kind: str, dim: int, hidden: list[int], activation: str) -> None:
        super().__init__()
        self.kind = kind
        self.net = mlp([3 * dim, *hidden, 1], activation) if kind == "mlp" else None

    def pairs(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of aligned pairs (broadcasting leading dims)."""
        if self.net is None:
            return (users * items).sum(-1)
        users, items = torch.broadcast_tensors(users, items)
        return self.net(torch.cat([users, items, users * items], -1)).squeeze(-1)

    def matrix(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """All scores [B, C] of users [B, d] against items [C, d]."""
        if self.net is None:
            return users @ items.T
        return self.pairs(users.unsqueeze(1), items.unsqueeze(0))


def history_matrix(users: np.ndarray, items: np.ndarray, order: np.ndarray, n_users: int,
                   length: int) -> np.ndarray:
    """[n_users + 1, length] catalogue rows of each user's last `length` items (-1 = none).

    `users` are 1-based user rows, `items` catalogue rows, `order` a sort key (timestamp).
    """
    out = np.full((n_users + 1, length), -1, dtype=np.int64)
    if len(users) == 0:
        return out
    idx = np.lexsort((order, users))
    users, items = users[idx], items[idx]
    ends = np.searchsorted(users, users, side="right")
    back = ends - 1 - np.arange(len(users))  # 0 = most recent
    keep = back < length
    out[users[keep], back[keep]] = items[keep]
    return out


class MultimodalNetwork(nn.Module):
    """Two towers and a scorer; `objective` (a training loss) is set by the trainer."""

    def __init__(self, content: ItemContent, n_users: int, cfg,
                 encoders: Mapping[str, EncoderModule] | None = None) -> None:
        """`encoders`: modules for fine-tuned modalities (see `ItemTower`)."""
        super().__init__()
        self.item_tower = ItemTower(content, cfg, encoders)
        self.user_tower = UserTower(n_users, cfg)
        self.scorer = Scorer(cfg.scorer, cfg.embedding_dim, cfg.scorer_hidden_dims,
                             cfg.fusion_activation)
        self.contrastive = None
        if cfg.use_contrastive and {"image", "text"} <= set(content.modalities):
            self.contrastive = ContrastiveAlignment(cfg.contrastive_temperature)
        self.contrastive_weight = cfg.contrastive_weight
        self.history_length = cfg.history_length
        self.uses_history = cfg.user_history != "none"
        self.cosine = cfg.similarity == "cosine"
        self.temperature = cfg.temperature
        self.objective = None
        self.set_history(np.full((n_users + 1, 1), -1, dtype=np.int64))

    def set_history(self, history: np.ndarray) -> None:
        self.register_buffer("history", torch.as_tensor(history), persistent=False)

    # ---- inference -----------------------------------------------------------------------
    def items(self, items: torch.Tensor,
              tokens: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Item vectors of catalogue rows (unit length under cosine similarity)."""
        vecs = self.item_tower(items, tokens=tokens)
        return F.normalize(vecs, dim=-1) if self.cosine else vecs

    def item_vectors(self, items: torch.Tensor | None = None, chunk: int = 8192) -> torch.Tensor:
        items = torch.arange(self.item_tower.n_items, device=self.history.device) \
            if items is None else items
        return torch.cat([self.items(items[s:s + chunk]) for s in range(0, len(items), chunk)])

    def user_vectors(self, id_rows: torch.Tensor, item_vecs, history_rows: torch.Tensor | None = None,
                     exclude: torch.Tensor | None = None) -> torch.Tensor:
        """Vectors of users with id-embedding rows `id_rows` and rows `history_rows` (default:
        the same) of the history buffer; history items are looked up in `item_vecs`.

        Under cosine similarity the vector is unit length / temperature, so that a plain dot
        product with item vectors gives the trained score.
        """
        if not self.uses_history:
            vecs = self.user_tower(id_rows)
        else:
            hist = self.history[id_rows if history_rows is None else history_rows]
            mask = hist >= 0
            if exclude is not None:
                mask &= hist != exclude.unsqueeze(1)
            vecs = self.user_tower(id_rows, item_vecs[hist.clamp_min(0)], mask)
        return F.normalize(vecs, dim=-1) / self.temperature if self.cosine else vecs

    # ---- training ------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Losses of one batch: users [B], pos [B], neg [B, r] (+ valid, log_q for listwise)."""
        users, pos, neg = batch["users"], batch["pos"], batch["neg"]
        parts = [pos, neg.flatten()]
        if self.uses_history:
            parts.append(self.history[users].clamp_min(0).flatten())
        uniq = torch.unique(torch.cat(parts))
        lookup = torch.zeros(self.item_tower.n_items, dtype=torch.long, device=uniq.device)
        lookup[uniq] = torch.arange(len(uniq), device=uniq.device)
        # Encoders in the tower (fine-tuning) encode only the batch's positives and negatives;
        # history items read the tables refreshed after every epoch.
        live = torch.unique(torch.cat(parts[:2])) if len(self.item_tower.encoders) else None
        tokens = self.item_tower.modality_tokens(uniq, live)
        full = _Gather(self.items(uniq, tokens=tokens), lookup)
        user_vecs = self.user_vectors(users, full, exclude=pos)
        pos_vecs, neg_vecs = full[pos], full[neg]
        if self.objective.kind == "listwise":
            cands = torch.cat([pos_vecs, neg_vecs.flatten(0, 1)])
            main = self.objective(self.scorer.matrix(user_vecs, cands), batch["valid"],
                                  batch["log_q"])
        else:
            main = self.objective(self.scorer.pairs(user_vecs, pos_vecs),
                                  self.scorer.pairs(user_vecs.unsqueeze(1), neg_vecs))
        out = {"main": main, "loss": main}
        if self.contrastive is not None:
            # Aligned over the batch's distinct positive and sampled items; history items would
            # make the [n, n] logits nearly catalogue-sized on every batch.
            items = torch.unique(torch.cat(parts[:2]))
            rows = lookup[items]
            tower = self.item_tower
            present = tower.m_image[items] & tower.m_text[items]
            out["contrastive"] = self.contrastive(tokens["image"][rows], tokens["text"][rows],
                                                  present)
            out["loss"] = main + self.contrastive_weight * out["contrastive"]
        return out


class _Gather:
    """Index catalogue rows into the vectors of the batch's unique items."""

    def __init__(self, vecs: torch.Tensor, lookup: torch.Tensor) -> None:
        self.vecs, self.lookup = vecs, lookup

    def __getitem__(self, items: torch.Tensor) -> torch.Tensor:
        return self.vecs[self.lookup[items]]
