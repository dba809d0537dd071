"""Entry functions: open the cache for a config, precompute it, and read item vectors from it."""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixelrec.errors import ConfigError, PixelRecError
from pixelrec.features.cache import CacheSettingsError, SimpleFeatureCache, cache_name
from pixelrec.features.imaging import file_hash
from pixelrec.features.registry import EncoderSpec, resolve_text, resolve_vision
from pixelrec.features.text import render_text

# Encoding more than this many items on the fly (outside precompute) earns a warning.
ON_THE_FLY_WARNING = 1000
_MEMORY_CACHES: dict[str, SimpleFeatureCache] = {}


@dataclass
class ItemInputs:
    """What the encoders read for each item, aligned by position."""

    item_ids: list[str]
    texts: list[str]
    image_paths: list[str | None]

    def subset(self, positions: list[int]) -> ItemInputs:
        return ItemInputs([self.item_ids[i] for i in positions], [self.texts[i] for i in positions],
                          [self.image_paths[i] for i in positions])


def read_items(config, max_items: int | None = None) -> ItemInputs:
    """The processed item table as encoder inputs (text from `features.text_template`)."""
    from pixelrec.data.items import read_processed_items

    df = read_processed_items(config.data.processed_item_info_path)
    if max_items is not None:
        df = df.head(max_items)
    columns = [c for c in ("title", "tag", "description") if c in df.columns]
    records = df[columns].to_dict("records")
    texts = [render_text(r, config.features.text_template) for r in records]
    folder = Path(config.data.processed_image_folder)
    rel = df["image_path"].fillna("").astype(str) if "image_path" in df.columns else [""] * len(df)
    has = df["has_image"].astype(bool) if "has_image" in df.columns else [True] * len(df)
    paths = [str(folder / p) if p and h else None for p, h in zip(rel, has, strict=True)]
    return ItemInputs(df["item_id"].astype(str).tolist(), texts, paths)


def encoder_specs(config) -> dict[str, EncoderSpec]:
    """Resolve the configured encoders (no network, no model load; hashes the weights)."""
    specs = {}
    if config.model.vision_model is not None:
        specs["image"] = resolve_vision(config.model.vision_model)
    if config.model.language_model is not None:
        specs["text"] = resolve_text(config.model.language_model, config.features.max_text_length)
    return specs


def cache_key(config, specs: dict[str, EncoderSpec] | None = None) -> dict[str, Any]:
    """The manifest fields that define a cache; any difference means a different cache."""
    specs = encoder_specs(config) if specs is None else specs
    return {
        "image": specs["image"].describe() if "image" in specs else None,
        "text": specs["text"].describe() if "text" in specs else None,
        "text_template": config.features.text_template if "text" in specs else None,
        "dtype": "float32",
    }


def cache_directory(config) -> Path:
    """`<data.cache_config.cache_directory>/<vision>_<language>` for the configured encoders."""
    name = cache_name(config.model.vision_model, config.model.language_model)
    return Path(config.data.cache_config.cache_directory) / name


def open_cache(config, writable: bool = False, specs: dict[str, EncoderSpec] | None = None,
               replace: bool = False) -> SimpleFeatureCache:
    """The feature cache for this config; refuses one built with different settings.

    Read-only opens take no lock (safe in DataLoader workers). `replace` (with `writable`) starts
    the cache empty instead. With `data.cache_config.use_disk` false (or the cache disabled) the
    cache lives in this process's memory only.
    """
    cfg = config.data.cache_config
    if config.model.vision_model is None and config.model.language_model is None:
        raise ConfigError("model.vision_model and model.language_model are both null: there is "
                          "nothing to encode. Set at least one of them.")
    key = cache_key(config, specs)
    directory = cache_directory(config)
    if cfg.enabled and cfg.use_disk:
        return SimpleFeatureCache(directory, key, use_disk=True, replace=replace,
                                  max_memory_items=cfg.max_memory_items, writable=writable)
    memo = f"{directory}|{key}|{cfg.max_memory_items}"
    if memo not in _MEMORY_CACHES:
        _MEMORY_CACHES[memo] = SimpleFeatureCache(directory, key, use_disk=False,
                                                  max_memory_items=cfg.max_memory_items)
    return _MEMORY_CACHES[memo]


def input_hashes(inputs: ItemInputs, modality: str, threads: int = 4) -> list[str]:
    """Per item: a hash of the image bytes or of the rendered text."""
    if modality == "text":
        return [hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest() for t in inputs.texts]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(file_hash, inputs.image_paths, chunksize=64))


