"""Killing precompute at an arbitrary moment leaves a cache that opens and resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from pixelrec.features import open_cache, precompute
from pixelrec.features.encoders import load_encoder
from pixelrec.features.registry import resolve_text
from tests.features.conftest import make_config, write_items

REPO = Path(__file__).resolve().parents[2]
N = 200


def test_kill_during_precompute_then_resume(tmp_path):
    write_items(tmp_path / "processed", n=N, images=False)
    overrides = {"model": {"vision_model": None},
                 "features": {"text_batch_size": 2, "num_workers": 0},
                 "data": {"processed_item_info_path": str(tmp_path / "processed/item_info.parquet"),
                          "processed_image_folder": str(tmp_path / "processed/images"),
                          "cache_config": {"cache_directory": str(tmp_path / "cache")}}}
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(overrides))
    index = tmp_path / "cache" / "none_sentence-bert" / "text.index.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "pixelrec", "precompute", "--config",
                             str(config_path), "--no_progress"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if index.exists() and index.read_bytes().count(b"\n") >= 20:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"precompute ended before it could be killed: {proc.stderr.read()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    config = make_config(tmp_path, "model.vision_model=null")  # batch size is not part of the key
    held = open_cache(config).counts()["text"]["items"]
    assert 20 <= held < N

    resumed = precompute(config, progress=False)
    assert resumed["text"]["reused"] == held
    assert resumed["text"]["computed"] == N - held
    cache = open_cache(config)
    assert cache.counts()["text"] == {"items": N, "missing": 1}
    # vectors written before and after the kill match a clean encode
    ids = cache.item_ids
    encoder = load_encoder(resolve_text("sentence-bert", 128), "cpu")
    from pixelrec.features.compute import read_items

    inputs = read_items(config)
    check = [i for i in (ids[1], ids[held - 1], ids[held], ids[-1]) if i != "i007"]
    texts = [inputs.texts[inputs.item_ids.index(i)] for i in check]
    vectors, _ = cache.load_all("text", check)
    np.testing.assert_allclose(vectors, encoder.encode(texts), atol=1e-4)
