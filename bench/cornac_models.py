"""Cornac's VBPR and BPR behind pixelrec's `Recommender` interface, so their recommendation lists
go through exactly the same masking and metric code as every other model.

Cornac is fitted on the train interactions given to `fit` (same ids, same catalogue); the
adapters only translate Cornac's learned factors into user/item vectors whose dot product is
Cornac's own score:

* BPR: score(u, i) = b_i + p_u . q_i  -> user [p_u, 1], item [q_i, b_i].
* VBPR: score(u, i) = b_i + b'.f_i + g_u . g_i + t_u . (E f_i) -> user [g_u, t_u, 1],
  item [g_i, E f_i, b_i + b'.f_i]. An item absent from train has b_i = 0 and g_i = 0 but still
  its visual part from its image features, so VBPR ranks cold items from content (the way its
  paper does cold start); Cornac's own `score` only covers train items.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from pixelrec.models.base import Recommender


def _uir(matrix: sp.csr_matrix, users, items) -> list[tuple[str, str, float]]:
    coo = matrix.tocoo()
    return [(users[r], items[c], 1.0) for r, c in zip(coo.row, coo.col, strict=True)]


class CornacBPR(Recommender):
    name = "cornac-bpr"

    def __init__(self, k: int = 64, max_iter: int = 100, learning_rate: float = 0.01,
                 lambda_reg: float = 0.01, seed: int = 0):
        self.k, self.max_iter = k, max_iter
        self.learning_rate, self.lambda_reg, self.seed = learning_rate, lambda_reg, seed

    def _fit(self, matrix: sp.csr_matrix) -> None:
        import cornac

        users, items = self.user_index_.to_numpy(), self.item_ids_
        data = cornac.data.Dataset.from_uir(_uir(matrix, users, items), seed=self.seed)
        model = cornac.models.BPR(k=self.k, max_iter=self.max_iter,
                                  learning_rate=self.learning_rate, lambda_reg=self.lambda_reg,
                                  seed=self.seed, verbose=False)
        model.fit(data)
        u_rows = np.array([data.uid_map[u] for u in users])
        n = len(items)
        q = np.zeros((n, self.k), dtype=np.float32)
        b = np.full(n, 0.0, dtype=np.float32)
        where = np.array([data.iid_map.get(i, -1) for i in items])
        known = where >= 0
        q[known] = model.i_factors[where[known]]
        b[known] = model.i_biases[where[known]]
        self.user_vectors_ = np.hstack([model.u_factors[u_rows],
                                        np.ones((len(users), 1), np.float32)]).astype(np.float32)
        self.item_vectors_ = np.hstack([q, b[:, None]]).astype(np.float32)

    def _user_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.user_vectors_[rows]

    def _item_vectors(self) -> np.ndarray:
        return self.item_vectors_


class CornacVBPR(Recommender):
    name = "cornac-vbpr"
    scores_cold_items = True

    def __init__(self, item_features: np.ndarray, item_ids, k: int = 10, k2: int = 10,
                 n_epochs: int = 50, batch_size: int = 100, learning_rate: float = 0.005,
                 lambda_w: float = 0.01, lambda_b: float = 0.01, lambda_e: float = 0.0,
                 seed: int = 0):
        self.item_features, self.item_ids = item_features, item_ids
        self.k, self.k2, self.n_epochs, self.batch_size = k, k2, n_epochs, batch_size
        self.learning_rate, self.seed = learning_rate, seed
        self.lambda_w, self.lambda_b, self.lambda_e = lambda_w, lambda_b, lambda_e

    def _features(self) -> np.ndarray:
        """Feature rows aligned with `item_ids_` (zeros for an item without features)."""
        ids = np.asarray(self.item_ids, dtype=object).astype(str)
        where = self.item_index_.get_indexer(ids)
        out = np.zeros((len(self.item_ids_), self.item_features.shape[1]), dtype=np.float32)
        out[where[where >= 0]] = self.item_features[where >= 0]
        return out

    def _fit(self, matrix: sp.csr_matrix) -> None:
        import cornac
        from cornac.data import ImageModality

        users, items = self.user_index_.to_numpy(), self.item_ids_
        features = self._features()
        data = cornac.data.Dataset.from_uir(_uir(matrix, users, items), seed=self.seed)
        data.add_modalities(item_image=ImageModality(features=features, ids=list(items))
                            .build(id_map=data.iid_map))
        model = cornac.models.VBPR(k=self.k, k2=self.k2, n_epochs=self.n_epochs,
                                   batch_size=self.batch_size, learning_rate=self.learning_rate,
                                   lambda_w=self.lambda_w, lambda_b=self.lambda_b,
                                   lambda_e=self.lambda_e, seed=self.seed, verbose=False)
        model.fit(data)
        u_rows = np.array([data.uid_map[u] for u in users])
        n = len(items)
        where = np.array([data.iid_map.get(i, -1) for i in items])
        known = where >= 0
        gamma = np.zeros((n, self.k), dtype=np.float32)
        beta = np.zeros(n, dtype=np.float32)
        gamma[known] = model.gamma_item[where[known]]
        beta[known] = model.beta_item[where[known]]
        theta_item = features @ model.emb_matrix
        bias = beta + (features @ model.beta_prime).ravel()
        self.user_vectors_ = np.hstack([model.gamma_user[u_rows], model.theta_user[u_rows],
                                        np.ones((len(users), 1))]).astype(np.float32)
        self.item_vectors_ = np.hstack([gamma, theta_item, bias[:, None]]).astype(np.float32)

    def _user_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.user_vectors_[rows]

    def _item_vectors(self) -> np.ndarray:
        return self.item_vectors_
