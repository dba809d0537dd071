"""Encoding in worker processes and torchrun ranks (`pixelrec.features.shards`): the same vectors
as one process, leftover shards resumed, failures named, with the packaged encoders."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import yaml

from pixelrec.errors import ConfigError, PixelRecError
from pixelrec.features import open_cache, precompute
from pixelrec.features.compute import encoder_specs, input_hashes, read_items
from pixelrec.features.shards import (
    ShardJob,
    encode_processes,
    encode_shard,
    merge_shards,
    run_workers,
    shard_job,
)
from tests.features.conftest import make_config


def _vectors(config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    ids = read_items(config).item_ids
    with open_cache(config) as cache:
        return {m: cache.load_all(m, ids) for m in cache.modalities}


def _assert_same(got, want):
    assert got.keys() == want.keys()
    for modality, (vectors, mask) in want.items():
        np.testing.assert_array_equal(got[modality][1], mask)
        np.testing.assert_allclose(got[modality][0], vectors, atol=1e-5, err_msg=modality)


@pytest.fixture
def inline(items_dir):
    """The cache encoded in this process: the reference vectors."""
    config = make_config(items_dir, "features.encode_processes=1",
                         f"data.cache_config.cache_directory={items_dir / 'inline'}")
    summary = precompute(config, progress=False)
    return summary, _vectors(config)


def test_two_worker_processes_store_the_vectors_one_process_stores(items_dir, inline):
    config = make_config(items_dir, "features.encode_processes=2")
    summary = precompute(config, progress=False)
    for modality in ("image", "text"):
        workers = summary[modality].pop("workers")
        assert workers["processes"] == 2 and workers["startup_seconds"] > 0
        assert summary[modality] == inline[0][modality]
    _assert_same(_vectors(config), inline[1])
    cache_dir = items_dir / "cache" / summary["cache"]
    assert not (cache_dir / "shards").exists()
    again = precompute(config, progress=False)
    assert again["text"]["computed"] == 0 and again["image"]["computed"] == 0


def _job(config, modality: str, positions: list[int], **changes) -> ShardJob:
    inputs = read_items(config).subset(positions)
    spec = encoder_specs(config)[modality]
    cache = open_cache(config, writable=True)
    cache.close()
    job = shard_job(cache, f"{modality}-{positions[0]}", modality, spec, inputs,
                    input_hashes(inputs, modality), config.features, "cpu", 1)
    return dataclasses.replace(job, **changes)


def test_leftover_shards_of_an_interrupted_run_are_merged_not_encoded_again(items_dir, inline):
    config = make_config(items_dir, "features.encode_processes=1")
    assert encode_shard(_job(config, "text", [0, 1, 2, 3, 4])) == 5
    assert encode_shard(_job(config, "image", [6, 7, 8])) == 3
    assert encode_shard(_job(config, "image", [6, 7, 8])) == 0  # a shard resumes itself
    summary = precompute(config, progress=False)
    assert summary["text"]["computed"] == 12 - 5 and summary["text"]["reused"] == 5
    assert summary["image"]["computed"] == 12 - 3 and summary["image"]["reused"] == 3
    _assert_same(_vectors(config), inline[1])
    assert not (items_dir / "cache" / summary["cache"] / "shards").exists()


def test_a_failed_worker_is_named_and_what_the_others_encoded_is_kept(items_dir, tmp_path):
    config = make_config(items_dir)
    good = _job(config, "text", [0, 1, 2, 3])
    broken_spec = dataclasses.replace(good.spec, source=str(tmp_path / "no-such-model"))
    bad = _job(config, "text", [4, 5, 6], spec=broken_spec)
    with pytest.raises(PixelRecError) as err:
        run_workers([good, bad])
    message = str(err.value)
    assert "1 of 2 encoding workers failed; worker 1 (text, 3 items)" in message
    assert "no-such-model" in message and "features.encode_processes: 1" in message
    with open_cache(config, writable=True) as cache:
        assert merge_shards(cache) == 4
        assert cache.fresh("text", good.item_ids, good.hashes).all()


def test_auto_uses_a_process_per_core_only_where_it_pays(items_dir, monkeypatch):
    import pixelrec.features.shards as shards

    spec = encoder_specs(make_config(items_dir))["text"]
    monkeypatch.setattr(shards, "cores", lambda: 2)  # measured: no faster than 2 threads
    assert encode_processes("auto", "cpu", 100_000, spec, True) == 1
    monkeypatch.setattr(shards, "cores", lambda: 8)
    assert encode_processes("auto", "cpu", 100_000, spec, True) == 8
    assert encode_processes("auto", "cpu", 20_000, spec, True) == 4  # >= 5,000 items each
    assert encode_processes("auto", "cpu", 4000, spec, True) == 1  # a worker costs a start-up
    assert encode_processes("auto", "cuda", 100_000, spec, True) == 1
    assert encode_processes("auto", "cpu", 100_000, spec, False) == 1  # memory-only cache
    registered = dataclasses.replace(spec, kind="registered")
    assert encode_processes("auto", "cpu", 100_000, registered, True) == 1
    assert encode_processes(3, "cpu", 2, spec, True) == 2  # never more workers than items
    with pytest.raises(ConfigError, match="registered in this process only"):
        encode_processes(2, "cpu", 100, registered, True)
    with pytest.raises(ConfigError, match="needs the disk cache"):
        encode_processes(2, "cpu", 100, spec, False)
    with pytest.raises(ConfigError, match="integer >= 1"):
        make_config(items_dir, "features.encode_processes=0")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchrun_ranks_encode_disjoint_slices_into_one_cache(items_dir, inline):
    config_file = items_dir / "config.yaml"
    config_file.write_text(yaml.safe_dump({
        "features": {"num_workers": 0},
        "data": {"processed_item_info_path": str(items_dir / "processed/item_info.parquet"),
                 "processed_image_folder": str(items_dir / "processed/images"),
                 "cache_config": {"cache_directory": str(items_dir / "cache")}}}))
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), "-m", "pixelrec",
         "precompute", "--config", str(config_file), "--no_progress"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    lines = sorted(line for line in run.stdout.splitlines() if line.startswith("precompute "))
    assert len(lines) == 2, run.stdout
    whole, rank1 = (lines[0], lines[1]) if "rank 1/2" in lines[1] else (lines[1], lines[0])
    assert "encoded 6 image, 6 text into its shard" in rank1
    assert "image: 12 computed, 0 reused, 2 missing" in whole
    assert "text: 12 computed, 0 reused, 1 missing" in whole
    config = make_config(items_dir)
    _assert_same(_vectors(config), inline[1])
    with open_cache(config) as cache:
        assert not (cache.directory / "shards").exists()
        assert cache.manifest["info"]["counts"]["text"] == {"items": 12, "missing": 1}
