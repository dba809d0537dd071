"""Load a frozen encoder for a resolved spec (`pixelrec.features.registry`)."""

from __future__ import annotations

import json
from collections import OrderedDict

from pixelrec.features.encoders.base import Encoder, ImageEncoder, TextEncoder, pick_device
from pixelrec.features.registry import EncoderSpec

__all__ = ["Encoder", "ImageEncoder", "TextEncoder", "load_encoder", "pick_device"]


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


def _build(spec: EncoderSpec, device: str) -> Encoder:
    from pixelrec.features.encoders.hf import HFImageEncoder, HFTextEncoder

    dev = pick_device(device)
    if spec.kind == "efficientnet":
        from pixelrec.features.encoders.efficientnet import EfficientNetLite0

        return EfficientNetLite0(spec, dev)
    if spec.modality == "image":
        return HFImageEncoder(spec, dev)
    return HFTextEncoder(spec, dev)
