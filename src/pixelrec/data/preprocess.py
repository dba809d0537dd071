"""The preprocessing stage: raw item/interaction files + images -> processed tables and a report.

Order: load and validate both tables (every input error surfaces before anything is written),
clean text, validate/re-encode images (resumable), filter interactions, scale numbers, then write
all tables atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from pixelrec.config import Config, write_resolved_config
from pixelrec.data.loading import load_interactions, load_items
from pixelrec.data.processors import DataFilter, ImageProcessor, NumericalProcessor, TextProcessor
from pixelrec.errors import DataError
from pixelrec.io import write_json_atomic, write_table

log = logging.getLogger(__name__)
REPORT_NAME = "preprocess_report.json"


def preprocess(config: Config, progress: bool = True) -> dict:
    """Run the whole preprocessing stage for `config`; return the report (also written as JSON)."""
    data = config.data
    items, duplicate_item_rows = load_items(data)
    interactions = load_interactions(data)
    report: dict = {
        "items": {"rows_in": len(items) + duplicate_item_rows,
                  "duplicate_rows_dropped": duplicate_item_rows},
        "interactions": {"rows_in": len(interactions)},
        "users": {"in": int(interactions["user_id"].nunique())},
    }

    items = _clean_text(items, TextProcessor(data.text_cleaning))
    items, image_report = _process_images(items, config, progress)
    report["images"] = image_report
    items, dropped_modality = _missing_modalities(items, data.missing_modality_policy)
    report["items"].update({
        "missing_image": int((~items["has_image"]).sum()) if not dropped_modality else 0,
        "empty_text": int((~items["has_text"]).sum()) if not dropped_modality else 0,
        "dropped_missing_modality": dropped_modality,
    })

    interactions, report["interactions"] = _filter(interactions, items, config)
    if interactions.empty:
        raise DataError(
            f"no interactions left after filtering {data.interactions_path} (see the counts: "
            f"{report['interactions']}). Lower `data.filtering.min_user_interactions` / "
            f"`data.filtering.min_item_interactions`, or check that `data.columns.item_id` "
            f"matches between the item and interaction files."
        )
    report["users"]["out"] = int(interactions["user_id"].nunique())
    report["users"]["dropped"] = report["users"]["in"] - report["users"]["out"]

    scaler = NumericalProcessor(data.numerical_normalization_method, data.numerical_imputation)
    items, imputed = scaler.fit(items, data.numerical_features_cols).transform(items)
    report["numerical"] = {"method": scaler.method, "imputation": scaler.imputation,
                           "imputed": imputed}
    items = items.drop(columns=["image_source"]).reset_index(drop=True)
    interacted = set(interactions["item_id"])
    report["items"]["rows_out"] = len(items)
    report["items"]["without_interactions"] = int((~items["item_id"].isin(interacted)).sum())

    _write_outputs(config, items, interactions, scaler, report)
    return report


def _clean_text(items: pd.DataFrame, text: TextProcessor) -> pd.DataFrame:
    items = items.copy()
    for field in ("title", "description"):
        items[field] = text.clean_series(items[field])
    items["tag"] = text.clean_series(items["tag"], tags=True)
    items["has_text"] = (items[["title", "tag", "description"]] != "").any(axis=1)
    return items


def _process_images(items: pd.DataFrame, config: Config, progress: bool
                    ) -> tuple[pd.DataFrame, dict]:
    data = config.data
    sources = {i: s for i, s in zip(items["item_id"], items["image_source"], strict=True) if s}
    items = items.copy()
    if not sources:
        items["image_path"], items["has_image"] = "", False
        return items, {"processed": 0, "reused_unchanged": 0, "no_image_configured": len(items)}
    processor = ImageProcessor(data.processed_image_folder, data.image_validation,
                               data.image_compression, data.num_workers)
    results, reused = processor.process(sources, progress=progress)
    items["image_path"] = [results[i].output if i in results else "" for i in items["item_id"]]
    items["has_image"] = items["image_path"] != ""
    counts: dict = {"processed": len(results) - reused, "reused_unchanged": reused}
    for status in ("ok", "missing", "corrupt", "too_small"):
        counts[status] = sum(r.status == status for r in results.values())
    for action in ("copied", "resized", "converted"):
        counts[action] = sum(r.action == action for r in results.values())
    rejected = [r for r in results.values() if r.status in ("corrupt", "too_small")]
    counts["rejected_examples"] = [{"item_id": r.item_id, "status": r.status, "reason": r.reason}
                                   for r in rejected[:10]]
    if rejected:
        log.warning("%d image(s) rejected (corrupt or too small); see preprocess_report.json",
                    len(rejected))
    return items, counts


def _missing_modalities(items: pd.DataFrame, policy: str) -> tuple[pd.DataFrame, int]:
    """`drop`: remove items lacking an image or text; `impute`: keep them, flagged."""
    if policy == "impute":
        return items, 0
    complete = items["has_image"] & items["has_text"]
    return items[complete], int((~complete).sum())


def _filter(interactions: pd.DataFrame, items: pd.DataFrame, config: Config
            ) -> tuple[pd.DataFrame, dict]:
    filt = DataFilter(config.data.filtering.min_user_interactions,
                      config.data.filtering.min_item_interactions)
    counts = {"rows_in": len(interactions)}
    interactions, counts["duplicates_dropped"] = filt.drop_duplicates(interactions)
    interactions, counts["unknown_item_dropped"] = filt.drop_unknown_items(
        interactions, items["item_id"])
    before = len(interactions)
    interactions, counts["k_core_rounds"] = filt.k_core(interactions)
    counts["k_core_dropped"] = before - len(interactions)
    counts["rows_out"] = len(interactions)
    interactions = interactions.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    return interactions.reset_index(drop=True), counts


def _write_outputs(config: Config, items: pd.DataFrame, interactions: pd.DataFrame,
                   scaler: NumericalProcessor, report: dict) -> None:
    data = config.data
    targets = [(items, Path(data.processed_item_info_path)),
               (interactions, Path(data.processed_interactions_path))]
    for frame, path in targets:
        write_table(frame, path)
        if data.write_csv and path.suffix != ".csv":
            write_table(frame, path.with_suffix(".csv"))
    scaler.save(data.scaler_path)
    out_dir = Path(data.processed_item_info_path).parent
    write_json_atomic(out_dir / REPORT_NAME, report)
    write_resolved_config(config, out_dir)
