"""Image decoding for encoders: runs in worker processes, so it imports only Pillow and numpy.

A batch is decoded to uint8 HxWx3 arrays (shorter side resized, centre-cropped; or, for an
augmented view, a random resized crop plus the other `pixelrec.data.augmentation` ops);
normalisation to the encoder's mean/std happens in the main process on the whole batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from pixelrec.data.augmentation import augment_image

RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
            "lanczos": Image.Resampling.LANCZOS, "nearest": Image.Resampling.NEAREST}


def file_hash(path: str | None) -> str:
    """blake2b of a file's bytes; "none" when there is no path, "unreadable" when it cannot be read."""
    if not path:
        return "none"
    try:
        with open(path, "rb") as fh:
            return hashlib.blake2b(fh.read(), digest_size=16).hexdigest()
    except OSError:
        return "unreadable"


def decode(path: str | BinaryIO | None, pre: dict[str, Any],
           augment: Mapping[str, Any] | None = None,
           rng: np.random.Generator | None = None) -> np.ndarray | None:
    """One image (a path or a binary file object) as a uint8 [crop, crop, 3] array, or None if it
    is missing or corrupt. With `augment` (image augmentation parameters) and `rng`, an augmented
    view at full source resolution instead of the centre crop."""
    if not path:
        return None
    try:
        with Image.open(path) as im:
            if augment is not None:
                return augment_image(im.convert("RGB"), augment, pre["crop"], rng,
                                     RESAMPLE[pre["resample"]])
            if pre.get("jpeg_draft"):
                im.draft("RGB", (pre["resize_shorter"], pre["resize_shorter"]))
            im = im.convert("RGB")
            return resize_crop(im, pre)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def resize_crop(im: Image.Image, pre: dict[str, Any]) -> np.ndarray:
    """Resize the shorter side to `resize_shorter` and centre-crop `crop` x `crop`, in one step.

    Only the source box that survives the crop is resampled (straight to crop x crop), which is
    the same geometry as resize-then-crop at a fraction of the cost.
    """
    short, crop = pre["resize_shorter"], pre["crop"]
    w, h = im.size
    side = crop * min(w, h) / max(short, crop)  # the crop's extent in source pixels
    left, top = (w - side) / 2, (h - side) / 2
    out = im.resize((crop, crop), RESAMPLE[pre["resample"]], box=(left, top, left + side, top + side))
    return np.asarray(out, dtype=np.uint8)


def decode_batch(paths: Sequence[str | None], pre: dict[str, Any],
                 augment: Mapping[str, Any] | None = None,
                 seeds: Sequence[Sequence[int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode a batch: (uint8 [n, crop, crop, 3] with zeros for failures, ok mask [n]).

    With `augment`, image i is an augmented view drawn from `numpy.random.default_rng(seeds[i])`.
    """
    crop = pre["crop"]
    out = np.zeros((len(paths), crop, crop, 3), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    for i, path in enumerate(paths):
        rng = np.random.default_rng(seeds[i]) if augment is not None else None
        arr = decode(path, pre, augment, rng)
        if arr is not None:
            out[i], ok[i] = arr, True
    return out, ok
