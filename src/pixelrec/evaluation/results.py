"""Result files: where they go, how they are read back, and how they print."""

from __future__ import annotations

import json
import math
from pathlib import Path

from pixelrec.errors import DataError


def output_path(results_dir: str | Path, name: str) -> Path:
    """`--output NAME` -> `results_dir/NAME` exactly; a name with a directory part is a path."""
    path = Path(name)
    return path if path.is_absolute() or path.parent != Path(".") else Path(results_dir) / path


def load_result(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise DataError(f"result file not found: {path}; write one with `pixelrec evaluate "
                        f"--output NAME`.")
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"result file {path} is not valid JSON: {exc}.") from None
    if not isinstance(result, dict) or "metrics" not in result or "per_user" not in result:
        raise DataError(f"{path} is not a `pixelrec evaluate` result (no metrics/per_user).")
    return result


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    def line(row: list[str]) -> str:
        return "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                         for i, (v, w) in enumerate(zip(row, widths, strict=True)))

    return "\n".join(line(r) for r in [header, *rows])


def format_results_table(results: dict[str, dict], metrics: list[str] | None = None) -> str:
    """One row per named result, one column per metric (default: the first result's
    metrics at k = 10, or all of them when there is no k = 10)."""
    if not results:
        return "(no results)"
    first = list(next(iter(results.values()))["metrics"])
    names = metrics or [m for m in first if m.endswith("@10")] or first
    rows = [[name, *(_fmt(res["metrics"].get(m)) for m in names)] for name, res in results.items()]
    return format_table(["recommender", *names], rows)


def format_result(result: dict) -> str:
    """Per-k table with CIs for one result, then beyond-accuracy and the counts."""
    ci = result.get("ci95", {})
    rows = []
    for key, value in result["metrics"].items():
        low_high = ci.get(key)
        interval = f"[{low_high[0]:.4f}, {low_high[1]:.4f}]" if low_high else "-"
        rows.append([key, _fmt(value), interval])
    parts = [format_table(["metric", "value", "95% CI"], rows)]
    extra = result.get("beyond_accuracy") or {}
    if extra:
        parts.append(format_table(["beyond accuracy", "value"],
                                  [[k, _fmt(v)] for k, v in extra.items()]))
    cold = result.get("cold_items")
    if cold:
        parts.append("cold items only (" + str(cold["n_candidates"]) + " candidates):\n" +
                     format_table(["metric", "value"],
                                  [[k, _fmt(v)] for k, v in cold["metrics"].items()]))
    counts = result.get("metadata", {}).get("counts", {})
    if counts:
        parts.append(", ".join(f"{k}={v}" for k, v in counts.items()))
    return "\n\n".join(parts)
