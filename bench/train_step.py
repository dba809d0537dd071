"""Seconds per training step of the multimodal model on a large catalogue, per setting, same run.

Builds the trainer of a prepared run (a `bench/scale.py` run folder: processed data, split and
feature cache) once per variant of `training.history_vectors` x `training.sparse_embeddings`,
and times the optimiser steps `--skip`..`--skip + --steps` of the first epoch (forward,
backward, clipping, optimiser, EMA; the history-table refreshes are timed apart). The
variants take turns for `--rounds` rounds, so machine noise spreads over all of them.

    .venv/bin/python bench/scale.py --sizes 1000000x100000        # prepares the run folder
    .venv/bin/python bench/train_step.py bench/work/scale/runs/1000000x100000-e2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

VARIANTS = {"live, dense": ("live", False), "live, sparse": ("live", True),
            "table, dense": ("table", False), "table, sparse": ("table", True)}


def time_steps(run: Path, history: str, sparse, skip: int, steps: int, threads: int,
               refresh_every: int, overrides: list[str]) -> dict:
    import torch

    from pixelrec.config import load_config
    from pixelrec.training.distributed import Context
    from pixelrec.training.optim import clip_gradients
    from pixelrec.training.trainer import Trainer

    torch.set_num_threads(threads)
    config = load_config(run / "config.yaml", [
        f"training.history_vectors={history}", f"training.sparse_embeddings={str(sparse).lower()}",
        f"training.history_refresh_steps={refresh_every}", "training.progress=false",
        *overrides])
    trainer = Trainer(config, Context(torch.device("cpu")))
    trainer.network.train()
    if trainer.history_table:
        trainer.network.refresh_history_table()
    cfg = config.training
    times = []
    refresh = []
    if trainer.sequence_length is not None:  # as Trainer.train_epoch picks them
        batches = trainer.data.sequence_batches(0, trainer.local_batch, trainer.sequence_length)
    else:
        batches = trainer.data.batches(0, trainer.local_batch)
    for k, batch in enumerate(batches):
        if k >= skip + steps:
            break
        start = time.perf_counter()
        out = trainer.model(batch)
        out["loss"].backward()
        clip_gradients(trainer.network.parameters(), cfg.gradient_clip_norm)
        trainer.optimizer.step()
        if trainer.ema is not None:
            trainer.ema.update()
        trainer.optimizer.zero_grad(set_to_none=True)
        if k >= skip:
            times.append(time.perf_counter() - start)
        if trainer.history_table and (k + 1) % refresh_every == 0:  # timed on its own
            t = time.perf_counter()
            trainer.network.refresh_history_table()
            refresh.append(time.perf_counter() - t)
    sparse_on = any(t.sparse for t in trainer.network.id_tables())
    return {"seconds_per_step": statistics.mean(times), "refresh_seconds": refresh,
            "sparse_tables": sparse_on, "history_table": bool(trainer.history_table),
            "batches_per_epoch": trainer.batches_per_epoch, "items": len(trainer.item_ids)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a bench/scale.py run folder (config.yaml)")
    parser.add_argument("--skip", type=int, default=5, help="warm-up steps not timed")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--refresh", type=int, default=10,
                        help="training.history_refresh_steps (small, so refreshes are timed)")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides for every variant, e.g. model.user_history=mean")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "train_step.json")
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, (history, sparse) in VARIANTS.items():
            runs[name].append(time_steps(args.run, history, sparse, args.skip, args.steps,
                                         args.threads, args.refresh, args.overrides))
            print(f"{name:<16}{runs[name][-1]['seconds_per_step']:.3f} s/step", flush=True)
    rows = {}
    base = statistics.median(r["seconds_per_step"] for r in runs["live, dense"])
    print(f"\n{'variant':<16}{'s/step':>8}{'vs live, dense':>16}{'refresh s':>11}"
          f"   (a refresh every training.history_refresh_steps steps, not in s/step)")
    for name, results in runs.items():
        step = statistics.median(r["seconds_per_step"] for r in results)
        refresh = [s for r in results for s in r["refresh_seconds"]]
        rows[name] = {"seconds_per_step": round(step, 4), "speedup": round(base / step, 2),
                      "refresh_seconds": round(statistics.median(refresh), 3) if refresh else None,
                      "runs_seconds_per_step": [round(r["seconds_per_step"], 4) for r in results],
                      "sparse_tables": results[0]["sparse_tables"],
                      "history_table": results[0]["history_table"]}
        print(f"{name:<16}{step:>8.3f}{base / step:>16.2f}"
              f"{rows[name]['refresh_seconds'] or 0:>11.2f}")
    first = next(iter(runs.values()))[0]
    out = {"run": str(args.run), "items": first["items"],
           "batches_per_epoch": first["batches_per_epoch"], "threads": args.threads,
           "overrides": args.overrides, "timed_steps": args.steps, "rounds": args.rounds, "history_refresh_steps": args.refresh,
           "variants": rows, "command": "python bench/train_step.py " + " ".join(sys.argv[1:])}
    from pixelrec.io import write_json_atomic

    write_json_atomic(args.out, out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
