"""Accuracy on real data: ours, our baselines and Cornac on the same split files, scored by the
same metric code (`pixelrec.evaluation.core.evaluate_interactions`, full ranking over the whole
catalogue, train (+val) items masked).

Protocol, per dataset and split:
1. Tuning on validation only, with `pixelrec tune`'s study runner and grid sampler
   (`pixelrec.tuning.run_study`, `tuning.sampler: grid`): every main model gets the same budget,
   `--trials` configurations (its library default first, then distinct random draws from its
   grid; a model whose grid is smaller uses all of it). Fit on train, score NDCG@10 on val
   (train masked). Each study is stored beside the cells, so an interrupted tuning resumes.
2. The best configuration is refit on train+val and evaluated once on test (train+val masked).
   Trained models (multimodal, als, bpr, cornac-*) are refit with `--seeds` seeds; the
   multimodal model trains for the best validation epoch count found while tuning.
3. Ablations of ours reuse the tuned configuration untuned (`--ablation_seeds` seeds).
4. Mean over seeds; 95% CI by bootstrap over test users of the seed-averaged per-user metric.
   Coverage@10 (distinct items in all top-10 lists / catalogue) has no per-user value: its
   interval is a Student-t interval over seeds, absent for a single seed.

Every (dataset, split, model) cell is stored under `<work>/cells/` as soon as it finishes, so an
interrupted run resumes where it stopped; `bench/results/accuracy.json` and the tables in
`docs/benchmarks.md` are rebuilt from the cells at the end.

    .venv/bin/python bench/accuracy.py                       # everything (make bench)
    .venv/bin/python bench/accuracy.py --datasets ml-latest-small-posters --models popularity ease
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import (  # noqa: E402 - sets sys.path for pixelrec
    DATASETS,
    bench_parser,
    dataset_config,
    prepare,
    quiet,
    read_split,
    write_json,
)

from pixelrec.evaluation.core import evaluate_interactions  # noqa: E402
from pixelrec.evaluation.data import catalogue  # noqa: E402

METRICS = ["ndcg@10", "recall@20", "hit_rate@10"]
PAIRED = ["ndcg@10", "recall@20"]  # metrics of the paired tests against the best baseline
SELECT = "ndcg@10"

# Search spaces. The first entry of each is the library default; the rest are drawn from the grid.
GRIDS: dict[str, dict[str, list]] = {
    "popularity": {},
    "item_knn": {"k_neighbors": [100, 20, 50, 200, 400], "shrinkage": [10.0, 0.0, 50.0]},
    "user_knn": {"k_neighbors": [100, 20, 50, 200, 400], "shrinkage": [10.0, 0.0, 50.0]},
    "ease": {"l2": [500.0, 50.0, 100.0, 250.0, 1000.0, 2000.0, 5000.0]},
    "als": {"factors": [64, 32, 128], "regularization": [0.01, 0.1, 1.0],
            "alpha": [1.0, 5.0, 20.0], "iterations": [15, 30]},
    "bpr": {"factors": [64, 32, 128], "learning_rate": [0.01, 0.05],
            "regularization": [0.01, 0.001], "iterations": [100, 200]},
    "content_knn": {"modalities": ["image+text", "image", "text"]},
    "multimodal_ease": {"l2": [500.0, 100.0, 250.0, 1000.0, 2000.0, 5000.0],
                        "delta": [50.0, 0.0, 10.0, 200.0, 1000.0],
                        "modalities": ["image+text", "text"]},
    "multimodal": {"learning_rate": [3e-3, 1e-3], "embedding_dim": [64, 128],
                   "id_dropout": [0.1, 0.0, 0.3], "history_dropout": [0.2, 0.5],
                   "history_length": [50, 100]},
    "cornac-vbpr": {"k": [10, 20, 50], "k2": [10, 20, 50], "learning_rate": [0.005, 0.001, 0.01],
                    "lambda_w": [0.01, 0.1], "n_epochs": [50, 20]},
    "cornac-bpr": {"k": [10, 32, 64, 128], "learning_rate": [0.001, 0.01, 0.05],
                   "lambda_reg": [0.01, 0.001], "max_iter": [100, 200]},
}
# The ensemble's members keep their own tuned cells; its weights are tuned by its own val search.
ENSEMBLE = "ensemble"
MAIN_MODELS = [*GRIDS, ENSEMBLE]
OURS = ("multimodal", "multimodal_ease", ENSEMBLE)
SEEDED = {"multimodal", "als", "bpr", "cornac-vbpr", "cornac-bpr", ENSEMBLE}
MULTIMODAL_KEYS = {"learning_rate": "training.learning_rate",
                   "embedding_dim": "model.embedding_dim", "id_dropout": "model.id_dropout",
                   "history_dropout": "model.history_dropout",
                   "history_length": "model.history_length"}
ABLATIONS: dict[str, dict[str, Any]] = {
    "multimodal-mean-history": {"model.user_history": "mean"},
    "multimodal-id-token": {"model.item_id_fusion": "token"},
    "multimodal-cosine": {"model.similarity": "cosine"},
    "multimodal-no-new-item-loss": {"model.new_item_loss_weight": 0.0},
    "multimodal-no-contrastive": {"model.use_contrastive": False},
    "multimodal-no-images": {"model.vision_model": None, "model.use_contrastive": False},
    "multimodal-no-text": {"model.language_model": None, "model.use_contrastive": False},
}


def is_trained(model: str) -> bool:
    """The multimodal model or one of its ablations (trained with `train_model`)."""
    return model == "multimodal" or model in ABLATIONS


def grid_space(model: str) -> tuple[dict, dict]:
    """(search space, library default) of `model`'s grid, as `pixelrec tune` takes them."""
    from pixelrec.config.tuning import Categorical

    grid = GRIDS[model]
    return {k: Categorical(tuple(v)) for k, v in grid.items()}, {k: v[0] for k, v in grid.items()}


