"""`multimodal_ease`: EASE pulled towards a content similarity prior (closed form).

    min_B ||X - XB||^2 + l2 ||B||^2 + delta ||B - S||^2   subject to diag(B) = 0

With P = (X'X + (l2 + delta) I)^-1 the solution is B = P (X'X + delta S) - P diagMat(mu),
mu_j = [P (X'X + delta S)]_jj / P_jj (the Lagrange multipliers of the zero diagonal). delta = 0
is exactly EASE (Steck 2019). S comes from the feature cache: a weighted sum of per-modality
cosine similarities, each column keeping its `neighbours` most similar items and normalised to
sum to 1, so an item without train interactions (a zero column of X) is still scored,
through delta S, from the items its content resembles. Collaborative signal and content enter
one solve, in the spirit of L3AE (CIKM 2025) and FEASE (2025).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pixelrec.config.tuning import Categorical, FloatRange
from pixelrec.errors import ConfigError
from pixelrec.models.base import Recommender
from pixelrec.models.registry import register_recommender

_BLOCK = 2048  # columns of the similarity computed at a time


def dense_bytes(n_items: int, prior: bool) -> int:
    """Peak bytes of `solve` for `n_items`: the float64 inverse, plus the float64 target with a
    prior (delta > 0), then the float32 weights."""
    return (16 if prior else 12) * n_items ** 2


def check_dense_size(n_items: int, limit: int, name: str, key: str, prior: bool = False,
                     alternative: str | None = None) -> None:
    """Refuse a dense items x items solve above `limit` items, or one whose peak memory is above
    what this machine has available, before allocating anything; the error names `key` and
    `alternative` (default: item_knn)."""
    need = dense_bytes(n_items, prior)
    alternative = alternative or ("use item_knn (sparse neighbours; content_knn or the "
                                  "multimodal model to score new items)")
    if n_items > limit:
        raise ConfigError(f"{name} solves a dense {n_items} x {n_items} system (about "
                          f"{need / 1e9:.1f} GB at its peak), above {key} = {limit} items. Raise "
                          f"{key} if this machine has the memory, or {alternative}.")
    available = _available_bytes()
    if available is not None and need > available:
        raise ConfigError(f"{name} solves a dense {n_items} x {n_items} system that needs about "
                          f"{need / 1e9:.1f} GB at its peak, but only {available / 1e9:.1f} GB "
                          f"of memory is available now. Free memory, lower {key} to refuse "
                          f"earlier, or {alternative}.")


def _available_bytes() -> int | None:
    """Memory available to new allocations (Linux MemAvailable), or None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def content_similarity(vectors: dict[str, np.ndarray], weights: dict[str, float],
                       neighbours: int) -> sp.csc_matrix:
    """S [n, n]: per column j the `neighbours` items i != j with the highest weighted cosine
    sum_m w_m cos_m(i, j) / sum_m w_m (positive values only), normalised to sum to 1."""
    chosen = {m: v for m, v in vectors.items() if weights.get(m, 0) > 0}
    if not chosen:
        raise ConfigError(f"multimodal_ease.modalities {weights} names no modality with "
                          f"features; the cache holds {sorted(vectors)}.")
    total = sum(weights[m] for m in chosen)
    units = {m: _unit(v) for m, v in chosen.items()}
    n = len(next(iter(units.values())))
    k = min(neighbours, max(n - 1, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        block = sum((weights[m] / total) * (u @ u[start:stop].T) for m, u in units.items())
        block[np.arange(start, stop), np.arange(stop - start)] = -np.inf  # no self-loops
        top = np.argpartition(-block, k - 1, axis=0)[:k] if k < n else \
            np.broadcast_to(np.arange(n)[:, None], (n, stop - start))
        values = np.take_along_axis(block, top, axis=0)
        keep = values > 0
        rows.append(top[keep])
        cols.append(np.broadcast_to(np.arange(start, stop), top.shape)[keep])
        vals.append(values[keep])
    sim = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(n, n), dtype=np.float64)
    sums = np.asarray(sim.sum(axis=0)).ravel()
    return sim @ sp.diags(np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0))


