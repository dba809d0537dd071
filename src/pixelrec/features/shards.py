"""Encoding in parallel: worker processes on one machine and torchrun ranks across machines.

Each worker (a `python -m pixelrec.features.shards` process with its own intra-op threads, or a
torchrun rank) encodes a disjoint slice of the items into a shard cache
`<cache>/shards/<name>/`, a `SimpleFeatureCache` with the main cache's key. The single writer of
the main cache then merges every shard into it and deletes the shard. A shard keeps what it has
encoded when its worker is interrupted, and leftover shards are merged before anything is
encoded, so an interrupted parallel precompute resumes where each worker stopped.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelrec.errors import ConfigError, PixelRecError
from pixelrec.features.cache import CacheSettingsError, SimpleFeatureCache
from pixelrec.features.registry import EncoderSpec

SHARDS = "shards"
# `features.encode_processes: auto` starts a worker per core only on machines with more than
# `INLINE_UP_TO_CORES` cores, and only when each worker gets at least `MIN_ITEMS_PER_PROCESS`
# items. Measured on a 2-core machine (bench/precompute.py, 2,240 items): a worker takes 5 s
# (EfficientNet-Lite0) to 10 s (all-MiniLM-L6-v2) to start, and even after that 2 one-thread
# workers encoded no faster than one 2-thread process (texts 124 vs 129/s, images 45 vs 57/s).
INLINE_UP_TO_CORES = 2
MIN_ITEMS_PER_PROCESS = 5000
MERGE_CHUNK = 20_000


@dataclass
class ShardJob:
    """One worker's slice: what to encode, with which encoder, into which shard cache."""

    directory: Path
    key: dict[str, Any]
    modality: str
    spec: EncoderSpec
    item_ids: list[str]
    hashes: list[str]
    inputs: list  # texts, or image paths (None: no image)
    batch_size: int
    device: str
    threads: int


