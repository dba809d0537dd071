"""Cached augmented views of one modality, beside the clean vectors of a feature cache.

Layout: `<cache>/views/<modality>-<hash of the key>/` holds `manifest.json` (key: encoder,
text template, augmentation parameters, seed) and one store per view index
(`<modality>.<v>.f32` + `<modality>.<v>.index.jsonl`, see `pixelrec.features.store`). View v of
an item depends only on the key, the item id and v, so raising `cached_views` only adds views,
and changing an augmentation parameter (or the seed) selects another directory: the clean
vectors and other view sets are never touched or reused by mistake. Writers hold the lock of the
main cache, whose `precompute` fills both.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from pixelrec.errors import PixelRecError
from pixelrec.features.cache import MANIFEST, _diff, _now, read_manifest
from pixelrec.features.store import ModalityStore
from pixelrec.io import write_json_atomic

VIEWS_DIR = "views"


def views_directory(cache_directory: Path, modality: str, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_directory) / VIEWS_DIR / f"{modality}-{digest}"


class ViewCache:
    """Augmented views 0..n-1 of one modality, each a `ModalityStore` keyed by item id."""

    def __init__(self, cache_directory: str | Path, modality: str, key: dict[str, Any],
                 writable: bool = False) -> None:
        self.modality, self.key, self.writable = modality, key, writable
        self.directory = views_directory(Path(cache_directory), modality, key)
        self.manifest: dict[str, Any] = {"key": key, "dim": None, "info": {"created": _now()}}
        path = self.directory / MANIFEST
        if path.exists():
            self.manifest = read_manifest(self.directory)
            differences = _diff(self.manifest.get("key"), key)
            if differences:
                raise PixelRecError(f"cached views {self.directory} were built with different "
                                    f"settings:\n  " + "\n  ".join(differences) + "\nDelete "
                                    "that folder or the whole cache (`pixelrec cache clear`).")
        elif writable:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, self.manifest)
        self.stores: dict[int, ModalityStore] = {}

    @property
    def dim(self) -> int | None:
        dim = self.manifest.get("dim")
        return int(dim) if dim is not None else None

    def store(self, view: int) -> ModalityStore | None:
        """The store of view `view` (None while nothing of it was written)."""
        if view not in self.stores and self.dim is not None:
            name = f"{self.modality}.{view}"
            if self.writable or (self.directory / f"{name}.index.jsonl").exists():
                self.stores[view] = ModalityStore(self.directory, name, self.dim,
                                                  writable=self.writable)
        return self.stores.get(view)

    def fresh(self, view: int, item_ids: list[str], hashes: list[str]) -> np.ndarray:
        """Which items have view `view` stored for exactly these input hashes."""
        store = self.store(view)
        entries = store.entries if store is not None else {}
        return np.fromiter((i in entries and entries[i].hash == h
                            for i, h in zip(item_ids, hashes, strict=True)),
                           dtype=bool, count=len(item_ids))

    def put(self, view: int, item_ids: list[str], hashes: list[str], vectors: np.ndarray,
            ok: np.ndarray) -> None:
        if not self.writable:
            raise RuntimeError("view cache opened read-only")
        if self.dim is None:
            self.manifest["dim"] = int(np.asarray(vectors).shape[1])
            write_json_atomic(self.directory / MANIFEST, self.manifest)
        self.store(view).append(item_ids, hashes, vectors, ok)

    def load(self, view: int, item_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(vectors [n, dim], present [n]) of view `view`; absent items give zeros and False."""
        store = self.store(view)
        if store is None:
            return (np.zeros((len(item_ids), self.dim or 0), dtype=np.float32),
                    np.zeros(len(item_ids), dtype=bool))
        return store.vectors(item_ids)

    def write_info(self, views: int) -> None:
        """Record how many views were asked for last and the item count per view."""
        counts = {str(v): len(s.entries) for v, s in sorted(self.stores.items()) if v < views}
        self.manifest["info"].update({"views": views, "items": counts, "updated": _now()})
        if self.writable:
            write_json_atomic(self.directory / MANIFEST, self.manifest)

    def close(self) -> None:
        if self.writable:
            for store in self.stores.values():
                store.sync()