def tune_cell(ctx: Context, model: str, trials: int, log) -> list[dict]:
    """Tune `model` on val with `pixelrec tune`'s study runner (`pixelrec.tuning.run_study`)
    and its grid sampler: the library default, then distinct random points of the grid,
    `trials` in all (fewer if the grid is smaller). The study is stored next to the cells
    (`<model>.tuning.db`), so an interrupted tuning resumes at the next trial. Returns the
    completed trials: params, val NDCG@10, seconds (and the multimodal model's best epoch)."""
    from pixelrec.tuning import run_study

    space, default = grid_space(model)

    def objective(params: dict, trial) -> float:
        if model == "multimodal":
            _, summary = train_multimodal(ctx, f"tune-{trial.number}",
                                          multimodal_overrides(params), refit=False, seed=0)
            trial.set_user_attr("epochs", summary["best_epoch"])
            value = summary["best_value"]
        else:
            rec = fit_baseline(ctx, model, params, ctx.frames["train"], seed=0)
            value = scores(ctx, rec, "val")["mean"][SELECT]
        log(f"    tune {params} -> val {SELECT} {value:.4f}")
        return value

    storage = ctx.work / "cells" / ctx.dataset / ctx.split / f"{model}.tuning.db"
    study, _ = run_study(storage, f"bench-{model}", space, objective, max(1, trials), seed=0,
                         sampler="grid", start=default, grid_key=f"{model}-0", progress=False)
    entries = []
    for t in study.get_trials(deepcopy=False):
        if t.state.name != "COMPLETE":
            continue
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
        entries.append({"params": {k: space[k].decode(v) for k, v in t.params.items()},
                        "val_" + SELECT: t.value, "trial": t.number,
                        **({"epochs": t.user_attrs["epochs"]} if "epochs" in t.user_attrs
                           else {}), "seconds": round(seconds, 2)})
    return entries


# ---- fitting ---------------------------------------------------------------------------------

