"""Hub encoder code paths with tiny random models saved as the hub ships them (no network)."""

from __future__ import annotations

import numpy as np
import pytest

from pixelrec.config import load_config
from pixelrec.errors import ConfigError, PixelRecError
from pixelrec.features import registry
from pixelrec.features.encoders import load_encoder
from pixelrec.features.registry import check_model_name, resolve_text, resolve_vision


def _pixels(crop: int, n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, crop, crop, 3), dtype=np.uint8)


@pytest.mark.parametrize(("kind", "dim", "resize", "crop", "channels_last"), [
    ("clip", 16, 32, 32, False),      # projected image embedding (projection_dim)
    ("resnet", 16, 37, 32, True),     # pooler output flattened; crop_pct 0.875 -> 37 -> 32
    ("dino", 32, 40, 32, False),      # CLS after layernorm (hidden size)
    ("convnext", 16, 256, 224, True),  # no preprocessor file: ImageNet defaults
])
def test_vision_encoders(tiny_models, kind, dim, resize, crop, channels_last):
    spec = resolve_vision(f"hf:{tiny_models(kind)}")
    pre = spec.preprocessing
    assert (pre["resize_shorter"], pre["crop"], pre["channels_last"]) == (resize, crop,
                                                                          channels_last)
    encoder = load_encoder(spec, "cpu")
    assert encoder.dim == dim and not encoder.model.training
    out = encoder.encode(_pixels(crop))
    assert out.shape == (3, dim) and out.dtype == np.float32 and np.isfinite(out).all()
    assert not np.allclose(out[0], out[1])
    np.testing.assert_allclose(encoder.encode(_pixels(crop)[:1])[0], out[0], rtol=1e-4, atol=1e-5)


def test_clip_vision_uses_clip_normalisation_and_projection(tiny_models):
    import torch
    import transformers

    spec = resolve_vision(f"hf:{tiny_models('clip')}")
    assert spec.preprocessing["mean"][0] == pytest.approx(0.48145466)
    encoder = load_encoder(spec, "cpu")
    full = transformers.CLIPModel.from_pretrained(tiny_models("clip")).eval()
    pixels = _pixels(32, 2)
    with torch.inference_mode():
        ref = full.get_image_features(pixel_values=encoder.prepare(pixels))
    ref = getattr(ref, "pooler_output", ref)
    np.testing.assert_allclose(encoder.encode(pixels), ref.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("kind", "dim", "pooling", "normalize", "max_length"), [
    ("clip", 16, "clip", False, 77),
    ("bert", 32, "mean", False, 64),
    ("roberta", 32, "mean", False, 64),  # 66 positions minus the padding offset
    ("sentence", 32, "cls", True, 64),  # sentence-transformers layout decides pooling
])
def test_text_encoders(tiny_models, kind, dim, pooling, normalize, max_length):
    spec = resolve_text(f"hf:{tiny_models(kind)}", max_length=128)
    assert spec.preprocessing == {"max_length": max_length, "pooling": pooling,
                                  "normalize": normalize, "truncation": True}
    encoder = load_encoder(spec, "cpu")
    assert encoder.dim == dim
    texts = ["red summer dress", "a much longer description of a garden chair " * 40, "red"]
    out = encoder.encode(texts)
    assert out.shape == (3, dim) and np.isfinite(out).all()
    assert encoder.prepare(texts)["input_ids"].shape[1] == max_length  # truncated, padded
    if normalize:
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # padding must not change a text's vector (masked pooling / eos pooling)
    np.testing.assert_allclose(encoder.encode(["red"])[0], out[2], rtol=1e-4, atol=1e-5)


def test_text_max_length_is_capped_by_config(tiny_models):
    spec = resolve_text(f"hf:{tiny_models('bert')}", max_length=16)
    assert spec.preprocessing["max_length"] == 16


def test_named_hub_model_loads_from_the_local_hf_cache(tiny_models, tmp_path, monkeypatch):
    """`clip` / `resnet` resolve through the user's HF cache layout, offline."""
    import shutil

    import huggingface_hub.constants as hc

    for name, kind in (("openai/clip-vit-base-patch32", "clip"), ("microsoft/resnet-50", "resnet")):
        repo = tmp_path / f"models--{name.replace('/', '--')}"
        shutil.copytree(tiny_models(kind), repo / "snapshots" / ("a" * 40))
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path))
    vision = resolve_vision("clip")
    text = resolve_text("clip", 128)
    assert vision.model_type == text.model_type == "clip"
    assert load_encoder(vision, "cpu").dim == 16 and load_encoder(text, "cpu").dim == 16
    assert load_encoder(resolve_vision("resnet"), "cpu").dim == 16


@pytest.mark.parametrize(("name", "modality", "repo"), [
    ("clip", "image", "openai/clip-vit-base-patch32"),
    ("dino", "image", "facebook/dinov2-small"),
    ("convnext", "image", "facebook/convnext-tiny-224"),
    ("mpnet", "text", "sentence-transformers/all-mpnet-base-v2"),
    ("roberta", "text", "FacebookAI/roberta-base"),
    ("multilingual-minilm", "text",
     "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"),
    ("hf:/no/such/model", "image", "/no/such/model"),
])
def test_unavailable_hub_model_is_a_clear_error(tmp_path, monkeypatch, name, modality, repo):
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path))
    resolve = resolve_vision if modality == "image" else (lambda n: resolve_text(n, 128))
    with pytest.raises(PixelRecError) as info:
        resolve(name)
    message = str(info.value)
    assert repo in message and "HF_HOME" in message and "download" in message
    assert "efficientnet-lite0" in message and "sentence-bert" in message
    assert "Traceback" not in message


def test_model_names_are_checked():
    check_model_name("hf:org/model", "image")
    check_model_name(None, "text")
    with pytest.raises(ConfigError, match="model.vision_model = 'vgg'.*efficientnet-lite0"):
        check_model_name("vgg", "image")
    with pytest.raises(ConfigError, match="model.language_model"):
        check_model_name("resnet", "text")
    assert set(registry.ENCODERS["text"]) >= {"sentence-bert", "mpnet", "bert", "roberta",
                                               "clip", "multilingual-minilm"}
    assert set(registry.ENCODERS["image"]) >= {"efficientnet-lite0", "clip", "resnet", "dino",
                                                "convnext"}
    assert load_config(None).model.vision_model in registry.ENCODERS["image"]
