"""Scale: every pipeline stage on synthetic data of a given size, under a wall-time and peak-RSS
probe (issue 12).

Per size (`--sizes INTERACTIONSxITEMS`, e.g. `1000000x100000`), a synthetic text-only dataset
(`--images` adds small pictures) is generated under `--work`, then each stage runs as its own
`pixelrec` process, so its peak RSS (`wait4`'s `ru_maxrss`: the process and the workers it
waited for) is its own:

    preprocess, split, precompute, train (`--epochs`), evaluate multimodal, popularity,
    item_knn, ease, ease with `rank` 256 (low-rank), als (every test user, or a seeded sample
    of `--eval_users`), recommend (multimodal, `--recommend_users` users), serve (start-up
    of the API over the trained model + one request)

A stage that exits 2 before doing its work is `refused` (its message is kept: a model that
cannot run at that size must say so up front); any other non-zero exit, a kill or
`--stage_timeout` is `failed`. Results go to `bench/results/scale.json` (runs of the same size
and options are replaced, others kept) and a table in `docs/benchmarks.md` (`tables.py`), with
growth exponents log(t2/t1) / log(n2/n1) between consecutive sizes.

    .venv/bin/python bench/scale.py --sizes 100000x10000 1000000x100000
    .venv/bin/python bench/scale.py --sizes 10000000x1000000 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from _common import ROOT, write_json

STAGE_ORDER = ["preprocess", "split", "precompute", "train", "evaluate_multimodal",
               "evaluate_popularity", "evaluate_item_knn", "evaluate_ease",
               "evaluate_ease_rank256", "evaluate_als", "recommend", "serve"]
# the stages each one needs (every other stage needs the split)
NEEDS = {"preprocess": [], "split": ["preprocess"], "precompute": ["preprocess"],
         "train": ["split", "precompute"], "evaluate_multimodal": ["train"],
         "recommend": ["train"], "serve": ["train"]}
WORDS = ("red blue green black white silver golden dark light classic modern vintage urban "
         "wild quiet bright soft heavy small large slim cosy sharp smooth rough warm cold").split()
NOUNS = ("jacket shirt dress shoe boot lamp chair table mug bottle novel album film game watch "
         "bag scarf hat phone cable speaker camera poster puzzle candle blanket").split()
TAGS = "sport home office travel kids outdoor kitchen garden music books style tech".split()


# ---- data -------------------------------------------------------------------------------------

def generate(out: Path, n_interactions: int, n_items: int, seed: int = 0,
             images: bool = False) -> dict:
    """items.csv (item_id, title, tag, price) and interactions.csv (user_id, item_id, timestamp):
    Zipf-like item popularity, log-normal user activity (about 20 interactions per user), users
    drawn towards one of 50 taste clusters of items; vectorised, so 10M rows take seconds."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    n_users = max(10, n_interactions // 20)
    clusters = 50
    item_cluster = rng.integers(0, clusters, n_items)
    words, nouns = np.array(WORDS), np.array(NOUNS)
    titles = (pd.Series(words[rng.integers(0, len(words), n_items)]) + " "
              + pd.Series(words[(item_cluster * 7) % len(words)]) + " "
              + pd.Series(nouns[item_cluster % len(nouns)]) + " "
              + pd.Series(np.arange(n_items)).astype(str))
    items = pd.DataFrame({"item_id": "i" + pd.Series(np.arange(n_items)).astype(str),
                          "title": titles,
                          "tag": np.array(TAGS)[item_cluster % len(TAGS)],
                          "price": np.round(rng.lognormal(3, 1, n_items), 2)})
    items.to_csv(out / "items.csv", index=False)
    if images:
        _images(out / "images", items["item_id"], item_cluster, rng)

    activity = rng.lognormal(0, 1, n_users)
    users = rng.choice(n_users, n_interactions, p=activity / activity.sum())
    user_cluster = rng.integers(0, clusters, n_users)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    rng.shuffle(pop)
    # half the interactions follow global popularity, half the user's cluster
    own = rng.random(n_interactions) < 0.5
    picks = np.searchsorted(np.cumsum(pop) / pop.sum(), rng.random(n_interactions))
    order = np.argsort(item_cluster, kind="stable")
    starts = np.searchsorted(item_cluster[order], np.arange(clusters))
    sizes = np.diff(np.r_[starts, n_items])
    c = user_cluster[users[own]]
    picks[own] = order[starts[c] + (rng.random(int(own.sum())) * np.maximum(sizes[c], 1))
                       .astype(np.int64).clip(max=np.maximum(sizes[c] - 1, 0))]
    picks = np.minimum(picks, n_items - 1)
    stamps = 1_600_000_000 + np.sort(rng.integers(0, 365 * 86400, n_interactions))
    inter = pd.DataFrame({"user_id": "u" + pd.Series(users).astype(str),
                          "item_id": "i" + pd.Series(picks).astype(str), "timestamp": stamps})
    inter.to_csv(out / "interactions.csv", index=False)
    return {"interactions": n_interactions, "items": n_items, "users": n_users}


