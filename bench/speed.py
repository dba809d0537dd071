"""Speed and memory on real data, ours next to Cornac VBPR on the same split and image features.

Per dataset (its first benchmarked split), each stage in a fresh process so its peak RSS is its
own:

* training: ours with early stopping on val NDCG@10 (seconds per epoch, train step only, and
  wall seconds until the best epoch, validation included), with the configuration tuned by
  `accuracy.py` when its cell exists (else the defaults); Cornac VBPR with its tuned
  configuration fitted for 5, 10, 20 and 40 epochs (same seed, so a shorter fit is a prefix of
  a longer one) and scored on val by our metric code: seconds per epoch and seconds of the
  shortest fit that reaches its best val NDCG@10;
* full-ranking evaluation of ours on test: users/s;
* precompute: items/s encoding `--precompute_items` items into an empty cache;
* peak RSS of every stage.

    .venv/bin/python bench/speed.py               # writes bench/results/speed.json
"""

from __future__ import annotations

import json
import multiprocessing as mp
import platform
import shutil
import tempfile
import time
from pathlib import Path

from _common import (
    DATASETS,
    bench_parser,
    dataset_config,
    peak_rss_mb,
    prepare,
    quiet,
    read_split,
    write_json,
)

VBPR_EPOCHS = [5, 10, 20, 40]


def _tuned(work: Path, dataset: str, split: str, model: str) -> dict:
    path = work / "cells" / dataset / split / f"{model}.json"
    return json.loads(path.read_text())["params"] if path.exists() else {}


def stage_train_ours(dataset, split, data_root, work) -> dict:
    import numpy as np
    from accuracy import multimodal_overrides

    from pixelrec.evaluation.core import evaluate_interactions
    from pixelrec.models.multimodal.loading import load_multimodal_recommender
    from pixelrec.training import train_model

    params = _tuned(work, dataset, split, "multimodal")
    overrides = multimodal_overrides({k: v for k, v in params.items() if k != "epochs"})
    config = dataset_config(dataset, split, data_root, work, run="speed", overrides=overrides)
    summary = train_model(config)
    history = summary["history"]
    best = summary["best_epoch"]
    to_best = sum(h["seconds"] for h in history[:best])
    train_only = [h.get("train_seconds", h["seconds"]) for h in history]
    frames = read_split(config)
    rec = load_multimodal_recommender(config, "best", train=frames["train"])
    started = time.perf_counter()
    out = evaluate_interactions(rec, frames["test"], [frames["train"], frames["val"]],
                                evaluation=config.evaluation, seed=0, bootstrap=False)
    eval_seconds = time.perf_counter() - started
    users = len(out["per_user"]["user_id"])
    return {"params": params, "epochs_run": len(history), "best_epoch": best,
            "seconds_per_epoch": float(np.median(train_only)),
            "seconds_per_epoch_with_validation": float(np.median([h["seconds"]
                                                                   for h in history])),
            "seconds_to_best": to_best, "best_val_ndcg@10": summary["best_val_ndcg@10"],
            "val_curve": [[round(float(np.sum([h["seconds"] for h in history[:k + 1]])), 3),
                           history[k].get("val", {}).get("ndcg@10")]
                          for k in range(len(history))],
            "eval_users": users, "eval_seconds": eval_seconds,
            "eval_users_per_s": users / eval_seconds}


def stage_train_vbpr(dataset, split, data_root, work) -> dict:
    from accuracy import Context, scores
    from cornac_models import CornacVBPR

    params = {k: v for k, v in _tuned(work, dataset, split, "cornac-vbpr").items()
              if k != "n_epochs"}
    ctx = Context(dataset, split, data_root, work)
    emb, ids = ctx.features("image", normalise=False)
    curve = []
    for epochs in VBPR_EPOCHS:
        rec = CornacVBPR(emb, ids, n_epochs=epochs, seed=0, **params)
        started = time.perf_counter()
        with quiet():
            rec.fit(ctx.frames["train"], items=ctx.items)
        seconds = time.perf_counter() - started
        curve.append({"epochs": epochs, "seconds": seconds,
                      "val_ndcg@10": scores(ctx, rec, "val")["mean"]["ndcg@10"]})
    best = max(curve, key=lambda c: c["val_ndcg@10"])
    per_epoch = [c["seconds"] / c["epochs"] for c in curve]
    return {"params": params, "curve": curve, "best_epochs": best["epochs"],
            "seconds_per_epoch": sorted(per_epoch)[len(per_epoch) // 2],
            "seconds_to_best": best["seconds"], "best_val_ndcg@10": best["val_ndcg@10"]}


def stage_precompute(dataset, split, data_root, work, n_items) -> dict:
    from pixelrec.features import precompute

    tmp = Path(tempfile.mkdtemp(prefix="speed-cache-"))
    try:
        config = dataset_config(dataset, split, data_root, work,
                                overrides={"data.cache_config.cache_directory": str(tmp)})
        started = time.perf_counter()
        precompute(config, max_items=n_items, progress=False)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"items": n_items, "seconds": seconds, "items_per_s": n_items / seconds}


