"""kill -9 of `pixelrec preprocess`, `precompute` and `train` at a point each reaches for sure
(the first journal line, cache batch or epoch metadata it writes), then a rerun / resume: the
results equal an uninterrupted run's bit for bit, and no worker process outlives the kill.

Only the main process is killed (as the OOM killer does): its workers must die with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from pixelrec.cli.main import main
from pixelrec.config import validate_config
from pixelrec.data.demo import write_demo
from pixelrec.data.preprocess import preprocess
from pixelrec.data.processors.image import JOURNAL, MANIFEST, ImageProcessor
from pixelrec.data.split_stage import create_splits
from pixelrec.features import open_cache, precompute
from pixelrec.training import train_model
from pixelrec.training.checkpoint import load_checkpoint
from tests.conftest import demo_config_dict
from tests.features.conftest import make_config, write_items
from tests.inference.helpers import tiny_config_dict

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                 reason="finds leftover processes through /proc (Linux)")]


def _group(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def _wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def kill_at(args: list[str], reached: Callable[[], bool]) -> int:
    """Run `pixelrec ARGS` in its own process group; once `reached()`, stop the whole group
    (workers frozen mid-task cannot notice anything by themselves) and SIGKILL the main process
    only. Returns how many other processes (workers) it had then; fails when it ended before
    the kill point or when any process of its group outlives it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the thread count of the in-process runs
    proc = subprocess.Popen([sys.executable, "-m", "pixelrec", *args], cwd=REPO, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        if not _wait_until(lambda: proc.poll() is not None or reached(), 180):
            pytest.fail(f"pixelrec {args[0]} did not reach the kill point")
        if proc.poll() is not None:
            pytest.fail(f"pixelrec {args[0]} ended before the kill point: "
                        f"{proc.stderr.read().decode()[-3000:]}")
        os.killpg(proc.pid, signal.SIGSTOP)  # no more progress from here on
        workers = [pid for pid in _group(proc.pid) if pid != proc.pid]
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        _wait_until(lambda: not _group(proc.pid), 30)
        left = [(Path(f"/proc/{pid}/cmdline").read_bytes(), pid) for pid in _group(proc.pid)]
        assert not left, f"processes outlived the killed pixelrec {args[0]}: {left}"
        return len(workers)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


# -- preprocess ------------------------------------------------------------------------------

def test_kill_preprocess_then_rerun_skips_finished_images(tmp_path):
    write_demo(tmp_path / "raw", n_items=400, n_users=200, seed=0)

    def config(work: str):  # 2 workers; every 128 px image is resized, so each takes a while
        raw = demo_config_dict(tmp_path / "raw", tmp_path / work, num_workers=2,
                               image_compression={"max_size": 64})
        return raw, validate_config(raw)

    raw, killed = config("killed")
    path = tmp_path / "killed.yaml"
    path.write_text(yaml.safe_dump(raw))
    images = Path(killed.data.processed_image_folder)
    journal = images / JOURNAL
    workers = kill_at(["preprocess", "--config", str(path), "--no_progress"],
                      lambda: _lines(journal) > 0)
    assert workers == 2
    done = _lines(journal)  # complete lines only: each is one flushed write
    assert 0 < done < 400

    rerun = preprocess(killed, progress=False)
    assert rerun["images"]["reused_unchanged"] == done
    assert rerun["images"]["processed"] == 400 - done
    assert not journal.exists() and not list(images.glob(".*.tmp"))

    _, clean = config("clean")
    reference = preprocess(clean, progress=False)
    for key in ("processed", "reused_unchanged"):
        del rerun["images"][key], reference["images"][key]
    assert rerun == reference
    for key in ("processed_item_info_path", "processed_interactions_path"):
        pd.testing.assert_frame_equal(pd.read_parquet(getattr(killed.data, key)),
                                      pd.read_parquet(getattr(clean.data, key)))
    clean_images = Path(clean.data.processed_image_folder)
    names = sorted(p.name for p in clean_images.iterdir() if not p.name.startswith("."))
    assert sorted(p.name for p in images.iterdir() if not p.name.startswith(".")) == names
    for name in names:
        assert (images / name).read_bytes() == (clean_images / name).read_bytes(), name

    def results(folder: Path) -> dict:
        return {k: v["result"] for k, v in json.loads((folder / MANIFEST).read_text()).items()}

    assert results(images) == results(clean_images)


def test_a_torn_journal_line_costs_only_its_image(tmp_path):
    sources = {}
    for i in range(3):
        Image.new("RGB", (40, 40), (80 * i, 0, 0)).save(tmp_path / f"{i}.png")
        sources[f"i{i}"] = str(tmp_path / f"{i}.png")
    out = tmp_path / "out"
    ImageProcessor(out, num_workers=1).process(sources, progress=False)
    entries = json.loads((out / MANIFEST).read_text())
    (out / MANIFEST).unlink()  # as killed before its first manifest, after two images
    (out / JOURNAL).write_text(json.dumps(entries["i0"]) + "\n" + json.dumps(entries["i1"])[:40])
    (out / ".i2.png.x1y2.tmp").write_bytes(b"half an image")
    results, reused = ImageProcessor(out, num_workers=1).process(sources, progress=False)
    assert reused == 1 and [r.status for r in results.values()] == ["ok"] * 3
    assert json.loads((out / MANIFEST).read_text()) == entries
    assert not (out / JOURNAL).exists() and not list(out.glob(".*.tmp"))


# -- precompute ------------------------------------------------------------------------------

def test_kill_precompute_with_decode_workers_then_resume(tmp_path, tiny_models):
    n = 160
    write_items(tmp_path / "processed", n=n)
    model = f"hf:{tiny_models('resnet')}"
    settings = {"model": {"vision_model": model, "language_model": None},
                "features": {"num_workers": 2, "image_batch_size": 4},
                "data": {"processed_item_info_path": str(tmp_path / "processed/item_info.parquet"),
                         "processed_image_folder": str(tmp_path / "processed/images"),
                         "cache_config": {"cache_directory": str(tmp_path / "cache")}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(settings))
    workers = kill_at(["precompute", "--config", str(path), "--no_progress"],
                      lambda: any(_lines(p) for p in (tmp_path / "cache").glob("*/image.index.jsonl")))
    assert workers == 2

    def config(cache: str):
        return make_config(tmp_path, f"model.vision_model={model}", "model.language_model=null",
                           "features.num_workers=2", "features.image_batch_size=4",
                           f"data.cache_config.cache_directory={tmp_path / cache}")

    killed = config("cache")
    held = open_cache(killed).counts()["image"]["items"]
    assert 0 < held < n and held % 4 == 0  # whole batches only
    resumed = precompute(killed, progress=False)
    assert resumed["image"] == {"computed": n - held, "reused": held, "missing": 2}

    clean = config("clean_cache")
    precompute(clean, progress=False)
    with open_cache(killed) as after, open_cache(clean) as reference:
        ids = reference.item_ids
        vectors, ok = after.load_all("image", ids)
        expected, expected_ok = reference.load_all("image", ids)
        assert np.array_equal(ok, expected_ok) and ok.sum() == n - 2
        assert np.array_equal(np.asarray(vectors), np.asarray(expected))


# -- train -----------------------------------------------------------------------------------

def test_kill_training_then_evaluate_warns_and_resume_matches(small_demo, tmp_path):
    raw = tiny_config_dict(small_demo, tmp_path / "work")
    raw["model"].update(vision_model=None, language_model=None)
    raw["training"].update(epochs=4, num_threads=1)
    config = validate_config(raw)
    preprocess(config, progress=False)
    create_splits(config)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(raw))
    results, models = Path(config.results_dir), Path(config.checkpoint_dir)
    meta_path = results / "training_metadata.json"

    def epochs_written() -> int:
        return json.loads(meta_path.read_text())["epochs"] if meta_path.exists() else 0

    assert kill_at(["train", "--config", str(path)], lambda: epochs_written() >= 1) == 0
    meta = json.loads(meta_path.read_text())
    last, best = load_checkpoint(models / "last.pt"), load_checkpoint(models / "best.pt")
    assert meta["status"] == "incomplete" and meta["run_id"] == last["run_id"] == best["run_id"]
    done = meta["epochs"]
    assert 1 <= done <= last["epoch"] <= done + 1  # the metadata follows the checkpoints
    assert meta["history"] == last["history"][:done]
    assert meta["best_epoch"] in (h["epoch"] for h in meta["history"])
    assert yaml.safe_load((results / "resolved_config.yaml").read_text())["training"][
        "epochs"] == 4
    assert (results / "figures" / "training_curves.png").exists()

    evaluate = ["evaluate", "--config", str(path), "--recommender_type", "multimodal",
                "--checkpoint", "best", "--output", "eval.json"]
    with pytest.warns(UserWarning, match="training did not finish"):
        assert main(evaluate) == 0
    result = json.loads((results / "eval.json").read_text())["metadata"]
    assert result["training_complete"] is False and result["checkpoint_epoch"] == best["epoch"]

    assert main(["train", "--config", str(path), "--device", "cpu", "--resume", "last"]) == 0
    meta = json.loads(meta_path.read_text())
    assert meta["status"] == "complete" and [h["epoch"] for h in meta["history"]] == [1, 2, 3, 4]

    reference = validate_config({**raw, "results_dir": str(tmp_path / "ref" / "results"),
                                 "checkpoint_dir": str(tmp_path / "ref" / "models")})
    full = train_model(reference, device="cpu")
    expected = load_checkpoint(full["last_checkpoint"])["model_state"]
    resumed = load_checkpoint(models / "last.pt")["model_state"]
    assert resumed.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(value, resumed[key]), key

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(evaluate) == 0
    assert not [w for w in caught if "training" in str(w.message)]
    result = json.loads((results / "eval.json").read_text())["metadata"]
    assert result["training_complete"] is True
    assert result["checkpoint_epoch"] == load_checkpoint(models / "best.pt")["epoch"]
