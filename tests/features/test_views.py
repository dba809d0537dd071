"""Cached augmented views: precompute encodes them per item and view, reproducibly, beside the
clean vectors, under a key of their own (changing augmentation never re-encodes clean vectors)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pixelrec.data.augmentation import augmentation_params, view_seed
from pixelrec.errors import ConfigError
from pixelrec.features import open_cache, precompute, summary_line
from pixelrec.features.compute import encoder_specs, item_views, read_items
from pixelrec.features.encoders import load_encoder
from pixelrec.features.imaging import decode_batch
from pixelrec.features.inspect import stats
from tests.features.conftest import make_config

VIEWS = ("data.image_augmentation.enabled=true", "data.image_augmentation.cached_views=2",
         "data.text_augmentation.enabled=true", "data.text_augmentation.cached_views=1",
         "data.text_augmentation.random_delete_prob=0.4")


def test_precompute_caches_views_reproducibly_and_reuses_them(items_dir):
    config = make_config(items_dir, *VIEWS)
    first = precompute(config, progress=False)
    assert first["image"]["computed"] == 12 and first["text"]["computed"] == 12
    assert first["image"]["views"] == {"views": 2, "computed": 24, "reused": 0}
    assert first["text"]["views"] == {"views": 1, "computed": 12, "reused": 0}
    assert "2 augmented views per item (24 computed, 0 reused)" in summary_line(first)

    ids = read_items(config).item_ids
    cache = open_cache(config)
    clean, clean_mask = cache.load_all("image", ids)
    views = item_views(config, ids)
    assert len(views["image"]) == 2 and len(views["text"]) == 1
    for vectors, mask in views["image"]:
        np.testing.assert_array_equal(mask, clean_mask)  # no image / corrupt: missing in views too
        assert not vectors[~mask].any()
        assert not np.allclose(vectors[mask], clean[mask], atol=1e-3)
    assert not np.allclose(views["image"][0][0][clean_mask], views["image"][1][0][clean_mask])
    text, text_mask = views["text"][0]
    assert not text_mask[ids.index("i007")]
    assert not np.allclose(text[text_mask], cache.load_all("text", ids)[0][text_mask], atol=1e-3)

    # view v of an item is the encoder's output on the augmented image drawn from its own seed
    spec = encoder_specs(config)["image"]
    k = ids.index("i004")
    pixels, ok = decode_batch([read_items(config).image_paths[k]], spec.preprocessing,
                              augmentation_params(config.data.image_augmentation),
                              [view_seed(config.seed, "i004", 1, "image")])
    expected = load_encoder(spec, "cpu").encode(pixels)[0]
    np.testing.assert_allclose(views["image"][1][0][k], expected, atol=1e-4)

    manifest = json.loads((cache.directory / "manifest.json").read_text())
    assert manifest["info"]["views"]["image"]["cached_views"] == 2
    view_dir = cache.directory / manifest["info"]["views"]["image"]["directory"]
    view_key = json.loads((view_dir / "manifest.json").read_text())["key"]
    assert view_key["augmentation"]["crop_scale"] == [0.6, 1.0] and view_key["seed"] == 42
    listed = stats(cache.directory)["views"][view_dir.name]  # what `pixelrec cache stats` shows
    assert listed["modality"] == "image" and listed["items_per_view"] == {"0": 12, "1": 12}

    again = precompute(config, progress=False)
    assert again["image"]["computed"] == 0
    assert again["image"]["views"] == {"views": 2, "computed": 0, "reused": 24}

    more = precompute(make_config(items_dir, *VIEWS, "data.image_augmentation.cached_views=3"),
                      progress=False)
    assert more["image"]["views"] == {"views": 3, "computed": 12, "reused": 24}
    np.testing.assert_array_equal(item_views(config, ids)["image"][0][0], views["image"][0][0])

    # other augmentation settings: other views, but the clean vectors are reused as they are
    changed = make_config(items_dir, *VIEWS, "data.image_augmentation.rotation_degrees=30")
    other = precompute(changed, progress=False)
    assert other["image"]["computed"] == 0 and other["text"]["computed"] == 0
    assert other["image"]["views"]["computed"] == 24
    assert other["text"]["views"]["computed"] == 0  # text augmentation did not change
    assert not np.allclose(item_views(changed, ids)["image"][0][0][clean_mask],
                           views["image"][0][0][clean_mask])
    np.testing.assert_array_equal(item_views(config, ids)["image"][0][0], views["image"][0][0])

    forced = precompute(config, force=True, progress=False)
    assert forced["image"]["views"]["computed"] == 24
    assert len(list((cache.directory / "views").iterdir())) == 2  # the rotated set is gone


def test_views_only_for_enabled_frozen_modalities_and_need_the_disk_cache(items_dir):
    off = make_config(items_dir, "data.image_augmentation.cached_views=2")  # enabled: false
    summary = precompute(off, max_items=3, progress=False)
    assert "views" not in summary["image"] and "views" not in summary["text"]
    assert item_views(off, ["i000"]) == {}
    tuned = make_config(items_dir, *VIEWS, "model.freeze_vision=false")
    assert set(item_views(tuned, ["i000", "i001"])) == {"text"}
    memory = make_config(items_dir, *VIEWS, "data.cache_config.use_disk=false")
    with pytest.raises(ConfigError, match="cached_views > 0 needs the disk cache"):
        precompute(memory, progress=False)


def test_interrupted_view_precompute_resumes_from_committed_views(items_dir, monkeypatch):
    import pixelrec.features.pipeline as pipeline

    config = make_config(items_dir, "model.language_model=null", "features.image_batch_size=4",
                         "data.image_augmentation.enabled=true",
                         "data.image_augmentation.cached_views=1")
    real = pipeline.encode_images

    def crash_after_one_view_batch(encoder, paths, batch, workers, sink, progress=None,
                                   augment=None, seeds=None):
        if augment is None:
            return real(encoder, paths, batch, workers, sink, progress)
        done = []

        def once(*args):
            if done:
                raise KeyboardInterrupt  # killed after the first batch of views was committed
            done.append(True)
            sink(*args)

        return real(encoder, paths, batch, workers, once, progress, augment, seeds)

    monkeypatch.setattr(pipeline, "encode_images", crash_after_one_view_batch)
    with pytest.raises(KeyboardInterrupt):
        precompute(config, progress=False)
    monkeypatch.undo()
    resumed = precompute(config, progress=False)
    assert resumed["image"]["computed"] == 0
    assert resumed["image"]["views"] == {"views": 1, "computed": 8, "reused": 4}


def test_augmented_decoding_is_the_same_in_worker_processes(items_dir):
    from pixelrec.features.pipeline import decoded_batches

    config = make_config(items_dir, "data.image_augmentation.enabled=true")
    paths = read_items(config).image_paths
    pre = encoder_specs(config)["image"].preprocessing
    params = augmentation_params(config.data.image_augmentation)
    seeds = [view_seed(config.seed, f"i{k:03d}", 0, "image") for k in range(len(paths))]
    inline = list(decoded_batches(paths, pre, 4, 0, params, seeds))
    workers = list(decoded_batches(paths, pre, 4, 2, params, seeds))
    clean = list(decoded_batches(paths, pre, 4, 0))
    for (a, ok_a), (b, ok_b), (c, _) in zip(inline, workers, clean, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ok_a, ok_b)
        assert not np.array_equal(a[ok_a], c[ok_a])
