"""The built-in preprocessing steps, registered in the order they run: text, image, filter,
numerical. Each wraps one processor class and records its counts in the report."""

from __future__ import annotations

import logging
import os
from itertools import islice

import pandas as pd

from pixelrec.data.processors.filter import DataFilter
from pixelrec.data.processors.image import ImageProcessor
from pixelrec.data.processors.numerical import NumericalProcessor
from pixelrec.data.processors.registry import Preprocessing, register_processor
from pixelrec.data.processors.text import TextProcessor
from pixelrec.errors import DataError

log = logging.getLogger(__name__)
REJECTED = ("corrupt", "too_small", "too_large")  # image statuses that reject the image


@register_processor("text")
def clean_text(state: Preprocessing) -> None:
    """Clean title, tag and description (`data.text_cleaning`); flag items with any text."""
    text = TextProcessor(state.config.data.text_cleaning)
    items = state.items.copy()
    for field in ("title", "description"):
        items[field] = text.clean_series(items[field])
    items["tag"] = text.clean_series(items["tag"], tags=True)
    items["has_text"] = (items[["title", "tag", "description"]] != "").any(axis=1)
    columns = state.config.data.columns
    for field in ("title", "tag", "description"):
        source = getattr(columns, field)
        if source and len(items) and (items[field] == "").all():
            log.warning("column '%s' (`data.columns.%s`) of %s is empty for every item: no %s "
                        "text reaches the model. Map `data.columns.%s` to the column holding "
                        "it, or set it to null if your data has none.", source, field,
                        state.config.data.item_info_path, field, field)
    state.items = items


@register_processor("image")
def process_images(state: Preprocessing) -> None:
    """Validate and re-encode images (resumable); flag items with a usable image."""
    data = state.config.data
    items = state.items.copy()
    if data.image_folder or data.columns.image:
        check_missing_images(items, data)
    sources = {i: s for i, s in zip(items["item_id"], items["image_source"], strict=True) if s}
    if not sources:
        items["image_path"], items["has_image"] = "", False
        state.items = items
        state.report["images"] = {"processed": 0, "reused_unchanged": 0,
                                  "no_image_configured": len(items)}
        return
    processor = ImageProcessor(data.processed_image_folder, data.image_validation,
                               data.image_compression, data.num_workers)
    results, reused = processor.process(sources, progress=state.progress)
    items["image_path"] = [results[i].output if i in results else "" for i in items["item_id"]]
    items["has_image"] = items["image_path"] != ""
    counts: dict = {"processed": len(results) - reused, "reused_unchanged": reused}
    for status in ("ok", "missing", *REJECTED):
        counts[status] = sum(r.status == status for r in results.values())
    for action in ("copied", "resized", "converted"):
        counts[action] = sum(r.action == action for r in results.values())
    rejected = [r for r in results.values() if r.status in REJECTED]
    counts["rejected_examples"] = [{"item_id": r.item_id, "status": r.status, "reason": r.reason}
                                   for r in rejected[:10]]
    if rejected:
        log.warning("%d image(s) rejected (corrupt, too small or too large); see "
                    "preprocess_report.json",
                    len(rejected))
    state.items = items
    state.report["images"] = counts


def check_missing_images(items: pd.DataFrame, data) -> int:
    """Count the items whose image file does not exist (before any image is processed): above
    `data.max_missing_image_share` of the items raise, naming what was tried and what exists;
    fewer (but some) are a warning. Returns the count."""
    sources = list(items["image_source"])
    missing = [(i, s) for i, s in zip(items["item_id"], sources, strict=True)
               if not s or not os.path.isfile(s)]
    if not missing or not sources:
        return 0
    share = len(missing) / len(sources)
    tried = next((s for _, s in missing if s), "")
    how = (f"`data.columns.image` '{data.columns.image}'" if data.columns.image
           else f"`data.columns.image_pattern` '{data.columns.image_pattern}'")
    example = (f"e.g. for item '{missing[0][0]}' it tried {tried}" if tried
               else f"e.g. item '{missing[0][0]}' has no path in that column")
    counted = f"{len(missing)} of {len(sources)} items ({share:.0%}) have no image file"
    if share <= data.max_missing_image_share:
        fate = ("are dropped" if data.missing_modality_policy == "drop"
                else "are kept without an image")
        log.warning("%s (%s with %s); they %s (`data.missing_modality_policy: %s`)", counted,
                    example, how, fate, data.missing_modality_policy)
        return len(missing)
    folder = data.image_folder
    found = _some_files(folder)
    if found:
        exists = f"Files that do exist in {folder}: {', '.join(found)}."
    elif folder:
        exists = f"{folder} holds no image files."
    else:
        exists = "`data.image_folder` is null, so relative paths are taken as they are."
    fix = ("Fix `data.columns.image` (or `data.image_folder`)" if data.columns.image
           else "Fix `data.columns.image_pattern` (or `data.image_folder`) so it names them")
    raise DataError(
        f"{counted}, more than `data.max_missing_image_share` ({data.max_missing_image_share:g}) "
        f"allows: with {how}, {example}{', which does not exist' if tried else ''}. "
        f"{exists} {fix}, or raise "
        f"`data.max_missing_image_share` (1 never stops) if most items really have no image. "
        f"Nothing was written."
    )


