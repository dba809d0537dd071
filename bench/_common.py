"""Shared by the real-data benchmarks (`accuracy.py`, `speed.py`): dataset configs, the
preprocess -> split -> precompute preparation (each step skipped when its output exists), and a
train+val "refit" split next to every split.

Every path the benchmarks write lives under the work folder (default `bench/work/`, ignored by
git); the data are read in place from `--data_root` (default `../shared/data`).
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
try:
    import pixelrec  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))

import pandas as pd  # noqa: E402

from pixelrec.config import Config, load_config, validate_config  # noqa: E402

# dataset folder name -> example config and the split strategies benchmarked on it
DATASETS: dict[str, dict[str, Any]] = {
    "ml1m-posters-100k": {"config": "configs/examples/movielens_posters.yaml",
                          "splits": ["temporal", "cold_item", "leave_one_out"]},
    "ml-latest-small-posters": {"config": "configs/examples/ml_latest_small_posters.yaml",
                                "splits": ["leave_one_out"]},
}
K_VALUES = [5, 10, 20]


def set_key(tree: dict, dotted: str, value: Any) -> None:
    """Set `a.b.c` in a nested dict."""
    *path, last = dotted.split(".")
    for key in path:
        tree = tree.setdefault(key, {})
    tree[last] = value


def dataset_config(dataset: str, split: str, data_root: Path, work: Path, *,
                   run: str = "default", refit: bool = False,
                   overrides: dict[str, Any] | None = None) -> Config:
    """The example config of `dataset` with its inputs under `data_root` and outputs under
    `work/<dataset>/`; `run` names the checkpoint/results folder of one training run."""
    base = load_config(ROOT / DATASETS[dataset]["config"]).model_dump()
    src, out = data_root / dataset, work / dataset
    split_dir = out / "splits" / (f"{split}_refit" if refit else split)
    values = {
        "data.item_info_path": str(src / "items.csv"),
        "data.interactions_path": str(src / "interactions.csv"),
        "data.image_folder": str(src / "images"),
        "data.processed_item_info_path": str(out / "processed" / "item_info.parquet"),
        "data.processed_interactions_path": str(out / "processed" / "interactions.parquet"),
        "data.processed_image_folder": str(out / "processed" / "images"),
        "data.scaler_path": str(out / "processed" / "numerical_scaler.json"),
        "data.cache_config.cache_directory": str(out / "cache"),
        "data.split_data_path": str(split_dir),
        "data.splitting.strategy": split,
        "checkpoint_dir": str(out / "runs" / split / run / "models"),
        "results_dir": str(out / "runs" / split / run / "results"),
        "evaluation.k_values": K_VALUES,
        "evaluation.bootstrap_samples": 200,
        "training.progress": False,
        "training.device": "cpu",
    }
    values.update(overrides or {})
    for key, value in values.items():
        set_key(base, key, value)
    return validate_config(base)


@contextlib.contextmanager
def quiet():
    """Silence the chatty parts of third-party fits (progress bars, prints)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def prepare(dataset: str, data_root: Path, work: Path, log=print) -> None:
    """Preprocess, split (every benchmarked strategy, plus its train+val refit split) and
    precompute features for `dataset`; each step is skipped when its output is there."""
    from pixelrec.data.preprocess import preprocess
    from pixelrec.data.split_stage import create_splits
    from pixelrec.features import precompute

    if not (data_root / dataset / "interactions.csv").exists():
        raise SystemExit(f"{data_root / dataset} has no interactions.csv; pass --data_root "
                         f"pointing at the folder that holds {dataset}/ (../shared/data).")
    splits = DATASETS[dataset]["splits"]
    config = dataset_config(dataset, splits[0], data_root, work)
    if not Path(config.data.processed_interactions_path).exists():
        started = time.perf_counter()
        preprocess(config, progress=False)
        log(f"[{dataset}] preprocessed in {time.perf_counter() - started:.1f} s")
    for split in splits:
        config = dataset_config(dataset, split, data_root, work)
        split_dir = Path(config.data.split_data_path)
        if not (split_dir / "test.parquet").exists():
            create_splits(config)
            log(f"[{dataset}] split {split}")
        refit = split_dir.with_name(f"{split}_refit")
        if not (refit / "test.parquet").exists():
            write_refit_split(split_dir, refit)
    # the full cache, then the single-modality caches the no-text / no-images ablations read
    for drop in (None, "model.language_model", "model.vision_model"):
        started = time.perf_counter()
        one = dataset_config(dataset, splits[-1], data_root, work,
                             overrides={drop: None} if drop else None)
        report = precompute(one, progress=False)
        log(f"[{dataset}] features {report['cache']} ready "
            f"({time.perf_counter() - started:.1f} s)")


def write_refit_split(split_dir: Path, refit: Path) -> None:
    """`refit/` = train+val as train, the same test; used to refit the tuned configuration."""
    from pixelrec.io import atomic_dir

    train = pd.read_parquet(split_dir / "train.parquet")
    val = pd.read_parquet(split_dir / "val.parquet")
    test = pd.read_parquet(split_dir / "test.parquet")
    with atomic_dir(refit) as tmp:
        pd.concat([train, val], ignore_index=True).to_parquet(Path(tmp) / "train.parquet")
        val.iloc[:0].to_parquet(Path(tmp) / "val.parquet")
        test.to_parquet(Path(tmp) / "test.parquet")


def read_split(config: Config) -> dict[str, pd.DataFrame]:
    split_dir = Path(config.data.split_data_path)
    return {name: pd.read_parquet(split_dir / f"{name}.parquet")
            .astype({"user_id": str, "item_id": str})
            for name in ("train", "val", "test")}


def bench_parser(doc: str, out_name: str):
    """The arguments every bench script shares: --data_root, --work, --out, --datasets."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--data_root", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / out_name)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    return parser


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_json(path: Path, payload: Any) -> None:
    from pixelrec.io import write_json_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, payload)
