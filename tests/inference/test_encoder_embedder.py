"""New items are embedded by the same packaged encoder, with the same preprocessing, as the
feature cache (EfficientNet-Lite0 only: the text encoder's import alone takes seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pixelrec.errors import PixelRecError
from pixelrec.features import item_features
from pixelrec.inference.content import EncoderEmbedder
from tests.inference.helpers import copy_work


def test_uploaded_image_matches_the_cached_vector(trained, tmp_path):
    _, config = copy_work(trained, tmp_path / "work")
    config.model = config.model.model_copy(update={"language_model": None})
    config.data.cache_config = config.data.cache_config.model_copy(
        update={"cache_directory": str(tmp_path / "fresh_cache")})
    table = pd.read_parquet(config.data.processed_item_info_path)
    row = table[table["has_image"]].iloc[0]
    cached, ok = item_features(config, [str(row["item_id"])])["image"]
    assert ok[0]
    image = (Path(config.data.processed_image_folder) / row["image_path"]).read_bytes()
    embedded = EncoderEmbedder(config, {"image": cached.shape[1]})(image, "")
    vector, present = embedded["image"]
    assert present[0] and np.allclose(vector[0], cached[0], atol=1e-4)
    none = EncoderEmbedder(config, {"image": cached.shape[1]})(None, "some text")
    assert not none["image"][1][0] and not none["image"][0].any()
    with pytest.raises(PixelRecError, match="trained with"):
        EncoderEmbedder(config, {"image": 12})(image, "")
