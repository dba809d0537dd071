"""End-to-end runs that chain the stages (used by `pixelrec demo`)."""

from __future__ import annotations

import time
from pathlib import Path

from pixelrec.config import Config
from pixelrec.data.demo import demo_exists, write_demo
from pixelrec.data.preprocess import preprocess
from pixelrec.data.split_stage import create_splits, split_files


class _Stages:
    """Runs named stages, announcing each and keeping their wall times."""

    def __init__(self) -> None:
        self.timings: list[tuple[str, float]] = []

    def __call__(self, name: str, fn, *args, **kwargs):
        print(f"==> {name}", flush=True)
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.timings.append((name, time.perf_counter() - start))
        return out


def run_demo(config: Config, n_items: int = 2000, n_users: int = 1500, seed: int = 0,
             config_path: str = "configs/demo.yaml") -> str:
    """Generate the demo data if needed, run every stage, return the summary with the tables."""
    from pixelrec.evaluation import evaluate_recommender
    from pixelrec.features import precompute, summary_line
    from pixelrec.models import BASELINE_TYPES
    from pixelrec.report import write_report
    from pixelrec.training import train_model

    stage = _Stages()
    demo_dir = Path(config.data.interactions_path).parent
    if demo_exists(demo_dir, n_items, n_users, seed):
        print(f"==> demo data: reusing {demo_dir}")
    else:
        stage("demo data", write_demo, demo_dir, n_items, n_users, seed)
    report = stage("preprocess", preprocess, config)
    stats = stage("split", create_splits, config)
    features = stage("precompute features", precompute, config)
    print(summary_line(features))
    training = stage("train multimodal", train_model, config)
    val_path = split_files(config.data.split_data_path)["val"]
    popularity_val = stage("validate popularity", evaluate_recommender, config, "popularity",
                           test_path=val_path)

    results = {}
    for name in (*BASELINE_TYPES, "multimodal"):
        results[name] = stage(f"evaluate {name}", evaluate_recommender, config, name,
                              output=f"eval_{name}_retrieval.json")
    report_path = stage("report", write_report, config)
    return format_summary(report, stats, training, popularity_val, results, stage.timings,
                          config, report_path, config_path)


def format_summary(report: dict, stats: dict, training: dict, popularity_val: dict,
                   results: dict[str, dict], timings: list[tuple[str, float]],
                   config: Config, report_path: Path, config_path: str = "configs/demo.yaml"
                   ) -> str:
    from pixelrec.evaluation import format_results_table

    inter = report["interactions"]
    lines = [
        "",
        f"Preprocess: {inter['rows_out']} interactions kept of {inter['rows_in']} "
        f"({inter['duplicates_dropped']} duplicates, {inter['k_core_dropped']} below k-core); "
        f"{report['items']['rows_out']} items, {report['users']['out']} users; "
        f"{report['images'].get('ok', 0)} images ok, {report['images'].get('missing', 0)} missing.",
        f"Split ({stats['strategy']}): "
        + ", ".join(f"{p} {stats[p]['interactions']} interactions / {stats[p]['users']} users"
                    for p in ("train", "val", "test"))
        + f"; {sum(stats['removed'].values())} val/test rows removed (user or item not in train).",
        f"Validation NDCG@10: multimodal {training['best_val_ndcg@10']:.4f} "
        f"(best epoch {training['best_epoch']}) vs popularity "
        f"{popularity_val['metrics']['ndcg@10']:.4f}.",
        "",
        f"Test metrics (full ranking over {results['popularity']['metadata']['catalogue']['n_items']}"
        f" items, {results['popularity']['metadata']['counts']['evaluated_users']} users):",
        format_results_table(results),
        "",
        f"Result files: {config.results_dir}/eval_<recommender>_retrieval.json "
        f"(compare two with `pixelrec compare A B`).",
        "Stage times: " + ", ".join(f"{n} {t:.1f}s" for n, t in timings),
        "",
        f"Report: {report_path}",
        f"Serve the model: pixelrec serve --config {config_path}   "
        f"(then open http://{config.serving.host}:{config.serving.port}/docs)",
    ]
    return "\n".join(lines)