def fill(cache: SimpleFeatureCache, inputs: ItemInputs, specs: dict[str, EncoderSpec], config,
         progress: bool = False, recompute: bool = False) -> dict[str, dict[str, int]]:
    """Encode every item whose cached entry is absent or stale (`recompute`: every item of
    `inputs`, fresh or not); returns per-modality counts."""
    from pixelrec.features.encoders import load_encoder
    from pixelrec.features.encoders.base import pick_device
    from pixelrec.features.pipeline import encode_images, encode_texts
    from pixelrec.features.shards import encode_processes, merge_shards

    feats = config.features
    counts = {}
    if cache.use_disk and cache.writable:
        merge_shards(cache)  # what the workers of an interrupted run encoded
    for modality, spec in specs.items():
        hashes = input_hashes(inputs, modality)
        todo = [i for i, fresh in enumerate(cache.fresh(modality, inputs.item_ids, hashes))
                if recompute or not fresh]
        counts[modality] = {"computed": len(todo), "reused": len(inputs.item_ids) - len(todo)}
        if not todo:
            continue
        part = inputs.subset(todo)
        part_hashes = [hashes[i] for i in todo]
        processes = encode_processes(feats.encode_processes, pick_device(feats.device).type,
                                     len(todo), spec, cache.use_disk and cache.writable)
        if processes > 1:
            counts[modality]["workers"] = _encode_in_processes(
                cache, part, part_hashes, modality, spec, config, processes, progress)
            continue

        def sink(positions, vectors, ok, part=part, part_hashes=part_hashes, modality=modality):
            cache.put(modality, [part.item_ids[p] for p in positions],
                      [part_hashes[p] for p in positions], vectors, ok)

        encoder = load_encoder(spec, feats.device)
        workers = decode_workers(feats.num_workers, encoder.device.type)
        bar = _progress(len(todo), modality, progress)
        try:
            if modality == "image":
                encode_images(encoder, part.image_paths, feats.image_batch_size, workers, sink,
                              bar)
            else:
                encode_texts(encoder, part.texts, feats.text_batch_size, sink, bar)
        finally:
            if bar is not None:
                bar.close()
    return counts


