"""Candidate-set evaluation: each user's relevant items plus sampled negatives.

Used by sampled retrieval (top-k metrics over the candidates; biased, see Krichene & Rendle,
KDD 2020) and by the `ranking` task (AUC, GAUC, NDCG, MRR over the candidates).
Negatives exclude every positive of the user (train, val and test) and are reproducible under
the seed: numpy generators seeded with (seed, block), never Python's salted `hash`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from pixelrec.evaluation.metrics import (
    candidate_ranking_metrics,
    global_auc,
    topk_metrics,
    user_auc,
)
from pixelrec.evaluation.targets import Targets
from pixelrec.models.base import Recommender

SAMPLED_WARNING = ("sampled metrics are biased estimates of full-ranking metrics and can even "
                   "order models differently (Krichene & Rendle, KDD 2020); report full ranking.")
_BLOCK = 128  # users per sampling block; fixed so samples do not depend on chunk_size


def sample_negatives(positives: sp.csr_matrix, n: int, weights: np.ndarray | None,
                     seed: int) -> np.ndarray:
    """`n` distinct negatives per row, never a positive; -1 pads rows with too few items.

    Without replacement, uniform or with probability proportional to `weights` (Gumbel top-k).
    """
    n_users, n_items = positives.shape
    log_w = None if weights is None else np.log(np.asarray(weights, dtype=np.float64))
    n = min(n, n_items)
    out = np.empty((n_users, n), dtype=np.int64)
    for block, start in enumerate(range(0, n_users, _BLOCK)):
        stop = min(start + _BLOCK, n_users)
        rng = np.random.default_rng([seed, block])
        keys = rng.random((stop - start, n_items))
        if log_w is not None:
            keys = log_w - np.log(-np.log(keys))
        pos = positives[start:stop].tocoo()
        keys[pos.row, pos.col] = -np.inf
        pick = np.argpartition(-keys, n - 1, axis=1)[:, :n] if n < n_items else \
            np.broadcast_to(np.arange(n_items), (stop - start, n_items)).copy()
        pick[np.take_along_axis(keys, pick, axis=1) == -np.inf] = -1
        out[start:stop] = pick
    return out


@dataclass
class Candidates:
    """Padded candidate columns per user, which are positives, and which are real entries."""

    items: np.ndarray
    labels: np.ndarray
    valid: np.ndarray


def build_candidates(targets: Targets, negatives: np.ndarray, seed: int) -> Candidates:
    """Relevant items + negatives, shuffled per user so tied scores break at random."""
    rel = targets.relevant
    n_users = rel.shape[0]
    width = int(targets.n_relevant.max(initial=0))
    slot = np.arange(rel.nnz) - np.repeat(rel.indptr[:-1], np.diff(rel.indptr))
    pos = np.full((n_users, width), -1, dtype=np.int64)
    pos[np.repeat(np.arange(n_users), np.diff(rel.indptr)), slot] = rel.indices
    items = np.concatenate([pos, negatives], axis=1)
    labels = np.concatenate([pos >= 0, np.zeros(negatives.shape, dtype=bool)], axis=1)
    order = np.argsort(np.random.default_rng([seed, 1]).random(items.shape), axis=1)
    items = np.take_along_axis(items, order, axis=1)
    labels = np.take_along_axis(labels, order, axis=1)
    return Candidates(items, labels, items >= 0)


def candidate_scores(recommender: Recommender, targets: Targets, cands: Candidates,
                     chunk_size: int) -> np.ndarray:
    """Model scores of every candidate (NaN for padding), scored a chunk of users at a time."""
    n_items = len(recommender.item_ids_)
    out = np.full(cands.items.shape, np.nan, dtype=np.float32)
    buffer = torch.empty((min(chunk_size, max(len(targets.rows), 1)), n_items))
    for start in range(0, len(targets.rows), chunk_size):
        stop = min(start + chunk_size, len(targets.rows))
        scores = recommender.score_rows(targets.rows[start:stop], out=buffer)
        idx = torch.from_numpy(np.maximum(cands.items[start:stop], 0))
        out[start:stop] = torch.gather(scores, 1, idx).numpy()
    out[~cands.valid] = np.nan
    return out


def rank_order(scores: np.ndarray, cands: Candidates) -> np.ndarray:
    """Column order per user: real candidates by descending score, then padding; stable, so
    ties keep the shuffled order of `build_candidates`."""
    key = np.where(cands.valid, -np.nan_to_num(scores, nan=0.0), 0.0)
    return np.lexsort((key, ~cands.valid), axis=1)


def sampled_topk(scores: np.ndarray, cands: Candidates, n_relevant: np.ndarray,
                 k_values: list[int]) -> dict[str, np.ndarray]:
    """Top-k metrics over the candidate set; `-inf` candidates are never recommended."""
    order = rank_order(scores, cands)
    hits = np.take_along_axis(cands.labels & cands.valid & (scores > -np.inf), order, axis=1)
    return topk_metrics(hits, n_relevant, k_values)


def ranking_task(scores: np.ndarray, cands: Candidates,
                 block: int = 1024) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """(aggregate metrics, per-user arrays): AUC pooled over users, GAUC = per-user AUC
    weighted by candidate count, full-list NDCG and MRR."""
    valid, labels = cands.valid, cands.labels
    pos, neg = labels & valid, ~labels & valid
    pos_scores, neg_scores = np.where(pos, scores, np.nan), np.where(neg, scores, np.nan)
    auc_u = np.concatenate([
        user_auc(pos_scores[s:s + block], pos[s:s + block], neg_scores[s:s + block],
                 neg[s:s + block]) for s in range(0, len(scores), block)])
    order = rank_order(scores, cands)
    ranked = candidate_ranking_metrics(np.take_along_axis(pos, order, axis=1),
                                       np.take_along_axis(valid, order, axis=1))
    weight = np.where(np.isnan(auc_u), 0.0, valid.sum(axis=1).astype(np.float64))
    per_user = {"gauc": np.nan_to_num(auc_u), "gauc_weight": weight, **ranked}
    aggregate = {
        "auc": global_auc(scores[valid], labels[valid]),
        "gauc": float((per_user["gauc"] * weight).sum() / max(weight.sum(), 1e-12)),
        "ndcg": float(np.nanmean(ranked["ndcg"])),
        "mrr": float(np.nanmean(ranked["mrr"])),
    }
    return aggregate, per_user