def dense_gram(matrix: sp.spmatrix) -> np.ndarray:
    """X'X as a dense float64 array (built once, no float32 copy on the way)."""
    return (matrix.T @ matrix).astype(np.float64).toarray()


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive-definite float64 matrix, computed in its own memory
    (Cholesky, LAPACK potrf + potri): no second n x n array, unlike np.linalg.inv."""
    from scipy.linalg import lapack

    if matrix.dtype != np.float64 or not matrix.flags.c_contiguous:
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    fortran = matrix.T  # a C-ordered symmetric matrix is its own Fortran-ordered transpose
    factor, info = lapack.dpotrf(fortran, lower=False, overwrite_a=True, clean=False)
    if info == 0:
        factor, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"the regularised Gram matrix is not positive definite "
                                    f"(LAPACK info {info}); raise the l2 regularisation")
    if not np.shares_memory(factor, matrix):  # (a LAPACK build that copied)
        matrix[...] = factor.T
    # potri filled the upper triangle of the Fortran view, i.e. the lower one of `matrix`
    for start in range(0, len(matrix), _BLOCK):
        stop = min(start + _BLOCK, len(matrix))
        matrix[start:stop, stop:] = matrix[stop:, start:stop].T
        block = matrix[start:stop, start:stop]
        block[np.triu_indices(stop - start, 1)] = block.T[np.triu_indices(stop - start, 1)]
    return matrix


def solve(gram: np.ndarray, l2: float, delta: float,
          prior: sp.spmatrix | np.ndarray | None, overwrite_gram: bool = False) -> np.ndarray:
    """The closed-form B of the module docstring (float64 in, float32 out); with
    `overwrite_gram` the Gram array is the working memory (else it is copied first).
    With P = (G + (l2 + delta) I)^-1, P G = I - (l2 + delta) P, so the target
    P (G + delta S) needs one product with the sparse S and no dense n^3 product: peak memory
    is `dense_bytes`."""
    n = len(gram)
    shift = l2 + delta
    if not overwrite_gram:
        gram = np.array(gram, dtype=np.float64)
    gram[np.diag_indices(n)] += shift
    inverse = spd_inverse(gram)
    diag = np.diag(inverse).copy()
    if delta > 0 and prior is not None:
        # P S (dense x sparse: no n^3 product)
        weights = np.asarray(inverse @ prior, dtype=np.float64)
        weights *= delta
        for start in range(0, n, _BLOCK):  # by row blocks: no n x n temporary
            weights[start:start + _BLOCK] -= shift * inverse[start:start + _BLOCK]
        weights[np.diag_indices(n)] += 1.0  # P (G + delta S) = I - shift P + delta P S
        mu = np.diag(weights) / diag
        for start in range(0, n, _BLOCK):  # B = W - P diagMat(mu)
            weights[start:start + _BLOCK] -= inverse[start:start + _BLOCK] * mu
        del inverse, gram
    else:  # EASE: B = I - P diagMat(1 / diag(P)); the diagonal is zeroed below
        weights = inverse
        weights /= -diag
    weights[np.diag_indices(n)] = 0.0
    return weights.astype(np.float32)


@register_recommender("multimodal_ease", kind="content")
class MultimodalEASERecommender(Recommender):
    """score = x_u B with B the content-regularised EASE solution; scores cold items."""

    name = "multimodal_ease"
    scores_cold_items = True
    search_space = {"multimodal_ease.l2": FloatRange(100.0, 5000.0, log=True),
                    "multimodal_ease.delta": FloatRange(1.0, 1000.0, log=True),
                    "multimodal_ease.modalities": Categorical(({"image": 1.0, "text": 1.0},
                                                               {"text": 1.0}))}

    def __init__(self, l2: float = 500.0, delta: float = 50.0,
                 modalities: dict[str, float] | None = None, neighbours: int = 50,
                 max_items: int = 20000, config=None, item_features=None):
        """`item_features` ({modality: (vectors, item_ids)}) replace the feature cache of
        `config`; one of them is needed when `delta` > 0."""
        self.l2, self.delta, self.neighbours, self.max_items = l2, delta, neighbours, max_items
        self.modalities = dict(modalities or {"image": 1.0, "text": 1.0})
        self.config = config
        self.item_features = item_features

    @classmethod
    def from_config(cls, config, item_embeddings=None, item_ids=None, **inputs
                    ) -> MultimodalEASERecommender:
        """Content from the feature cache, or from given `item_embeddings` + `item_ids` (one
        modality, `embedding`, with weight 1)."""
        params = config.multimodal_ease.model_dump()
        if item_embeddings is None:
            return cls(**params, config=config)
        params["modalities"] = {"embedding": 1.0}
        return cls(**params, item_features={"embedding": (item_embeddings, item_ids)})

    def _fit(self, matrix: sp.csr_matrix) -> None:
        n = len(self.item_ids_)
        check_dense_size(n, self.max_items, "multimodal_ease", "multimodal_ease.max_items",
                         prior=self.delta > 0)
        self.similarity_ = None
        if self.delta > 0:
            self.similarity_ = content_similarity(self._aligned_features(), self.modalities,
                                                  self.neighbours)
        self.weights_ = solve(dense_gram(matrix), self.l2, self.delta, self.similarity_,
                             overwrite_gram=True)

    def _aligned_features(self) -> dict[str, np.ndarray]:
        """Per modality, vectors aligned with `item_ids_` (zeros where an item has none)."""
        import pandas as pd

        features = self.item_features
        if features is None:
            if self.config is None:
                raise ConfigError("multimodal_ease with delta > 0 needs item features: a config "
                                  "with a feature cache (pixelrec precompute) or item_features.")
            from pixelrec.evaluation.embeddings import load_modality_vectors

            features = load_modality_vectors(self.config, [m for m, w in
                                                           self.modalities.items() if w > 0])
        out = {}
        for modality, (vectors, ids) in features.items():
            where = pd.Index(np.asarray(ids, dtype=object).astype(str)).get_indexer(
                self.item_ids_)
            aligned = np.zeros((len(self.item_ids_), vectors.shape[1]), dtype=np.float32)
            aligned[where >= 0] = np.asarray(vectors, dtype=np.float32)[where[where >= 0]]
            out[modality] = aligned
        return out

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.train_matrix_[rows] @ self.weights_)
