"""The two packaged offline encoders, for real, on tiny inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_sample_image

from pixelrec.features.encoders import load_encoder
from pixelrec.features.imaging import resize_crop
from pixelrec.features.registry import resolve_text, resolve_vision

# ImageNet-1k class indices
PALACE, DAISY = 698, 985


@pytest.fixture(scope="module")
def effnet():
    return load_encoder(resolve_vision("efficientnet-lite0"), "cpu")


@pytest.fixture(scope="module")
def minilm():
    return load_encoder(resolve_text("sentence-bert", 128), "cpu")


def _photos(spec) -> np.ndarray:
    return np.stack([resize_crop(Image.fromarray(load_sample_image(name)), spec.preprocessing)
                     for name in ("china.jpg", "flower.jpg")])


def test_efficientnet_features_classify_real_photos(effnet):
    assert effnet.dim == 1280
    pre = effnet.spec.preprocessing
    assert (pre["crop"], pre["channels_last"]) == (224, True)
    # TF-style normalisation: (x * 255 - 127) / 128
    assert np.allclose(np.array(pre["mean"]) * 255, 127) and np.allclose(np.array(pre["std"]) * 255, 128)
    features = effnet.encode(_photos(effnet.spec))
    assert features.shape == (2, 1280) and features.dtype == np.float32
    logits = torch.from_numpy(features) @ effnet.classifier.weight.T + effnet.classifier.bias
    assert logits.argmax(dim=1).tolist() == [PALACE, DAISY]


def test_efficientnet_traced_cpu_path_matches_eager_and_any_batch_size(effnet):
    assert effnet.traced
    photos = _photos(effnet.spec)
    batch = np.concatenate([photos, photos[:1], photos, photos[1:]])  # 6: not a multiple of 4
    traced = effnet.encode(batch)
    from efficientnet_lite_pytorch import EfficientNet

    eager = EfficientNet.from_name("efficientnet-lite0")
    eager.load_state_dict(torch.load(effnet.spec.source, weights_only=True))
    eager.eval()
    with torch.inference_mode():
        ref = eager.extract_features(effnet.prepare(batch)).mean(dim=(2, 3)).numpy()
    assert traced.shape == (6, 1280)
    np.testing.assert_allclose(traced, ref, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(traced[0], traced[2], rtol=1e-5, atol=1e-5)


def test_minilm_paraphrases_score_above_unrelated_pair(minilm):
    assert minilm.dim == 384
    assert minilm.spec.preprocessing == {"max_length": 128, "pooling": "mean", "normalize": True,
                                         "truncation": True}
    a, b, c = minilm.encode(["A man is eating food.", "A man is eating a piece of bread.",
                             "The stock market crashed today."])
    np.testing.assert_allclose([np.linalg.norm(a), np.linalg.norm(c)], 1.0, atol=1e-5)
    assert a @ b > 0.6 > 0.2 > a @ c


def test_minilm_truncates_long_text_at_max_length(minilm):
    long = "word " * 2000
    out = minilm.encode([long, long + "tail that is cut off"])
    np.testing.assert_allclose(out[0], out[1], atol=1e-5)
    assert minilm.prepare([long])["input_ids"].shape[1] == 128


def test_encoders_run_frozen_in_eval_mode(minilm):
    assert not minilm.model.training
    assert not any(p.requires_grad for p in minilm.model.parameters())
