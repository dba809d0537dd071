"""Training outputs under `results_dir`: curves (PNG), metadata and the error log."""

from __future__ import annotations

import datetime as dt
import json
import traceback
from pathlib import Path

from pixelrec.io import write_json_atomic


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
    path = Path(directory) / "figures" / "training_curves.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


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
