"""Paired comparison of two result files over the users both evaluated."""

from __future__ import annotations

import numpy as np

from pixelrec.errors import DataError
from pixelrec.evaluation.results import format_table
from pixelrec.evaluation.stats import paired_test


def compare_results(a: dict, b: dict, samples: int, seed: int,
                    metrics: list[str] | None = None) -> list[dict]:
    """Per metric: A, B, B - A over the common users, its 95% CI and a paired p-value.

    Metrics without per-user arrays (e.g. pooled AUC) get only A and B.
    """
    common, ia, ib = np.intersect1d(np.asarray(a["per_user"]["user_id"], dtype=str),
                                    np.asarray(b["per_user"]["user_id"], dtype=str),
                                    assume_unique=True, return_indices=True)
    if len(common) == 0:
        raise DataError("the two results share no evaluated user, so nothing can be paired; "
                        "compare results of the same split (same test file and users).")
    names = metrics or [m for m in a["metrics"] if m in b["metrics"]]
    rows = []
    for name in names:
        row = {"metric": name, "a": a["metrics"].get(name), "b": b["metrics"].get(name),
               "n_users": len(common)}
        if name in a["per_user"] and name in b["per_user"]:
            weight = a["per_user"].get(f"{name}_weight")
            w = None if weight is None else np.asarray(weight)[ia]
            row.update(paired_test(np.asarray(a["per_user"][name])[ia],
                                   np.asarray(b["per_user"][name])[ib], samples, seed, w))
        rows.append(row)
    return rows


def format_comparison(rows: list[dict], name_a: str, name_b: str) -> str:
    def fmt(value, spec=".4f"):
        return "-" if value is None else format(value, spec)

    table = [[r["metric"], fmt(r["a"]), fmt(r["b"]), fmt(r.get("diff"), "+.4f"),
              "-" if r.get("ci95") is None else f"[{r['ci95'][0]:+.4f}, {r['ci95'][1]:+.4f}]",
              fmt(r.get("p_value")),
              "*" if r.get("p_value") is not None and r["p_value"] < 0.05 else ""]
             for r in rows]
    n = rows[0]["n_users"] if rows else 0
    return (f"A = {name_a}\nB = {name_b}\npaired over {n} common users; diff = B - A, "
            f"95% paired bootstrap CI and two-sided bootstrap p from the same replicates "
            f"(* p < 0.05, exactly when the CI excludes 0)\n\n"
            + format_table(["metric", "A", "B", "diff", "95% CI", "p", ""], table))