def shard_job(cache: SimpleFeatureCache, name: str, modality: str, spec: EncoderSpec, inputs,
              hashes: list[str], features, device: str, threads: int) -> ShardJob:
    """The job encoding `inputs` (an `ItemInputs`, with their input `hashes`) into the shard
    `name` of `cache`, at the `features` section's batch size for `modality`."""
    image = modality == "image"
    return ShardJob(shard_directory(cache, name), cache.key, modality, spec, list(inputs.item_ids),
                    list(hashes), list(inputs.image_paths if image else inputs.texts),
                    features.image_batch_size if image else features.text_batch_size, device,
                    threads)


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def encode_processes(setting: int | str, device_type: str, items: int, spec: EncoderSpec,
                     use_disk: bool) -> int:
    """Worker processes for `features.encode_processes` (1: encode in this process).

    `auto`: one per core on CPU machines with more than `INLINE_UP_TO_CORES` cores, when every
    worker gets `MIN_ITEMS_PER_PROCESS` items; one on a GPU. Workers need the disk
    cache (their shards live there) and an encoder they can load by themselves (not one
    registered in this process only).
    """
    if setting == "auto":
        n = cores()
        if (device_type != "cpu" or not use_disk or spec.kind == "registered"
                or n <= INLINE_UP_TO_CORES):
            return 1
        return max(1, min(n, items // MIN_ITEMS_PER_PROCESS))
    wanted = int(setting)
    if wanted > 1 and not use_disk:
        raise ConfigError("features.encode_processes > 1 needs the disk cache (each worker "
                          "writes a shard beside it); set data.cache_config.use_disk: true or "
                          "features.encode_processes: 1.")
    if wanted > 1 and spec.kind == "registered":
        raise ConfigError(f"features.encode_processes > 1: the {spec.modality} encoder "
                          f"{spec.name!r} is registered in this process only, so worker "
                          f"processes cannot load it; set features.encode_processes: 1.")
    return max(1, min(wanted, items))


def encode_shard(job: ShardJob, progress=None) -> int:
    """Encode the job's items that its shard cache does not hold fresh; returns how many.
    `progress(n)` is called after each batch."""
    from pixelrec.features.encoders import load_encoder
    from pixelrec.features.pipeline import encode_images, encode_texts

    with SimpleFeatureCache(job.directory, job.key, writable=True, max_memory_items=0) as shard:
        fresh = shard.fresh(job.modality, job.item_ids, job.hashes)
        todo = [i for i, done in enumerate(fresh) if not done]
        if progress is not None and len(todo) < len(fresh):
            progress(len(fresh) - len(todo))
        if not todo:
            return 0
        ids = [job.item_ids[i] for i in todo]
        hashes = [job.hashes[i] for i in todo]
        inputs = [job.inputs[i] for i in todo]

        def sink(positions, vectors, ok):
            shard.put(job.modality, [ids[p] for p in positions], [hashes[p] for p in positions],
                      vectors, ok)
            if progress is not None:
                progress(len(positions))

        encoder = load_encoder(job.spec, job.device)
        if job.modality == "image":
            encode_images(encoder, inputs, job.batch_size, 0, sink)
        else:
            encode_texts(encoder, inputs, job.batch_size, sink)
        return len(todo)


def shard_directory(cache: SimpleFeatureCache, name: str) -> Path:
    return cache.directory / SHARDS / name


def merge_shards(cache: SimpleFeatureCache) -> int:
    """Move every shard under `cache` (its writer) into it, then delete the shard; a shard built
    with other settings is dropped with a warning. Returns the vectors merged."""
    root = cache.directory / SHARDS
    if not root.is_dir():
        return 0
    merged = 0
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            shard = SimpleFeatureCache(directory, cache.key, writable=False, max_memory_items=0)
        except CacheSettingsError:
            warnings.warn(f"dropping the leftover encoding shard {directory}: it was built with "
                          f"other encoder settings.", stacklevel=2)
            shutil.rmtree(directory)
            continue
        for modality, store in shard.stores.items():
            ids = list(store.entries)
            for start in range(0, len(ids), MERGE_CHUNK):
                chunk = ids[start:start + MERGE_CHUNK]
                vectors, ok = store.vectors(chunk)
                cache.put(modality, chunk, [store.entries[i].hash for i in chunk], vectors, ok)
            merged += len(ids)
        for store in cache.stores.values():
            store.sync()  # durable in the main cache before the shard goes
        shutil.rmtree(directory)
    shutil.rmtree(root, ignore_errors=True)
    return merged


def run_workers(jobs: list[ShardJob], progress=None) -> list[dict[str, float]]:
    """Run each job in its own `python -m pixelrec.features.shards` process and wait for all.

    Returns per worker: `items` encoded, `startup_seconds` (launch to its first batch: interpreter,
    imports, encoder load, first forward) and `seconds` (launch to exit). A failed worker raises `PixelRecError` with its exit code and the end of its stderr, after
    the others finish (their shards stay, and the next run merges them). Interrupting stops every
    worker.
    """
    root = jobs[0].directory.parent
    root.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    started = time.perf_counter()
    timings = [{"items": 0, "startup_seconds": 0.0, "seconds": 0.0} for _ in jobs]
    with tempfile.TemporaryDirectory(dir=root, prefix=".jobs-") as tmp:
        procs, logs, readers = [], [], []
        try:
            for k, job in enumerate(jobs):
                path = Path(tmp) / f"job-{k}.pkl"
                path.write_bytes(pickle.dumps(job))
                log = open(Path(tmp) / f"job-{k}.err", "w+")  # noqa: SIM115 - closed below
                env = {**os.environ, "OMP_NUM_THREADS": str(job.threads),
                       "MKL_NUM_THREADS": str(job.threads), "TOKENIZERS_PARALLELISM": "false"}
                proc = subprocess.Popen([sys.executable, "-m", "pixelrec.features.shards",
                                         str(path)], stdout=subprocess.PIPE, stderr=log, env=env,
                                        text=True)
                procs.append(proc)
                logs.append(log)
                reader = threading.Thread(target=_count_lines, daemon=True,
                                          args=(proc, progress, lock, timings[k], started))
                reader.start()
                readers.append(reader)
            for proc, timing in zip(procs, timings, strict=True):
                proc.wait()
                timing["seconds"] = round(time.perf_counter() - started, 3)
            for reader in readers:
                reader.join()
        except BaseException:
            for proc in procs:
                proc.kill()
                proc.wait()
            raise
        finally:
            failures = []
            for k, (proc, log) in enumerate(zip(procs, logs, strict=True)):
                log.seek(0)
                if proc.returncode not in (0, None):
                    failures.append((k, proc.returncode, log.read()[-2000:]))
                log.close()
    if failures:
        k, code, tail = failures[0]
        job = jobs[k]
        raise PixelRecError(
            f"{len(failures)} of {len(jobs)} encoding workers failed; worker {k} ({job.modality}, "
            f"{len(job.item_ids)} items) exited with code {code}:\n{tail.rstrip()}\n"
            f"What the workers encoded is kept under {root} and merged by the next precompute. "
            f"Fix the cause and run it again, or set features.encode_processes: 1 to encode in "
            f"one process.")
    return timings


def _count_lines(proc: subprocess.Popen, progress, lock: threading.Lock, timing: dict,
                 started: float) -> None:
    for line in proc.stdout:
        if not line.strip().isdigit():
            continue
        if timing["items"] == 0:
            timing["startup_seconds"] = round(time.perf_counter() - started, 3)
        timing["items"] += int(line)
        if progress is not None:
            with lock:
                progress(int(line))
    proc.stdout.close()


def encode_rank_slice(config, inputs, specs: dict[str, EncoderSpec], force: bool, partial: bool,
                      progress: bool) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Under torchrun: every rank encodes its contiguous share of what the cache lacks into its
    own shard (`<modality>-rank<r>`). Rank 0 first applies `force` and merges leftover shards.
    Returns, once every rank is done, the per-modality counts of the whole run and the items
    this rank encoded per modality; rank 0's next `fill` merges the shards. Ranks on several
    machines need the cache directory on a filesystem they all share."""
    import datetime

    import numpy as np
    import torch
    import torch.distributed as dist

    from pixelrec.features.compute import (
        _open_for_precompute,
        _progress,
        input_hashes,
        open_cache,
    )
    from pixelrec.features.encoders.base import pick_device

    rank, world = int(os.environ.get("RANK", "0")), int(os.environ["WORLD_SIZE"])
    created = not dist.is_initialized()
    if created:  # ranks wait at the barrier while the slowest encodes: no 30-minute default
        dist.init_process_group("gloo", timeout=datetime.timedelta(days=7))
    try:
        if rank == 0:
            with _open_for_precompute(config, specs, force, partial) as cache:
                merge_shards(cache)
        dist.barrier()
        feats = config.features
        device = feats.device
        if pick_device(device).type == "cuda":
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        counts, encoded = {}, {}
        with open_cache(config, specs=specs) as cache:
            for modality, spec in specs.items():
                hashes = input_hashes(inputs, modality)
                fresh = cache.fresh(modality, inputs.item_ids, hashes)
                todo = [i for i, done in enumerate(fresh) if force or not done]
                counts[modality] = {"computed": len(todo), "reused": len(fresh) - len(todo)}
                mine = np.array_split(np.asarray(todo, dtype=np.int64), world)[rank].tolist()
                encoded[modality] = len(mine)
                if not mine:
                    continue
                job = shard_job(cache, f"{modality}-rank{rank}", modality, spec,
                                inputs.subset(mine), [hashes[i] for i in mine], feats, device,
                                torch.get_num_threads())
                bar = _progress(len(mine), f"{modality} (rank {rank}/{world})", progress)
                try:
                    encode_shard(job, bar.update if bar is not None else None)
                finally:
                    if bar is not None:
                        bar.close()
        dist.barrier()
        return counts, encoded
    finally:
        if created:
            dist.destroy_process_group()


def _main(path: str) -> None:
    import torch

    job: ShardJob = pickle.loads(Path(path).read_bytes())
    torch.set_num_threads(job.threads)
    encode_shard(job, progress=lambda n: print(n, flush=True))


if __name__ == "__main__":
    _main(sys.argv[1])
