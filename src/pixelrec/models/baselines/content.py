"""Content KNN: cosine between an item's embedding and the user's history; scores cold items."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from pixelrec.config.tuning import Categorical
from pixelrec.models.base import Recommender
from pixelrec.models.registry import register_recommender


@register_recommender("content_knn", kind="content")
class ContentKNNRecommender(Recommender):
    """score(u, i) = cos(e_i, mean of u's L2-normalised item embeddings).

    Equal, up to a per-user factor, to summing cosine similarity over every history item, so it
    ranks like item-KNN over content with all neighbours. Items without an embedding score 0.
    """

    name = "content_knn"
    scores_cold_items = True
    search_space = {"evaluation.baselines.content_knn.modalities":
                    Categorical((["image", "text"], ["image"], ["text"]))}

    def __init__(self, item_embeddings: np.ndarray | None = None,
                 item_ids: Sequence[str] | None = None, config=None,
                 modalities: Sequence[str] = ("image", "text")):
        """Embeddings given directly, or (when None) read at fit time from the feature cache
        of `config` (`modalities` side by side, each L2-normalised)."""
        self.item_embeddings = item_embeddings
        self.item_ids = item_ids
        self.config = config
        self.modalities = tuple(modalities)

    @classmethod
    def from_config(cls, config, item_embeddings=None, item_ids=None, **inputs
                    ) -> ContentKNNRecommender:
        return cls(item_embeddings, item_ids, config,
                   config.evaluation.baselines.content_knn.modalities)

    def _embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        if self.item_embeddings is not None:
            if self.item_ids is None:
                raise ValueError("item_embeddings need their item_ids")
            return self.item_embeddings, self.item_ids
        if self.config is None:
            raise ValueError("content_knn needs item_embeddings + item_ids, or a config whose "
                             "feature cache holds them")
        from pixelrec.evaluation.embeddings import load_item_embeddings

        return load_item_embeddings(self.config, self.modalities)

    def _fit(self, matrix: sp.csr_matrix) -> None:
        emb, ids = self._embeddings()
        emb = np.asarray(emb, dtype=np.float32)
        ids = np.asarray(ids, dtype=object).astype(str)
        if emb.ndim != 2 or len(emb) != len(ids):
            raise ValueError(f"item_embeddings must be (n_items, dim) with one row per item id; "
                             f"got shape {emb.shape} for {len(ids)} ids")
        where = self.item_index_.get_indexer(ids)
        vectors = np.zeros((len(self.item_ids_), emb.shape[1]), dtype=np.float32)
        vectors[where[where >= 0]] = emb[where >= 0]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.item_vectors_ = vectors / np.maximum(norms, 1e-12)
        self.items_without_embedding_ = int((norms.ravel() == 0).sum())
        profile = np.asarray(matrix @ self.item_vectors_)
        self.user_vectors_ = profile / np.maximum(np.linalg.norm(profile, axis=1, keepdims=True),
                                                  1e-12)

    def _user_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.user_vectors_[rows]

    def _item_vectors(self) -> np.ndarray:
        return self.item_vectors_
