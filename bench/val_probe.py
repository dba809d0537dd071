"""Validation probes used to choose defaults (prints JSON lines; tuning never reads test).

    .venv/bin/python bench/val_probe.py multimodal ml1m-posters-100k leave_one_out \
        '{"model.use_user_id": true, "seed": 1}'
    .venv/bin/python bench/val_probe.py baselines    # ALS / BPR default candidates, 2 seeds
    .venv/bin/python bench/val_probe.py ease_rank    # exact EASE vs evaluation.baselines.ease.rank

`multimodal`: train ours on train with early stopping on val under config overrides (any dotted
key, e.g. `{"training.epochs": 10, "training.patience": 100, "training.ema_decay": 0}` for a
fixed-length run), print the best val metrics and epoch and the per-epoch val NDCG@10. `baselines`: val NDCG@10 of ALS and BPR settings on the shared splits.
"""

from __future__ import annotations

import json
import sys
import time

import torch
from _common import ROOT
from accuracy import Context, fit_baseline, scores, train_multimodal

DATA, WORK = ROOT.parent / "shared" / "data", ROOT / "bench" / "work"
BASELINE_SETTINGS = {
    "als": [{}, {"alpha": 10.0, "regularization": 1.0}, {"alpha": 10.0, "regularization": 0.1},
            {"alpha": 5.0, "regularization": 1.0}],
    "bpr": [{}, {"learning_rate": 0.05}, {"learning_rate": 0.05, "regularization": 0.001}],
}
BASELINE_SPLITS = [("ml-latest-small-posters", "leave_one_out"),
                   ("ml1m-posters-100k", "leave_one_out"), ("ml1m-posters-100k", "temporal")]


def probe_multimodal(dataset: str, split: str, overrides: dict) -> dict:
    seed = int(overrides.pop("seed", 0))
    ctx = Context(dataset, split, DATA, WORK)
    started = time.perf_counter()
    run = "probe-" + "-".join(f"{k}={v}" for k, v in sorted(overrides.items())) + f"-s{seed}"
    rec, summary = train_multimodal(ctx, run, overrides, refit=False, seed=seed)
    return {"dataset": dataset, "split": split, "overrides": overrides, "seed": seed,
            "val": scores(ctx, rec, "val")["mean"], "best_epoch": summary["best_epoch"],
            "val_curve": [round(h.get("val", {}).get("ndcg@10", float("nan")), 4)
                          for h in summary["history"]],
            "seconds": round(time.perf_counter() - started, 1)}


def probe_baselines():
    for dataset, split in BASELINE_SPLITS:
        ctx = Context(dataset, split, DATA, WORK)
        for model, options in BASELINE_SETTINGS.items():
            for params in options:
                values = [scores(ctx, fit_baseline(ctx, model, params, ctx.frames["train"], s),
                                 "val")["mean"]["ndcg@10"] for s in (0, 1)]
                yield {"dataset": dataset, "split": split, "model": model, "params": params,
                       "val_ndcg@10": [round(v, 4) for v in values]}


EASE_RANK_SPLITS = [("ml1m-posters-100k", "leave_one_out", 500.0),
                    ("ml-latest-small-posters", "leave_one_out", 500.0),
                    ("ml1m-posters-100k", "temporal", 5000.0)]


def probe_ease_rank():
    """Val NDCG@10 of exact EASE (the split's tuned l2) and of its low-rank approximation."""
    for dataset, split, l2 in EASE_RANK_SPLITS:
        ctx = Context(dataset, split, DATA, WORK)
        for rank in (None, 64, 256, 512, 1024):
            params = {"l2": l2} if rank is None else {"l2": l2, "rank": rank}
            rec = fit_baseline(ctx, "ease", params, ctx.frames["train"], 0)
            yield {"dataset": dataset, "split": split, "rank": rank,
                   "val_ndcg@10": round(scores(ctx, rec, "val")["mean"]["ndcg@10"], 5)}


def main(argv: list[str]) -> int:
    torch.set_num_threads(1)
    if argv[:1] == ["multimodal"] and len(argv) in (3, 4):
        overrides = json.loads(argv[3]) if len(argv) == 4 else {}
        print(json.dumps(probe_multimodal(argv[1], argv[2], overrides)), flush=True)
    elif argv in (["baselines"], ["ease_rank"]):
        for row in (probe_baselines() if argv == ["baselines"] else probe_ease_rank()):
            print(json.dumps(row), flush=True)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