class Context:
    """One dataset + split: configs, frames and cached item features."""

    def __init__(self, dataset: str, split: str, data_root: Path, work: Path):
        self.dataset, self.split, self.data_root, self.work = dataset, split, data_root, work
        self.config = dataset_config(dataset, split, data_root, work)
        self.frames = read_split(self.config)
        self.trainval = pd.concat([self.frames["train"], self.frames["val"]], ignore_index=True)
        self.items, _ = catalogue(self.config.data.processed_item_info_path,
                                  list(self.frames.values()))
        self._features: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
        self._ids: list[str] = []

    def cfg(self, **kwargs):
        return dataset_config(self.dataset, self.split, self.data_root, self.work, **kwargs)

    def features(self, modalities: str, normalise: bool = True) -> tuple[np.ndarray, list[str]]:
        """Cached encoder vectors of `modalities` ("image", "text", "image+text"): L2-normalised
        per modality and side by side, or (`normalise=False`, one modality) as encoded."""
        from pixelrec.features import open_cache, side_by_side

        if self._features is None:
            with open_cache(self.config) as cache:
                self._ids = list(cache.item_ids)
                self._features = {m: cache.load_all(m, self._ids) for m in cache.modalities}
        chosen = {m: self._features[m] for m in modalities.split("+")}
        if normalise:
            return side_by_side(chosen), self._ids
        (vectors, mask), = chosen.values()
        return np.where(mask[:, None], vectors, 0.0).astype(np.float32), self._ids


def fit_baseline(ctx: Context, model: str, params: dict, train: pd.DataFrame, seed: int):
    """A fitted non-multimodal recommender on `train`."""
    from pixelrec.models import create_recommender

    if model == "content_knn":
        emb, ids = ctx.features(params["modalities"])
        rec = create_recommender("content_knn", ctx.config, item_embeddings=emb, item_ids=ids)
    elif model == "cornac-vbpr":
        from cornac_models import CornacVBPR

        emb, ids = ctx.features("image", normalise=False)
        rec = CornacVBPR(emb, ids, seed=seed, **params)
    elif model == "cornac-bpr":
        from cornac_models import CornacBPR

        rec = CornacBPR(seed=seed, **params)
    elif model == "multimodal_ease":
        modalities = {m: 1.0 for m in params["modalities"].split("+")}
        config = ctx.cfg(overrides={"multimodal_ease.l2": params["l2"],
                                    "multimodal_ease.delta": params["delta"],
                                    "multimodal_ease.modalities": modalities})
        rec = create_recommender(model, config)
    else:
        overrides = {f"evaluation.baselines.{model}.{k}": v for k, v in params.items()}
        config = ctx.cfg(overrides={**overrides, "seed": seed})
        rec = create_recommender(model, config)
    with quiet():
        rec.fit(train, items=ctx.items)
    return rec


def multimodal_overrides(params: dict) -> dict:
    return {MULTIMODAL_KEYS[k]: v for k, v in params.items()}


def train_multimodal(ctx: Context, run: str, overrides: dict, *, refit: bool, seed: int):
    """Train ours on train (early stopping on val) or, with `refit`, on train+val for a fixed
    number of epochs; return (recommender from the checkpoint, training summary)."""
    from pixelrec.models.multimodal.loading import load_multimodal_recommender
    from pixelrec.training import train_model

    config = ctx.cfg(run=run, refit=refit, overrides={**overrides, "seed": seed})
    summary = train_model(config)
    train = ctx.trainval if refit else ctx.frames["train"]
    rec = load_multimodal_recommender(config, "last" if refit else "best", train=train)
    return rec, summary


def scores(ctx: Context, rec, target: str) -> dict:
    """Per-user metrics and top-10 lists of `rec` on val (train masked) or test (train+val)."""
    frames = ctx.frames
    exclude = [frames["train"]] if target == "val" else [frames["train"], frames["val"]]
    out = evaluate_interactions(rec, frames[target], exclude, evaluation=ctx.config.evaluation,
                                seed=ctx.config.seed, bootstrap=False)
    users = out["per_user"]["user_id"]
    result = {"users": users, "per_user": {m: out["per_user"][m] for m in METRICS},
              "mean": {m: float(np.mean(out["per_user"][m])) for m in METRICS},
              "n_items": len(rec.item_ids_)}
    if target == "test":
        top, _ = rec.recommend(users, k=10)
        result["top10"] = top.tolist()
    return result


