"""`ensemble`: a blend of registered recommenders (late fusion of their scores).

Each member is fitted through the same interface as on its own (`fit(train, items, val)`; the
multimodal member trains, or binds the trained checkpoint), its scores are normalised per user
(`zscore` over the items it can score, `minmax` or `rank`), and the blend is

    score(u, i) = sum_m w_m z_m(u, i)            for items with train interactions
    score(u, i) = sum_m c_m z_m(u, i) + offset   for items without (members that score them)

The weights w and c (each summing to 1) and the offset (in z units: how far new items are
lifted against known ones) are `ensemble.weights` / `ensemble.cold_weights` /
`ensemble.cold_offset`, or, when null, tuned on the val split: the single members, equal
weights, then a seeded random search around the best so far (`ensemble.trials` settings in
all), then the offset on a fixed grid, maximising `ensemble.metric` on up to
`ensemble.tuning_users` val users with train items masked. Cold weights and offset are tuned
only where the val split has targets without train interactions (e.g. a `cold_item` split);
otherwise c is w restricted to the members that score cold items and the offset is 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from pixelrec.config.tuning import Categorical
from pixelrec.errors import DataError
from pixelrec.models.base import Recommender
from pixelrec.models.registry import register_recommender


def normalise(scores: torch.Tensor, how: str) -> torch.Tensor:
    """Per-row normalisation over the finite entries; -inf (cannot score) stays -inf."""
    finite = torch.isfinite(scores)
    values = torch.where(finite, scores, torch.zeros_like(scores))
    count = finite.sum(1, keepdim=True).clamp_min(1)
    if how == "rank":
        order = torch.where(finite, scores, torch.full_like(scores, -torch.inf)).argsort(1)
        ranks = torch.empty_like(scores)
        ranks.scatter_(1, order, torch.arange(scores.shape[1], dtype=scores.dtype)
                       .expand_as(scores).contiguous())
        out = (ranks - (scores.shape[1] - count)) / count  # finite entries in (0, 1]
    elif how == "minmax":
        low = torch.where(finite, scores, torch.full_like(scores, torch.inf)).min(1, True).values
        high = torch.where(finite, scores, torch.full_like(scores, -torch.inf)).max(1, True).values
        out = (values - low) / (high - low).clamp_min(1e-12)
    else:
        mean = values.sum(1, keepdim=True) / count
        var = (((values - mean) * finite) ** 2).sum(1, keepdim=True) / count
        out = (values - mean) / var.sqrt().clamp_min(1e-12)
    return torch.where(finite, out, torch.full_like(out, -torch.inf))


@register_recommender("ensemble", kind="content")
class EnsembleRecommender(Recommender):
    """Weighted blend of per-user normalised member scores (see the module docstring)."""

    name = "ensemble"
    # the blend weights are tuned on val inside `fit`; `pixelrec tune` searches the rest
    search_space = {"ensemble.normalisation": Categorical(("zscore", "minmax", "rank"))}

    OFFSETS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)

    def __init__(self, members: dict[str, Recommender], weights=None, cold_weights=None,
                 cold_offset: float | None = None, normalisation: str = "zscore",
                 trials: int = 40, tuning_users: int = 5000, metric: str = "ndcg@10",
                 seed: int = 42, config=None):
        """`members`: name -> unfitted recommender; `config` supplies the val split when
        weights are tuned and `fit` gets no `val`."""
        self.members = dict(members)
        self.weights = weights
        self.cold_weights = cold_weights
        self.cold_offset = cold_offset
        self.normalisation, self.trials, self.tuning_users = normalisation, trials, tuning_users
        self.metric, self.seed, self.config = metric, seed, config

    @classmethod
    def from_config(cls, config, **inputs) -> EnsembleRecommender:
        from pixelrec.models import create_recommender

        cfg = config.ensemble
        members = {name: create_recommender(name, config, **inputs) for name in cfg.members}
        return cls(members, cfg.weights, cfg.cold_weights, cfg.cold_offset, cfg.normalisation,
                   cfg.trials, cfg.tuning_users, cfg.metric, config.seed, config)

    def fit(self, train: pd.DataFrame, items=None, val: pd.DataFrame | None = None
            ) -> EnsembleRecommender:
        for member in self.members.values():
            member.fit(train, items=items, val=val)
        self._val = val
        try:
            return super().fit(train, items)
        finally:
            del self._val

    def fold_in(self, interactions: pd.DataFrame, items=None) -> EnsembleRecommender:
        """Fold `interactions` into every member, keeping the tuned weights and offset."""
        self._check_fitted()
        items = self.item_ids_ if items is None else items
        for member in self.members.values():
            member.fold_in(interactions, items)
        chosen = (self.weights, self.cold_weights, self.cold_offset, self.tuning_)
        self.weights, self.cold_weights = self.weights_.tolist(), self.cold_weights_.tolist()
        self.cold_offset = self.cold_offset_
        try:
            Recommender.fit(self, interactions, items)
        finally:
            self.weights, self.cold_weights, self.cold_offset, tuning = chosen
            self.tuning_ = tuning
        return self

    def _fit(self, matrix: sp.csr_matrix) -> None:
        for name, member in self.members.items():
            if list(member.item_ids_) != list(self.item_ids_):
                raise DataError(f"ensemble member {name} ranks another item axis than the "
                                f"ensemble; fit every member on the same train and items.")
        self.scores_cold_items = any(m.scores_cold_items for m in self.members.values())
        capable = np.array([m.scores_cold_items for m in self.members.values()])
        self.cold_capable_ = capable
        warm, cold, offset = self.weights, self.cold_weights, self.cold_offset
        self.tuning_ = None
        if warm is None or (self.scores_cold_items and (cold is None or offset is None)):
            self.tuning_ = self._tune(warm, cold, offset)
            warm, cold = self.tuning_["weights"], self.tuning_["cold_weights"]
            offset = self.tuning_["cold_offset"]
        self.cold_offset_ = float(offset or 0.0)
        warm = np.asarray(warm, dtype=np.float32)
        cold = warm * capable if cold is None else np.asarray(cold, dtype=np.float32) * capable
        if cold.sum() == 0 and self.cold_weights is None and capable.any():
            cold = capable / capable.sum()  # the warm blend has no cold-capable member
        self.weights_, self.cold_weights_ = warm, cold.astype(np.float32)
        self.scores_cold_items = bool(self.cold_weights_.sum() > 0)

    def fit_summary(self) -> dict:
        out = {"members": list(self.members),
               "weights": [round(float(w), 6) for w in self.weights_],
               "cold_weights": [round(float(w), 6) for w in self.cold_weights_],
               "cold_offset": self.cold_offset_,
               "normalisation": self.normalisation,
               "member_fits": {n: m.fit_summary() for n, m in self.members.items()}}
        if self.tuning_ is not None:
            out["tuning"] = {k: v for k, v in self.tuning_.items() if k != "trials"}
            out["tuning"]["n_trials"] = len(self.tuning_["trials"])
        return out

    # ---- scoring -------------------------------------------------------------------------
    def _member_scores(self, rows: np.ndarray) -> list[torch.Tensor]:
        return [normalise(m.score_rows(rows), self.normalisation)
                for m in self.members.values()]

    def _blend(self, parts: list[torch.Tensor], warm: np.ndarray, cold: np.ndarray,
               offset: float = 0.0) -> torch.Tensor:
        is_cold = torch.from_numpy(self.item_popularity_ == 0)
        out = torch.where(is_cold, torch.tensor(float(offset)), torch.tensor(0.0)) \
            .expand_as(parts[0]).clone()
        for z, w, c in zip(parts, warm, cold, strict=True):
            weight = torch.where(is_cold, torch.tensor(float(c)), torch.tensor(float(w)))
            out += torch.where(weight > 0, weight * z, torch.zeros_like(z))
        used = torch.zeros_like(parts[0], dtype=torch.bool)
        for z, w, c in zip(parts, warm, cold, strict=True):
            weight = torch.where(is_cold, torch.tensor(float(c)), torch.tensor(float(w)))
            used |= (weight > 0) & torch.isfinite(z)
        return out.masked_fill(~used, -torch.inf)

    def score_rows(self, rows: np.ndarray, out: torch.Tensor | None = None) -> torch.Tensor:
        self._check_fitted()
        rows = np.asarray(rows, dtype=np.int64)
        scores = self._blend(self._member_scores(rows), self.weights_, self.cold_weights_,
                             self.cold_offset_)
        if out is not None:
            out[:len(rows)] = scores
            return out[:len(rows)]
        return scores

    def _score_users(self, rows: np.ndarray) -> torch.Tensor:
        return self.score_rows(rows)

    # ---- tuning --------------------------------------------------------------------------
    def _val_frame(self) -> pd.DataFrame:
        if self._val is not None:
            return self._val
        if self.config is None:
            raise DataError("ensemble weights are tuned on a val split: pass val= to fit, set "
                            "ensemble.weights, or give the ensemble its config.")
        from pixelrec.data.split_stage import split_files
        from pixelrec.evaluation.data import read_split

        return read_split(split_files(self.config.data.split_data_path)["val"], "val split",
                          "data.split_data_path")

    def _tune(self, warm, cold, offset) -> dict:
        from pixelrec.evaluation.metrics import TOPK_METRICS
        from pixelrec.evaluation.retrieval import hit_matrix
        from pixelrec.evaluation.targets import build_targets

        val = self._val_frame()
        if val.empty:
            raise DataError("the val split is empty, so the ensemble weights cannot be tuned; "
                            "set ensemble.weights (and cold_weights) or re-split with "
                            "data.splitting.val_ratio > 0.")
        repeats = self.config is not None and self.config.evaluation.repeats_are_hits
        targets = build_targets(self, val, [self._train_view()], mask_seen=not repeats)
        if len(targets.user_ids) == 0:
            raise DataError("no val user has a val item to rank; the ensemble weights cannot "
                            "be tuned. Set ensemble.weights.")
        rng = np.random.default_rng(self.seed)
        n_members, n_items = len(self.members), len(self.item_ids_)
        budget = max(1, min(self.tuning_users, int(2e8 // max(n_members * n_items, 1))))
        pick = np.sort(rng.choice(len(targets.rows), min(budget, len(targets.rows)),
                                  replace=False))
        rows = targets.rows[pick]
        parts = self._member_scores(rows)
        seen = targets.seen[pick].tocoo()
        flat = torch.from_numpy(seen.row.astype(np.int64) * n_items + seen.col)
        relevant = targets.relevant[pick]
        name, _, k = self.metric.partition("@")
        k = min(int(k), n_items)
        is_cold = self.item_popularity_ == 0
        sub = type(targets)(targets.user_ids[pick], rows, relevant, targets.seen[pick])
        cold_targets = bool(relevant[:, is_cold].nnz) if is_cold.any() else False

        def value(w: np.ndarray, c: np.ndarray, shift: float = 0.0) -> float:
            scores = self._blend(parts, w, c, shift)
            scores.view(-1).index_fill_(0, flat, -torch.inf)
            top_values, top = torch.topk(scores, k, dim=1)
            top = np.where(np.isneginf(top_values.numpy()), -1, top.numpy())
            hits = hit_matrix(sub, top)
            return float(np.mean(TOPK_METRICS[name](hits, sub.n_relevant.astype(float), k)))

        capable = self.cold_capable_
        tried: list[dict] = []

        def cold_of(w: np.ndarray) -> np.ndarray:
            c = w * capable
            return c if c.sum() > 0 else capable / max(capable.sum(), 1)

        def search(score, mask: np.ndarray, n: int, which: str) -> np.ndarray:
            """Seeded random search over weight vectors on the `mask` members (summing to 1):
            each single member, equal weights, then log-normal steps around the best."""
            starts = [np.eye(n_members)[j] for j in range(n_members) if mask[j]]
            starts.append(mask / mask.sum())
            best_vec, best = None, -np.inf
            for k in range(max(n, 1)):
                if k < len(starts):
                    vec = starts[k]
                else:
                    vec = best_vec * np.exp(rng.normal(0.0, 0.7, n_members))
                    vec = np.where(rng.random(n_members) < 0.2, 0.0, vec) * mask
                    if vec.sum() <= 0:
                        continue
                    vec = vec / vec.sum()
                result = score(vec)
                tried.append({"which": which, "weights": [round(float(x), 4) for x in vec],
                              "value": round(result, 6)})
                if result > best:
                    best_vec, best = vec, result
            return best_vec

        def f32(x) -> np.ndarray:
            return np.asarray(x, dtype=np.float32)

        tune_cold = (cold is None or offset is None) and cold_targets and bool(capable.any())
        n_warm = 0 if warm is not None else (
            max(1, -(-2 * self.trials // 3)) if tune_cold else self.trials)
        if warm is None:
            warm = search(lambda w: value(f32(w), f32(cold if cold is not None else cold_of(w)),
                                          float(offset or 0.0)),
                          np.ones(n_members), n_warm, "warm")
        warm = np.asarray(warm, dtype=np.float64)
        cold = cold_of(warm) if cold is None else np.asarray(cold, dtype=np.float64)
        shift = float(offset or 0.0)

        def best_offset(c: np.ndarray) -> float:
            return max(self.OFFSETS, key=lambda o: value(f32(warm), f32(c), o))

        if tune_cold:
            if offset is None:
                shift = best_offset(cold)
            if self.cold_weights is None:
                cold = search(lambda c: value(f32(warm), f32(c), shift), capable.astype(float),
                              max(1, self.trials - n_warm), "cold")
            if offset is None:
                shift = best_offset(cold)
        best = value(f32(warm), f32(cold), shift)
        return {"weights": [float(x) for x in warm], "cold_weights": [float(x) for x in cold],
                "cold_offset": shift, "value": best, "metric": self.metric,
                "val_users": len(rows), "members": list(self.members), "trials": tried}

    def _train_view(self) -> pd.DataFrame:
        """The train interactions as a frame over the fitted axes (for masking)."""
        coo = self.train_matrix_.tocoo()
        return pd.DataFrame({"user_id": self.user_index_[coo.row],
                             "item_id": self.item_ids_[coo.col]})
