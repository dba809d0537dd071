"""Full-ranking retrieval: score every item for a chunk of users, mask seen items in place,
take `torch.topk`, and compare the top lists with the relevant items. No per-user loops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pixelrec.evaluation.metrics import topk_metrics
from pixelrec.evaluation.targets import Targets
from pixelrec.models.base import Recommender


@dataclass
class RankedLists:
    """Per-user metric arrays plus each user's top list (item columns, -1 where not ranked)."""

    user_ids: np.ndarray
    metrics: dict[str, np.ndarray]
    top_items: np.ndarray


def top_lists(recommender: Recommender, targets: Targets, width: int, chunk_size: int,
              candidates: np.ndarray | None = None) -> np.ndarray:
    """Top-`width` item columns per evaluated user, seen (and non-candidate) items excluded.

    Items scored `-inf` (masked, or cold for a collaborative model) are never recommended:
    their slots hold -1. Memory is one (chunk_size x n_items) float32 buffer.
    """
    n_users, n_items = len(targets.rows), len(recommender.item_ids_)
    width = min(width, n_items)
    buffer = torch.empty((min(chunk_size, max(n_users, 1)), n_items), dtype=torch.float32)
    excluded = None if candidates is None else torch.from_numpy(np.flatnonzero(~candidates))
    top = np.empty((n_users, width), dtype=np.int64)
    for start in range(0, n_users, chunk_size):
        stop = min(start + chunk_size, n_users)
        scores = recommender.score_rows(targets.rows[start:stop], out=buffer)
        seen = targets.seen[start:stop].tocoo()
        flat = seen.row.astype(np.int64) * n_items + seen.col
        scores.view(-1).index_fill_(0, torch.from_numpy(flat), -torch.inf)  # in place
        if excluded is not None:
            scores.index_fill_(1, excluded, -torch.inf)
        values, indices = torch.topk(scores, width, dim=1)
        top[start:stop] = np.where(np.isneginf(values.numpy()), -1, indices.numpy())
    return top


def hit_matrix(targets: Targets, top: np.ndarray) -> np.ndarray:
    """hits[u, r] = item top[u, r] is relevant for user u (binary search over sorted pair keys)."""
    n_items = targets.relevant.shape[1]
    rel = targets.relevant
    user_of_pair = np.repeat(np.arange(rel.shape[0], dtype=np.int64), np.diff(rel.indptr))
    keys = np.sort(user_of_pair * n_items + rel.indices.astype(np.int64))
    query = np.arange(top.shape[0], dtype=np.int64)[:, None] * n_items + top
    pos = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
    return (top >= 0) & (keys[pos] == query) if len(keys) else np.zeros(top.shape, dtype=bool)


def evaluate_retrieval(recommender: Recommender, targets: Targets, k_values: list[int],
                       chunk_size: int = 1024, list_length: int = 0,
                       candidates: np.ndarray | None = None) -> RankedLists:
    """Full-ranking top-k metrics per user; lists are max(k_values, list_length) long."""
    top = top_lists(recommender, targets, max(max(k_values), list_length), chunk_size, candidates)
    metrics = topk_metrics(hit_matrix(targets, top), targets.n_relevant, k_values)
    return RankedLists(targets.user_ids, metrics, top)
