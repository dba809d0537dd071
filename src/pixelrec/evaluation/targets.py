"""Who is evaluated on what: test users, their relevant items and their masked (seen) items.

Everything is mapped onto the recommender's item axis (`item_index_`), so evaluation needs
nothing from a model beyond the `Recommender` interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pixelrec.models.base import Recommender, interaction_matrix


@dataclass
class Targets:
    """Evaluated users (rows), relevant and seen CSR matrices over the recommender's items."""

    user_ids: np.ndarray
    rows: np.ndarray  # recommender row per user, -1 = unknown user (scored by its fallback)
    relevant: sp.csr_matrix
    seen: sp.csr_matrix
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_relevant(self) -> np.ndarray:
        return np.diff(self.relevant.indptr)


def build_targets(recommender: Recommender, test: pd.DataFrame,
                  exclude: Sequence[pd.DataFrame] = (),
                  candidates: np.ndarray | None = None, *, mask_seen: bool = True) -> Targets:
    """Relevant = each user's test items minus the items masked for them (`exclude` frames).

    With `mask_seen=False` (`evaluation.repeats_are_hits`) nothing is masked: a test item the
    user already has stays relevant and known items stay rankable.

    Test items unknown to the recommender's catalogue cannot be ranked: they are dropped and
    counted. `candidates` (bool per item) restricts relevance to those items. Users left without
    relevant items are skipped and counted.
    """
    items = recommender.item_index_
    test = test.astype({"user_id": str, "item_id": str})
    users = pd.Index(np.sort(test["user_id"].unique()))
    known_item = items.get_indexer(test["item_id"]) >= 0
    test_matrix = interaction_matrix(test, users, items)
    seen = sp.csr_matrix((len(users), len(items)), dtype=np.float32)
    for frame in exclude if mask_seen else ():
        seen = seen + interaction_matrix(frame.astype({"user_id": str, "item_id": str}),
                                         users, items)
    seen.data[:] = 1.0
    overlap = test_matrix.multiply(seen)
    relevant = (test_matrix - overlap).tocsr()
    if candidates is not None:
        relevant = (relevant @ sp.diags(np.asarray(candidates, dtype=np.float32))).tocsr()
    relevant.eliminate_zeros()
    keep = np.diff(relevant.indptr) > 0
    rows = recommender.user_rows(users.to_numpy())
    counts = {
        "test_users": len(users),
        "test_interactions": len(test),
        "test_interactions_with_unknown_item": int((~known_item).sum()),
        "test_items_masked_as_seen": int(overlap.nnz),
        "users_without_test_positives": int((~keep).sum()),
        "evaluated_users": int(keep.sum()),
        "unknown_users": int(((rows < 0) & keep).sum()),
    }
    return Targets(users.to_numpy()[keep], rows[keep], relevant[keep], seen.tocsr()[keep],
                   counts)
