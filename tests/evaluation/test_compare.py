"""Paired comparison of two results over their common users."""

from __future__ import annotations

import pytest

from pixelrec.evaluation.compare import compare_results, format_comparison


def result(users, values, auc):
    return {"metrics": {"ndcg@10": sum(values) / len(values), "auc": auc},
            "per_user": {"user_id": users, "ndcg@10": values}}


def test_difference_over_common_users_only():
    a = result(["u1", "u2", "u3", "u4"], [0.0, 1.0, 0.0, 1.0], 0.6)
    b = result(["u4", "u3", "u2", "u9"], [1.0, 1.0, 1.0, 0.0], 0.7)
    rows = compare_results(a, b, samples=200, seed=0)
    ndcg, auc = rows
    assert ndcg["n_users"] == 3
    assert ndcg["diff"] == pytest.approx(1 / 3)  # u2: 0, u3: +1, u4: 0
    assert 0.0 <= ndcg["ci95"][0] <= ndcg["ci95"][1] <= 1.0
    assert 0 < ndcg["p_value"] <= 1
    assert auc == {"metric": "auc", "a": 0.6, "b": 0.7, "n_users": 3}
    text = format_comparison(rows, "A.json", "B.json")
    assert "paired over 3 common users" in text and "+0.3333" in text


def test_no_common_user_is_an_error():
    from pixelrec.errors import DataError

    a = result(["u1"], [1.0], 0.5)
    b = result(["u2"], [0.0], 0.5)
    with pytest.raises(DataError, match="share no evaluated user"):
        compare_results(a, b, samples=50, seed=0)
