"""The preprocessing stage: raw item/interaction files + images -> processed tables and a report.

Order: load and validate both tables (every input error surfaces before anything is written),
run the registered processors (`pixelrec.data.processors.PROCESSORS`: clean text,
validate/re-encode images (resumable), filter items and interactions, scale numbers, then any
registered since), then write all tables atomically.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pixelrec.config import Config, write_resolved_config
from pixelrec.data.loading import load_interactions, load_items
from pixelrec.data.processors import PROCESSORS, Preprocessing
from pixelrec.io import write_json_atomic, write_table

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
    state = Preprocessing(config, items, interactions, report, progress)
    for step in PROCESSORS.values():
        step(state)

    report = state.report
    items = state.items.drop(columns=["image_source"], errors="ignore").reset_index(drop=True)
    interacted = set(state.interactions["item_id"])
    report["items"]["rows_out"] = len(items)
    report["items"]["without_interactions"] = int((~items["item_id"].isin(interacted)).sum())

    _write_outputs(config, items, state.interactions, state.scaler, report)
    return report


def _write_outputs(config: Config, items: pd.DataFrame, interactions: pd.DataFrame,
                   scaler, report: dict) -> None:
    data = config.data
    targets = [(items, Path(data.processed_item_info_path)),
               (interactions, Path(data.processed_interactions_path))]
    for frame, path in targets:
        write_table(frame, path)
        if data.write_csv and path.suffix != ".csv":
            write_table(frame, path.with_suffix(".csv"))
    if scaler is not None:
        scaler.save(data.scaler_path)
    out_dir = Path(data.processed_item_info_path).parent
    write_json_atomic(out_dir / REPORT_NAME, report)
    write_resolved_config(config, out_dir)
