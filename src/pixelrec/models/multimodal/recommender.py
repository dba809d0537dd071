"""`MultimodalRecommender`: the multimodal two-tower model behind the `Recommender` interface.

`fit(train, items, val)` trains it like every other recommender fits (reading the config and the
feature cache; early stopping on `val`, by default the config's val split), unless it was built
with trained weights: `checkpoint=` (`best`, `last` or a path, e.g. what `pixelrec train`
wrote) or a network (`from_network`, what the trainer validates with), in which case `fit`
binds those weights to the catalogue and the users' train histories without training.
Cold items are scored from content alone. Users absent from train get train popularity through
`score`, as for every recommender; a new user with an item history is scored from it by
`score_histories` / `recommend_histories`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from pixelrec.config.tuning import Categorical, FloatRange, IntRange
from pixelrec.errors import DataError, PixelRecError
from pixelrec.models.base import Recommender
from pixelrec.models.multimodal.network import MultimodalNetwork, history_matrix
from pixelrec.models.registry import register_recommender


@register_recommender("multimodal", kind="content")
class MultimodalRecommender(Recommender):
    name = "multimodal"
    scores_cold_items = True
    search_space = {"training.learning_rate": FloatRange(1e-3, 3e-3, log=True),
                    "model.embedding_dim": Categorical((64, 128)),
                    "model.id_dropout": FloatRange(0.0, 0.3),
                    "model.history_dropout": FloatRange(0.2, 0.5),
                    "model.history_length": IntRange(50, 100)}

    def __init__(self, config=None, checkpoint: str | Path | None = None, features=None,
                 chunk_size: int = 1024) -> None:
        """`config`: the full config (model, training, data paths); `checkpoint`: trained
        weights to bind instead of training; `features` replace the feature cache's vectors
        ({modality: (vectors, mask)} aligned with the processed item table)."""
        self.config = config
        self.checkpoint = checkpoint
        self.features = features
        self.chunk_size = chunk_size

    @classmethod
    def from_config(cls, config, checkpoint=None, features=None, **inputs
                    ) -> MultimodalRecommender:
        """`checkpoint`: see `resolve_checkpoint` (`auto`: what `pixelrec train` wrote, if
        anything; none: train in `fit`)."""
        from pixelrec.models.multimodal.loading import resolve_checkpoint

        return cls(config, resolve_checkpoint(config, checkpoint), features)

    @classmethod
    def from_network(cls, network: MultimodalNetwork, item_ids: list[str], user_ids: list[str],
                     chunk_size: int = 1024) -> MultimodalRecommender:
        """Wrap a network (trained or in training): `fit` then only binds it."""
        out = cls(chunk_size=chunk_size)
        out._bind_network(network, item_ids, user_ids)
        return out

    def _bind_network(self, network: MultimodalNetwork, item_ids: list[str],
                      user_ids: list[str]) -> None:
        self.network = network
        self.item_ids = list(item_ids)  # the network's content order
        self.user_ids = list(user_ids)  # the network's user-id embedding rows (1-based)

    def fit_summary(self) -> dict:
        out = {}
        if "checkpoint_path_" in vars(self):
            out = {"checkpoint": self.checkpoint_path_, **self.training_state_}
        if "training_summary_" in vars(self):
            summary = self.training_summary_
            out["trained"] = {k: summary[k] for k in ("best_epoch", "best_value", "epochs",
                                                      "seconds", "validation_metric")}
        return out

    @property
    def has_vectors(self) -> bool:
        return self.network.scorer.kind == "dot"

    def fit(self, train: pd.DataFrame, items=None, val: pd.DataFrame | None = None
            ) -> MultimodalRecommender:
        """Train (or, with trained weights, bind) on `train`; histories are ordered by
        `timestamp` when the column exists, else by row order. `items` defaults to the
        catalogue the network was built on."""
        if "network" not in vars(self):
            self._obtain_network(train, items, val)
        self._train = train
        try:
            return super().fit(train, self.item_ids if items is None else items)
        finally:
            del self._train

    def _obtain_network(self, train: pd.DataFrame, items, val: pd.DataFrame | None) -> None:
        from pixelrec.models.multimodal.loading import load_network

        if self.config is None:
            raise PixelRecError("MultimodalRecommender needs a config to train (or "
                                "from_network(...) to wrap a trained network).")
        checkpoint = self.checkpoint
        if checkpoint is None:
            from pixelrec.training import train_model

            self.training_summary_ = train_model(self.config, train=train, val=val,
                                                 features=self.features)
            checkpoint = "best"
        network, state = load_network(self.config, checkpoint, self.features)
        self.checkpoint_path_ = str(state["path"])
        self.training_state_ = {"epoch": state["epoch"], "best": state["best"],
                                "training_complete": state["training_complete"]}
        self._bind_network(network, state["item_ids"], state["user_ids"])

    def _fit(self, matrix: sp.csr_matrix) -> None:
        content_rows = pd.Index(self.item_ids).get_indexer(self.item_ids_)
        if (content_rows < 0).any():
            raise DataError(f"{int((content_rows < 0).sum())} catalogue items have no content "
                            f"in the model (e.g. {self.item_ids_[content_rows < 0][0]!r}); "
                            f"rebuild the model with this catalogue.")
        self.content_rows_ = content_rows
        self.user_rows_ = pd.Index(self.user_ids).get_indexer(self.user_index_) + 1
        train = self._train
        users = self.user_index_.get_indexer(train["user_id"].astype(str)) + 1
        items = self.item_index_.get_indexer(train["item_id"].astype(str))
        order = train["timestamp"].to_numpy() if "timestamp" in train.columns \
            else np.arange(len(train))
        self.history_ = history_matrix(users.astype(np.int64), content_rows[items].astype(np.int64),
                                       np.asarray(order), matrix.shape[0],
                                       self.network.history_length)
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> None:
        """Recompute item and user vectors from the network's current weights."""
        net = self.network
        device = net.history.device
        was_training = net.training
        net.eval()
        try:
            rows = torch.as_tensor(self.content_rows_, device=device)
            items = net.item_vectors(rows)
            table = torch.zeros((net.item_tower.n_items, items.shape[1]), device=device)
            table[rows] = items
            self.item_vectors_ = items.float().cpu()
            self._content_vectors = table
            self.user_vectors_ = self._pooled(self.user_rows_, self.history_[1:])
        finally:
            del self._content_vectors
            net.train(was_training)
        self.scorer_ = None if net.scorer.net is None else copy.deepcopy(net.scorer).cpu().float()

    def _pooled(self, id_rows: np.ndarray, history: np.ndarray) -> torch.Tensor:
        """User vectors for id-embedding rows `id_rows` and their history rows (content rows)."""
        net = self.network
        device = net.history.device
        saved = net.history
        table = getattr(self, "_content_vectors", None)
        if table is None:
            table = torch.zeros((net.item_tower.n_items, self.item_vectors_.shape[1]))
            table[torch.as_tensor(self.content_rows_)] = self.item_vectors_
            table = table.to(device)
        out = []
        try:
            net.set_history(torch.as_tensor(history, device=device))
            for s in range(0, len(id_rows), self.chunk_size):
                part = torch.arange(s, min(s + self.chunk_size, len(id_rows)), device=device)
                ids = torch.as_tensor(id_rows[s:s + self.chunk_size], device=device)
                out.append(net.user_vectors(ids, table, history_rows=part))
        finally:
            net.set_history(saved)
        return torch.cat(out).float().cpu() if out else torch.zeros((0, table.shape[1]))

    @torch.no_grad()
    def score_histories(self, histories: Sequence[Sequence[str]]) -> np.ndarray:
        """Scores (n, n_items) of users known only by their item history (oldest first),
        e.g. users who arrived after training; item ids outside the catalogue are ignored."""
        self._check_fitted()
        if not self.network.uses_history:
            raise PixelRecError("this model was trained with model.user_history: none, so it "
                                "cannot score a user from a history; retrain with "
                                "transformer, mean or attention.")
        length = self.network.history_length
        matrix = np.full((len(histories), length), -1, dtype=np.int64)
        for k, items in enumerate(histories):
            rows = self.item_index_.get_indexer([str(i) for i in items])
            rows = self.content_rows_[rows[rows >= 0]][::-1][:length]
            matrix[k, :len(rows)] = rows
        was_training = self.network.training
        self.network.eval()
        try:
            users = self._pooled(np.zeros(len(histories), dtype=np.int64), matrix)
        finally:
            self.network.train(was_training)
        return self._score_vectors(users).numpy()

    def recommend_histories(self, histories: Sequence[Sequence[str]], k: int = 10,
                            exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` item ids and scores for users given by their histories (see
        `score_histories`); the history items themselves are excluded by default."""
        scores = torch.from_numpy(self.score_histories(histories))
        if exclude_seen:
            for row, items in enumerate(histories):
                cols = self.item_index_.get_indexer([str(i) for i in items])
                scores[row, torch.as_tensor(cols[cols >= 0], dtype=torch.long)] = -torch.inf
        top = torch.topk(scores, min(k, scores.shape[1]), dim=1)
        return self.item_ids_[top.indices.numpy()], top.values.numpy()

    def _user_vectors(self, rows: np.ndarray) -> torch.Tensor:
        return self.user_vectors_[torch.as_tensor(rows, dtype=torch.long)]

    def _item_vectors(self) -> torch.Tensor:
        return self.item_vectors_

    def _score_users(self, rows: np.ndarray) -> torch.Tensor:
        return self._score_vectors(self._user_vectors(rows))

    @torch.no_grad()
    def _score_vectors(self, users: torch.Tensor) -> torch.Tensor:
        if self.scorer_ is None:
            return users @ self.item_vectors_.T
        blocks = [self.scorer_.matrix(users[s:s + 64], self.item_vectors_)
                  for s in range(0, len(users), 64)]
        return torch.cat(blocks) if blocks else torch.zeros((0, len(self.item_vectors_)))
