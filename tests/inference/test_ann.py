"""`AnnIndex`: approximate inner-product search through the L2 reduction, on vectors whose
norms differ as trained ranking vectors' do."""

from __future__ import annotations

import numpy as np
import pytest

from pixelrec.config.serving import AnnConfig


def _vectors(n_items: int = 40000, n_users: int = 200, dim: int = 64):
    """Clustered items (tastes) with unequal norms and a strong bias column, users near a
    cluster with a 1 in the bias column: the shape of trained ranking vectors."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, dim)).astype(np.float32)
    items = centres[rng.integers(20, size=n_items)]
    items = items + 0.3 * rng.normal(size=items.shape).astype(np.float32)
    items *= rng.lognormal(0.0, 0.5, size=(n_items, 1)).astype(np.float32)
    items[:, -1] = rng.normal(0.0, 3.0, size=n_items)
    users = centres[rng.integers(20, size=n_users)] + 0.3 * rng.normal(size=(n_users, dim))
    users[:, -1] = 1.0
    return items, users.astype(np.float32)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_search_finds_the_largest_inner_products(kind):
    pytest.importorskip("faiss")
    from pixelrec.inference.ann import AnnIndex

    items, users = _vectors()
    index = AnnIndex(items, np.arange(len(items)) + 100, AnnConfig(index_type=kind,
                                                                  approximate_above=1))
    assert index.approximate
    scores, cols = index.raw_search(users, 10)
    exact = np.argsort(-(users @ items.T), axis=1)[:, :10] + 100
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, cols, strict=True)])
    assert recall >= 0.95  # IVF by inner product: 0.80 on these vectors
    want = np.take_along_axis(users @ items.T, cols - 100, 1)  # scores are inner products
    np.testing.assert_allclose(scores, want, rtol=1e-3, atol=1e-2)
    assert index.check_recall(users, items, 10) == pytest.approx(recall)

    best = exact[0, 0] - 100  # user 0's best item, added again at twice its norm (above the
    added = 2 * items[best:best + 1]  # radius): user 0's new best, with its inner product
    index.add(added, np.array([99]))
    scores, cols = index.raw_search(users[:1], 10)
    assert cols[0, 0] == 99
    assert scores[0, 0] == pytest.approx(float(users[0] @ added[0]), rel=1e-3)
