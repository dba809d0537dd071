"""Read-only summaries of cache directories for `pixelrec cache list|stats` (no models loaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pixelrec.features.cache import MANIFEST, read_manifest
from pixelrec.features.store import ModalityStore


def find_caches(root: str | Path) -> list[Path]:
    """Cache directories (those holding a manifest) directly under `root`, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / MANIFEST).is_file())


def size_on_disk(directory: Path) -> int:
    """Bytes of every file under `directory`, cached augmented views included."""
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


def summary(directory: Path) -> dict[str, Any]:
    """Name, encoders, items, bytes on disk and creation time of one cache."""
    manifest = read_manifest(directory)
    stores = _stores(directory, manifest)
    ids: set[str] = set()
    for store in stores.values():
        ids.update(store.entries)
    key = manifest["key"]
    return {
        "name": Path(directory).name,
        "image_encoder": (key.get("image") or {}).get("name"),
        "text_encoder": (key.get("text") or {}).get("name"),
        "items": len(ids),
        "bytes": size_on_disk(directory),
        "created": manifest.get("info", {}).get("created", "?"),
    }


def stats(directory: Path, chunk: int = 8192) -> dict[str, Any]:
    """The manifest plus, per modality, coverage, missing count and a summary of vector norms."""
    manifest = read_manifest(directory)
    out: dict[str, Any] = {"summary": summary(directory), "manifest": manifest, "modalities": {}}
    for modality, store in _stores(directory, manifest).items():
        entries = list(store.entries.values())
        rows = np.array([e.row for e in entries if e.ok], dtype=np.int64)
        norms = np.zeros(0, dtype=np.float32)
        if len(rows):
            mat = store.matrix()
            norms = np.concatenate([np.linalg.norm(mat[np.sort(rows[i:i + chunk])], axis=1)
                                    for i in range(0, len(rows), chunk)])
        present = int(len(rows))
        out["modalities"][modality] = {
            "items": len(entries),
            "present": present,
            "missing": len(entries) - present,
            "coverage": present / len(entries) if entries else 0.0,
            "dim": store.dim,
            "stale_rows": store.stale_rows,
            "norm": ({"min": float(norms.min()), "mean": float(norms.mean()),
                      "max": float(norms.max())} if len(norms) else None),
        }
    out["views"] = view_sets(directory)
    return out


def view_sets(directory: Path) -> dict[str, dict[str, Any]]:
    """Cached augmented view sets under `<cache>/views/`: views per item and items per view."""
    root = Path(directory) / "views"
    if not root.is_dir():
        return {}
    out = {}
    for path in sorted(p for p in root.iterdir() if (p / MANIFEST).is_file()):
        manifest = read_manifest(path)
        modality = manifest["key"].get("modality", path.name.split("-")[0])
        counts = {}
        if manifest.get("dim"):
            views = [p.name[len(modality) + 1:-len(".index.jsonl")]
                     for p in path.glob(f"{modality}.*.index.jsonl")]
            for view in sorted(views, key=lambda v: int(v) if v.isdigit() else -1):
                counts[view] = len(ModalityStore(path, f"{modality}.{view}",
                                                 int(manifest["dim"])).entries)
        out[path.name] = {"modality": modality, "dim": manifest.get("dim"),
                          "items_per_view": counts,
                          "augmentation": manifest["key"].get("augmentation"),
                          "seed": manifest["key"].get("seed")}
    return out


def _stores(directory: Path, manifest: dict[str, Any]) -> dict[str, ModalityStore]:
    return {m: ModalityStore(Path(directory), m, int(dim))
            for m, dim in manifest.get("dims", {}).items()}


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
