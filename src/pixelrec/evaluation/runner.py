"""`evaluate_recommender`: split files + config -> fitted baseline -> result dict (and JSON)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pixelrec.config import Config, config_hash
from pixelrec.errors import ConfigError
from pixelrec.evaluation.core import TASKS, evaluate_interactions
from pixelrec.evaluation.data import (
    catalogue,
    dataset_fingerprint,
    default_split_path,
    file_info,
    read_split,
)
from pixelrec.evaluation.embeddings import try_item_embeddings
from pixelrec.evaluation.results import output_path
from pixelrec.io import write_json_atomic
from pixelrec.models import create_recommender, get_recommender
from pixelrec.models.base import Recommender


def _aligned(embeddings: tuple[np.ndarray, list[str]] | None,
             item_ids: np.ndarray) -> np.ndarray | None:
    """Embedding rows in the order of `item_ids` (zeros for items without one)."""
    if embeddings is None:
        return None
    matrix, ids = embeddings
    where = pd.Index(np.asarray(ids, dtype=object).astype(str)).get_indexer(item_ids)
    out = np.zeros((len(item_ids), matrix.shape[1]), dtype=np.float32)
    out[where >= 0] = matrix[where[where >= 0]]
    return out


def evaluate_recommender(config: Config, recommender_type: str, *,
                         train_path: str | Path | None = None,
                         test_path: str | Path | None = None,
                         val_path: str | Path | None = None, task: str = "retrieval",
                         output: str | None = None,
                         recommender: Recommender | None = None,
                         checkpoint: str | None = "auto") -> dict:
    """Fit `recommender_type` on train (or use the fitted `recommender`), evaluate on test.

    Paths default to `<data.split_data_path>/{train,test}.parquet`; when the test path is
    defaulted, that split's val file (if present) is masked too and given to `fit` (models
    that validate use it); then, with `evaluation.fold_in_val` (default), the val
    interactions are folded in as known history (`Recommender.fold_in`: baselines refit on
    train + val, a trained model rebinds its weights to the longer histories, an ensemble keeps
    its tuned weights) before the test users are scored. A passed `recommender` is folded in
    place. Writes the result JSON to `output_path(config.results_dir,
    output)` when `output` is given; returns the dict. `checkpoint` is for models with trained
    weights (the multimodal model, also inside an ensemble): `auto` (default) uses what
    `pixelrec train` wrote and trains now when there is none; `best`, `last` or a path; `none`
    always trains.
    """
    started = time.perf_counter()
    if task not in TASKS:
        raise ConfigError(f"--eval_task must be one of {', '.join(TASKS)}, got {task!r}.")
    if recommender is None:
        get_recommender(recommender_type)  # an unknown name raises ConfigError listing them all
    split_dir = config.data.split_data_path
    if val_path is None and test_path is None:
        default_val = default_split_path(split_dir, "val")
        val_path = default_val if default_val.exists() else None
    paths = {"train": Path(train_path or default_split_path(split_dir, "train")),
             "test": Path(test_path or default_split_path(split_dir, "test"))}
    if val_path is not None:
        paths["val"] = Path(val_path)
    frames = {name: read_split(path, f"{name} split", f"--{name}_data")
              for name, path in paths.items()}
    items, item_source = catalogue(config.data.processed_item_info_path, list(frames.values()))

    embeddings = try_item_embeddings(config)  # intra-list diversity, when a cache exists
    fit_started = time.perf_counter()
    if recommender is None:
        recommender = create_recommender(recommender_type, config, checkpoint=checkpoint)
        recommender.fit(frames["train"], items=items, val=frames.get("val"))
    fit_summary = recommender.fit_summary()
    folded = "val" in frames and config.evaluation.fold_in_val
    if folded:  # the val interactions precede test: known history from here on
        recommender.fold_in(pd.concat([frames["train"], frames["val"]], ignore_index=True),
                            items=items)
    fit_seconds = time.perf_counter() - fit_started
    weights = _trained_weights(fit_summary)

    eval_started = time.perf_counter()
    exclude = [frames["train"]] + ([frames["val"]] if "val" in frames else [])
    result = evaluate_interactions(
        recommender, frames["test"], exclude, evaluation=config.evaluation, seed=config.seed,
        task=task, item_embeddings=_aligned(embeddings, recommender.item_ids_))
    files = {name: file_info(paths[name], frames[name]) for name in frames}
    result["metadata"] = {
        "task": task,
        "recommender": recommender_type,
        "mode": "sampled" if "sampling" in result else "full_ranking",
        "k_values": list(config.evaluation.k_values),
        "split_files": files,
        "catalogue": {"source": item_source, "n_items": len(recommender.item_ids_),
                      "cold_items": len(recommender.cold_items_)},
        "counts": result.pop("counts"),
        "user_sample": result.pop("user_sample", None),
        "checkpoint": weights.get("checkpoint"),
        "checkpoint_epoch": weights.get("epoch"),
        "training_complete": weights.get("training_complete"),
        "fit": fit_summary,
        "history": "train+val" if folded else "train",
        "config_hash": config_hash(config),
        "dataset_fingerprint": dataset_fingerprint(files),
        "seed": config.seed,
        "item_embeddings": embeddings is not None,
        "fit_seconds": round(fit_seconds, 3),
        "eval_seconds": round(time.perf_counter() - eval_started, 3),
        "wall_seconds": round(time.perf_counter() - started, 3),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if output is not None:
        path = output_path(config.results_dir, output)
        write_json_atomic(path, _ordered(result))
        result["metadata"]["output"] = str(path)
    return _ordered(result)


def _trained_weights(fit_summary: dict) -> dict:
    """The fit summary of the checkpoint used (checkpoint, epoch, training_complete): the
    recommender's own or an ensemble member's; {} for a model without trained weights."""
    if "checkpoint" in fit_summary:
        return fit_summary
    members = fit_summary.get("member_fits", {}).values()
    return next((fit for fit in members if "checkpoint" in fit), {})


def _ordered(result: dict) -> dict:
    """Stable key order: headline numbers first, bulky per-user arrays last."""
    first = ["metrics", "ci95", "per_k", "beyond_accuracy", "cold_items", "sampling", "metadata"]
    out = {key: result[key] for key in first if key in result}
    out.update({key: value for key, value in result.items() if key not in out})
    return out