def _some_files(folder: str | None, limit: int = 5) -> list[str]:
    """The first few files (paths relative to `folder`, sorted, hidden ones skipped)."""
    if not folder or not os.path.isdir(folder):
        return []

    def walk():
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith("."):
                    yield os.path.relpath(os.path.join(root, name), folder)

    return list(islice(walk(), limit))


@register_processor("filter")
def filter_rows(state: Preprocessing) -> None:
    """Items lacking a modality (`data.missing_modality_policy`), then duplicate, unknown-item
    and k-core filtering of the interactions; with `data.catalogue: interacted` items left
    without an interaction leave the item table (they could never be a hit)."""
    data, report = state.config.data, state.report
    items, dropped_modality = _missing_modalities(state.items, data.missing_modality_policy)
    report["items"].update({
        "missing_image": int((~items["has_image"]).sum()) if not dropped_modality else 0,
        "empty_text": int((~items["has_text"]).sum()) if not dropped_modality else 0,
        "dropped_missing_modality": dropped_modality,
    })
    interactions, report["interactions"] = _filter(state.interactions, items, data.filtering)
    if interactions.empty:
        raise DataError(
            f"no interactions left after filtering {data.interactions_path} (see the counts: "
            f"{report['interactions']}). Lower `data.filtering.min_user_interactions` / "
            f"`data.filtering.min_item_interactions`, or check that `data.columns.item_id` "
            f"matches between the item and interaction files."
        )
    if data.catalogue == "interacted":  # the catalogue: items that kept an interaction
        interacted = items["item_id"].isin(set(interactions["item_id"]))
        report["items"]["dropped_without_interactions"] = int((~interacted).sum())
        items = items[interacted]
    report["users"]["out"] = int(interactions["user_id"].nunique())
    report["users"]["dropped"] = report["users"]["in"] - report["users"]["out"]
    state.items, state.interactions = items, interactions


@register_processor("numerical")
def scale_numbers(state: Preprocessing) -> None:
    """Impute and scale `data.numerical_features_cols`; the fitted scaler is saved with the tables."""
    data = state.config.data
    scaler = NumericalProcessor(data.numerical_normalization_method, data.numerical_imputation)
    state.items, imputed = scaler.fit(state.items, data.numerical_features_cols
                                      ).transform(state.items)
    state.report["numerical"] = {"method": scaler.method, "imputation": scaler.imputation,
                                 "imputed": imputed}
    state.scaler = scaler


def _missing_modalities(items: pd.DataFrame, policy: str) -> tuple[pd.DataFrame, int]:
    """`drop`: remove items lacking an image or text; `impute`: keep them, flagged."""
    if policy == "impute":
        return items, 0
    complete = items["has_image"] & items["has_text"]
    return items[complete], int((~complete).sum())


def _filter(interactions: pd.DataFrame, items: pd.DataFrame, filtering
            ) -> tuple[pd.DataFrame, dict]:
    filt = DataFilter(filtering.min_user_interactions, filtering.min_item_interactions)
    counts = {"rows_in": len(interactions)}
    interactions, counts["duplicates_dropped"] = filt.drop_duplicates(interactions,
                                                                      filtering.repeats)
    counts["repeats"] = filtering.repeats
    interactions, counts["unknown_item_dropped"] = filt.drop_unknown_items(
        interactions, items["item_id"])
    before = len(interactions)
    interactions, counts["k_core_rounds"] = filt.k_core(interactions)
    counts["k_core_dropped"] = before - len(interactions)
    counts["rows_out"] = len(interactions)
    # Stable: interactions with the same timestamp keep the input file's row order (the only
    # order the data gives; sorting ties by item id would leak an id order into the sequence).
    interactions = interactions.sort_values(["user_id", "timestamp"], kind="stable")
    return interactions.reset_index(drop=True), counts