# ---- one cell --------------------------------------------------------------------------------

def run_cell(ctx: Context, model: str, trials: int, seeds: int, tuned: dict | None,
             log) -> dict:
    """Tune (main models) or reuse the tuned multimodal configuration (ablations), refit on
    train+val with each seed, evaluate on test."""
    if model == ENSEMBLE:
        return run_ensemble_cell(ctx, seeds, log)
    cell: dict[str, Any] = {"model": model, "tuning": []}
    started = time.perf_counter()
    if model in ABLATIONS:
        params, epochs = tuned["params"], tuned["epochs"]
        extra = ABLATIONS[model]
    else:
        extra = {}
        cell["tuning"] = tune_cell(ctx, model, trials, log)
        best = max(cell["tuning"], key=lambda e: e["val_" + SELECT])
        params, epochs = best["params"], best.get("epochs")
    cell["params"] = {**params, **({"epochs": epochs} if epochs else {}),
                      **{k: v for k, v in extra.items()}}
    n_seeds = seeds if (model in SEEDED or is_trained(model)) else 1
    runs, fit_seconds = refit_and_test(ctx, model, params, epochs, extra, n_seeds, log)
    cell["seeds"] = n_seeds
    cell["fit_seconds"] = round(float(np.mean(fit_seconds)), 2)
    cell["test"] = summarise(runs)
    cell["wall_seconds"] = round(time.perf_counter() - started, 1)
    return cell


def _cell(ctx: Context, model: str) -> dict:
    path = ctx.work / "cells" / ctx.dataset / ctx.split / f"{model}.json"
    if not path.exists():
        raise RuntimeError(f"the ensemble needs the tuned {model} cell first ({path})")
    return json.loads(path.read_text())


def ensemble_members(ctx: Context, mm_run: str, mm_checkpoint: str, mease_params: dict,
                     train: pd.DataFrame) -> dict:
    """The default members, unfitted but configured from their tuned cells: the multimodal model
    binds an already trained checkpoint (`mm_run`), multimodal_ease is refitted (seconds)."""
    from pixelrec.models import create_recommender
    from pixelrec.models.multimodal import MultimodalRecommender

    mm_config = ctx.cfg(run=mm_run, refit=mm_run.startswith("multimodal-refit"))
    mease = fit_baseline(ctx, "multimodal_ease", mease_params, train, seed=0)
    return {"multimodal": MultimodalRecommender(mm_config, mm_checkpoint),
            "multimodal_ease": mease,
            "popularity": create_recommender("popularity", ctx.config)}


