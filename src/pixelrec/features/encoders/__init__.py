"""Load a frozen encoder for a resolved spec (`pixelrec.features.registry`).

New encoders subclass `ImageEncoder` / `TextEncoder` and register with
`pixelrec.features.registry.register_encoder` (also importable from here).
"""

from __future__ import annotations

import json
from collections import OrderedDict

from pixelrec.features.encoders.base import Encoder, ImageEncoder, TextEncoder, pick_device
from pixelrec.features.registry import EncoderSpec, encoder_class, register_encoder

__all__ = ["Encoder", "ImageEncoder", "TextEncoder", "load_encoder", "new_encoder", "pick_device",
           "register_encoder"]


# The last few loaded encoders, so repeated precompute / on-the-fly calls in one process reuse them.
_LOADED: OrderedDict[tuple, Encoder] = OrderedDict()
KEEP_LOADED = 2


def load_encoder(spec: EncoderSpec, device: str = "auto") -> Encoder:
    """The encoder for `spec` on `device` ("auto", "cpu", "cuda", "mps"), reused if loaded."""
    key = (spec.modality, spec.name, spec.source, spec.fingerprint,
           json.dumps(spec.preprocessing, sort_keys=True), device)
    if key not in _LOADED:
        _LOADED[key] = _build(spec, device)
        while len(_LOADED) > KEEP_LOADED:
            _LOADED.popitem(last=False)
    _LOADED.move_to_end(key)
    return _LOADED[key]


def new_encoder(spec: EncoderSpec, device: str = "cpu", trainable: bool = False) -> Encoder:
    """A fresh, unshared encoder for `spec` (never reused from the loaded ones); `trainable`
    keeps its weights requiring gradients, for fine-tuning."""
    return _build(spec, device, trainable)


def _build(spec: EncoderSpec, device: str, trainable: bool = False) -> Encoder:
    return encoder_class(spec)(spec, pick_device(device), trainable)