def _encode_in_processes(cache: SimpleFeatureCache, part: ItemInputs, hashes: list[str],
                         modality: str, spec: EncoderSpec, config, processes: int,
                         progress: bool) -> dict[str, Any]:
    """Encode `part` in `processes` worker processes (contiguous slices), then merge them;
    returns the worker count and the slowest worker's start-up seconds."""
    from pixelrec.features.shards import cores, merge_shards, run_workers, shard_job

    feats = config.features
    threads = max(1, cores() // processes)
    bounds = np.linspace(0, len(hashes), processes + 1).astype(int)
    jobs = [shard_job(cache, f"{modality}-{k}", modality, spec, part.subset(range(a, b)),
                      hashes[a:b], feats, feats.device, threads)
            for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))]
    bar = _progress(len(hashes), f"{modality} ({processes} processes)", progress)
    try:
        timings = run_workers(jobs, bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    merge_shards(cache)
    return {"processes": processes,
            "startup_seconds": max(t["startup_seconds"] for t in timings)}


def decode_workers(setting: int | str, device_type: str) -> int:
    """Image decode processes for `features.num_workers`; "auto" decodes inline on CPU machines
    with 2 cores or fewer, where a decode process takes a core from the forward (measured here:
    end to end 0.71-0.80x of the bare forward with one worker, 0.82-1.1x inline)."""
    if setting != "auto":
        return int(setting)
    cores = os.cpu_count() or 1
    if device_type == "cpu":
        return 0 if cores <= 2 else 1
    return max(1, min(4, cores - 1))


def _progress(total: int, modality: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    unit = "img" if modality.startswith("image") else "text"
    return tqdm(total=total, desc=f"encoding {modality}s", unit=unit, dynamic_ncols=True)


# -- augmented views -------------------------------------------------------------------------

def augmentation_section(config, modality: str):
    """`data.image_augmentation` or `data.text_augmentation`."""
    return config.data.image_augmentation if modality == "image" else config.data.text_augmentation


def is_frozen(config, modality: str) -> bool:
    return config.model.freeze_vision if modality == "image" else config.model.freeze_language


def cached_view_count(config, modality: str) -> int:
    """Augmented views per item that precompute caches and training samples for `modality`:
    `cached_views` when that augmentation is enabled and its encoder is frozen, else 0 (a
    fine-tuned encoder augments its raw inputs on the fly instead)."""
    section = augmentation_section(config, modality)
    if not section.enabled or not is_frozen(config, modality):
        return 0
    return section.cached_views


def view_key(config, modality: str, spec: EncoderSpec) -> dict[str, Any]:
    """What defines the cached views of a modality: encoder, text template, augmentation
    parameters and the seed (the view count is not part of it: views are only added)."""
    from pixelrec.data.augmentation import augmentation_params

    return {"modality": modality, "encoder": spec.describe(),
            "text_template": config.features.text_template if modality == "text" else None,
            "augmentation": augmentation_params(augmentation_section(config, modality)),
            "seed": config.seed, "dtype": "float32"}


def open_views(cache: SimpleFeatureCache, config, modality: str, spec: EncoderSpec):
    """The `ViewCache` of `modality` beside `cache` (writable when the cache is)."""
    from pixelrec.features.views import ViewCache

    if not cache.use_disk:
        section = "image" if modality == "image" else "text"
        raise ConfigError(f"data.{section}_augmentation.cached_views > 0 needs the disk cache; "
                          f"set data.cache_config.enabled and data.cache_config.use_disk to "
                          f"true, or data.{section}_augmentation.cached_views to 0.")
    return ViewCache(cache.directory, modality, view_key(config, modality, spec),
                     writable=cache.writable)


def fill_views(cache: SimpleFeatureCache, inputs: ItemInputs, specs: dict[str, EncoderSpec],
               config, progress: bool = False, recompute: bool = False
               ) -> dict[str, dict[str, int]]:
    """Encode the missing or stale augmented views (`cached_view_count` per modality; with
    `recompute` all of them); view v of an item is drawn from a generator seeded by (seed, item
    id, v). Returns per-modality counts of item views computed and reused."""
    from pixelrec.data.augmentation import (
        augment_text,
        augmentation_params,
        view_rng,
        view_seed,
    )
    from pixelrec.features.encoders import load_encoder
    from pixelrec.features.pipeline import encode_images, encode_texts

    feats = config.features
    out = {}
    for modality, spec in specs.items():
        n_views = cached_view_count(config, modality)
        if n_views == 0:
            continue
        views = open_views(cache, config, modality, spec)
        params = augmentation_params(augmentation_section(config, modality))
        hashes = input_hashes(inputs, modality)
        todo = {v: [i for i, fresh in enumerate(views.fresh(v, inputs.item_ids, hashes))
                    if recompute or not fresh] for v in range(n_views)}
        total = sum(len(rows) for rows in todo.values())
        out[modality] = {"views": n_views, "computed": total,
                         "reused": n_views * len(inputs.item_ids) - total}
        bar = _progress(total, f"{modality} view", progress) if total else None
        try:
            for view, rows in todo.items():
                if not rows:
                    continue
                part = inputs.subset(rows)
                part_hashes = [hashes[i] for i in rows]

                def sink(positions, vectors, ok, part=part, part_hashes=part_hashes, view=view,
                         store=views):
                    store.put(view, [part.item_ids[p] for p in positions],
                              [part_hashes[p] for p in positions], vectors, ok)

                encoder = load_encoder(spec, feats.device)
                if modality == "image":
                    seeds = [view_seed(config.seed, i, view, "image") for i in part.item_ids]
                    encode_images(encoder, part.image_paths, feats.image_batch_size,
                                  decode_workers(feats.num_workers, encoder.device.type), sink,
                                  bar, augment=params, seeds=seeds)
                else:
                    texts = [augment_text(t, params, view_rng(config.seed, i, view, "text"))
                             for i, t in zip(part.item_ids, part.texts, strict=True)]
                    encode_texts(encoder, texts, feats.text_batch_size, sink, bar)
        finally:
            if bar is not None:
                bar.close()
            views.write_info(n_views)
            views.close()
        cache.manifest["info"].setdefault("views", {})[modality] = {
            "directory": str(views.directory.relative_to(cache.directory)),
            "cached_views": n_views}
    return out


def item_views(config, item_ids: list[str], read_only: bool = False
               ) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per modality with cached views: [(vectors [n, dim], present [n]) per view] aligned with
    `item_ids`. Missing views are encoded now and stored (not with `read_only`, which reads what
    another process has just made complete)."""
    all_specs = encoder_specs(config)
    specs = {m: spec for m, spec in all_specs.items() if cached_view_count(config, m) > 0}
    if not specs:
        return {}
    cfg = config.data.cache_config
    if not (cfg.enabled and cfg.use_disk):
        modality = next(iter(specs))
        raise ConfigError(f"data.{modality}_augmentation.cached_views > 0 needs the disk cache; "
                          f"set data.cache_config.enabled and data.cache_config.use_disk to "
                          f"true, or data.{modality}_augmentation.cached_views to 0.")
    ids = list(item_ids)
    cache = open_cache(config, writable=not read_only, specs=all_specs)
    try:
        if not read_only:
            counts = fill_views(cache, items_for(config, ids), specs, config)
            computed = max((c["computed"] for c in counts.values()), default=0)
            if computed > ON_THE_FLY_WARNING:
                warnings.warn(f"{computed} augmented item views were not in the feature cache "
                              f"{cache.directory} and were encoded now; run `pixelrec "
                              f"precompute` first to do this once.", stacklevel=2)
            cache.write_info()
        out = {}
        for modality, spec in specs.items():
            views = open_views(cache, config, modality, spec)
            out[modality] = [views.load(v, ids) for v in range(cached_view_count(config, modality))]
        return out
    finally:
        cache.close()


def precompute(config, max_items: int | None = None, force: bool = False,
               progress: bool = True) -> dict[str, Any]:
    """Encode every item of the processed item table into the cache; reuses fresh entries.

    `force` re-encodes every item even when cached, and discards a cache built with other
    settings (which is otherwise refused). With `max_items` too, only those first items are
    re-encoded and replaced: the cache keeps every other item (unless it was built with other
    settings, when nothing else could be kept; a warning says how many were dropped).

    With augmentation enabled, `cached_views` > 0 and a frozen encoder, also encodes that many
    augmented views per item (`fill_views`).

    Returns a summary: cache name and directory, items, seconds, and per modality the numbers of
    items computed, reused and missing (no usable image/text), plus `views` (views per item,
    item views computed and reused) when views are cached.
    """
    if not config.data.cache_config.enabled:
        raise ConfigError("data.cache_config.enabled is false, so there is no cache to "
                          "precompute; set it to true (features are then encoded on the fly).")
    start = time.perf_counter()
    inputs = read_items(config, max_items)
    specs = encoder_specs(config)
    partial = max_items is not None
    ranked = None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # launched by torchrun
        from pixelrec.features.shards import encode_rank_slice

        ranked, encoded = encode_rank_slice(config, inputs, specs, force, partial, progress)
        rank = int(os.environ.get("RANK", "0"))
        if rank > 0:  # its slice is in its shard; rank 0 merges every shard
            return {"cache": cache_directory(config).name, "rank": rank,
                    "world": int(os.environ["WORLD_SIZE"]), "encoded": encoded,
                    "seconds": round(time.perf_counter() - start, 3)}
    again = force and ranked is None  # with ranks, rank 0 applied `force` before they encoded
    with _open_for_precompute(config, specs, again, partial) as cache:
        counts = fill(cache, inputs, specs, config, progress=progress, recompute=again)
        if ranked is not None:
            counts = ranked
        views = fill_views(cache, inputs, specs, config, progress=progress, recompute=force)
        cache.write_info()
        for modality in counts:
            ok = cache.mask(modality, inputs.item_ids)
            counts[modality]["missing"] = int((~ok).sum())
            if modality in views:
                counts[modality]["views"] = views[modality]
        return {"cache": cache.name, "directory": str(cache.directory),
                "items": len(inputs.item_ids), "seconds": round(time.perf_counter() - start, 3),
                **counts}


def _open_for_precompute(config, specs: dict[str, EncoderSpec], force: bool, partial: bool
                         ) -> SimpleFeatureCache:
    """The writable cache: emptied by a full `force`; a partial one (`--max_items`) keeps the
    other items, unless the cache was built with other settings and cannot be kept anyway."""
    if not (force and partial):
        return open_cache(config, writable=True, specs=specs, replace=force)
    try:
        return open_cache(config, writable=True, specs=specs)
    except CacheSettingsError:
        warnings.warn(f"feature cache {cache_directory(config)} was built with other settings, "
                      f"so --force_recompute discards all of it, not only the --max_items items "
                      f"it re-encodes; run precompute without --max_items to fill the rest.",
                      stacklevel=3)
    return open_cache(config, writable=True, specs=specs, replace=True)


def summary_line(summary: dict[str, Any]) -> str:
    if "encoded" in summary:  # a torchrun rank other than 0
        done = ", ".join(f"{n} {m}" for m, n in summary["encoded"].items()) or "nothing"
        return (f"precompute {summary['cache']} rank {summary['rank']}/{summary['world']}: "
                f"encoded {done} into its shard in {summary['seconds']:.1f} s (rank 0 merges)")
    parts = [f"{summary['items']} items in {summary['seconds']:.1f} s"]
    for modality in ("image", "text"):
        if modality in summary:
            c = summary[modality]
            line = (f"{modality}: {c['computed']} computed, {c['reused']} reused, "
                    f"{c['missing']} missing")
            if "workers" in c:
                w = c["workers"]
                line += (f" ({w['processes']} worker processes, {w['startup_seconds']:.1f} s "
                         f"to start)")
            if "views" in c:
                v = c["views"]
                line += (f", {v['views']} augmented views per item ({v['computed']} computed, "
                         f"{v['reused']} reused)")
            parts.append(line)
    return f"precompute {summary['cache']}: " + "; ".join(parts)


def items_for(config, item_ids: list[str] | None = None) -> ItemInputs:
    """Encoder inputs of `item_ids` (default: every item of the processed table), in that order."""
    inputs = read_items(config)
    if item_ids is None:
        return inputs
    where = {item_id: k for k, item_id in enumerate(inputs.item_ids)}
    unknown = [i for i in item_ids if i not in where]
    if unknown:
        from pixelrec.errors import DataError

        raise DataError(f"{len(unknown)} item ids are not in the processed item table "
                        f"{config.data.processed_item_info_path} (e.g. {unknown[:3]}).")
    return inputs.subset([where[i] for i in item_ids])


def item_features(config, item_ids: list[str] | None = None,
                  modalities: list[str] | None = None
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per modality, (vectors [n, dim], present mask [n]) aligned with `item_ids` (default: all
    items of the processed table). Items absent from the cache are encoded now and added.
    `modalities` restricts the work to some of the configured ones."""
    inputs = items_for(config, item_ids)
    all_specs = encoder_specs(config)
    specs = {m: spec for m, spec in all_specs.items() if modalities is None or m in modalities}
    cfg = config.data.cache_config
    writable = cfg.enabled and cfg.use_disk
    if writable:  # nothing to encode: read without the writer lock (concurrent trainings)
        complete = _read_if_complete(config, inputs, specs, all_specs)
        if complete is not None:
            return complete
    cache = open_cache(config, writable=writable, specs=all_specs)
    if not writable:  # memory only: the LRU must hold the whole request to answer it
        cache.max_memory_items = max(cache.max_memory_items, len(inputs.item_ids))
    try:
        counts = fill(cache, inputs, specs, config)
        computed = max((c["computed"] for c in counts.values()), default=0)
        if writable and computed > ON_THE_FLY_WARNING:
            warnings.warn(f"{computed} items were not in the feature cache {cache.directory} and "
                          f"were encoded now; run `pixelrec precompute` first to do this once.",
                          stacklevel=2)
        if writable:
            cache.write_info()
        return {m: cache.load_all(m, inputs.item_ids) for m in specs}
    finally:
        if writable:
            cache.close()


def _read_if_complete(config, inputs: ItemInputs, specs: dict[str, EncoderSpec],
                      all_specs: dict[str, EncoderSpec]
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """The vectors when the disk cache already holds every item fresh, else None."""
    if not (cache_directory(config) / "manifest.json").exists():
        return None
    try:
        cache = open_cache(config, writable=False, specs=all_specs)
    except PixelRecError:  # a refused manifest: the writable open explains it
        return None
    try:
        for modality in specs:
            hashes = input_hashes(inputs, modality)
            if not all(cache.fresh(modality, inputs.item_ids, hashes)):
                return None
        return {m: cache.load_all(m, inputs.item_ids) for m in specs}
    finally:
        cache.close()


def item_embedding_matrix(config, item_ids: list[str] | None = None
                          ) -> tuple[list[str], np.ndarray]:
    """(item_ids, [n, d_image + d_text] float32): L2-normalised image and text vectors side by
    side, zeros where a modality is missing. For content-based baselines (cosine KNN)."""
    ids = read_items(config).item_ids if item_ids is None else list(item_ids)
    return ids, side_by_side(item_features(config, ids))


def side_by_side(features: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Concatenate per-modality (vectors, mask) after L2-normalising each row; missing -> 0."""
    blocks = []
    for vectors, mask in features.values():
        block = np.asarray(vectors, dtype=np.float32).copy()
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        block = np.divide(block, norms, out=np.zeros_like(block), where=norms > 0)
        block[~np.asarray(mask, dtype=bool)] = 0.0
        blocks.append(block)
    return np.concatenate(blocks, axis=1)