def _images(folder: Path, ids: pd.Series, cluster: np.ndarray, rng) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for item_id, c in zip(ids, cluster, strict=True):
        colour = tuple(int(v) for v in (np.array([c * 37, c * 91, c * 53]) % 256))
        noise = rng.integers(0, 40, (32, 32, 3), dtype=np.uint8)
        arr = (np.full((32, 32, 3), colour, dtype=np.uint8) + noise).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"{item_id}.jpg", quality=80)


def write_config(run: Path, data: Path, images: bool, epochs: int) -> Path:
    """A config over the generated files with every output under `run`."""
    config = {
        "checkpoint_dir": str(run / "models"), "results_dir": str(run / "results"), "seed": 0,
        "model": {"vision_model": "efficientnet-lite0" if images else None,
                  "language_model": "sentence-bert", "use_contrastive": images,
                  "embedding_dim": 64},
        "data": {
            "item_info_path": str(data / "items.csv"),
            "interactions_path": str(data / "interactions.csv"),
            "image_folder": str(data / "images") if images else None,
            "processed_item_info_path": str(run / "processed" / "item_info.parquet"),
            "processed_interactions_path": str(run / "processed" / "interactions.parquet"),
            "processed_image_folder": str(run / "processed" / "images"),
            "scaler_path": str(run / "processed" / "scaler.json"),
            "split_data_path": str(run / "splits"),
            "numerical_features_cols": ["price"],
            "columns": {"description": None},
            "cache_config": {"cache_directory": str(run / "cache")},
            "filtering": {"min_user_interactions": 2, "min_item_interactions": 1},
            "splitting": {"strategy": "leave_one_out"},
        },
        "features": {"text_template": "{title}. {tag}"},
        "training": {"epochs": epochs, "progress": False},
    }
    path = run / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# ---- stages -----------------------------------------------------------------------------------

def stage_command(stage: str, config: Path, args) -> list[str]:
    cli = [sys.executable, "-m", "pixelrec"]
    if stage == "preprocess":
        return [*cli, "preprocess", "--config", str(config), "--no_progress"]
    if stage in ("split", "precompute", "train"):
        return [*cli, stage, "--config", str(config)]
    if stage.startswith("evaluate_"):
        name = stage.removeprefix("evaluate_")
        sample = [] if args.eval_users is None else \
            ["--set", f"evaluation.max_users={args.eval_users}"]
        if name == "ease_rank256":  # the low-rank EASE, which has no catalogue limit
            sample += ["--set", "evaluation.baselines.ease.rank=256"]
        return [*cli, "evaluate", "--config", str(config), "--recommender_type",
                name.split("_rank")[0], "--output", f"eval_{name}.json", *sample]
    if stage == "recommend":
        return [*cli, "recommend", "--config", str(config), "--recommender_type", "multimodal",
                "--sample_users", str(args.recommend_users), "--output",
                str(config.parent / "recommendations.json")]
    if stage == "serve":
        return [sys.executable, str(Path(__file__).resolve()), "--serve_probe", str(config)]
    raise ValueError(stage)