def run_ensemble_cell(ctx: Context, seeds: int, log) -> dict:
    """Weights tuned on val by the ensemble's own search over members fitted on train (the
    tuned multimodal run's best checkpoint, the tuned multimodal_ease); then, per seed, the
    same weights over the members refitted on train+val (the multimodal cell's refit runs)."""
    from pixelrec.models.ensemble import EnsembleRecommender

    started = time.perf_counter()
    mm, mease = _cell(ctx, "multimodal"), _cell(ctx, "multimodal_ease")
    best = max(range(len(mm["tuning"])), key=lambda i: mm["tuning"][i]["val_" + SELECT])
    best_trial = mm["tuning"][best].get("trial", best)  # the run of that trial: tune-<number>
    mease_params = {k: v for k, v in mease["params"].items() if k != "epochs"}
    members = ensemble_members(ctx, f"tune-{best_trial}", "best", mease_params,
                               ctx.frames["train"])
    cfg = ctx.config.ensemble
    t0 = time.perf_counter()
    ens = EnsembleRecommender(members, normalisation=cfg.normalisation, trials=cfg.trials,
                              tuning_users=cfg.tuning_users, metric=cfg.metric,
                              seed=ctx.config.seed, config=ctx.config)
    with quiet():
        ens.fit(ctx.frames["train"], items=ctx.items, val=ctx.frames["val"])
    tuning = ens.tuning_
    log(f"    weights {tuning['weights']} cold {tuning['cold_weights']} offset "
        f"{tuning['cold_offset']} -> val {SELECT} {tuning['value']:.4f}")
    params = {"members": list(members), "weights": [round(w, 4) for w in tuning["weights"]],
              "cold_weights": [round(w, 4) for w in tuning["cold_weights"]],
              "cold_offset": tuning["cold_offset"]}
    cell: dict[str, Any] = {"model": ENSEMBLE, "params": params,
                            "tuning": [{"params": params, "val_" + SELECT: tuning["value"],
                                        "trials": len(tuning["trials"]),
                                        "seconds": round(time.perf_counter() - t0, 2)}]}
    runs, fit_seconds = [], []
    for seed in range(min(seeds, mm["seeds"])):
        t0 = time.perf_counter()
        members = ensemble_members(ctx, f"multimodal-refit-{seed}", "last", mease_params,
                                   ctx.trainval)
        rec = EnsembleRecommender(members, tuning["weights"], tuning["cold_weights"],
                                  tuning["cold_offset"], cfg.normalisation, seed=seed)
        with quiet():
            rec.fit(ctx.trainval, items=ctx.items)
        fit_seconds.append(time.perf_counter() - t0)
        runs.append(scores(ctx, rec, "test"))
        log(f"    seed {seed}: test {SELECT} {runs[-1]['mean'][SELECT]:.4f}")
    cell["seeds"] = len(runs)
    cell["fit_seconds"] = round(float(np.mean(fit_seconds)), 2)
    cell["test"] = summarise(runs)
    cell["wall_seconds"] = round(time.perf_counter() - started, 1)
    return cell


def refit_and_test(ctx: Context, model: str, params: dict, epochs: int | None, extra: dict,
                   n_seeds: int, log, reuse: bool = False) -> tuple[list[dict], list[float]]:
    """Refit on train+val with seeds 0..n-1 and score test; `reuse` loads the multimodal
    refits already trained instead of training them again (re-scoring a stored cell)."""
    from pixelrec.models.multimodal.loading import load_multimodal_recommender

    runs, fit_seconds = [], []
    for seed in range(n_seeds):
        t0 = time.perf_counter()
        run = f"{model}-refit-{seed}"
        if is_trained(model) and reuse:
            rec = load_multimodal_recommender(ctx.cfg(run=run, refit=True), "last",
                                              train=ctx.trainval)
        elif is_trained(model):
            overrides = {**multimodal_overrides(params), **extra, "training.epochs": epochs,
                         "training.validation_metric": "none"}
            rec, _ = train_multimodal(ctx, run, overrides, refit=True, seed=seed)
        else:
            rec = fit_baseline(ctx, model, params, ctx.trainval, seed=seed)
        fit_seconds.append(time.perf_counter() - t0)
        runs.append(scores(ctx, rec, "test"))
        log(f"    seed {seed}: test {SELECT} {runs[-1]['mean'][SELECT]:.4f} "
            f"({fit_seconds[-1]:.0f} s)")
    return runs, fit_seconds


def rescore(ctx: Context, cell: dict, log) -> dict:
    """Recompute a stored cell's test summary (current metric code) without tuning again."""
    params = {k: v for k, v in cell["params"].items() if k != "epochs"
              and not k.startswith(("model.", "training."))}
    extra = {k: v for k, v in cell["params"].items() if k.startswith(("model.", "training."))}
    runs, _ = refit_and_test(ctx, cell["model"], params, cell["params"].get("epochs"), extra,
                             cell["seeds"], log, reuse=True)
    return {**cell, "test": summarise(runs)}


def bootstrap(values: np.ndarray, n: int = 1000, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    means = values[idx].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def t_interval(values: list[float]) -> list[float] | None:
    """95% Student-t interval of the mean of `values` (None for a single value)."""
    if len(values) < 2:
        return None
    from scipy import stats

    half = stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values))
    return [float(np.mean(values) - half), float(np.mean(values) + half)]


