"""End-to-end runs that chain the stages (used by `pixelrec demo`)."""

from __future__ import annotations

import time
from pathlib import Path

from pixelrec.config import Config
from pixelrec.data.demo import demo_exists, write_demo
from pixelrec.data.preprocess import preprocess
from pixelrec.data.split_stage import create_splits


def run_demo(config: Config, n_items: int = 2000, n_users: int = 1500, seed: int = 0) -> str:
    """Generate the demo data if needed, run every available stage, return the summary table."""
    timings: list[tuple[str, float]] = []

    def stage(name: str, fn, *a, **kw):
        print(f"==> {name}", flush=True)
        start = time.perf_counter()
        out = fn(*a, **kw)
        timings.append((name, time.perf_counter() - start))
        return out

    demo_dir = Path(config.data.interactions_path).parent
    if demo_exists(demo_dir, n_items, n_users, seed):
        print(f"==> demo data: reusing {demo_dir}")
    else:
        stage("demo data", write_demo, demo_dir, n_items, n_users, seed)
    report = stage("preprocess", preprocess, config)
    stats = stage("split", create_splits, config)
    return format_summary(report, stats, timings)


def format_summary(report: dict, stats: dict, timings: list[tuple[str, float]]) -> str:
    inter = report["interactions"]
    lines = [
        "",
        f"Preprocess: {inter['rows_out']} interactions kept of {inter['rows_in']} "
        f"({inter['duplicates_dropped']} duplicates, {inter['k_core_dropped']} below k-core); "
        f"{report['items']['rows_out']} items, {report['users']['out']} users; "
        f"{report['images'].get('ok', 0)} images ok, {report['images'].get('missing', 0)} missing.",
        "",
        f"Split ({stats['strategy']}):",
        f"  {'part':<6}{'interactions':>14}{'users':>8}{'items':>8}",
    ]
    for part in ("train", "val", "test"):
        s = stats[part]
        lines.append(f"  {part:<6}{s['interactions']:>14}{s['users']:>8}{s['items']:>8}")
    removed = sum(stats["removed"].values())
    lines.append(f"  removed from val/test (user or item not in train): {removed}")
    lines.append("")
    lines.append("Stage times: " + ", ".join(f"{n} {t:.1f}s" for n, t in timings))
    return "\n".join(lines)