def _child(stage, threads, args, queue) -> None:
    import torch

    torch.set_num_threads(threads)
    result = STAGES[stage](*args)
    result["peak_rss_mb"] = peak_rss_mb()
    queue.put(result)


STAGES = {"train_ours": stage_train_ours, "train_vbpr": stage_train_vbpr,
          "precompute": stage_precompute}


THREADS = [2]


def run_stage(stage: str, *args) -> dict:
    """`stage` in a fresh process (its own peak RSS)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(stage, THREADS[0], args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if proc.exitcode:
        raise SystemExit(f"stage {stage} failed with exit code {proc.exitcode}")
    return result


def rows(ours: dict, vbpr: dict, pre: dict) -> list[dict]:
    def fmt(x, unit=""):
        return f"{x:.2f}{unit}" if x < 100 else f"{x:.0f}{unit}"

    # the first epoch at which ours is at least as good on val as VBPR's best fit
    reach = next((seconds for seconds, value in ours.get("val_curve", [])
                  if value is not None and value >= vbpr["best_val_ndcg@10"]), None)

    return [
        {"measure": "train seconds per epoch", "ours": fmt(ours["seconds_per_epoch"]),
         "cornac": fmt(vbpr["seconds_per_epoch"]),
         "ratio": ours["seconds_per_epoch"] / vbpr["seconds_per_epoch"]},
        {"measure": "train seconds to best val NDCG@10", "ours": fmt(ours["seconds_to_best"]),
         "cornac": fmt(vbpr["seconds_to_best"]),
         "ratio": ours["seconds_to_best"] / vbpr["seconds_to_best"]},
        {"measure": "train seconds to VBPR's best val NDCG@10",
         "ours": "not reached" if reach is None else fmt(reach),
         "cornac": fmt(vbpr["seconds_to_best"]),
         "ratio": None if reach is None else reach / vbpr["seconds_to_best"]},
        {"measure": "best val NDCG@10", "ours": f"{ours['best_val_ndcg@10']:.4f}",
         "cornac": f"{vbpr['best_val_ndcg@10']:.4f}", "ratio": None},
        {"measure": "training peak RSS (MB)", "ours": fmt(ours["peak_rss_mb"]),
         "cornac": fmt(vbpr["peak_rss_mb"]),
         "ratio": ours["peak_rss_mb"] / vbpr["peak_rss_mb"]},
        {"measure": "full-ranking evaluation users/s", "ours": fmt(ours["eval_users_per_s"]),
         "cornac": "-", "ratio": None},
        {"measure": "precompute items/s (image + text)", "ours": fmt(pre["items_per_s"]),
         "cornac": "-", "ratio": None},
        {"measure": "precompute peak RSS (MB)", "ours": fmt(pre["peak_rss_mb"]),
         "cornac": "-", "ratio": None},
    ]


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, "speed.json")
    parser.add_argument("--precompute_items", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per stage")
    args = parser.parse_args(argv)
    THREADS[0] = args.threads
    result = json.loads(args.out.read_text()) if args.out.exists() else {}
    result["machine"] = {"python": platform.python_version(), "cpus": mp.cpu_count(),
                         "processor": platform.processor() or platform.machine(),
                         "torch_threads": args.threads}
    for dataset in args.datasets:
        prepare(dataset, args.data_root, args.work)
        split = DATASETS[dataset]["splits"][0]
        common = (dataset, split, args.data_root, args.work)
        print(f"[{dataset} / {split}] training ours", flush=True)
        ours = run_stage("train_ours", *common)
        print(f"    {ours['seconds_per_epoch']:.2f} s/epoch, best after "
              f"{ours['seconds_to_best']:.1f} s", flush=True)
        print(f"[{dataset} / {split}] training Cornac VBPR", flush=True)
        vbpr = run_stage("train_vbpr", *common)
        print(f"    {vbpr['seconds_per_epoch']:.2f} s/epoch, best after "
              f"{vbpr['seconds_to_best']:.1f} s", flush=True)
        pre = run_stage("precompute", *common, args.precompute_items)
        result.setdefault("datasets", {})[dataset] = {
            "split": split, "ours": ours, "cornac_vbpr": vbpr, "precompute": pre,
            "rows": rows(ours, vbpr, pre)}
        write_json(args.out, result)
    from tables import write_docs

    write_docs()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