def summarise(runs: list[dict]) -> dict:
    """Mean over seeds and bootstrap CI over users of each metric (see module docstring)."""
    out = {}
    for metric in METRICS:
        per_user = np.mean([r["per_user"][metric] for r in runs], axis=0)
        out[metric] = {"mean": float(np.mean([r["mean"][metric] for r in runs])),
                       "ci95": bootstrap(np.asarray(per_user, dtype=float))}
    # Coverage is a property of the whole set of lists: resampling users with replacement
    # would bias it down, so its interval is over seeds (Student t; one seed: no interval).
    n_items = runs[0]["n_items"]
    cover = [len(np.unique(np.asarray(r["top10"], dtype=object))) / n_items for r in runs]
    out["coverage@10"] = {"mean": float(np.mean(cover)), "per_seed": cover,
                          "ci95": t_interval(cover)}
    out["n_test_users"] = len(runs[0]["users"])
    # seed-averaged per-user values, kept in the cell for paired comparisons (not in the JSON)
    out["per_user"] = {"users": list(runs[0]["users"]),
                       **{m: np.mean([r["per_user"][m] for r in runs], axis=0).round(6).tolist()
                          for m in PAIRED}}
    return out


# ---- driver ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, "accuracy.json")
    parser.add_argument("--models", nargs="+", default=MAIN_MODELS + list(ABLATIONS),
                        choices=MAIN_MODELS + list(ABLATIONS))
    parser.add_argument("--trials", type=int, default=5, help="tuning budget per main model")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of trained main models")
    parser.add_argument("--ablation_seeds", type=int, default=1)
    parser.add_argument("--splits", nargs="+", default=None,
                        help="only these split strategies (default: each dataset's)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--redo", nargs="*", default=[], help="models to recompute")
    parser.add_argument("--rescore", action="store_true",
                        help="re-score stored cells that predate the per-seed coverage "
                             "(stored multimodal refits are loaded, not retrained)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    failures = 0
    for dataset in args.datasets:
        prepare(dataset, args.data_root, args.work)
        for split in DATASETS[dataset]["splits"]:
            if args.splits and split not in args.splits:
                continue
            ctx = Context(dataset, split, args.data_root, args.work)
            cells = args.work / "cells" / dataset / split
            # tune before ablations and the ensemble, which reuse the tuned cells
            order = sorted(args.models, key=lambda m: m in ABLATIONS or m == ENSEMBLE)
            for model in order:
                path = cells / f"{model}.json"
                if path.exists() and args.rescore and "per_seed" not in \
                        json.loads(path.read_text())["test"]["coverage@10"]:
                    print(f"[{dataset} / {split}] {model}: re-scoring", flush=True)
                    write_json(path, rescore(ctx, json.loads(path.read_text()),
                                             log=lambda msg: print(msg, flush=True)))
                if path.exists() and model not in args.redo:
                    continue
                if not claim(path.with_suffix(".running")):
                    continue  # another bench process is computing this cell
                if path.exists():  # redone: its tuning study starts again too
                    path.with_suffix(".tuning.db").unlink(missing_ok=True)
                print(f"[{dataset} / {split}] {model}", flush=True)
                tuned = None
                if model == ENSEMBLE and not all((cells / f"{m}.json").exists()
                                                 for m in ("multimodal", "multimodal_ease")):
                    print("    skipped: needs the tuned multimodal and multimodal_ease cells")
                    path.with_suffix(".running").unlink(missing_ok=True)
                    continue
                if model in ABLATIONS:
                    main_cell = cells / "multimodal.json"
                    if not main_cell.exists():
                        print("    skipped: needs the tuned multimodal cell first")
                        path.with_suffix(".running").unlink(missing_ok=True)
                        continue
                    info = json.loads(main_cell.read_text())
                    tuned = {"params": {k: v for k, v in info["params"].items()
                                        if k != "epochs"},
                             "epochs": info["params"]["epochs"]}
                try:
                    cell = run_cell(ctx, model, args.trials,
                                    args.ablation_seeds if model in ABLATIONS else args.seeds,
                                    tuned, log=lambda msg: print(msg, flush=True))
                    cell["protocol"] = {"trials": args.trials, "seeds": cell["seeds"]}
                    write_json(path, cell)
                except Exception:  # a failing model must not lose the others' cells
                    failures += 1
                    traceback.print_exc()
                finally:
                    path.with_suffix(".running").unlink(missing_ok=True)
    collect(args.work / "cells", args.out)
    from tables import write_docs

    write_docs()
    return 1 if failures else 0


def claim(marker: Path) -> bool:
    """Take a cell for this process (so two bench processes can share the work); a marker left
    by a process that no longer runs is taken over."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            os.kill(int(marker.read_text() or 0), 0)
            return False
        except (ProcessLookupError, ValueError):
            marker.unlink(missing_ok=True)
            return claim(marker)
    with os.fdopen(fd, "w") as fh:
        fh.write(str(os.getpid()))
    return True


def collect(cells: Path, out: Path) -> dict:
    """accuracy.json from the stored cells: {dataset: {split: {model: {...}}}}."""
    result: dict = json.loads(out.read_text()) if out.exists() else {}
    for path in sorted(cells.glob("*/*/*.json")):
        cell = json.loads(path.read_text())
        dataset, split = path.parent.parent.name, path.parent.name
        entry = {m: cell["test"][m] for m in [*METRICS, "coverage@10"]}
        if "per_seed" not in entry["coverage@10"]:  # cells from before the seed interval
            entry["coverage@10"] = {"mean": entry["coverage@10"]["mean"], "ci95": None}
        entry.update({"params": cell["params"], "fit_seconds": cell["fit_seconds"],
                      "seeds": cell["seeds"], "n_test_users": cell["test"]["n_test_users"],
                      "tuning": [{k: v for k, v in t.items()} for t in cell["tuning"]]})
        result.setdefault(dataset, {}).setdefault(split, {})[cell["model"]] = entry
    for dataset_dir in sorted(p for p in cells.iterdir() if p.is_dir()):
        for split_dir in sorted(p for p in dataset_dir.iterdir() if p.is_dir()):
            compare_with_best_baseline(split_dir, result[dataset_dir.name][split_dir.name])
    write_json(out, result)
    return result


def paired_p_value(ours: np.ndarray, theirs: np.ndarray, n: int = 10000, seed: int = 0) -> float:
    """Two-sided paired bootstrap p-value of mean(ours - theirs) = 0 over the same users: the
    test `pixelrec compare` uses (`evaluation.stats.paired_test`), floored at 1 / n."""
    from pixelrec.evaluation.stats import paired_test

    return max(paired_test(theirs, ours, n, seed)["p_value"], 1.0 / n)


def compare_with_best_baseline(split_dir: Path, models: dict) -> None:
    """Per metric in PAIRED: the baseline with the best test mean, and for each of our models
    the ratio of means and a paired bootstrap p-value over the common test users."""
    baselines = [m for m in models if m not in OURS and m not in ABLATIONS]
    for metric in PAIRED:
        if not baselines:
            return
        best = max(baselines, key=lambda m: models[m][metric]["mean"])
        theirs = json.loads((split_dir / f"{best}.json").read_text())["test"]
        if "per_user" not in theirs:
            continue
        for model in OURS:
            path = split_dir / f"{model}.json"
            if model not in models or not path.exists():
                continue
            mine = json.loads(path.read_text())["test"]
            if "per_user" not in mine:
                continue
            a = pd.Series(mine["per_user"][metric], index=mine["per_user"]["users"])
            b = pd.Series(theirs["per_user"][metric], index=theirs["per_user"]["users"])
            common = a.index.intersection(b.index)
            base = models[best][metric]["mean"]
            models[model].setdefault("vs_best_baseline", {})[metric] = {
                "baseline": best, "ratio": round(models[model][metric]["mean"] / base, 4)
                if base > 0 else None,
                "p_value": paired_p_value(a[common].to_numpy(), b[common].to_numpy()),
                "users": len(common)}


if __name__ == "__main__":
    raise SystemExit(main())
