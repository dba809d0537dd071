"""precompute / open_cache / item_features end to end with the packaged encoders on 12 items."""

from __future__ import annotations

import numpy as np
import pytest

from pixelrec.errors import ConfigError, PixelRecError
from pixelrec.features import (
    item_embedding_matrix,
    item_features,
    open_cache,
    precompute,
    summary_line,
)
from pixelrec.features.compute import read_items
from tests.features.conftest import make_config


def test_precompute_then_reuse_then_partial_update(items_dir):
    config = make_config(items_dir)
    first = precompute(config, progress=False)
    assert first["cache"] == "efficientnet-lite0_sentence-bert"
    assert first["items"] == 12
    assert first["image"] == {"computed": 12, "reused": 0, "missing": 2}  # none + corrupt
    assert first["text"] == {"computed": 12, "reused": 0, "missing": 1}
    assert "12 items" in summary_line(first)

    cache = open_cache(config)
    assert cache.directory == items_dir / "cache" / "efficientnet-lite0_sentence-bert"
    images, image_mask = cache.load_all("image")
    texts, text_mask = cache.load_all("text")
    ids = cache.item_ids
    assert images.shape == (12, 1280) and texts.shape == (12, 384)
    for missing in ("i003", "i005"):
        k = ids.index(missing)
        assert not image_mask[k] and not images[k].any()
    assert not text_mask[ids.index("i007")] and not texts[ids.index("i007")].any()
    assert image_mask.sum() == 10 and text_mask.sum() == 11
    np.testing.assert_allclose(np.linalg.norm(texts[text_mask], axis=1), 1.0, atol=1e-5)
    manifest = cache.manifest
    assert manifest["dims"] == {"image": 1280, "text": 384}
    assert "augmentation_views" not in manifest["key"]  # augmented views live in views/
    assert manifest["key"]["text_template"] == "{title}. {tag}. {description}"
    assert manifest["info"]["counts"]["image"] == {"items": 12, "missing": 2}

    second = precompute(config, progress=False)
    assert second["image"] == {"computed": 0, "reused": 12, "missing": 2}
    assert second["text"] == {"computed": 0, "reused": 12, "missing": 1}

    # a changed photo and a changed description are re-encoded, nothing else
    photos = items_dir / "processed" / "images"
    (photos / "2.jpg").write_bytes((photos / "4.jpg").read_bytes())
    import pandas as pd

    table = items_dir / "processed" / "item_info.parquet"
    df = pd.read_parquet(table)
    df.loc[df.item_id == "i009", "description"] = "completely new words"
    df.to_parquet(table)
    third = precompute(config, progress=False)
    assert third["image"]["computed"] == 1 and third["text"]["computed"] == 1
    fresh = open_cache(config)
    k2, k4 = fresh.item_ids.index("i002"), fresh.item_ids.index("i004")
    now, _ = fresh.load_all("image")
    np.testing.assert_allclose(now[k2], now[k4], atol=1e-5)


def test_other_encoder_gets_its_own_cache_and_changed_settings_are_refused(items_dir):
    text_only = make_config(items_dir, "model.vision_model=null")
    summary = precompute(text_only, max_items=5, progress=False)
    assert summary["cache"] == "none_sentence-bert" and summary["items"] == 5
    assert "image" not in summary
    assert (items_dir / "cache" / "none_sentence-bert" / "manifest.json").exists()

    changed = make_config(items_dir, "model.vision_model=null",
                          "features.text_template=\"Title: {title}\"")
    with pytest.raises(PixelRecError, match="text_template"):
        precompute(changed, progress=False)
    with pytest.raises(PixelRecError, match="max_length"):
        open_cache(make_config(items_dir, "model.vision_model=null", "features.max_text_length=64"))

    forced = precompute(make_config(items_dir, "model.vision_model=null"), force=True,
                        progress=False)
    assert forced["text"]["computed"] == 12 and forced["text"]["reused"] == 0
    # --force_recompute also replaces a cache built with other settings
    replaced = precompute(changed, force=True, progress=False)
    assert replaced["text"]["computed"] == 12
    assert open_cache(changed).manifest["key"]["text_template"] == "Title: {title}"


