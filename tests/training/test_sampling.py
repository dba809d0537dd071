"""Negative sampling and batches: never a positive, redrawn per epoch, reproducible, sharded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pixelrec.errors import DataError
from pixelrec.training.data import TrainingData

ITEMS = [f"i{k}" for k in range(10)]


def data(strategy="random", kind="pairwise", ratio=3, seed=0, full_softmax=False):
    rng = np.random.default_rng(1)
    rows = [(f"u{u}", f"i{i}") for u in range(6) for i in rng.choice(8, 4, replace=False)]
    train = pd.DataFrame(rows, columns=["user_id", "item_id"])
    train["timestamp"] = np.arange(len(train))
    return TrainingData(train, ITEMS, loss_kind=kind, ratio=ratio, strategy=strategy, seed=seed,
                        full_softmax=full_softmax)


@pytest.mark.parametrize("strategy", ["random", "popularity"])
def test_negatives_avoid_positives_and_cold_items(strategy):
    d = data(strategy)
    neg = d.negatives(0)
    assert neg.shape == (len(d), 3)
    users = np.repeat(d.users, 3)
    assert not d.is_positive(users, neg.ravel()).any()
    assert set(np.unique(neg)) <= set(np.flatnonzero(d.counts > 0))  # i8, i9 never drawn


def test_negatives_are_reproducible_and_redrawn_each_epoch():
    assert np.array_equal(data().negatives(2), data().negatives(2))
    assert not np.array_equal(data().negatives(0), data().negatives(1))
    assert not np.array_equal(data(seed=0).negatives(0), data(seed=1).negatives(0))


def test_popularity_sampling_follows_counts():
    d = data("popularity", ratio=1)
    assert np.allclose(d.neg_p, d.counts / d.counts.sum())


def test_listwise_batches_mask_other_positives_and_carry_log_q():
    d = data(kind="listwise", ratio=2)
    batch = next(d.batches(0, 8))
    users, pos, cands = (batch[k].numpy() for k in ("users", "pos", "cands"))
    assert np.array_equal(cands[:8], pos) and len(cands) == 8 + 16
    assert np.array_equal(batch["target"].numpy(), np.arange(8))
    valid = batch["valid"].numpy()
    assert valid.shape == (8, 8 + 16) and valid[np.arange(8), np.arange(8)].all()
    expected = ~d.is_positive(users[:, None], cands[None, :])
    expected[np.arange(8), np.arange(8)] = True
    assert np.array_equal(valid, expected)
    q = np.exp(d.log_q[d.counts > 0])
    assert q.sum() == pytest.approx(1.0)
    assert np.allclose(batch["log_q"].numpy(), d.log_q[cands])


def test_shards_cover_disjoint_parts_with_equal_batch_counts():
    d = data()
    shards = [list(d.batches(0, 5, rank=r, world=2)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1])
    seen = [np.concatenate([b["users"].numpy() * 100 + b["pos"].numpy() for b in s])
            for s in shards]
    assert len(seen[0]) == len(seen[1]) == len(d) // 2


def test_log_q_correction_can_be_switched_off():
    d = data(kind="listwise")
    plain = TrainingData(pd.DataFrame({"user_id": ["u0", "u1"], "item_id": ["i0", "i1"]}), ITEMS,
                         loss_kind="listwise", ratio=1, strategy="random", seed=0,
                         logq_correction=False)
    assert (plain.log_q == 0).all() and (d.log_q[d.counts > 0] < 0).all()


def test_user_owning_every_train_item_gets_negatives_from_the_rest_of_the_catalogue():
    # u0 has all train items (i0..i2); only the cold items i3, i4 are left as its negatives
    rows = [("u0", "i0"), ("u0", "i1"), ("u0", "i2"), ("u1", "i0")]
    train = pd.DataFrame(rows, columns=["user_id", "item_id"])
    d = TrainingData(train, ITEMS[:5], loss_kind="pairwise", ratio=4, strategy="random", seed=0)
    neg = d.negatives(0)
    users = np.repeat(d.users, 4)
    assert not d.is_positive(users, neg.ravel()).any()
    assert set(np.unique(neg[:3])) <= {3, 4}
    everything = pd.DataFrame([("u0", i) for i in ITEMS[:5]], columns=["user_id", "item_id"])
    full = TrainingData(everything, ITEMS[:5], loss_kind="pairwise", ratio=1, strategy="random",
                        seed=0)
    with pytest.raises(DataError, match="'u0' has interacted with every item"):
        full.negatives(0)


def test_full_softmax_batches_have_every_train_item_as_candidate():
    d = data(kind="listwise", full_softmax=True)
    batch = next(d.batches(0, 8))
    assert set(batch) == {"users", "pos", "valid"}
    users, pos, valid = (batch[k].numpy() for k in ("users", "pos", "valid"))
    train_rows = np.flatnonzero(d.counts > 0)
    assert valid.shape == (8, len(train_rows))
    expected = ~d.is_positive(users[:, None], train_rows[None, :])
    expected[train_rows[None, :] == pos[:, None]] = True  # the row's own target
    assert np.array_equal(valid, expected)


def test_sequence_windows_make_every_later_interaction_a_target_once():
    rows = [("a", f"i{k}", k) for k in range(7)] + [("b", "i0", 1), ("b", "i1", 0),
                                                    ("c", "i2", 5)]
    train = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    d = TrainingData(train, ITEMS, loss_kind="listwise", ratio=1, strategy="random", seed=0,
                     full_softmax=True)
    batches = list(d.sequence_batches(0, batch_size=3, length=3))
    targets, inputs, users = [], [], []
    for b in batches:
        for u, seq, tgt in zip(b["users"].numpy(), b["seq"].numpy(), b["targets"].numpy(),
                               strict=True):
            ok = tgt >= 0
            assert ((seq >= 0) == ok).all()
            users.append(d.user_ids[u - 1])
            targets += [(d.user_ids[u - 1], t) for t in tgt[ok]]
            inputs.append((d.user_ids[u - 1], seq[ok].tolist(), tgt[ok].tolist()))
    a = [ITEMS.index(f"i{k}") for k in range(7)]
    # a: 6 targets in windows of 3 from the latest back; b: ordered by time (i1 before i0);
    # c has a single interaction and no target
    assert sorted(targets) == sorted([("a", t) for t in a[1:]] + [("b", ITEMS.index("i0"))])
    assert ("a", a[3:6], a[4:7]) in inputs and ("a", a[0:3], a[1:4]) in inputs
    assert ("b", [ITEMS.index("i1")], [ITEMS.index("i0")]) in inputs
    assert "c" not in users
    assert d.n_batches(3, 1, 3) == len(batches)
