"""SimpleFeatureCache: per-item embeddings per modality, keyed by what produced them.

Layout of `<cache_directory>/<vision>_<language>/`:
  manifest.json            encoders (names, weights fingerprints, preprocessing), text template,
                           dims, dtype; plus informational counts, times and cached views
  <modality>.f32           float32 rows (see `pixelrec.features.store`)
  <modality>.index.jsonl   item id -> row, input hash, present/missing bit
  views/<modality>-<hash>/ augmented views, keyed by their own settings (`pixelrec.features.views`)
  shards/<name>/           while encoding in parallel: a worker's slice, merged in and deleted
                           by the writer (`pixelrec.features.shards`)
  .lock                    held by the single writer

A cache whose manifest key differs from the current config is refused, never reused. Each entry
carries a hash of its input (image bytes or item text); a changed input is a miss.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from pixelrec.errors import PixelRecError
from pixelrec.features.store import ModalityStore
from pixelrec.io import write_json_atomic

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Key fields of older caches that no longer exist, with the value that keeps them valid: caches
# built before augmented views moved to `views/` recorded `augmentation_views: 0`.
LEGACY_KEY_FIELDS = {"augmentation_views": 0}
LOCK = ".lock"
MODALITIES = ("image", "text")


class CacheSettingsError(PixelRecError):
    """The cache on disk was built with other settings than the current config's."""


def cache_name(vision: str | None, language: str | None) -> str:
    """Directory name for an encoder pair, e.g. `efficientnet-lite0_sentence-bert`."""
    return f"{_slug(vision)}_{_slug(language)}"


