"""Training outputs under `results_dir`: curves (PNG), metadata and the error log.

`training_metadata.json` is written when a run starts (`"status": "incomplete"`), again after
every epoch's checkpoints, and marked `"complete"` at the end; its `run_id` is also in every
checkpoint of the run. `training_status` tells the stages that use a checkpoint whether its
training finished.
"""

from __future__ import annotations

import datetime as dt
import json
import traceback
from pathlib import Path

from pixelrec.io import atomic_path, write_json_atomic

METADATA_NAME = "training_metadata.json"


def curves_path(directory: str | Path) -> Path:
    return Path(directory) / "figures" / "training_curves.png"


def plot_curves(history: list[dict], directory: str | Path) -> Path:
    """`training_curves.png`: train loss (and val loss) and the val ranking metrics per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train loss")
    if any("val_loss" in h for h in history):
        left.plot(epochs, [h.get("val_loss") for h in history], marker="o", label="val loss")
    left.set_xlabel("epoch")
    left.set_title("loss")
    left.legend()
    for key in sorted({k for h in history for k in h.get("val", {})}):
        right.plot(epochs, [h.get("val", {}).get(key) for h in history], marker="o", label=key)
    right.set_xlabel("epoch")
    right.set_title("validation (full ranking)")
    if right.lines:
        right.legend()
    fig.tight_layout()
    path = curves_path(directory)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def training_status(results_dir: str | Path, checkpoint: dict | None = None
                    ) -> tuple[bool | None, str | None]:
    """(whether training finished, the warning to show when it did not) from
    `<results_dir>/training_metadata.json`; None, None without one. With a loaded `checkpoint`,
    one that the run described there did not write is unknown (None) and warned about."""
    path = Path(results_dir) / METADATA_NAME
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    if checkpoint is not None and checkpoint.get("run_id") != meta.get("run_id"):
        return None, (f"it comes from another training run than the one {path} describes (a "
                      f"newer run started, or the checkpoint belongs to another results_dir), "
                      f"so whether its training finished is unknown.")
    status = meta.get("status", "complete")  # files written before the status was recorded
    if status == "complete":
        return True, None
    return False, (f"training did not finish: {path} has status {status!r} after "
                   f"{meta.get('epochs')} epoch(s) (best epoch {meta.get('best_epoch')}); the run "
                   f"was interrupted or is still going. Resume it with `pixelrec train --resume "
                   f"last`, or retrain.")


def log_error(results_dir: str | Path, stage: str, exc: BaseException,
              config_path: str | None) -> Path:
    """Append {time, stage, exception, traceback, config_path} to `results/error_log.json`."""
    path = Path(results_dir) / "error_log.json"
    entries = []
    if path.exists():
        try:
            entries = json.loads(path.read_text())
        except ValueError:
            entries = []
    entries.append({
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "stage": stage,
        "exception": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "config_path": config_path,
    })
    write_json_atomic(path, entries)
    return path
