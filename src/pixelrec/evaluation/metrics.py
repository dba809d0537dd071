"""Per-user accuracy metrics, vectorised over users.

Top-k metrics are a registry, `TOPK_METRICS` (name -> function), that evaluation iterates: every
registered metric appears at every k in every result (`<name>@<k>`). A metric function takes
`hits` (n_users, k) bool, where `hits[u, r]` is True when the item at rank r+1 of user u's list
is relevant, `n_relevant` (n_users,) float, the size of each relevant set (>= 1), and `k`; it
returns one float per user. New ones register with `@register_metric("name")`.
Definitions (binary relevance):
  precision@k = hits in top k / k             recall@k = hits in top k / |relevant|
  f1@k = 2PR / (P + R), 0 when P = R = 0      hit_rate@k = 1 if any hit in top k
  ndcg@k = sum_r hit_r / log2(r + 1) over the top k, divided by the same sum for an ideal list
           of min(|relevant|, k) hits
  mrr@k = 1 / rank of the first hit within the top k, else 0
  map@k = sum_r precision@r x hit_r over the top k / min(|relevant|, k)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pixelrec import registry

MetricFn = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
TOPK_METRICS: dict[str, MetricFn] = {}


def register_metric(name: str) -> Callable[[MetricFn], MetricFn]:
    """Register a per-user top-k metric `fn(hits, n_relevant, k) -> [n_users]` as `name`."""
    def add(fn: MetricFn) -> MetricFn:
        return registry.add(TOPK_METRICS, "metric", name, fn)
    return add


def _ranks(k: int) -> np.ndarray:
    return np.arange(1, k + 1, dtype=np.float64)


def _dcg(hits: np.ndarray) -> np.ndarray:
    return (hits / np.log2(_ranks(hits.shape[1]) + 1.0)).sum(axis=1)


@register_metric("precision")
def precision(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    return hits.sum(axis=1) / k


@register_metric("recall")
def recall(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    return hits.sum(axis=1) / n_relevant


@register_metric("f1")
def f1(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    p, r = precision(hits, n_relevant, k), recall(hits, n_relevant, k)
    denom = p + r
    return np.divide(2 * p * r, denom, out=np.zeros_like(denom), where=denom > 0)


@register_metric("hit_rate")
def hit_rate(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    return hits.any(axis=1).astype(np.float64)


@register_metric("ndcg")
def ndcg(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    ideal = np.cumsum(1.0 / np.log2(_ranks(k) + 1.0))
    return _dcg(hits) / ideal[np.minimum(n_relevant, k).astype(np.int64) - 1]


@register_metric("mrr")
def mrr(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    first = hits.argmax(axis=1) + 1.0
    return np.where(hits.any(axis=1), 1.0 / first, 0.0)


@register_metric("map")
def average_precision(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    precision_at_r = np.cumsum(hits, axis=1) / _ranks(k)
    return (precision_at_r * hits).sum(axis=1) / np.minimum(n_relevant, k)


def metric_keys(k_values: list[int]) -> list[str]:
    return [f"{name}@{k}" for k in k_values for name in TOPK_METRICS]


def topk_metrics(hits: np.ndarray, n_relevant: np.ndarray, k_values: list[int]) -> dict[str, np.ndarray]:
    """Every registered metric at every k as per-user float64 arrays, keyed `<name>@<k>`."""
    hits = np.asarray(hits, dtype=bool)
    n_rel = np.asarray(n_relevant, dtype=np.float64)
    if np.any(n_rel <= 0):
        raise ValueError("every evaluated user needs at least one relevant item")
    width = max(k_values)
    if hits.shape[1] < width:  # catalogue shorter than k: the missing ranks are misses
        hits = np.pad(hits, ((0, 0), (0, width - hits.shape[1])))
    out: dict[str, np.ndarray] = {}
    for k in k_values:
        top = hits[:, :k]
        for name, fn in TOPK_METRICS.items():
            values = np.asarray(fn(top, n_rel, k), dtype=np.float64)
            if values.shape != (len(hits),):
                raise ValueError(f"metric {name!r} returned shape {values.shape}; a metric "
                                 f"returns one value per user ({len(hits)},)")
            out[f"{name}@{k}"] = values
    return out


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
