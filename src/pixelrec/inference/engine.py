"""`RecommendationEngine`: top-K lists for known, unknown and history-only users, similar items,
and new items, over any fitted `Recommender` (shared by `pixelrec recommend` and the HTTP API).

Known users are scored by the model in batches (one matmul per chunk for vector models), unknown
users by train popularity (marked `fallback: "popularity"`). Every interaction the framework
knows for a user is masked. Items added after training (content models only) are appended
as extra columns scored from their item-tower vectors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from pixelrec.errors import DataError, PixelRecError
from pixelrec.models.base import Recommender, interaction_matrix

if TYPE_CHECKING:
    from pixelrec.inference.added import AddedItemStore
    from pixelrec.inference.ann import AnnIndex
    from pixelrec.inference.content import ContentModel, Embedder

POPULARITY = "popularity"


class UnknownItemError(DataError):
    """Item ids that are in neither the catalogue nor the added items."""

    def __init__(self, items: list[str], where: str) -> None:
        self.items = items
        shown = ", ".join(repr(i) for i in items[:5]) + (" ..." if len(items) > 5 else "")
        super().__init__(f"unknown item id(s) in {where}: {shown}; use ids of the catalogue "
                         f"(data.processed_item_info_path) or of items added with POST /items.")


class UnsupportedError(PixelRecError):
    """The loaded recommender cannot do this (e.g. embed a new item without a content model)."""


class DuplicateItemError(DataError):
    """A new item reuses an existing item id."""


@dataclass
class Recommendations:
    """One user's list, best first; `fallback` is None or "popularity"."""

    items: list[str]
    scores: list[float]
    fallback: str | None = None

    def to_dict(self) -> dict:
        return {"recommendations": [{"item_id": i, "score": s}
                                    for i, s in zip(self.items, self.scores, strict=True)],
                "fallback": self.fallback}


@dataclass(frozen=True)
class _Catalogue:
    """Item axis = the recommender's items, then added items (replaced whole on each add)."""

    ids: np.ndarray
    columns: dict[str, int]
    added: torch.Tensor  # [n_added, d] item vectors


