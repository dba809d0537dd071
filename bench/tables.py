"""Render `bench/results/accuracy.json`, `speed.json` and `scale.json` as the markdown tables
of `docs/benchmarks.md` (between its `<!-- accuracy:start/end -->`, `<!-- speed:start/end -->`
and `<!-- scale:start/end -->` markers; the prose around them is left alone).

    .venv/bin/python bench/tables.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
METRICS = ["ndcg@10", "recall@20", "hit_rate@10", "coverage@10"]
OURS = ["ensemble", "multimodal_ease", "multimodal"]
ORDER = [*OURS, "popularity", "item_knn", "user_knn", "ease", "als", "bpr", "content_knn",
         "cornac-vbpr", "cornac-bpr"]


def _cell(value: dict) -> str:
    if value.get("ci95") is None:
        return f"{value['mean']:.4f}"
    lo, hi = value["ci95"]
    return f"{value['mean']:.4f} [{lo:.4f}, {hi:.4f}]"


def _params(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "-"


def accuracy_tables(result: dict) -> str:
    out = []
    for dataset, splits in result.items():
        for split, models in splits.items():
            names = sorted(models, key=lambda m: (ORDER.index(m) if m in ORDER else len(ORDER),
                                                  m))
            users = next(iter(models.values())).get("n_test_users")
            out.append(f"### {dataset} / {split} ({users} test users)\n")
            out.append("| model | " + " | ".join(METRICS) + " | seeds | fit s | chosen params |")
            out.append("|---" * (len(METRICS) + 4) + "|")
            for name in names:
                row = models[name]
                out.append(f"| {name} | " + " | ".join(_cell(row[m]) for m in METRICS)
                           + f" | {row.get('seeds', 1)} | {row['fit_seconds']:.1f} | "
                           f"{_params(row['params'])} |")
            out.append("")
            out.extend(versus_table(models))
    return "\n".join(out).rstrip() + "\n"


def versus_table(models: dict) -> list[str]:
    """Each of our models against the best baseline (by test mean) per paired metric: ratio of
    means and the paired bootstrap p-value over the common test users."""
    rows = []
    for name in OURS:
        for metric, v in models.get(name, {}).get("vs_best_baseline", {}).items():
            ratio = "-" if v["ratio"] is None else f"{v['ratio']:.3f}"
            rows.append(f"| {name} | {metric} | {v['baseline']} | {ratio} | "
                        f"{v['p_value']:.4f} | {v['users']} |")
    if not rows:
        return []
    return ["| ours | metric | best baseline | ratio | paired bootstrap p | users |",
            "|---|---|---|---|---|---|", *rows, ""]


def speed_tables(result: dict) -> str:
    out = []
    for dataset, entry in result.get("datasets", {}).items():
        out.append(f"### {dataset}\n")
        out.append("| measure | ours | Cornac VBPR | ratio (ours / VBPR) |")
        out.append("|---|---|---|---|")
        for row in entry["rows"]:
            ratio = row.get("ratio")
            out.append(f"| {row['measure']} | {row['ours']} | {row.get('cornac', '-')} | "
                       f"{'-' if ratio is None else f'{ratio:.2f}'} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def scale_tables(result: dict) -> str:
    """One row per stage, one column pair (seconds, peak RSS MB) per size; the growth exponents
    in interactions between consecutive sizes below."""
    runs = result.get("runs", [])
    if not runs:
        return "\n"
    stages = list(dict.fromkeys(s for r in runs for s in r["stages"]))
    heads = [f"{r['interactions']:,} x {r['items']:,}{' (images)' if r['images'] else ''}, "
             f"{r['epochs']} ep" for r in runs]
    out = ["| stage | " + " | ".join(heads) + " |", "|---" * (len(runs) + 1) + "|"]

    def shown(stage: dict | None) -> str:
        if stage is None:
            return "-"
        text = f"{stage['seconds']:.1f} s, {stage['peak_rss_mb']:.0f} MB"
        return text if stage["status"] == "ok" else f"{stage['status']} ({text})"

    for stage in stages:
        out.append(f"| {stage} | " + " | ".join(shown(r["stages"].get(stage)) for r in runs)
                   + " |")
    out.append("| **total** | " + " | ".join(f"{r['total_seconds']:.0f} s, peak "
                                             f"{r['peak_rss_mb']:.0f} MB" for r in runs) + " |")
    growth = result.get("growth", [])
    if growth:
        out += ["", "| growth exponent (time vs interactions) | "
                + " | ".join(f"{g['from']:,} → {g['to']:,}" for g in growth) + " |",
                "|---" * (len(growth) + 1) + "|"]
        for stage in stages:
            out.append(f"| {stage} | " + " | ".join(
                f"{g['stages'][stage]:.2f}" if stage in g["stages"] else "-" for g in growth)
                + " |")
    return "\n".join(out) + "\n"


def _replace(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC} lacks the <!-- {name}:start --> / <!-- {name}:end --> markers")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def write_docs() -> None:
    text = DOC.read_text()
    if (RESULTS / "accuracy.json").exists():
        text = _replace(text, "accuracy",
                        accuracy_tables(json.loads((RESULTS / "accuracy.json").read_text())))
    if (RESULTS / "speed.json").exists():
        text = _replace(text, "speed", speed_tables(json.loads((RESULTS / "speed.json")
                                                               .read_text())))
    if (RESULTS / "scale.json").exists():
        text = _replace(text, "scale", scale_tables(json.loads((RESULTS / "scale.json")
                                                               .read_text())))
    DOC.write_text(text)


if __name__ == "__main__":
    write_docs()
