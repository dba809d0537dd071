"""Per-user accuracy metrics, vectorised over users.

Top-k metrics take a hit matrix `hits` (n_users, K): `hits[u, r]` is True when the item at rank
r+1 of user u's list is relevant, and `n_relevant` (n_users,), the size of each relevant set.
Definitions (binary relevance):
  precision@k = hits in top k / k             recall@k = hits in top k / |relevant|
  f1@k = 2PR / (P + R), 0 when P = R = 0      hit_rate@k = 1 if any hit in top k
  ndcg@k = sum_r hit_r / log2(r + 1) over the top k, divided by the same sum for an ideal list
           of min(|relevant|, k) hits
  mrr@k = 1 / rank of the first hit within the top k, else 0
  map@k = sum_r precision@r x hit_r over the top k / min(|relevant|, k)
"""

from __future__ import annotations

import numpy as np

TOPK_METRICS = ("precision", "recall", "f1", "hit_rate", "ndcg", "mrr", "map")


def metric_keys(k_values: list[int]) -> list[str]:
    return [f"{name}@{k}" for k in k_values for name in TOPK_METRICS]


def topk_metrics(hits: np.ndarray, n_relevant: np.ndarray, k_values: list[int]) -> dict[str, np.ndarray]:
    """Every metric at every k as per-user float64 arrays, keyed `<name>@<k>`."""
    hits = np.asarray(hits, dtype=bool)
    n_rel = np.asarray(n_relevant, dtype=np.float64)
    if np.any(n_rel <= 0):
        raise ValueError("every evaluated user needs at least one relevant item")
    width = max(k_values)
    if hits.shape[1] < width:  # catalogue shorter than k: the missing ranks are misses
        hits = np.pad(hits, ((0, 0), (0, width - hits.shape[1])))
    hits = hits[:, :width]
    gain = hits.astype(np.float64)
    ranks = np.arange(1, width + 1, dtype=np.float64)
    discount = 1.0 / np.log2(ranks + 1.0)
    cum_hits = np.cumsum(gain, axis=1)
    cum_dcg = np.cumsum(gain * discount, axis=1)
    cum_ideal = np.cumsum(discount)
    cum_ap = np.cumsum(gain * cum_hits / ranks, axis=1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    out: dict[str, np.ndarray] = {}
    for k in k_values:
        n_hit = cum_hits[:, k - 1]
        precision = n_hit / k
        recall = n_hit / n_rel
        denom = precision + recall
        ideal_len = np.minimum(n_rel, k).astype(np.int64)
        out[f"precision@{k}"] = precision
        out[f"recall@{k}"] = recall
        out[f"f1@{k}"] = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom),
                                   where=denom > 0)
        out[f"hit_rate@{k}"] = (n_hit > 0).astype(np.float64)
        out[f"ndcg@{k}"] = cum_dcg[:, k - 1] / cum_ideal[ideal_len - 1]
        out[f"mrr@{k}"] = np.where((first > 0) & (first <= k), 1.0 / np.maximum(first, 1), 0.0)
        out[f"map@{k}"] = cum_ap[:, k - 1] / ideal_len
    return {key: out[key] for key in metric_keys(k_values)}


def user_auc(pos_scores: np.ndarray, pos_mask: np.ndarray, neg_scores: np.ndarray,
             neg_mask: np.ndarray) -> np.ndarray:
    """Per-user AUC: share of (positive, negative) pairs ordered correctly, ties count 1/2.

    Rows are users; masks mark real entries in the padded score matrices. Users lacking
    positives or negatives get NaN.
    """
    greater = pos_scores[:, :, None] > neg_scores[:, None, :]
    equal = pos_scores[:, :, None] == neg_scores[:, None, :]
    pair = pos_mask[:, :, None] & neg_mask[:, None, :]
    wins = (greater & pair).sum(axis=(1, 2)) + 0.5 * (equal & pair).sum(axis=(1, 2))
    n_pairs = pair.sum(axis=(1, 2))
    return np.divide(wins, n_pairs, out=np.full(len(wins), np.nan), where=n_pairs > 0)


def global_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUC over all (user, candidate) scores pooled (Mann-Whitney U with average tie ranks)."""
    from scipy.stats import rankdata

    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def candidate_ranking_metrics(ordered_labels: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
    """Full-list NDCG and MRR from each user's candidates sorted best first.

    `ordered_labels[u, r]` is True when the candidate at rank r+1 is a positive; `valid` marks
    real candidates (padding sorts last and is never a positive).
    """
    labels = np.asarray(ordered_labels, dtype=bool) & valid
    ranks = np.arange(1, labels.shape[1] + 1, dtype=np.float64)
    discount = 1.0 / np.log2(ranks + 1.0)
    n_pos = labels.sum(axis=1)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[n_pos]
    dcg = (labels * discount).sum(axis=1)
    first = labels.argmax(axis=1) + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        ndcg = np.where(n_pos > 0, dcg / ideal, np.nan)
    mrr = np.where(n_pos > 0, 1.0 / first, np.nan)
    return {"ndcg": ndcg, "mrr": mrr}
