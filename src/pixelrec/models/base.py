"""The one interface every recommender implements; evaluation and serving see only this.

Conventions (scikit-learn style): the constructor stores parameters, `fit` learns state whose
names end in `_` and returns self.

Scores are over `item_ids_`, the catalogue given to `fit` (train items are always included).

* Unknown users (absent from train) get `_score_unknown`: train popularity unless a model
  overrides it (the random model stays random).
* Items without train interactions ("cold items") cannot be scored from collaborative signal:
  unless a model sets `scores_cold_items = True` (content models, random) they get `-inf`, i.e.
  they rank after every item with train interactions.

A subclass implements `_fit(matrix)` and either `_score_users(rows)` (dense scores) or the
vector pair `_user_vectors(rows)` / `_item_vectors()`, whose dot product is the score; the
vector path lets full-ranking evaluation run as one matmul into a preallocated buffer.
"""

from __future__ import annotations

import os
import pickle
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from pixelrec.config.tuning import Distribution
from pixelrec.errors import DataError, PixelRecError


def interaction_matrix(frame: pd.DataFrame, users: pd.Index, items: pd.Index) -> sp.csr_matrix:
    """Binary user x item CSR matrix of `frame`; rows whose user or item is not indexed are dropped."""
    rows = users.get_indexer(frame["user_id"])
    cols = items.get_indexer(frame["item_id"])
    keep = (rows >= 0) & (cols >= 0)
    data = np.ones(int(keep.sum()), dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows[keep], cols[keep])), shape=(len(users), len(items)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def catalogue_index(train: pd.DataFrame, items: Sequence[str] | None) -> pd.Index:
    """The item axis: `items` in the given order, then train items missing from it (sorted)."""
    base = pd.Index(pd.unique(np.asarray(items, dtype=object).astype(str))) if items is not None \
        else pd.Index([], dtype=object)
    extra = pd.Index(train["item_id"].unique()).difference(base).sort_values()
    return base.append(extra) if len(extra) else base


class Recommender(ABC):
    """Base class: `fit(train)`, `score(user_ids)`, `recommend(user_ids, k)`, `save`/`load`."""

    name: ClassVar[str] = "recommender"
    scores_cold_items: ClassVar[bool] = False
    # What `pixelrec tune` searches by default: dotted config keys that `from_config` reads ->
    # distributions (`pixelrec.config.tuning`); empty: nothing to tune. `tuning.spaces.<name>`
    # in the config replaces it.
    search_space: ClassVar[dict[str, Distribution]] = {}

    @classmethod
    def from_config(cls, config, **inputs) -> Recommender:
        """An unfitted instance with hyper-parameters from `config` (what `create_recommender`
        calls); `inputs` are optional shared inputs (`checkpoint`, `features`,
        `item_embeddings` + `item_ids`) that a model uses or ignores."""
        return cls()

    # ---- fitting -------------------------------------------------------------------------
    def fit(self, train: pd.DataFrame, items: Sequence[str] | None = None,
            val: pd.DataFrame | None = None) -> Recommender:
        """Learn from `train` (columns user_id, item_id[, timestamp]); `items` is the catalogue
        to score; `val` (held-out interactions of the same users) is for models that select
        or stop on validation (the multimodal model, the ensemble's weights; others ignore
        it)."""
        missing = {"user_id", "item_id"} - set(train.columns)
        if missing:
            raise DataError(f"training interactions lack column(s) {sorted(missing)}; "
                            f"expected user_id and item_id.")
        if train.empty:
            raise DataError("training interactions are empty; nothing to fit.")
        train = train.astype({"user_id": str, "item_id": str})
        self.user_index_ = pd.Index(np.sort(train["user_id"].unique()))
        self.item_index_ = catalogue_index(train, items)
        self.item_ids_ = self.item_index_.to_numpy(dtype=object)
        self.train_matrix_ = interaction_matrix(train, self.user_index_, self.item_index_)
        self.item_popularity_ = np.asarray(self.train_matrix_.sum(axis=0)).ravel().astype(np.float32)
        self.cold_items_ = np.flatnonzero(self.item_popularity_ == 0)
        self._fit(self.train_matrix_)
        return self

    def fold_in(self, interactions: pd.DataFrame, items: Sequence[str] | None = None
                ) -> Recommender:
        """Make `interactions` (the fit's train plus more, e.g. train + val before testing) the
        known history, keeping whatever was selected on val. Default: fit again on them (the
        fit of a closed-form or neighbourhood model is its history); a trained model rebinds
        its weights to the new histories instead of training again."""
        self._check_fitted()
        return self.fit(interactions, items=self.item_ids_ if items is None else items)

    @abstractmethod
    def _fit(self, matrix: sp.csr_matrix) -> None:
        """Learn from the binary user x item matrix."""

    # ---- scoring -------------------------------------------------------------------------
    def _score_users(self, rows: np.ndarray) -> np.ndarray | torch.Tensor:
        """Dense scores of known users (row indices); default: the vector dot product."""
        return torch.as_tensor(self._user_vectors(rows)) @ self._item_tensor().T

    def _user_vectors(self, rows: np.ndarray) -> np.ndarray | torch.Tensor:
        raise NotImplementedError

    def _item_vectors(self) -> np.ndarray | torch.Tensor:
        raise NotImplementedError

    def _score_unknown(self, n: int) -> torch.Tensor:
        """Scores for `n` users absent from train: train popularity."""
        return torch.from_numpy(self.item_popularity_).expand(n, -1)

    @property
    def has_vectors(self) -> bool:
        return type(self)._user_vectors is not Recommender._user_vectors

    def _item_tensor(self) -> torch.Tensor:
        return torch.as_tensor(self._item_vectors(), dtype=torch.float32)

    def user_vectors(self, user_ids: Sequence[str]) -> np.ndarray:
        """Vectors of known users (vector models only); unknown users raise."""
        rows = self.user_rows(user_ids)
        if (rows < 0).any():
            raise PixelRecError(f"{self.name}: user(s) not seen in training, e.g. "
                                f"{np.asarray(user_ids)[rows < 0][0]!r}; they have no vector.")
        return np.asarray(self._user_vectors(rows), dtype=np.float32)

    def item_vectors(self) -> np.ndarray:
        return np.asarray(self._item_vectors(), dtype=np.float32)

    def user_rows(self, user_ids: Sequence[str]) -> np.ndarray:
        """Row index of each user in the training matrix, -1 for unknown users."""
        self._check_fitted()
        ids = np.asarray(user_ids, dtype=object).astype(str)
        return self.user_index_.get_indexer(ids).astype(np.int64)

    def score_rows(self, rows: np.ndarray, out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores (len(rows), n_items) as float32; written into `out[:len(rows)]` when given."""
        self._check_fitted()
        rows = np.asarray(rows, dtype=np.int64)
        n, n_items = len(rows), len(self.item_ids_)
        scores = out[:n] if out is not None else torch.empty((n, n_items), dtype=torch.float32)
        known = rows >= 0
        if known.all() and self.has_vectors:
            user = torch.as_tensor(self._user_vectors(rows), dtype=torch.float32)
            torch.matmul(user, self._item_tensor().T, out=scores)
        else:
            if known.any():
                block = torch.as_tensor(self._score_users(rows[known]), dtype=torch.float32)
                scores[torch.from_numpy(known)] = block
            if not known.all():
                scores[torch.from_numpy(~known)] = self._score_unknown(int((~known).sum()))
        if not self.scores_cold_items and len(self.cold_items_):
            scores.index_fill_(1, torch.from_numpy(self.cold_items_), -torch.inf)
        return scores

    def score(self, user_ids: Sequence[str]) -> np.ndarray:
        """Scores (n_users, n_items) over `item_ids_`; higher is better."""
        return self.score_rows(self.user_rows(user_ids)).numpy()

    def recommend(self, user_ids: Sequence[str], k: int = 10,
                  exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` item ids and their scores per user, best first; train items masked."""
        rows = self.user_rows(user_ids)
        scores = self.score_rows(rows)
        if exclude_seen:
            known = np.flatnonzero(rows >= 0)
            seen = self.train_matrix_[rows[known]].tocoo()
            scores[torch.from_numpy(known[seen.row]), torch.from_numpy(seen.col.astype(np.int64))] \
                = -torch.inf
        k = min(k, scores.shape[1])
        top = torch.topk(scores, k, dim=1)
        return self.item_ids_[top.indices.numpy()], top.values.numpy()

    def fit_summary(self) -> dict:
        """What fitting chose or used, for result files (e.g. a checkpoint, tuned weights)."""
        return {}

    # ---- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        from pixelrec.io import write_bytes_atomic

        write_bytes_atomic(path, pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recommender:
        path = Path(path)
        if not path.exists():
            raise PixelRecError(f"saved recommender not found: {path}.")
        with path.open("rb") as fh:
            model = pickle.load(fh)  # noqa: S301 - files this package wrote
        if not isinstance(model, cls):
            raise PixelRecError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}.")
        return model

    def _check_fitted(self) -> None:
        if not hasattr(self, "train_matrix_"):
            raise PixelRecError(f"{self.name} is not fitted; call fit(train) first.")
