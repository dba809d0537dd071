"""Checkpoints `best.pt` / `last.pt`: weights, vocabularies, optimiser/schedule/RNG state and
history, written atomically so a crash never leaves a torn file."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelrec.errors import PixelRecError
from pixelrec.io import write_bytes_atomic

FORMAT = 1


def checkpoint_path(checkpoint_dir: str | Path, which: str) -> Path:
    """`best` / `last` -> `<checkpoint_dir>/<which>.pt`; anything else is taken as a path."""
    if which in ("best", "last"):
        return Path(checkpoint_dir) / f"{which}.pt"
    return Path(which)


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    write_bytes_atomic(path, buffer.getvalue())
    return Path(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise PixelRecError(f"checkpoint not found: {path}. Train first (`pixelrec train`) or "
                            f"pass an existing checkpoint (best, last or a path).")
    # Our own files; they hold numpy RNG state, which weights_only loading rejects.
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise PixelRecError(f"{path} is not a pixelrec checkpoint (format {FORMAT}); retrain.")
    return state
