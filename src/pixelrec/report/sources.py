"""What the report reads: evaluation result files, training metadata and curves, item pictures."""

from __future__ import annotations

import base64
import io
import json
import warnings
from pathlib import Path

import pandas as pd

from pixelrec.errors import DataError
from pixelrec.evaluation.results import load_result


def evaluation_results(results_dir: str | Path, task: str = "retrieval") -> dict[str, dict]:
    """The latest `pixelrec evaluate` result of each recommender for `task` among the JSON
    files directly under `results_dir`, keyed by the recommender recorded inside the result
    (not the file name); each result's `metadata.file` names the file it came from."""
    latest: dict[str, tuple[tuple[str, float, str], dict]] = {}
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            result = load_result(path)
        except DataError:
            continue
        meta = result.get("metadata")
        if not isinstance(meta, dict) or meta.get("task", "retrieval") != task:
            continue
        name = str(meta.get("recommender") or path.stem)
        when = (str(meta.get("created", "")), path.stat().st_mtime, path.name)
        if name not in latest or when > latest[name][0]:
            meta["file"] = path.name
            latest[name] = (when, result)
    return {name: result for name, (_, result) in sorted(latest.items())}


def training_run(results_dir: str | Path) -> dict | None:
    """`training_metadata.json` plus the curves figure (as a data URI) when they exist, and a
    `warning` (also issued) when that training did not finish."""
    from pixelrec.training.outputs import METADATA_NAME, training_status

    path = Path(results_dir) / METADATA_NAME
    if not path.exists():
        return None
    meta = json.loads(path.read_text(encoding="utf-8"))
    _, meta["warning"] = training_status(results_dir)
    if meta["warning"]:
        warnings.warn(meta["warning"], stacklevel=2)
    figure = Path(meta.get("figure") or Path(results_dir) / "figures" / "training_curves.png")
    meta["figure_uri"] = data_uri(figure.read_bytes(), "image/png") if figure.exists() else None
    return meta


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class Pictures:
    """Item titles and thumbnails (JPEG data URIs, made once per item) from the processed item
    table, the processed images and the images of items added through the API."""

    def __init__(self, config, size: int = 112) -> None:
        from pixelrec.data.items import read_processed_items
        from pixelrec.inference.added import AddedItemStore, added_items_dir
        from pixelrec.inference.titles import item_titles

        table = read_processed_items(config.data.processed_item_info_path)
        folder = Path(config.data.processed_image_folder)
        self.titles = item_titles(config)
        self.paths: dict[str, Path] = {}
        if "image_path" in table.columns:
            ok = table["has_image"].astype(bool) if "has_image" in table.columns \
                else pd.Series(True, index=table.index)
            for item, rel in zip(table.loc[ok, "item_id"].astype(str),
                                 table.loc[ok, "image_path"].fillna("").astype(str), strict=True):
                if rel:
                    self.paths[item] = folder / rel
        store = AddedItemStore(added_items_dir(config))
        added, _ = store.load()
        for _, row in added.iterrows():
            if row.get("image_file"):
                self.paths[str(row["item_id"])] = store.directory / "images" / row["image_file"]
        self.size = size
        self._thumbs: dict[str, str | None] = {}

    def title(self, item_id: str) -> str:
        return self.titles.get(str(item_id), "")

    def thumbnail(self, item_id: str) -> str | None:
        """A JPEG data URI of the item's picture, None when it has none (or it is unreadable)."""
        item_id = str(item_id)
        if item_id not in self._thumbs:
            self._thumbs[item_id] = self._make(self.paths.get(item_id))
        return self._thumbs[item_id]

    def _make(self, path: Path | None) -> str | None:
        from PIL import Image

        if path is None or not path.exists():
            return None
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                im.thumbnail((self.size, self.size))
                buffer = io.BytesIO()
                im.save(buffer, "JPEG", quality=80)
        except OSError:
            return None
        return data_uri(buffer.getvalue(), "image/jpeg")
