"""Bootstrap confidence intervals and paired significance tests over per-user metric arrays.

A metric may carry per-user weights (`<name>_weight`, e.g. GAUC); plain metrics weigh users
equally. All randomness comes from numpy generators seeded with the config seed.
"""

from __future__ import annotations

import numpy as np

_BLOCK = 100  # bootstrap replicates drawn at once: memory is _BLOCK x n_users


def _resample_weights(n: int, samples: int, seed: int):
    """Yield blocks of bootstrap multiplicities (replicates x n), each row summing to n."""
    rng = np.random.default_rng([seed, n])
    for start in range(0, samples, _BLOCK):
        yield rng.multinomial(n, np.full(n, 1.0 / n), size=min(_BLOCK, samples - start))


def _bootstrap_means(values: np.ndarray, weights: np.ndarray, samples: int,
                     seed: int) -> np.ndarray:
    """[samples, metrics] weighted means of `values` [n, metrics] over bootstrap replicates."""
    means = [(mult @ (values * weights)) / np.maximum(mult @ weights, 1e-12)
             for mult in _resample_weights(len(values), samples, seed)]
    return np.concatenate(means)


def bootstrap_ci(per_user: dict[str, np.ndarray], samples: int, seed: int,
                 level: float = 0.95) -> dict[str, list[float]]:
    """Percentile bootstrap CI of each metric's (weighted) mean over users."""
    names = [m for m in per_user if not m.endswith("_weight")]
    if not names:
        return {}
    n = len(per_user[names[0]])
    if n == 0:
        return {m: [float("nan"), float("nan")] for m in names}
    values = np.stack([np.asarray(per_user[m], dtype=np.float64) for m in names], axis=1)
    weights = np.stack([np.asarray(per_user.get(f"{m}_weight", np.ones(n)), dtype=np.float64)
                        for m in names], axis=1)
    means = _bootstrap_means(values, weights, samples, seed)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail], axis=0)
    return {m: [float(lo), float(hi)] for m, lo, hi in zip(names, low, high, strict=True)}


def paired_test(a: np.ndarray, b: np.ndarray, samples: int, seed: int,
                weights: np.ndarray | None = None) -> dict[str, float | list[float]]:
    """Difference of means b - a over the same users, its percentile bootstrap 95% CI and the
    two-sided paired bootstrap p-value from the same replicates (twice the share of replicate
    differences on the far side of 0), so the CI excludes 0 exactly when p < 0.05."""
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    w = np.ones_like(diff) if weights is None else np.asarray(weights, dtype=np.float64)
    observed = float((diff * w).sum() / max(w.sum(), 1e-12))
    means = _bootstrap_means(diff[:, None], w[:, None], samples, seed)[:, 0]
    # both ends as lower 2.5% quantiles (of the differences and of their negatives): the
    # interval then excludes 0 exactly when fewer than 2.5% of replicates lie beyond it
    low = np.percentile(means, 2.5, method="inverted_cdf")
    high = -np.percentile(-means, 2.5, method="inverted_cdf")
    p_value = min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    return {"diff": observed, "ci95": [float(low), float(high)], "p_value": p_value}
