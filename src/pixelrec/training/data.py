"""Training examples: id encoders, positives, per-epoch negatives and batches (all vectorised).

Two batch shapes: interactions (one target per row, for history pooling or no history) and
sequences (time-ordered windows of a user's items where every position predicts the next one,
for the transformer history encoder). With the full softmax every train item is a candidate;
otherwise negatives are drawn per epoch from a generator seeded with (seed, epoch), so they are
redrawn every epoch, reproducible, and identical after a resume; per-row negatives never hit a
training positive of the user. Only items with train interactions are candidates (cold items
are never pushed down).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from pixelrec.errors import DataError
from pixelrec.io import read_table


def read_interactions(path: str | Path, what: str) -> pd.DataFrame:
    """user_id, item_id (str) and timestamp (when present) of a split file."""
    frame = read_table(path, str_columns=("user_id", "item_id"), what=what,
                       config_key="data.split_data_path", made_by="pixelrec split")
    return interaction_columns(frame, f"{what} file {path}", "re-run `pixelrec split`")


def interaction_columns(frame: pd.DataFrame, what: str, fix: str) -> pd.DataFrame:
    """user_id, item_id (as text) and timestamp (when present), rows without ids dropped;
    missing id columns raise a DataError naming `what` and how to `fix` it."""
    missing = {"user_id", "item_id"} - set(frame.columns)
    if missing:
        raise DataError(f"{what} lacks column(s) {sorted(missing)}; {fix}.")
    cols = [c for c in ("user_id", "item_id", "timestamp") if c in frame.columns]
    return (frame[cols].dropna(subset=["user_id", "item_id"])
            .astype({"user_id": str, "item_id": str}).reset_index(drop=True))


class TrainingData:
    """Train interactions as (user row, catalogue row) pairs; user rows are 1-based (0: unknown)."""

    def __init__(self, train: pd.DataFrame, item_ids: list[str], *, loss_kind: str,
                 ratio: int, strategy: str, seed: int, logq_correction: bool = True,
                 user_ids: list[str] | None = None, full_softmax: bool = False,
                 reference: TrainingData | None = None) -> None:
        """`user_ids` fixes the user rows (unknown users -> 0); a `reference` (the train data)
        supplies the sampling distribution, and its positives are never drawn either. Without
        `logq_correction` the sampled listwise batches carry log Q = 0 (no correction);
        `full_softmax` (listwise only) makes every train item a candidate of every row."""
        self.item_ids = list(item_ids)
        self.user_ids = sorted(pd.unique(train["user_id"].astype(str))) if user_ids is None \
            else list(user_ids)
        users = pd.Index(self.user_ids).get_indexer(train["user_id"].astype(str)) + 1
        items = pd.Index(self.item_ids).get_indexer(train["item_id"].astype(str))
        if (items < 0).any():
            raise DataError(f"{int((items < 0).sum())} train interactions name items missing "
                            f"from the processed item table (e.g. "
                            f"{train['item_id'].astype(str).to_numpy()[items < 0][0]!r}); re-run "
                            f"`pixelrec preprocess` and `pixelrec split`.")
        self.users = users.astype(np.int64)
        self.items = items.astype(np.int64)
        self.timestamps = train["timestamp"].to_numpy() if "timestamp" in train.columns \
            else np.arange(len(train))
        n_items = len(self.item_ids)
        self.n_items = n_items
        self.keys = np.unique(self.users * n_items + self.items)
        if reference is not None:
            self.keys = np.union1d(self.keys, reference.keys)
        pairs = np.stack(np.divmod(self.keys, n_items))
        self.positives = sp.csr_matrix((np.ones(len(self.keys), dtype=bool), pairs),
                                       shape=(int(pairs[0].max(initial=0)) + 1, n_items))
        self.counts = np.bincount(self.items, minlength=n_items).astype(np.float64)
        train_items = self.counts > 0
        self.id_items = [i for i, ok in zip(self.item_ids, train_items, strict=True) if ok]
        self.loss_kind, self.ratio, self.seed = loss_kind, ratio, seed
        self.full_softmax = full_softmax and loss_kind == "listwise"
        # candidates of the full softmax: the items with train interactions (the reference's)
        self.train_rows = np.flatnonzero(train_items) if reference is None \
            else reference.train_rows
        order = np.lexsort((np.arange(len(self.users)), self.timestamps, self.users))
        self.seq_users, self.seq_items = self.users[order], self.items[order]
        if reference is not None:
            self.neg_p, self.neg_cdf, self.log_q = reference.neg_p, reference.neg_cdf, reference.log_q
            return
        weights = self.counts if strategy == "popularity" else train_items.astype(np.float64)
        self.neg_p = weights / weights.sum()
        self.neg_cdf = np.cumsum(self.neg_p)
        self.log_q = self._log_q() if logq_correction else np.zeros(n_items, np.float32)

    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def _log_q(self) -> np.ndarray:
        """Log probability that an item is a candidate: in-batch positives follow popularity,
        sampled negatives follow the sampling distribution (mixed in their proportions)."""
        pos_p = self.counts / self.counts.sum()
        q = (pos_p + self.ratio * self.neg_p) / (1 + self.ratio)
        with np.errstate(divide="ignore"):
            return np.log(q).astype(np.float32)

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.n_items + items
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return self.keys[pos] == keys

    def positives_in(self, users: np.ndarray, cands: np.ndarray) -> np.ndarray:
        """[len(users), len(cands)] bool: is candidate c a (train) positive of user b.

        Walks each user's positives (CSR rows) against the sorted candidates, so the cost
        grows with the positives, not with users x candidates.
        """
        out = np.zeros((len(users), len(cands)), dtype=bool)
        rows = self.positives[np.minimum(users, self.positives.shape[0] - 1)].tocoo()
        keep = users[rows.row] < self.positives.shape[0]
        row, item = rows.row[keep], rows.col[keep]
        order = np.argsort(cands, kind="stable")
        lo = np.searchsorted(cands[order], item, side="left")
        n = np.searchsorted(cands[order], item, side="right") - lo
        if n.sum() == 0:
            return out
        first = np.repeat(np.cumsum(n) - n, n)
        pos = np.repeat(lo, n) + np.arange(n.sum()) - first
        out[np.repeat(row, n), order[pos]] = True
        return out

    def negatives(self, epoch: int) -> np.ndarray:
        """[n, ratio] negatives for every interaction; no user's own train positive."""
        rng = np.random.default_rng([self.seed, epoch, 0])
        users = np.repeat(self.users, self.ratio)
        out = self._draw(rng, len(users))
        bad = np.flatnonzero(self.is_positive(users, out))
        for _ in range(100):
            if len(bad) == 0:
                break
            out[bad] = self._draw(rng, len(bad))
            bad = bad[self.is_positive(users[bad], out[bad])]
        for b in bad:  # users who own most sampleable items: draw from their exact complement
            allowed = np.setdiff1d(np.arange(self.n_items), self.positives[users[b]].indices)
            if len(allowed) == 0:
                raise DataError(f"user {self.user_ids[users[b] - 1]!r} has interacted with every "
                                f"item, so no negative exists for it; filter such users (e.g. "
                                f"with data.filtering) before training.")
            out[b] = rng.choice(allowed)
        return out.reshape(len(self.users), self.ratio)

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.neg_cdf, rng.random(n) * self.neg_cdf[-1],
                                          side="right"), self.n_items - 1)

    def batches(self, epoch: int, batch_size: int, rank: int = 0, world: int = 1,
                device: torch.device | str = "cpu") -> Iterator[dict[str, torch.Tensor]]:
        """Shuffled interaction batches of this rank's shard; every rank gets the same number
        of batches."""
        rng = np.random.default_rng([self.seed, epoch, 1])
        order = _shard(rng.permutation(len(self.users)), rank, world)
        negatives = None if self.full_softmax else self.negatives(epoch)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            neg = None if negatives is None else negatives[idx]
            yield _to(self.batch(idx, neg), device)

    def batch(self, idx: np.ndarray, neg: np.ndarray | None) -> dict[str, np.ndarray]:
        users, pos = self.users[idx], self.items[idx]
        out = {"users": users, "pos": pos}
        if self.loss_kind != "listwise":
            out["neg"] = neg
        elif self.full_softmax:  # candidates: every train item; the user's others are masked
            valid = ~self.positives_in(users, self.train_rows)
            valid[self.train_rows[None, :] == pos[:, None]] = True
            out["valid"] = valid
        else:
            cands = np.concatenate([pos, neg.ravel()])
            valid = ~self.positives_in(users, cands)
            valid[np.arange(len(idx)), np.arange(len(idx))] = True
            out.update(cands=cands, valid=valid, log_q=self.log_q[cands],
                       target=np.arange(len(idx)))
        return out

    # ---- sequences (transformer history encoder) --------------------------------------------
    def windows(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """(first, stop) target positions in the time-ordered arrays of every training window:
        each user's sequence is cut from its latest item back into windows of `length`
        targets, so every interaction but a user's first is a target exactly once per epoch
        and its inputs are the up to `length` items before it."""
        users = self.seq_users
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else \
            np.zeros(0, dtype=np.int64)
        ends = np.r_[starts[1:], len(users)]
        n_windows = -(-(ends - starts - 1) // length)  # ceil; 0 for single-item users
        owner = np.repeat(np.arange(len(starts)), n_windows)
        back = np.arange(int(n_windows.sum())) - np.repeat(np.cumsum(n_windows) - n_windows,
                                                           n_windows)
        stop = ends[owner] - back * length
        first = np.maximum(starts[owner] + 1, stop - length)
        return first, stop

    def windows_per_batch(self, batch_size: int, length: int) -> int:
        """Windows per batch so that a batch holds about `batch_size` targets."""
        first, stop = self.windows(length)
        mean = float(np.mean(stop - first)) if len(first) else 1.0
        return max(1, int(round(batch_size / mean)))

    def n_batches(self, batch_size: int, world: int = 1, length: int | None = None) -> int:
        """Batches per epoch and rank (interactions, or sequence windows with `length`)."""
        if length is None:
            return -(-(len(self) // world) // batch_size)
        n = len(self.windows(length)[0]) // world
        return -(-n // self.windows_per_batch(batch_size, length))

    def sequence_batches(self, epoch: int, batch_size: int, length: int, rank: int = 0,
                         world: int = 1, device: torch.device | str = "cpu"
                         ) -> Iterator[dict[str, torch.Tensor]]:
        """Shuffled batches of windows: `users` [B], `seq` [B, length] input items (oldest
        first, -1 after the end) and `targets` [B, length] (the next item at each position);
        sampled softmax batches add shared candidates `cands` with their `log_q`."""
        if self.loss_kind != "listwise":
            raise ValueError("sequence batches train a listwise (softmax) loss")
        first, stop = self.windows(length)
        rng = np.random.default_rng([self.seed, epoch, 1])
        order = _shard(rng.permutation(len(first)), rank, world)
        per_batch = self.windows_per_batch(batch_size, length)
        offsets = np.arange(length)
        for start in range(0, len(order), per_batch):
            idx = order[start:start + per_batch]
            pos = first[idx, None] + offsets
            ok = pos < stop[idx, None]
            targets = np.where(ok, self.seq_items[np.minimum(pos, len(self.seq_items) - 1)], -1)
            seq = np.where(ok, self.seq_items[np.minimum(pos - 1, len(self.seq_items) - 1)], -1)
            users = self.seq_users[first[idx]]
            out = {"users": users, "seq": seq, "targets": targets}
            cands = self.train_rows
            if not self.full_softmax:
                drawn = self._draw(rng, self.ratio * int(ok.sum()))
                cands = out["cands"] = np.unique(np.concatenate([targets[ok], drawn]))
                out["log_q"] = self.log_q[cands]
            # The user's other train items (earlier or later) are never its negatives, as in
            # interaction batches: ranking masks them anyway.
            row_users = np.broadcast_to(users[:, None], targets.shape)[ok]
            valid = ~self.positives_in(row_users, cands)
            valid[cands[None, :] == targets[ok][:, None]] = True
            out["valid"] = valid
            yield _to(out, device)


def _shard(order: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This rank's equal share of a permutation (the remainder is left out)."""
    if world == 1:
        return order
    per_rank = len(order) // world
    return order[rank * per_rank:(rank + 1) * per_rank]


def _to(batch: dict[str, np.ndarray], device) -> dict[str, torch.Tensor]:
    return {name: torch.as_tensor(value).to(device) for name, value in batch.items()}
