"""Text and image augmentation ops: what each does, seeded reproducibility, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixelrec.config import load_config
from pixelrec.data.augmentation import (
    augment_image,
    augment_text,
    augmentation_params,
    color_jitter,
    horizontal_flip,
    random_blur,
    random_delete,
    random_horizontal_flip,
    random_resized_crop,
    random_rotation,
    random_swap,
    view_rng,
)

SENTENCE = "the quick brown fox jumps over the lazy dog near a quiet river bank"


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def coordinate_image(w: int = 64, h: int = 48) -> Image.Image:
    """Red = x, green = y (scaled to 0..255), blue = 128: a crop shows where it came from."""
    xs = np.linspace(0, 255, w).round().astype(np.uint8)
    ys = np.linspace(0, 255, h).round().astype(np.uint8)
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[..., 0] = xs[None, :]
    arr[..., 1] = ys[:, None]
    arr[..., 2] = 128
    return Image.fromarray(arr)


# -- text --------------------------------------------------------------------------------------

def test_random_delete_keeps_an_ordered_subset_and_never_empties():
    words = SENTENCE.split()
    out = random_delete(SENTENCE, 0.5, rng(1)).split()
    assert 0 < len(out) < len(words)
    it = iter(words)
    assert all(w in it for w in out)  # a subsequence: order kept
    for seed in range(50):  # p close to 1 deletes everything but one word
        survivors = random_delete(SENTENCE, 0.99, rng(seed)).split()
        assert len(survivors) >= 1 and set(survivors) <= set(words)
    assert random_delete("alone", 0.99, rng()) == "alone"
    assert random_delete(SENTENCE, 0.0, rng()) == SENTENCE


def test_random_delete_rate_matches_probability():
    text = " ".join(f"w{i}" for i in range(4000))
    kept = len(random_delete(text, 0.3, rng(7)).split())
    assert kept == pytest.approx(4000 * 0.7, rel=0.05)


def test_random_swap_permutes_words():
    out = random_swap(SENTENCE, 3, rng(2))
    assert out != SENTENCE and sorted(out.split()) == sorted(SENTENCE.split())
    assert random_swap("one two", 1, rng()) == "two one"
    assert random_swap(SENTENCE, 0, rng()) == SENTENCE
    assert random_swap("single", 5, rng()) == "single"


def test_augment_text_is_reproducible_and_keeps_empty_text_empty():
    params = {"random_delete_prob": 0.2, "random_swap_prob": 0.2}
    a = augment_text(SENTENCE, params, view_rng(42, "item7", 0, "text"))
    b = augment_text(SENTENCE, params, view_rng(42, "item7", 0, "text"))
    c = augment_text(SENTENCE, params, view_rng(42, "item7", 1, "text"))
    assert a == b and a != c
    assert set(a.split()) <= set(SENTENCE.split())
    assert augment_text("", params, rng()) == "" and augment_text("   ", params, rng()) == "   "
    none = {"random_delete_prob": 0.0, "random_swap_prob": 0.0}
    assert augment_text(SENTENCE, none, rng()) == SENTENCE


def test_view_seeds_depend_on_item_view_modality_and_seed_only():
    draw = lambda *a: view_rng(*a).random()  # noqa: E731
    assert draw(1, "a", 0, "image") == draw(1, "a", 0, "image")
    others = {draw(2, "a", 0, "image"), draw(1, "b", 0, "image"), draw(1, "a", 1, "image"),
              draw(1, "a", 0, "text")}
    assert draw(1, "a", 0, "image") not in others and len(others) == 4


# -- images ------------------------------------------------------------------------------------

def test_random_resized_crop_size_and_region():
    im = coordinate_image()
    out = random_resized_crop(im, 32, (0.1, 0.2), (1.0, 1.0), rng(3))
    assert out.size == (32, 32)
    arr = np.asarray(out).astype(int)
    # a small crop covers only part of the x and y ranges of the source
    assert arr[..., 0].max() - arr[..., 0].min() < 200
    assert arr[..., 1].max() - arr[..., 1].min() < 200
    # scale 1 with the image's own aspect ratio is the whole image, resized
    whole = random_resized_crop(im, 32, (1.0, 1.0), (64 / 48, 64 / 48), rng(3))
    expected = im.resize((32, 32), Image.Resampling.BICUBIC, box=(0, 0, 64, 48))
    np.testing.assert_array_equal(np.asarray(whole), np.asarray(expected))


def test_random_resized_crop_falls_back_to_a_centred_crop():
    im = coordinate_image(100, 20)  # 5:1, no square crop of full area fits
    out = np.asarray(random_resized_crop(im, 16, (1.0, 1.0), (1.0, 1.0), rng()))
    assert out.shape == (16, 16, 3)
    centre_x = out[..., 0].astype(float).mean()
    assert 100 < centre_x < 155  # the middle of the x range


def test_flip():
    im = coordinate_image()
    np.testing.assert_array_equal(np.asarray(horizontal_flip(im)), np.asarray(im)[:, ::-1])
    np.testing.assert_array_equal(np.asarray(random_horizontal_flip(im, 0.0, rng())),
                                  np.asarray(im))
    np.testing.assert_array_equal(np.asarray(random_horizontal_flip(im, 1.0, rng())),
                                  np.asarray(im)[:, ::-1])


def test_color_jitter_strengths():
    im = Image.new("RGB", (8, 8), (100, 120, 140))
    np.testing.assert_array_equal(np.asarray(color_jitter(im, 0, 0, 0, rng())), np.asarray(im))
    means = [np.asarray(color_jitter(im, 0.5, 0, 0, rng(s))).mean() for s in range(20)]
    base = np.asarray(im).mean()
    assert all(0.5 * base - 1 <= m <= 1.5 * base + 1 for m in means)
    assert max(means) > base + 5 and min(means) < base - 5
    grey = np.asarray(color_jitter(Image.new("RGB", (4, 4), (200, 50, 50)), 0, 0, 1.0, rng(1)))
    assert not np.array_equal(grey, np.asarray(Image.new("RGB", (4, 4), (200, 50, 50))))


def test_rotation_and_blur():
    white = Image.new("RGB", (32, 32), (255, 255, 255))
    np.testing.assert_array_equal(np.asarray(random_rotation(white, 0, rng())), np.asarray(white))
    rotated = np.asarray(random_rotation(white, 45, rng(5)))
    assert rotated[16, 16].tolist() == [255, 255, 255]
    assert rotated[0, 0].tolist() == [0, 0, 0] or rotated[0, 31].tolist() == [0, 0, 0]
    checker = Image.fromarray(((np.indices((32, 32)).sum(0) % 2) * 255).astype(np.uint8)
                              ).convert("RGB")
    np.testing.assert_array_equal(np.asarray(random_blur(checker, 0.0, 2.0, rng())),
                                  np.asarray(checker))
    blurred = np.asarray(random_blur(checker, 1.0, 2.0, rng())).astype(float)
    assert blurred.std() < 0.5 * np.asarray(checker).astype(float).std()


def test_augment_image_uses_the_config_section_and_is_reproducible():
    config = load_config(None, ["data.image_augmentation.rotation_degrees=0",
                                "data.image_augmentation.blur_prob=0"])
    params = augmentation_params(config.data.image_augmentation)
    assert "enabled" not in params and "cached_views" not in params
    im = coordinate_image()
    a = augment_image(im, params, 24, view_rng(0, "x", 0, "image"))
    b = augment_image(im, params, 24, view_rng(0, "x", 0, "image"))
    c = augment_image(im, params, 24, view_rng(0, "x", 1, "image"))
    assert a.shape == (24, 24, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