def test_a_partial_forced_recompute_replaces_only_its_items(items_dir):
    config = make_config(items_dir, "model.vision_model=null")
    precompute(config, progress=False)
    before, _ = open_cache(config).load_all("text")
    partial = precompute(config, max_items=4, force=True, progress=False)
    assert partial["items"] == 4 and partial["text"]["computed"] == 4
    assert partial["text"]["reused"] == 0
    cache = open_cache(config)
    after, _ = cache.load_all("text")
    assert len(cache.item_ids) == 12  # the other 8 items are still cached
    np.testing.assert_allclose(after, before, atol=1e-6)
    assert precompute(config, progress=False)["text"] == {"computed": 0, "reused": 12,
                                                           "missing": 1}
    changed = make_config(items_dir, "model.vision_model=null",
                          "features.text_template=\"Title: {title}\"")
    with pytest.warns(UserWarning, match="discards all of it"):
        precompute(changed, max_items=4, force=True, progress=False)
    assert len(open_cache(changed).item_ids) == 4


def test_worker_processes_give_the_same_vectors(items_dir):
    inline = make_config(items_dir, "model.language_model=null", "features.num_workers=0")
    precompute(inline, progress=False)
    before, mask = open_cache(inline).load_all("image")
    before = np.array(before)
    workers = make_config(items_dir, "model.language_model=null", "features.num_workers=2",
                          "features.image_batch_size=3")
    summary = precompute(workers, force=True, progress=False)
    assert summary["image"] == {"computed": 12, "reused": 0, "missing": 2}
    after, mask_after = open_cache(workers).load_all("image")
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-4)
    assert (mask == mask_after).all()


def test_item_features_encode_missing_items_on_the_fly(items_dir, monkeypatch):
    import pixelrec.features.compute as compute

    config = make_config(items_dir, "model.vision_model=null")
    precompute(config, max_items=4, progress=False)
    monkeypatch.setattr(compute, "ON_THE_FLY_WARNING", 1)
    with pytest.warns(UserWarning, match="2 items were not in the feature cache"):
        feats = item_features(config, ["i010", "i001", "i007"])
    vectors, mask = feats["text"]
    assert vectors.shape == (3, 384) and mask.tolist() == [True, True, False]
    assert open_cache(config).counts()["text"]["items"] == 6  # the first 4 + i010 and i007
    with pytest.raises(PixelRecError, match="not in the processed item table"):
        item_features(config, ["nope"])


def test_item_features_read_a_complete_cache_while_another_process_writes(items_dir):
    """Two trainings on one cache: when every requested item is cached, no writer lock is
    needed; an item still to encode does need it."""
    config = make_config(items_dir, "model.vision_model=null")
    precompute(config, max_items=4, progress=False)
    cached = read_items(config).item_ids[:2]
    expected = item_features(config, cached)["text"][0]
    writer = open_cache(config, writable=True)  # e.g. a precompute running elsewhere
    try:
        vectors, mask = item_features(config, cached)["text"]
        np.testing.assert_array_equal(vectors, expected)
        assert mask.all()
        with pytest.raises(PixelRecError, match="being written by another process"):
            item_features(config, ["i010"])
    finally:
        writer.close()


def test_item_embedding_matrix_concatenates_normalised_blocks(items_dir):
    config = make_config(items_dir)
    ids, matrix = item_embedding_matrix(config)
    assert ids == read_items(config).item_ids
    assert matrix.shape == (12, 1280 + 384) and matrix.dtype == np.float32
    norms = dict(zip(ids, np.linalg.norm(matrix, axis=1), strict=True))
    assert norms["i000"] == pytest.approx(np.sqrt(2), abs=1e-4)
    assert norms["i003"] == pytest.approx(1.0, abs=1e-4)  # text only
    assert norms["i007"] == pytest.approx(1.0, abs=1e-4)  # image only


def test_memory_only_cache_and_disabled_cache(items_dir):
    config = make_config(items_dir, "model.vision_model=null", "data.cache_config.use_disk=false",
                         "data.cache_config.max_memory_items=5")
    vectors, mask = item_features(config)["text"]
    assert vectors.shape == (12, 384) and mask.sum() == 11
    assert np.linalg.norm(vectors[mask], axis=1) == pytest.approx(1.0, abs=1e-5)
    assert not (items_dir / "cache").exists()
    disabled = make_config(items_dir, "data.cache_config.enabled=false")
    with pytest.raises(ConfigError, match="enabled is false"):
        precompute(disabled)
    with pytest.raises(ConfigError, match="nothing to encode"):
        open_cache(make_config(items_dir, "model.vision_model=null", "model.language_model=null"))


def test_decode_workers_auto_depends_on_cores_and_device(monkeypatch):
    from pixelrec.features.compute import decode_workers

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert decode_workers("auto", "cpu") == 0 and decode_workers("auto", "cuda") == 1
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert decode_workers("auto", "cpu") == 1 and decode_workers("auto", "cuda") == 4
    assert decode_workers(3, "cpu") == 3
