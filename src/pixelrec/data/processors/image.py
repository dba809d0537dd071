"""ImageProcessor: verify each image, reject bad ones with a reason, re-encode oversized ones.

Results are recorded in `<processed_image_folder>/.manifest.json`; a re-run skips images whose
source file and processing parameters are unchanged, so an interrupted run resumes. Each finished
image is also appended at once to `.manifest.journal` (folded into the manifest by the next run),
so a run killed at any point loses no finished image; outputs are renamed into place only once
complete, so a half-written file is never taken as finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from pixelrec.config.data import ImageCompressionConfig, ImageValidationConfig
from pixelrec.io import atomic_path, write_json_atomic
from pixelrec.workers import worker_pool

MANIFEST = ".manifest.json"
JOURNAL = ".manifest.journal"  # one JSON line per image finished since the manifest was written
KEEP_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


@dataclass(frozen=True)
class ImageResult:
    item_id: str
    status: str  # ok | missing | corrupt | too_small | too_large
    reason: str = ""
    output: str = ""  # file name inside the processed folder when status == ok
    action: str = ""  # copied | resized | converted


class ImageProcessor:
    def __init__(self, output_folder: str | os.PathLike,
                 validation: ImageValidationConfig | None = None,
                 compression: ImageCompressionConfig | None = None, num_workers: int = 0):
        self.output_folder = Path(output_folder)
        self.validation = validation or ImageValidationConfig()
        self.compression = compression or ImageCompressionConfig()
        self.num_workers = num_workers or os.cpu_count() or 1

    def process(self, sources: dict[str, str], progress: bool = True
                ) -> tuple[dict[str, ImageResult], int]:
        """Process `item_id -> source path`; return results and how many were reused unchanged."""
        self.output_folder.mkdir(parents=True, exist_ok=True)
        for partial in self.output_folder.glob(".*.tmp"):  # left by a killed run
            partial.unlink(missing_ok=True)
        manifest = self._read_manifest()
        self._write_manifest(manifest)  # fold in the journal of an interrupted run
        params = self._params_key()
        results: dict[str, ImageResult] = {}
        todo: list[tuple] = []
        for item_id, src in sources.items():
            entry = manifest.get(item_id)
            if entry and self._unchanged(entry, src, params):
                results[item_id] = ImageResult(**entry["result"])
            else:
                todo.append((item_id, src, str(self.output_folder), self._settings()))
        reused = len(results)
        bar = tqdm(total=len(todo), desc="images", unit="img", disable=not progress or not todo)
        try:
            with open(self.output_folder / JOURNAL, "a", encoding="utf-8") as journal:
                for result in self._run(todo):
                    src = sources[result.item_id]
                    entry = {"source": src, "stat": _stat(src), "params": params,
                             "result": asdict(result)}
                    results[result.item_id], manifest[result.item_id] = result, entry
                    journal.write(json.dumps(entry) + "\n")
                    journal.flush()
                    bar.update(1)
        finally:
            bar.close()
            self._write_manifest(manifest)
        return results, reused

    def _run(self, todo: list[tuple]):
        if self.num_workers <= 1 or len(todo) < 64:
            yield from map(_process_one, todo)
            return
        with worker_pool(self.num_workers) as pool:  # workers die with this process
            yield from pool.imap(_process_one, todo, chunksize=16)

    def _settings(self) -> dict:
        return {"min_width": self.validation.min_width, "min_height": self.validation.min_height,
                "max_pixels": self.validation.max_pixels, "compress": self.compression.enabled,
                "max_size": self.compression.max_size, "quality": self.compression.quality}

    def _params_key(self) -> str:
        return hashlib.sha1(json.dumps(self._settings(), sort_keys=True).encode()).hexdigest()[:12]

    def _read_manifest(self) -> dict:
        """The manifest with the journal of an interrupted run replayed over it."""
        manifest = _read_json(self.output_folder / MANIFEST)
        for entry in _journal_entries(self.output_folder / JOURNAL):
            manifest[entry["result"]["item_id"]] = entry
        return manifest

    def _write_manifest(self, manifest: dict) -> None:
        """Write the whole manifest, then drop the journal it now holds."""
        write_json_atomic(self.output_folder / MANIFEST, manifest)
        (self.output_folder / JOURNAL).unlink(missing_ok=True)

    def _unchanged(self, entry: dict, src: str, params: str) -> bool:
        if entry.get("source") != src or entry.get("params") != params:
            return False
        if entry.get("stat") != _stat(src):
            return False
        output = entry["result"].get("output")
        return not output or (self.output_folder / output).exists()


def output_name(item_id: str, suffix: str) -> str:
    """File name for an item's processed image; ids unsafe as file names are hashed."""
    stem = item_id if _SAFE_ID.match(item_id) else hashlib.sha1(item_id.encode()).hexdigest()
    return stem + suffix


def _read_json(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        return {}  # a damaged manifest only costs a full re-run


def _journal_entries(path: Path) -> list[dict]:
    """Complete journal lines; the last line of a killed run may be torn and is skipped."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def _stat(src: str) -> list[int] | None:
    try:
        st = os.stat(src)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _process_one(task: tuple) -> ImageResult:
    """Validate one image against `max_pixels` (in place of Pillow's own limit) and save it."""
    with _own_pixel_limit():
        return _validate_one(task)


@contextlib.contextmanager
def _own_pixel_limit():
    """Switch off Pillow's global decompression-bomb check (a warning, then an exception, at its
    fixed limit) while `_validate_one` rejects large images itself, before decoding them."""
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def _validate_one(task: tuple) -> ImageResult:
    item_id, src, out_dir, s = task
    if not src or not os.path.isfile(src):
        return ImageResult(item_id, "missing", f"file not found: {src}" if src else "no image")
    try:
        with Image.open(src) as img:  # reads the header only: the size, no pixels yet
            w, h = img.size
            if w * h > s["max_pixels"]:
                return ImageResult(item_id, "too_large",
                                   f"{w}x{h} = {w * h:,} pixels is above the maximum "
                                   f"{s['max_pixels']:,} (data.image_validation.max_pixels)")
            img.verify()
        with Image.open(src) as img:
            img.load()
            fmt, (w, h) = img.format, img.size
            if w < s["min_width"] or h < s["min_height"]:
                return ImageResult(item_id, "too_small",
                                   f"{w}x{h} is below the minimum {s['min_width']}x"
                                   f"{s['min_height']} (data.image_validation)")
            if s["compress"] and max(w, h) > s["max_size"]:
                img = img.convert("RGB")
                img.thumbnail((s["max_size"], s["max_size"]), Image.LANCZOS)
                return _save(item_id, img, out_dir, s["quality"], "resized")
            if fmt not in KEEP_FORMATS:
                return _save(item_id, img.convert("RGB"), out_dir, s["quality"], "converted")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return ImageResult(item_id, "corrupt", f"{type(exc).__name__}: {exc}")
    name = output_name(item_id, KEEP_FORMATS[fmt])
    with atomic_path(Path(out_dir) / name) as tmp:
        shutil.copyfile(src, tmp)
    return ImageResult(item_id, "ok", output=name, action="copied")


def _save(item_id: str, img: Image.Image, out_dir: str, quality: int, action: str) -> ImageResult:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    name = output_name(item_id, ".jpg")
    with atomic_path(Path(out_dir) / name) as tmp:
        tmp.write_bytes(buf.getvalue())
    return ImageResult(item_id, "ok", output=name, action=action)
