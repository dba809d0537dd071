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
    """`dot`: u . i;  `mlp`: the seed's pairwise head MLP([u, i, u * i]).

    Vectors are ranking vectors: an item's may end in its bias and a user's in a 1 (see
    `MultimodalNetwork.rank_items`), so `dot` adds the bias by itself; `mlp` scores the first
    `dim` columns and adds the bias column.
    """

    def __init__(self, kind: str, dim: int, hidden: list[int], activation: str) -> None:
        super().__init__()
        self.kind, self.dim = kind, dim
        self.net = mlp([3 * dim, *hidden, 1], activation) if kind == "mlp" else None

    def _bias(self, items: torch.Tensor) -> torch.Tensor | float:
        return items[..., self.dim] if items.shape[-1] > self.dim else 0.0

    def pairs(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of aligned pairs (broadcasting leading dims)."""
        if self.net is None:
            return (users * items).sum(-1)
        bias = self._bias(items)
        users, items = torch.broadcast_tensors(users[..., :self.dim], items[..., :self.dim])
        return self.net(torch.cat([users, items, users * items], -1)).squeeze(-1) + bias

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
    """Two towers and a scorer; `objective` (a training loss) is set by the trainer.

    Training batches (`forward`) come in two shapes, made by `pixelrec.training.data`:
    interactions (`users`, `pos`: one target each, the history from the `history` buffer with
    the target removed) and sequences (`users`, `seq`, `targets` [B, L]: every position of a
    time-ordered window predicts the next item; `model.user_history: transformer`). The softmax
    runs over every item with train interactions ("full") unless the batch names its candidates
    (`cands` with `log_q`: sampled softmax for large catalogues).
    """

    def __init__(self, content: ItemContent, n_users: int, cfg,
                 encoders: Mapping[str, EncoderModule] | None = None) -> None:
        """`encoders`: modules for fine-tuned modalities (see `ItemTower`)."""
        super().__init__()
        self.item_tower = ItemTower(content, cfg, encoders)
        self.user_tower = UserTower(n_users, cfg)
        self.dim = cfg.embedding_dim
        self.scorer = Scorer(cfg.scorer, cfg.embedding_dim, cfg.scorer_hidden_dims,
                             cfg.fusion_activation)
        self.contrastive = None
        if cfg.use_contrastive and {"image", "text"} <= set(content.modalities):
            self.contrastive = ContrastiveAlignment(cfg.contrastive_temperature)
        self.contrastive_weight = cfg.contrastive_weight
        self.history_length = cfg.history_length
        self.uses_history = cfg.user_history != "none"
        self.sequential = cfg.user_history == "transformer"
        self.cosine = cfg.similarity == "cosine"
        self.temperature = cfg.temperature
        self.new_item_weight = cfg.new_item_loss_weight
        self.has_bias = cfg.item_bias and (self.item_tower.bias is not None
                                           or self.item_tower.content_bias is not None)
        self.objective = None
        self.set_history(np.full((n_users + 1, 1), -1, dtype=np.int64))
        # Ranking vectors of every catalogue row that training batches read for history items
        # instead of running the tower on them (`refresh_history_table`); None: live.
        self.history_table: torch.Tensor | None = None

    def set_history(self, history: np.ndarray) -> None:
        self.register_buffer("history", torch.as_tensor(history), persistent=False)

    def id_tables(self) -> list[nn.Embedding]:
        """The per-item and per-user embedding tables (rows: catalogue or user ids)."""
        tables = [self.item_tower.ids, self.item_tower.bias, self.user_tower.ids]
        return [t for t in tables if t is not None]

    @torch.no_grad()
    def refresh_history_table(self) -> None:
        """Encode the catalogue (dropout off, no gradients) into `history_table`: training
        batches then run the item tower only on their targets and candidates, and history
        items contribute no gradient to it (`training.history_vectors: table`)."""
        was = self.training
        self.eval()
        try:
            self.history_table = self.item_vectors()
        finally:
            self.train(was)

    @property
    def train_rows(self) -> torch.Tensor:
        """Catalogue rows of the items with an id row (train items): the full softmax's
        candidates (items unseen in training are never pushed down)."""
        return (self.item_tower.id_rows > 0).nonzero().squeeze(1)

    # ---- ranking vectors -----------------------------------------------------------------
    def rank_items(self, vecs: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """Ranking vectors of items: unit length under cosine similarity, then the item bias
        as one more column (users get a 1 there), so score = user . item stays one matmul."""
        vecs = F.normalize(vecs, dim=-1) if self.cosine else vecs
        return vecs if bias is None else torch.cat([vecs, bias.unsqueeze(-1).to(vecs.dtype)], -1)

    def rank_users(self, vecs: torch.Tensor) -> torch.Tensor:
        """Ranking vectors of users: unit length / temperature under cosine (+ the 1)."""
        vecs = F.normalize(vecs, dim=-1) / self.temperature if self.cosine else vecs
        if not self.has_bias:
            return vecs
        return torch.cat([vecs, torch.ones_like(vecs[..., :1])], -1)

    def items(self, items: torch.Tensor,
              tokens: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Ranking vectors of catalogue rows."""
        return self.rank_items(*self.item_tower(items, tokens=tokens))

    def item_vectors(self, items: torch.Tensor | None = None, chunk: int = 8192) -> torch.Tensor:
        items = torch.arange(self.item_tower.n_items, device=self.history.device) \
            if items is None else items
        return torch.cat([self.items(items[s:s + chunk]) for s in range(0, len(items), chunk)])

    def user_vectors(self, id_rows: torch.Tensor, item_vecs, history_rows: torch.Tensor | None = None,
                     exclude: torch.Tensor | None = None) -> torch.Tensor:
        """Ranking vectors of users with id-embedding rows `id_rows` and rows `history_rows`
        (default: the same) of the history buffer; history items are looked up in `item_vecs`
        (ranking vectors, indexed by catalogue row; the bias column is not a history input)."""
        if not self.uses_history:
            return self.rank_users(self.user_tower(id_rows))
        hist = self.history[id_rows if history_rows is None else history_rows]
        mask = hist >= 0
        if exclude is not None:
            mask &= hist != exclude.unsqueeze(1)
        history = item_vecs[hist.clamp_min(0)][..., :self.dim]
        return self.rank_users(self.user_tower(id_rows, history, mask))

    # ---- training ------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Losses of one batch (see the class docstring for its two shapes)."""
        sequence = "seq" in batch
        users = batch["users"]
        targets = batch["targets"][batch["targets"] >= 0] if sequence else batch["pos"]
        full = "cands" not in batch and "neg" not in batch
        cands = self.train_rows if full else batch.get("cands")
        parts = [targets] if cands is None else [targets, cands]
        if "neg" in batch:
            parts.append(batch["neg"].flatten())
        frozen = self.history_table if self.training else None  # history items read it
        if frozen is None and sequence:
            parts.append(batch["seq"][batch["seq"] >= 0])
        elif frozen is None and self.uses_history:
            parts.append(self.history[users].clamp_min(0).flatten())
        uniq = torch.unique(torch.cat(parts))
        lookup = torch.zeros(self.item_tower.n_items, dtype=torch.long, device=uniq.device)
        lookup[uniq] = torch.arange(len(uniq), device=uniq.device)
        # Encoders in the tower (fine-tuning) encode only the batch's targets and candidates;
        # history items read the tables refreshed after every epoch.
        own = torch.unique(torch.cat([targets, *([batch["neg"].flatten()]
                                                 if "neg" in batch else [])]))
        live = own if len(self.item_tower.encoders) else None
        tokens = self.item_tower.modality_tokens(uniq, live)
        listwise = self.objective.kind == "listwise"
        new_items = listwise and self.new_item_weight > 0 and self.item_tower.ids is not None
        if new_items:  # also every item scored as brand-new (one fusion pass for both)
            vectors, as_new = self.item_tower.with_new(uniq, tokens)
            table, as_new = _Gather(self.rank_items(*vectors), lookup), self.rank_items(*as_new)
        else:
            table = _Gather(self.items(uniq, tokens=tokens), lookup)
        history_source = table if frozen is None else frozen
        if sequence:
            seq = batch["seq"]
            mask = seq >= 0
            states = self.user_tower.sequence(
                users, history_source[seq.clamp_min(0)][..., :self.dim] * mask.unsqueeze(-1),
                mask)
            user_vecs = self.rank_users(states[batch["targets"] >= 0])
        else:
            user_vecs = self.user_vectors(users, history_source, exclude=targets)
        if listwise:
            logits = self.scorer.matrix(user_vecs, table[cands])
            target = batch.get("target")
            if target is None:  # distinct candidates: a target's column is where it sits
                column = torch.full((self.item_tower.n_items,), -1, dtype=torch.long,
                                    device=cands.device)
                column[cands] = torch.arange(len(cands), device=cands.device)
                target = column[targets]
            main = self.objective(logits, target, batch.get("valid"), batch.get("log_q"))
            if new_items:
                # The same targets against every candidate scored as a brand-new item (id row
                # 0, content only): the content path learns to rank on its own, so items never
                # seen in training are scored well, without dropping ids from the main loss.
                extra = self.objective(self.scorer.matrix(user_vecs, as_new[lookup[cands]]),
                                       target, batch.get("valid"), batch.get("log_q"))
                main = main + self.new_item_weight * extra
        else:
            main = self.objective(self.scorer.pairs(user_vecs, table[targets]),
                                  self.scorer.pairs(user_vecs.unsqueeze(1), table[batch["neg"]]))
        out = {"main": main, "loss": main}
        if self.contrastive is not None:
            # Aligned over the batch's distinct targets (and sampled items): all candidates
            # would make the [n, n] logits catalogue-sized.
            items = own
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