def _slug(name: str | None) -> str:
    if name is None:
        return "none"
    if name.startswith("hf:"):
        import hashlib

        tail = re.sub(r"[^A-Za-z0-9.-]+", "-", name[3:].rstrip("/").split("/")[-1]).strip("-")
        return f"hf-{tail or 'model'}-{hashlib.sha1(name.encode()).hexdigest()[:6]}"
    return re.sub(r"[^A-Za-z0-9.-]+", "-", name)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _diff(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out += _diff(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return out
    return [] if old == new else [f"{path}: cached {json.dumps(old)} != current {json.dumps(new)}"]


class SimpleFeatureCache:
    """Embeddings of items per modality with an in-memory LRU and optional disk persistence."""

    def __init__(self, directory: str | Path, key: dict[str, Any], *, use_disk: bool = True,
                 max_memory_items: int = 10000, writable: bool = False, replace: bool = False):
        """`replace` (writers only): start empty, also over a cache built with other settings."""
        self.directory = Path(directory)
        self.name = self.directory.name
        self.key = key
        self.use_disk = use_disk
        self.writable = writable
        self.max_memory_items = max_memory_items
        self.modalities = [m for m in MODALITIES if key.get(m) is not None]
        self._lru: dict[str, OrderedDict[str, tuple[str, np.ndarray, bool]]] = {
            m: OrderedDict() for m in self.modalities}
        self._lock_fh = None
        self.stores: dict[str, ModalityStore] = {}
        self.manifest: dict[str, Any] = {"format_version": FORMAT_VERSION, "name": self.name,
                                         "key": key, "dims": {}, "info": {"created": _now()}}
        if use_disk:
            self._open_disk(replace and writable)

    # -- opening -------------------------------------------------------------------------------
    def _open_disk(self, replace: bool) -> None:
        path = self.directory / MANIFEST
        if self.writable:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock()
        if replace:
            for modality in MODALITIES:
                for suffix in (".f32", ".index.jsonl"):
                    (self.directory / f"{modality}{suffix}").unlink(missing_ok=True)
            shutil.rmtree(self.directory / "views", ignore_errors=True)  # augmented views
            shutil.rmtree(self.directory / "shards", ignore_errors=True)  # unmerged workers'
            write_json_atomic(path, self.manifest)
        elif path.exists():
            self.manifest = read_manifest(self.directory)
            self._upgrade_key()
            differences = _diff(self.manifest.get("key"), self.key)
            if differences:
                self.close()
                raise CacheSettingsError(
                    f"feature cache {self.directory} was built with different settings and is "
                    f"never reused silently:\n  " + "\n  ".join(differences) + "\nDelete it with "
                    f"`pixelrec cache clear {self.name}` (or precompute --force_recompute), or "
                    f"point data.cache_config.cache_directory somewhere else.")
        elif self.writable:
            write_json_atomic(path, self.manifest)
        for modality, dim in self.manifest.get("dims", {}).items():
            if modality in self.modalities:
                self.stores[modality] = ModalityStore(self.directory, modality, int(dim),
                                                      writable=self.writable)

    def _upgrade_key(self) -> None:
        """Drop legacy key fields whose value meant what the current key means without them."""
        cached = self.manifest.get("key")
        if not isinstance(cached, dict):
            return
        legacy = {k for k, v in LEGACY_KEY_FIELDS.items()
                  if k not in self.key and k in cached and cached[k] == v}
        if legacy:
            self.manifest["key"] = {k: v for k, v in cached.items() if k not in legacy}
            if self.writable and not _diff(self.manifest["key"], self.key):
                write_json_atomic(self.directory / MANIFEST, self.manifest)

    def _lock(self) -> None:
        import fcntl

        self._lock_fh = open(self.directory / LOCK, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_fh.close()
            self._lock_fh = None
            raise PixelRecError(f"feature cache {self.directory} is being written by another "
                                f"process (e.g. a running precompute); wait for it to finish."
                                ) from None

    def close(self) -> None:
        """Flush the stores to disk and release the writer lock."""
        if self.writable:
            for store in self.stores.values():
                store.sync()
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> SimpleFeatureCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------
    @property
    def item_ids(self) -> list[str]:
        """Every item held in any modality, in the order first stored."""
        ids: dict[str, None] = {}
        for modality in self.modalities:
            source = self.stores[modality].entries if modality in self.stores else self._lru[modality]
            ids.update(dict.fromkeys(source))
        return list(ids)

    def dim(self, modality: str) -> int | None:
        dim = self.manifest.get("dims", {}).get(modality)
        return int(dim) if dim is not None else None

    def refresh(self) -> None:
        """See items another process added since this cache was opened."""
        if self.use_disk and not self.writable and (self.directory / MANIFEST).exists():
            dims = read_manifest(self.directory).get("dims", {})
            for modality, dim in dims.items():
                if modality in self.modalities and modality not in self.stores:
                    self.manifest.setdefault("dims", {})[modality] = dim
                    self.stores[modality] = ModalityStore(self.directory, modality, int(dim))
        for store in self.stores.values():
            store.refresh()

    def fresh(self, modality: str, item_ids: list[str], hashes: list[str]) -> np.ndarray:
        """Boolean mask: which items are stored with exactly these input hashes."""
        lru = self._lru[modality]
        entries = self.stores[modality].entries if modality in self.stores else {}
        out = np.zeros(len(item_ids), dtype=bool)
        for k, (item_id, digest) in enumerate(zip(item_ids, hashes, strict=True)):
            hit = lru.get(item_id)
            if hit is not None:
                out[k] = hit[0] == digest
            else:
                entry = entries.get(item_id)
                out[k] = entry is not None and entry.hash == digest
        return out

    def get(self, modality: str, item_id: str) -> tuple[np.ndarray, bool] | None:
        """One item's (vector, present) through the LRU, or None if it is not cached."""
        lru = self._lru[modality]
        if item_id in lru:
            lru.move_to_end(item_id)
            _, vector, ok = lru[item_id]
            return vector, ok
        store = self.stores.get(modality)
        entry = store.entries.get(item_id) if store else None
        if entry is None:
            return None
        vector = np.array(store.matrix()[entry.row])
        self._remember(modality, item_id, entry.hash, vector, entry.ok)
        return vector, entry.ok

    def load_all(self, modality: str, item_ids: list[str] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(vectors [n, dim] float32, present mask [n]) for `item_ids` (default: all cached).

        From disk this is one memory-mapped array; uncached items get zeros and False.
        """
        ids = self.item_ids if item_ids is None else list(item_ids)
        if modality in self.stores:
            return self.stores[modality].vectors(ids)
        dim = self.dim(modality) or 0
        out = np.zeros((len(ids), dim), dtype=np.float32)
        mask = np.zeros(len(ids), dtype=bool)
        lru = self._lru.get(modality, {})
        for k, item_id in enumerate(ids):
            if item_id in lru:
                _, out[k], mask[k] = lru[item_id]
        return out, mask

    def mask(self, modality: str, item_ids: list[str]) -> np.ndarray:
        """Present bits for `item_ids` (False when missing or not cached), without loading vectors."""
        store = self.stores.get(modality)
        lru = self._lru[modality]
        out = np.zeros(len(item_ids), dtype=bool)
        for k, item_id in enumerate(item_ids):
            if store is not None and item_id in store.entries:
                out[k] = store.entries[item_id].ok
            elif item_id in lru:
                out[k] = lru[item_id][2]
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        """Per modality: items stored and how many of them have no usable input."""
        out = {}
        for modality in self.modalities:
            if modality in self.stores:
                values = self.stores[modality].entries.values()
                oks = [e.ok for e in values]
            else:
                oks = [v[2] for v in self._lru[modality].values()]
            out[modality] = {"items": len(oks), "missing": len(oks) - sum(oks)}
        return out

    # -- writing -------------------------------------------------------------------------------
    def put(self, modality: str, item_ids: list[str], hashes: list[str], vectors: np.ndarray,
            ok: np.ndarray) -> None:
        """Store a batch; rows whose input was missing must be zero vectors with ok False."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.dim(modality) is None:
            self.manifest.setdefault("dims", {})[modality] = int(vectors.shape[1])
            if self.use_disk:
                write_json_atomic(self.directory / MANIFEST, self.manifest)
        if self.use_disk:
            if modality not in self.stores:
                self.stores[modality] = ModalityStore(self.directory, modality,
                                                      int(vectors.shape[1]), writable=True)
            self.stores[modality].append(item_ids, hashes, vectors, ok)
        for k, item_id in enumerate(item_ids):
            self._remember(modality, item_id, hashes[k], vectors[k].copy(), bool(ok[k]))

    def _remember(self, modality: str, item_id: str, digest: str, vector: np.ndarray,
                  ok: bool) -> None:
        if self.max_memory_items == 0:
            return
        lru = self._lru[modality]
        lru[item_id] = (digest, vector, ok)
        lru.move_to_end(item_id)
        while len(lru) > self.max_memory_items:
            lru.popitem(last=False)

    def write_info(self) -> None:
        """Record item counts and the update time in the manifest (informational fields)."""
        self.manifest["info"].update({"items": len(self.item_ids), "counts": self.counts(),
                                      "updated": _now()})
        if self.use_disk and self.writable:
            write_json_atomic(self.directory / MANIFEST, self.manifest)


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or "key" not in manifest:
            raise ValueError("no 'key' field")
        return manifest
    except (OSError, ValueError) as exc:
        raise PixelRecError(f"feature cache manifest {path} is unreadable ({exc}); delete the "
                            f"cache with `pixelrec cache clear {Path(directory).name}`.") from None


def remove_cache(directory: Path) -> None:
    """Delete a cache directory, refusing while a writer holds it."""
    import fcntl

    lock = Path(directory) / LOCK
    if lock.exists():
        with open(lock, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise PixelRecError(f"feature cache {directory} is being written by another "
                                    f"process; wait for it to finish.") from None
            shutil.rmtree(directory)
        return
    shutil.rmtree(directory)
