"""Split strategies: exact properties on hand-made data, and invariants under hypothesis."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixelrec.config import SplittingConfig, load_config
from pixelrec.data.preprocess import preprocess
from pixelrec.data.split_stage import create_splits
from pixelrec.data.splitting import (
    STRATEGIES,
    Split,
    check_leakage,
    sample_interactions,
    split_interactions,
    split_stats,
)
from pixelrec.errors import DataError
from pixelrec.io import write_table
from tests.conftest import demo_config_dict

ALL = [*STRATEGIES, "stratified"]


def frame(rows):
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    df["user_id"] = df["user_id"].astype(str)
    df["item_id"] = df["item_id"].astype(str)
    return df


def rows_of(df):
    return sorted(map(tuple, df[["user_id", "item_id", "timestamp"]].to_numpy().tolist()))


def grid(n_users=6, n_items=8):
    """Every user sees items u..u+4 (mod n_items) at increasing times."""
    rows, t = [], 0
    for u in range(n_users):
        for j in range(5):
            rows.append((f"u{u}", f"i{(u + j) % n_items}", t))
            t += 1
    return frame(rows)


def test_leave_one_out_exact():
    df = frame([("a", "x", 1), ("a", "y", 2), ("a", "z", 3), ("a", "w", 4),
                ("b", "w", 5), ("b", "z", 6), ("b", "x", 7), ("b", "y", 8),
                ("c", "x", 8), ("c", "y", 9)])  # c has 2 rows: stays in train
    split = split_interactions(df, SplittingConfig(strategy="leave_one_out"))
    assert rows_of(split.test) == [("a", "w", 4), ("b", "y", 8)]
    assert rows_of(split.val) == [("a", "z", 3), ("b", "x", 7)]
    assert rows_of(split.train) == [("a", "x", 1), ("a", "y", 2), ("b", "w", 5), ("b", "z", 6),
                                    ("c", "x", 8), ("c", "y", 9)]
    assert len(split.removed) == 0


def test_unseen_test_items_are_removed_and_counted():
    df = frame([("a", "x", 1), ("a", "y", 2), ("a", "new", 3),
                ("b", "x", 4), ("b", "y", 5), ("b", "z", 6)])
    split = split_interactions(df, SplittingConfig(strategy="leave_one_out", val_ratio=0.0,
                                                   train_ratio=0.9, test_ratio=0.1))
    assert ("a", "new", 3) not in rows_of(split.test)
    assert "test_item_not_in_train" in set(split.removed["reason"])


def test_temporal_cut_puts_ties_on_the_later_side():
    df = frame([("a", "x", 1), ("b", "y", 2), ("a", "y", 3), ("b", "x", 3), ("c", "x", 3),
                ("c", "y", 4), ("a", "z", 5), ("b", "z", 5), ("c", "z", 6), ("a", "w", 7)])
    split = split_interactions(df, SplittingConfig(strategy="temporal", train_ratio=0.3,
                                                   val_ratio=0.3, test_ratio=0.4))
    # the 30% cut lands inside the three rows at t=3: they all move to val together
    assert rows_of(split.train) == [("a", "x", 1), ("b", "y", 2)]
    assert rows_of(split.val) == [("a", "y", 3), ("b", "x", 3)]
    assert rows_of(split.removed.drop(columns="reason")) == [
        ("a", "w", 7), ("a", "z", 5), ("b", "z", 5), ("c", "x", 3), ("c", "y", 4), ("c", "z", 6)]
    assert split.test.empty  # every test row had an item (z, w) or user (c) unseen in train


def test_random_every_user_in_every_split():
    split = split_interactions(grid(8, 5), SplittingConfig(strategy="random", seed=1))
    users = set(grid(8, 5)["user_id"])
    for part in (split.train, split.val, split.test):
        assert set(part["user_id"]) == users


def test_stratified_is_the_seed_name_for_random():
    a = split_interactions(grid(), SplittingConfig(strategy="stratified", seed=3))
    b = split_interactions(grid(), SplittingConfig(strategy="random", seed=3))
    assert rows_of(a.test) == rows_of(b.test)


@pytest.mark.parametrize("strategy, col", [("cold_user", "user_id"), ("cold_item", "item_id")])
def test_cold_splits_hold_out_entities(strategy, col):
    split = split_interactions(grid(30, 12), SplittingConfig(strategy=strategy, seed=0,
                                                             train_ratio=0.6, val_ratio=0.2,
                                                             test_ratio=0.2))
    assert len(split.test) > 0
    assert not set(split.test[col]) & set(split.train[col])
    assert not set(split.val[col]) & set(split.train[col])


def test_leakage_check_catches_a_shared_row():
    df = frame([("a", "x", 1), ("a", "y", 2)])
    bad = Split(df, df.iloc[:0], df.iloc[:1], "random")
    with pytest.raises(DataError, match="appear in both train and test"):
        check_leakage(bad)
    bad = Split(df.iloc[1:], df.iloc[:0], df.iloc[:1], "temporal")
    with pytest.raises(DataError, match="earlier than the last train"):
        check_leakage(bad)


interactions = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 14), st.integers(0, 40)),
    min_size=1, max_size=120, unique_by=lambda r: (r[0], r[1]),
).map(frame)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=interactions, strategy=st.sampled_from(ALL), seed=st.integers(0, 3))
def test_partition_determinism_and_leakage_free(df, strategy, seed):
    cfg = SplittingConfig(strategy=strategy, seed=seed)
    try:
        split = split_interactions(df, cfg)
    except DataError as exc:  # only legitimate refusal: too few entities for a cold split
        assert "too few distinct" in str(exc)
        return
    pieces = [split.train, split.val, split.test, split.removed]
    assert sorted(sum((rows_of(p) for p in pieces if len(p)), [])) == rows_of(df)
    again = split_interactions(df, cfg)
    for a, b in zip(split.parts().values(), again.parts().values(), strict=True):
        assert rows_of(a) == rows_of(b)
    check_leakage(split)


@given(df=interactions, n=st.integers(1, 60), seed=st.integers(0, 5))
@settings(max_examples=30, deadline=None)
def test_sampling_keeps_whole_histories(df, n, seed):
    sampled = sample_interactions(df, sample_n=n, seed=seed)
    users = set(sampled["user_id"])
    assert len(users) >= 1
    assert rows_of(sampled) == rows_of(df[df["user_id"].isin(users)])
    if len(users) > 1:
        assert len(sampled) <= n
    by_users = sample_interactions(df, sample_users=2, seed=seed)
    assert by_users["user_id"].nunique() == min(2, df["user_id"].nunique())


def test_leave_one_out_ties_keep_the_file_order():
    rows = [("a", "x", 1), ("a", "y", 2), ("a", "z", 2), ("a", "w", 2),
            ("b", "x", 1), ("b", "y", 2), ("b", "z", 3),
            ("c", "x", 0), ("c", "y", 0), ("c", "z", 0), ("c", "w", 0), ("c", "v", 1),
            ("c", "u", 2)]  # c puts every item in train; its own holdout (v, u) is dropped
    split = split_interactions(frame(rows), SplittingConfig(strategy="leave_one_out"))
    assert rows_of(split.test) == [("a", "w", 2), ("b", "z", 3)]  # the later row of the tie
    assert rows_of(split.val) == [("a", "z", 2), ("b", "y", 2)]
    reordered = frame([rows[0], rows[3], rows[2], rows[1], *rows[4:]])  # w, z, y in the file
    split = split_interactions(reordered, SplittingConfig(strategy="leave_one_out"))
    assert rows_of(split.test) == [("a", "y", 2), ("b", "z", 3)]
    assert rows_of(split.val) == [("a", "z", 2), ("b", "y", 2)]
    ties = split_stats(split)["ties"]
    # a's val and test rows share t=2 with a train row; b's and c's holdouts tie with nothing
    assert ties["users_with_tied_holdout"] == 1 and ties["held_out_moments_tied"] == 2


def test_split_stats_report_what_happened():
    df = frame([("a", "x", 1), ("b", "y", 2), ("a", "y", 3), ("b", "x", 3), ("c", "x", 3),
                ("c", "y", 4), ("a", "z", 5), ("b", "z", 5), ("c", "z", 6), ("a", "w", 7)])
    cfg = SplittingConfig(strategy="temporal", train_ratio=0.3, val_ratio=0.3, test_ratio=0.4)
    stats = split_stats(split_interactions(df, cfg))
    assert stats["cuts"] == {"val_from": 3, "test_from": 5}
    assert stats["realized_fractions"] == {"train": 0.5, "val": 0.5, "test": 0.0}
    assert stats["removed"] == {"val_user_not_in_train": 2, "test_user_not_in_train": 1,
                                "test_item_not_in_train": 3}
    assert stats["leakage_checks_passed"] == ["no_row_in_two_parts", "val_test_not_before_train",
                                              "val_test_users_and_items_in_train"]
    loo = split_stats(split_interactions(grid(), SplittingConfig(strategy="leave_one_out")))
    assert "cuts" not in loo
    assert loo["realized_fractions"] == {"train": 0.6, "val": 0.2, "test": 0.2}


def test_repeats_reach_the_split_and_are_counted():
    # leave-one-out holds out (a, z, 3) for val and a's repeat of x, (a, x, 4), for test
    df = frame([("a", "x", 1), ("a", "y", 2), ("a", "z", 3), ("a", "x", 4),
                ("b", "z", 1), ("b", "w", 2), ("b", "y", 3), ("b", "x", 4)])
    split = split_interactions(df, SplittingConfig(strategy="leave_one_out"))
    assert rows_of(split.test) == [("a", "x", 4), ("b", "x", 4)]
    assert rows_of(split.val) == [("a", "z", 3), ("b", "y", 3)]
    assert split_stats(split)["repeats"] == {"val_rows_repeating_known_item": 0,
                                             "test_rows_repeating_known_item": 1}


def stage_config(raw, tmp_path, **overrides):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(demo_config_dict(raw, tmp_path, **overrides)))
    return load_config(path)


def split_warnings(caplog, config) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pixelrec.data.split_stage"):
        create_splits(config)
    return [r.getMessage() for r in caplog.records]


def test_split_removing_most_held_out_rows_warns(tmp_path, caplog):
    # 10 users with 8 interactions each (t 0..79), then t 80..99: 14 rows of users never seen
    # before and 6 of known users; the time cut holds out t >= 80
    rows = [(f"o{u}", f"i{(u + j) % 10}", u * 8 + j) for u in range(10) for j in range(8)]
    known = {83: 0, 87: 1, 89: 2, 93: 3, 97: 4, 99: 5}
    rows += [(f"o{known[t]}", f"i{(known[t] + 8) % 10}", t) if t in known else (f"n{t}", "i0", t)
             for t in range(80, 100)]
    config = stage_config(tmp_path / "raw", tmp_path)
    write_table(frame(rows), config.data.processed_interactions_path)
    messages = split_warnings(caplog, config)
    stats = json.loads((tmp_path / "splits" / "split_stats.json").read_text())
    assert stats["removed"] == {"val_user_not_in_train": 7, "test_user_not_in_train": 7}
    assert stats["val"]["interactions"] == 3 and stats["test"]["interactions"] == 3
    assert messages == [
        f"the 'temporal' split removed 14 of 20 held-out val/test rows (70%) because their user "
        f"or item is not in train (removed: {stats['removed']}), leaving val 3 and test 3 "
        f"interactions to evaluate on. Consider another `data.splitting.strategy`: "
        f"`leave_one_out` (each user's last interactions held out), `user_temporal` (each "
        f"user's later interactions held out), `cold_user` (whole users held out, on purpose "
        f"unseen in train)."]

    # one of the suggested strategies: nothing removed, no warning
    config.data.splitting.strategy = "leave_one_out"
    assert split_warnings(caplog, config) == []
    assert json.loads((tmp_path / "splits" / "split_stats.json").read_text())["removed"] == {}


def test_the_demo_split_does_not_warn(small_demo, tmp_path, caplog):
    config = stage_config(small_demo, tmp_path)
    preprocess(config, progress=False)
    assert split_warnings(caplog, config) == []
    stats = json.loads((tmp_path / "splits" / "split_stats.json").read_text())
    assert 0 < sum(stats["removed"].values()) < stats["test"]["interactions"]
