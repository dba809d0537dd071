"""Test data for recommenders: a block matrix where every user's held-out item is obvious."""

from __future__ import annotations

import numpy as np
import pandas as pd

GROUPS, SIZE = 3, 6  # 3 groups of 6 users x 6 items; user j of a group never saw item j


def block_data() -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """(train, held-out item per user, catalogue incl. one cold item per group)."""
    rows, held = [], {}
    for g in range(GROUPS):
        for j in range(SIZE):
            user = f"u{g}_{j}"
            held[user] = f"i{g}_{j}"
            rows += [(user, f"i{g}_{i}") for i in range(SIZE) if i != j]
    train = pd.DataFrame(rows, columns=["user_id", "item_id"])
    items = [f"i{g}_{i}" for g in range(GROUPS) for i in range(SIZE)]
    return train, held, items + [f"cold{g}" for g in range(GROUPS)]


def block_embeddings(items: list[str]) -> np.ndarray:
    """One-hot group embeddings with a little noise; `coldG` leans (less purely) to group G."""
    rng = np.random.default_rng(0)
    groups = [int(i[4]) if i.startswith("cold") else int(i[1]) for i in items]
    cold = np.array([i.startswith("cold") for i in items])[:, None]
    return np.eye(GROUPS)[groups] + 0.2 * cold + 0.01 * rng.random((len(items), GROUPS))
