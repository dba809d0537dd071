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
    means = []
    for mult in _resample_weights(n, samples, seed):
        means.append((mult @ (values * weights)) / np.maximum(mult @ weights, 1e-12))
    means = np.concatenate(means)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail], axis=0)
    return {m: [float(lo), float(hi)] for m, lo, hi in zip(names, low, high, strict=True)}


def paired_test(a: np.ndarray, b: np.ndarray, samples: int, seed: int,
                weights: np.ndarray | None = None) -> dict[str, float | list[float]]:
    """Difference of means b - a over the same users: bootstrap 95% CI and a two-sided
    paired randomisation (sign-flip) test p-value."""
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    w = np.ones_like(diff) if weights is None else np.asarray(weights, dtype=np.float64)
    observed = float((diff * w).sum() / max(w.sum(), 1e-12))
    ci = bootstrap_ci({"d": diff, "d_weight": w}, samples, seed)["d"]
    rng = np.random.default_rng([seed, len(diff), 1])
    extreme = 0
    for start in range(0, samples, _BLOCK):
        signs = rng.choice([-1.0, 1.0], size=(min(_BLOCK, samples - start), len(diff)))
        flipped = (signs @ (diff * w)) / max(w.sum(), 1e-12)
        extreme += int((np.abs(flipped) >= abs(observed) - 1e-12).sum())
    return {"diff": observed, "ci95": ci, "p_value": (extreme + 1) / (samples + 1)}
