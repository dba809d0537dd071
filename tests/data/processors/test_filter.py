from __future__ import annotations

import pandas as pd

from pixelrec.data.processors import DataFilter


def frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def test_duplicates_keep_earliest():
    df = frame([("u", "a", 5), ("u", "a", 2), ("u", "b", 3), ("v", "a", 1)])
    kept, dropped = DataFilter.drop_duplicates(df)
    assert dropped == 1
    assert sorted(map(tuple, kept.to_numpy().tolist())) == [("u", "a", 2), ("u", "b", 3),
                                                           ("v", "a", 1)]


def test_repeats_kept_and_only_same_moment_rows_collapse():
    df = frame([("u", "a", 5), ("u", "a", 2), ("u", "a", 2), ("u", "b", 3), ("v", "a", 1)])
    kept, dropped = DataFilter.drop_duplicates(df, "keep")
    assert dropped == 1  # the second (u, a, 2)
    assert sorted(map(tuple, kept.to_numpy().tolist())) == [("u", "a", 2), ("u", "a", 5),
                                                           ("u", "b", 3), ("v", "a", 1)]


def test_unknown_items_dropped():
    kept, dropped = DataFilter.drop_unknown_items(frame([("u", "a", 1), ("u", "z", 2)]),
                                                  pd.Series(["a"]))
    assert dropped == 1 and kept["item_id"].tolist() == ["a"]


def test_k_core_iterates_until_stable():
    # u3 has 1 interaction -> removed; then item c has 1 -> removed; then u2 has 1 -> removed.
    rows = [("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 3), ("u2", "c", 4), ("u3", "c", 5),
            ("u4", "a", 6), ("u4", "b", 7), ("u5", "d", 8)]
    kept, rounds = DataFilter(2, 2).k_core(frame(rows))
    assert set(kept["user_id"]) == {"u1", "u4"}
    assert set(kept["item_id"]) == {"a", "b"}
    assert rounds >= 2
    counts_u = kept.groupby("user_id").size()
    counts_i = kept.groupby("item_id").size()
    assert (counts_u >= 2).all() and (counts_i >= 2).all()


def test_filter_step_reads_the_repeats_key():
    from pixelrec.config.data import FilteringConfig
    from pixelrec.data.processors.steps import _filter

    rows = frame([("u", "a", 1), ("u", "b", 2), ("u", "a", 3), ("v", "a", 1), ("v", "b", 2)])
    items = pd.DataFrame({"item_id": ["a", "b"]})
    for repeats, kept in (("first", 4), ("keep", 5)):
        out, counts = _filter(rows, items, FilteringConfig(min_user_interactions=1,
                                                           min_item_interactions=1,
                                                           repeats=repeats))
        assert len(out) == kept and counts["repeats"] == repeats
        assert counts["duplicates_dropped"] == 5 - kept
