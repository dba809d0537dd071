"""The encoder registry: tiny deterministic encoders registered by name are accepted by the config
and produce the cached features through `precompute`; their version enters the cache key."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelrec.errors import ConfigError
from pixelrec.features import open_cache, precompute
from pixelrec.features.compute import cache_key, read_items
from pixelrec.features.encoders import ImageEncoder, TextEncoder, register_encoder
from pixelrec.features.imaging import decode
from pixelrec.features.registry import ENCODERS, image_preprocessing, resolve_text
from tests.features.conftest import make_config

PRE = image_preprocessing(resize=16, crop=16, mean=(0, 0, 0), std=(1, 1, 1))


class MeanColour(ImageEncoder):
    """The mean red, green and blue of the center crop, in [0, 1]."""

    def _load(self) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs)


class Letters(TextEncoder):
    """Counts of the letters a-z, lowercased."""

    def _load(self) -> torch.nn.Module:
        return torch.nn.Identity()

    def prepare(self, batch: list[str]) -> torch.Tensor:
        out = torch.zeros(len(batch), 26)
        for row, text in enumerate(batch):
            for char in text.lower():
                if "a" <= char <= "z":
                    out[row, ord(char) - ord("a")] += 1
        return out

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs)


@pytest.fixture
def fakes():
    register_encoder("mean-colour", modality="image", version="1", preprocessing=PRE)(MeanColour)
    register_encoder("letters", modality="text", version="1")(Letters)
    yield
    del ENCODERS["image"]["mean-colour"], ENCODERS["text"]["letters"]


def test_registered_encoders_fill_the_cache_through_precompute(fakes, items_dir):
    config = make_config(items_dir, "model.vision_model=mean-colour",
                         "model.language_model=letters")
    summary = precompute(config, progress=False)
    assert summary["cache"] == "mean-colour_letters"
    assert summary["image"] == {"computed": 12, "reused": 0, "missing": 2}  # none + corrupt
    assert summary["text"] == {"computed": 12, "reused": 0, "missing": 1}
    cache = open_cache(config)
    images, image_ok = cache.load_all("image")
    texts, text_ok = cache.load_all("text")
    assert images.shape == (12, 3) and texts.shape == (12, 26)
    inputs = read_items(config)
    k = inputs.item_ids.index("i000")
    pixels = decode(inputs.image_paths[k], PRE)
    np.testing.assert_allclose(images[k], pixels.reshape(-1, 3).mean(0) / 255, atol=1e-6)
    text = inputs.texts[k].lower()
    assert texts[k].tolist() == [float(text.count(c)) for c in "abcdefghijklmnopqrstuvwxyz"]
    assert not image_ok[inputs.item_ids.index("i003")] and not text_ok[inputs.item_ids.index("i007")]
    assert precompute(config, progress=False)["text"]["reused"] == 12


def test_version_and_class_enter_the_cache_key(fakes, items_dir):
    config = make_config(items_dir, "model.language_model=letters")
    before = cache_key(config)["text"]
    assert before["preprocessing"] == {"max_length": 128}
    del ENCODERS["text"]["letters"]
    register_encoder("letters", modality="text", version="2")(Letters)
    assert cache_key(config)["text"]["fingerprint"] != before["fingerprint"]
    assert resolve_text("letters", 16).preprocessing == {"max_length": 16}


def test_config_validates_against_the_registry(fakes, items_dir):
    with pytest.raises(ConfigError, match="letters"):
        make_config(items_dir, "model.vision_model=letters")  # registered for text only
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("letters", modality="text")(Letters)
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("clip", modality="image")(MeanColour)
    with pytest.raises(ValueError, match="modality"):
        register_encoder("x", modality="audio")