class RecommendationEngine:
    """Recommendations over a fitted recommender; `known` holds user_id/item_id to mask."""

    def __init__(self, recommender: Recommender, known: pd.DataFrame | None = None, *,
                 content: ContentModel | None = None, embedder: Embedder | None = None,
                 store: AddedItemStore | None = None, ann: AnnIndex | None = None,
                 chunk_size: int = 1024, exclude_seen: bool = True) -> None:
        self.model = recommender
        self.exclude_seen = exclude_seen  # False: known and history items may come back
        self.content, self.embedder, self.store, self.ann = content, embedder, store, ann
        self.chunk_size = chunk_size
        base = np.asarray(recommender.item_ids_, dtype=object)
        self.n_base = len(base)
        self.popularity = torch.from_numpy(np.asarray(recommender.item_popularity_,
                                                      dtype=np.float32))
        if known is None or not exclude_seen:
            known = pd.DataFrame({"user_id": [], "item_id": []})
        known = known.astype({"user_id": str, "item_id": str})
        self.known_users = pd.Index(np.sort(known["user_id"].unique()))
        matrix = interaction_matrix(known, self.known_users, recommender.item_index_)
        self.seen = sp.vstack([matrix, sp.csr_matrix((1, self.n_base))]).tocsr()  # last: empty
        self._seen_rows = {u: i for i, u in enumerate(self.known_users)}
        self._model_rows = {u: i for i, u in enumerate(recommender.user_index_)}
        dim = recommender.item_vectors_.shape[1] if content is not None else 0
        self._catalogue = _Catalogue(base, {str(i): c for c, i in enumerate(base)},
                                     torch.zeros((0, dim)))
        self._lock = threading.Lock()  # one add at a time
        self._ann_lock = threading.Lock()  # faiss: no search while adding
        if store is not None and content is not None:
            table, features = store.load()
            if len(table):
                self._extend(table["item_id"].tolist(), content.item_vectors(table, features))

    # ---- catalogue ---------------------------------------------------------------------------
    @property
    def item_ids(self) -> np.ndarray:
        return self._catalogue.ids

    @property
    def n_added(self) -> int:
        return len(self._catalogue.added)

    def columns(self, item_ids, where: str) -> np.ndarray:
        cat = self._catalogue
        cols = [cat.columns.get(str(i), -1) for i in item_ids]
        unknown = [str(i) for i, c in zip(item_ids, cols, strict=True) if c < 0]
        if unknown:
            raise UnknownItemError(unknown, where)
        return np.asarray(cols, dtype=np.int64)

    def _extend(self, item_ids: list[str], vectors: torch.Tensor) -> None:
        cat = self._catalogue
        ids = np.concatenate([cat.ids, np.asarray(item_ids, dtype=object)])
        columns = {**cat.columns, **{str(i): len(cat.ids) + k for k, i in enumerate(item_ids)}}
        if self.ann is not None:
            with self._ann_lock:
                self.ann.add(vectors.numpy(), np.arange(len(cat.ids), len(ids)))
        self._catalogue = _Catalogue(ids, columns, torch.cat([cat.added, vectors]))

    def _item_vectors(self, cat: _Catalogue) -> torch.Tensor | None:
        """Item vectors of the whole axis, or None for models without item vectors."""
        if self.content is not None:
            return torch.cat([self.model.item_vectors_, cat.added])
        if self.model.has_vectors:
            return torch.as_tensor(self.model.item_vectors(), dtype=torch.float32)
        return None

    def _pair_scores(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        scorer = getattr(self.model, "scorer_", None)
        return users @ items.T if scorer is None else scorer.matrix(users, items)

    # ---- recommendations ---------------------------------------------------------------------
    @torch.no_grad()
    def recommend(self, user_ids, k: int = 10) -> list[Recommendations]:
        """Top-`k` per user; unknown users get train popularity (`fallback="popularity"`)."""
        users = [str(u) for u in user_ids]
        rows = np.fromiter((self._model_rows.get(u, -1) for u in users), np.int64, len(users))
        empty = self.seen.shape[0] - 1
        seen_rows = np.fromiter((self._seen_rows.get(u, empty) for u in users), np.int64,
                                len(users))
        cat = self._catalogue
        out: list[Recommendations] = []
        for start in range(0, len(users), self.chunk_size):
            part = rows[start:start + self.chunk_size]
            seen = self._seen_pairs(seen_rows[start:start + self.chunk_size])
            if self.ann is not None and (part >= 0).all():
                vectors = self.model.user_vectors(users[start:start + self.chunk_size])
                with self._ann_lock:
                    values, cols = self.ann.search(vectors, k, *seen)
            else:
                scores = self._scores(part, seen, cat)
                values, cols = torch.topk(scores, min(k, scores.shape[1]), dim=1)
                values, cols = values.numpy(), cols.numpy()
            out += [self._lists(cat, v, c, None if r >= 0 else POPULARITY)
                    for r, v, c in zip(part, values, cols, strict=True)]
        return out

    def _seen_pairs(self, seen_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in the chunk, item column) of every masked pair of these users."""
        indptr = self.seen.indptr
        starts = indptr[seen_rows]
        lengths = indptr[seen_rows + 1] - starts
        positions = np.repeat(np.arange(len(seen_rows)), lengths)
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return positions, self.seen.indices[np.repeat(starts, lengths) + offsets].astype(np.int64)

    def _scores(self, rows: np.ndarray, seen: tuple[np.ndarray, np.ndarray],
                cat: _Catalogue) -> torch.Tensor:
        known = rows >= 0
        if known.all():
            scores = self.model.score_rows(rows)
        else:
            scores = self.popularity.expand(len(rows), -1).clone()
            if known.any():
                scores[torch.from_numpy(known)] = self.model.score_rows(rows[known])
        flat = seen[0] * self.n_base + seen[1]
        scores.view(-1).index_fill_(0, torch.from_numpy(flat), -torch.inf)
        if len(cat.added):
            extra = torch.zeros((len(rows), len(cat.added)))  # popularity of a new item: 0
            if known.any():
                users = self.model.user_vectors_[torch.as_tensor(rows[known])]
                extra[torch.from_numpy(known)] = self._pair_scores(users, cat.added)
            scores = torch.cat([scores, extra], dim=1)
        return scores

    @staticmethod
    def _lists(cat: _Catalogue, values: np.ndarray, cols: np.ndarray,
               fallback: str | None) -> Recommendations:
        keep = np.isfinite(values)
        return Recommendations([str(i) for i in cat.ids[cols[keep]]],
                               [round(float(v), 6) for v in values[keep]], fallback)

    @torch.no_grad()
    def recommend_for_history(self, history, k: int = 10) -> Recommendations:
        """Top-`k` for a user the model never saw, known by `history` (item ids, oldest first).

        A content model with a history-pooling user tower scores from the pooled history;
        other models answer with train popularity (`fallback="popularity"`). History items
        are not recommended back unless `exclude_seen` is off (`evaluation.repeats_are_hits`).
        """
        cat = self._catalogue
        cols = self.columns(history, "the posted history")
        vectors = self._item_vectors(cat) if self.content is not None else None
        if vectors is not None and self.content.uses_history and len(cols):
            scores = self._pair_scores(self.content.history_vector(vectors[cols]), vectors)[0]
            fallback = None
        else:
            scores = torch.cat([self.popularity, torch.zeros(len(cat.added))])
            fallback = POPULARITY
        if self.exclude_seen:
            scores[torch.from_numpy(cols)] = -torch.inf
        values, top = torch.topk(scores, min(k, len(scores)))
        return self._lists(cat, values.numpy(), top.numpy(), fallback)

    @torch.no_grad()
    def similar_items(self, item_id: str, k: int = 10) -> Recommendations:
        """Top-`k` items by cosine of item vectors (co-occurrence cosine for models without)."""
        cat = self._catalogue
        col = int(self.columns([item_id], "the path")[0])
        vectors = self._item_vectors(cat)
        if vectors is not None:
            unit = torch.nn.functional.normalize(vectors, dim=1)
            scores = unit @ unit[col]
            if not self.model.scores_cold_items and len(self.model.cold_items_):
                scores[torch.from_numpy(self.model.cold_items_)] = -torch.inf
        else:
            matrix = self.model.train_matrix_.tocsc()
            co = np.asarray((matrix.T @ matrix[:, col]).todense()).ravel()
            pop = np.asarray(self.model.item_popularity_, dtype=np.float64)
            denom = np.sqrt(pop * pop[col])
            scores = torch.from_numpy(np.divide(co, denom, out=np.zeros_like(co, dtype=float),
                                                where=denom > 0).astype(np.float32))
        scores[col] = -torch.inf
        values, top = torch.topk(scores, min(k, len(scores)))
        return self._lists(cat, values.numpy(), top.numpy(), None)

    # ---- new items ---------------------------------------------------------------------------
    def add_item(self, item_id: str, fields: dict, image: bytes | None = None,
                 image_suffix: str = ".jpg") -> dict:
        """Embed a new item (image and/or text, numeric fields, tags), make it recommendable
        now and persist it; `fields` holds title/tag/description and numeric columns."""
        if self.content is None or self.embedder is None:
            raise UnsupportedError(f"the {self.model.name} recommender cannot score an item from "
                                   f"its content; serve a multimodal checkpoint to add items.")
        item_id = str(item_id).strip()
        if not item_id:
            raise DataError("item_id must not be empty.")
        with self._lock:
            if item_id in self._catalogue.columns:
                raise DuplicateItemError(f"item {item_id!r} already exists; choose a new item_id.")
            unknown = sorted(set(fields) - {"title", "tag", "description",
                                            *self.content.numeric_cols})
            if unknown:
                raise DataError(f"unknown field(s) {unknown}; a new item takes title, tag, "
                                f"description and the numeric columns "
                                f"{self.content.numeric_cols}.")
            row, text = self.content.prepare(fields)
            if image is None and not text:
                raise DataError("a new item needs an image or some text (title, tag or "
                                "description) to be embedded from.")
            features = self.embedder(image, text)
            table = pd.DataFrame([{"item_id": item_id, **row}])
            vector = self.content.item_vectors(table, features)
            if self.store is not None:
                self.store.append({"item_id": item_id, **row}, features, image, image_suffix)
            self._extend([item_id], vector)
        return {"item_id": item_id, "modalities": {m: bool(ok[0]) for m, (_, ok)
                                                   in features.items()},
                "n_items": len(self._catalogue.ids)}