def run_stage(stage: str, config: Path, args, log) -> dict:
    """Run one stage in its own process: wall seconds, peak RSS, status (and why, if not ok)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    err_path = config.parent / f"{stage}.stderr"
    started = time.perf_counter()
    with open(err_path, "w") as err, open(config.parent / f"{stage}.stdout", "w") as out:
        proc = subprocess.Popen(stage_command(stage, config, args), stdout=out, stderr=err,
                                env=env, cwd=ROOT)
        deadline = started + args.stage_timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    row = {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
           "status": "ok" if code == 0 else "refused" if code == 2 else "failed"}
    if code != 0:
        tail = err_path.read_text(errors="replace").strip().splitlines()[-3:]
        row["exit_code"] = code
        row["message"] = " | ".join(tail)[-600:] if tail else \
            ("timed out" if seconds >= args.stage_timeout else "")
    if stage == "serve" and code == 0:
        row.update(json.loads((config.parent / "serve.stdout").read_text().splitlines()[-1]))
    log(f"    {stage:22s} {row['status']:8s} {row['seconds']:9.1f} s {row['peak_rss_mb']:9.0f} MB"
        + (f"  {row.get('message', '')[:160]}" if code else ""))
    return row


def serve_probe(config_path: str) -> int:
    """Start the API over the trained multimodal model and answer one request (in-process
    client): prints {"startup_seconds", "request_seconds", "request_status"} as JSON."""
    from fastapi.testclient import TestClient

    from pixelrec.config import load_config
    from pixelrec.inference.loading import load_engine
    from pixelrec.serving.app import create_app

    started = time.perf_counter()
    config = load_config(config_path)
    engine = load_engine(config, "multimodal")
    app = create_app(engine, config)
    startup = time.perf_counter() - started
    user = pd.read_parquet(Path(config.data.split_data_path) / "train.parquet",
                           columns=["user_id"])["user_id"].iloc[0]
    with TestClient(app) as client:
        t0 = time.perf_counter()
        reply = client.get(f"/recommendations/{user}", params={"k": 10})
        request = time.perf_counter() - t0
    print(json.dumps({"startup_seconds": round(startup, 3), "request_seconds": round(request, 4),
                      "request_status": reply.status_code}))
    return 0 if reply.status_code == 200 else 1


def run_size(n_interactions: int, n_items: int, args, log, previous: dict | None = None
             ) -> dict:
    """Generate the data and run the stages; with `--stages` and an existing run folder of this
    size, the stages run in it and replace theirs in the `previous` record (if any)."""
    tag = f"{n_interactions}x{n_items}" + ("-images" if args.images else "")
    data, run = args.work / "data" / tag, args.work / "runs" / f"{tag}-e{args.epochs}"
    again = bool(args.stages) and (run / "config.yaml").exists()
    previous = previous or {}
    stages: dict[str, dict] = dict(previous.get("stages", {})) if again else {}
    if again:
        log(f"[{tag}] rerunning {', '.join(args.stages)} in {run}")
        facts = {"interactions": n_interactions, "items": n_items,
                 "users": max(10, n_interactions // 20)}
        generate_seconds = previous.get("generate_seconds")
        config = run / "config.yaml"
    else:
        log(f"[{tag}] generating")
        t0 = time.perf_counter()
        facts = generate(data, n_interactions, n_items, images=args.images)
        generate_seconds = round(time.perf_counter() - t0, 1)
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        config = write_config(run, data, args.images, args.epochs)
    for stage in STAGE_ORDER:
        if args.stages and stage not in args.stages:
            continue
        missing = [b for b in NEEDS.get(stage, ["split"])
                   if stages.get(b, {}).get("status") not in (None, "ok")]
        if missing:
            stages[stage] = {"seconds": 0.0, "peak_rss_mb": 0.0, "status": "skipped",
                             "message": f"{', '.join(missing)} did not succeed"}
            continue
        stages[stage] = run_stage(stage, config, args, log)
    return {**facts, "images": args.images, "epochs": args.epochs,
            "eval_users": args.eval_users,
            "generate_seconds": generate_seconds, "stages": stages,
            "total_seconds": round(sum(s["seconds"] for s in stages.values()), 1),
            "peak_rss_mb": max((s["peak_rss_mb"] for s in stages.values()), default=0.0)}


def growth(runs: list[dict]) -> list[dict]:
    """Exponents log(t2/t1) / log(n2/n1) in interactions between consecutive sizes (same
    options), per stage that succeeded at both."""
    out = []
    for images in (False, True):
        same = sorted((r for r in runs if r["images"] == images), key=lambda r: r["interactions"])
        for a, b in zip(same, same[1:], strict=False):
            ratio = np.log(b["interactions"] / a["interactions"])
            if ratio <= 0:
                continue
            row = {"from": a["interactions"], "to": b["interactions"], "images": images,
                   "stages": {}}
            for stage, sa in a["stages"].items():
                sb = b["stages"].get(stage)
                if sb and sa["status"] == sb["status"] == "ok" and sa["seconds"] > 0:
                    row["stages"][stage] = round(float(np.log(sb["seconds"] / sa["seconds"])
                                                       / ratio), 2)
            out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["100000x10000", "1000000x100000"],
                        help="INTERACTIONSxITEMS, e.g. 1000000x100000")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--images", action="store_true", help="also generate and encode images")
    parser.add_argument("--stages", nargs="+", choices=STAGE_ORDER, default=None,
                        help="only these stages (default: all); a size already in --out is "
                             "not regenerated: the stages rerun in its run folder")
    parser.add_argument("--recommend_users", type=int, default=1000)
    parser.add_argument("--eval_users", type=int, default=None,
                        help="evaluate a seeded sample of this many test users "
                             "(evaluation.max_users; default: every one)")
    parser.add_argument("--stage_timeout", type=float, default=3600.0)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "scale")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    parser.add_argument("--serve_probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_probe:
        return serve_probe(args.serve_probe)
    previous = json.loads(args.out.read_text())["runs"] if args.out.exists() else []
    runs = []
    for size in args.sizes:
        n_interactions, n_items = (int(float(v)) for v in size.lower().split("x"))
        same = [r for r in previous if (r["interactions"], r["items"], r["images"],
                                        r["epochs"]) == (n_interactions, n_items, args.images,
                                                         args.epochs)]
        runs.append(run_size(n_interactions, n_items, args, lambda m: print(m, flush=True),
                             same[0] if same else None))
        key = {(r["interactions"], r["items"], r["images"], r["epochs"]) for r in runs}
        kept = [r for r in previous
                if (r["interactions"], r["items"], r["images"], r["epochs"]) not in key]
        merged = sorted(kept + runs, key=lambda r: (r["images"], r["interactions"]))
        write_json(args.out, {"machine": {"cpus": os.cpu_count()}, "runs": merged,
                              "growth": growth(merged)})
    failed = [s for r in runs for s, v in r["stages"].items() if v["status"] == "failed"]
    if failed:
        print(f"failed stages: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
