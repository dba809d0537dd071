"""Data augmentation: word-level text ops and image ops on Pillow images.

Every random function takes an explicit `numpy.random.Generator`, so a view is reproducible from
its seed (`view_rng`: config seed + item id + view index). Only numpy and Pillow are imported:
images are decoded (and so augmented) in worker processes.

Text: `random_delete` drops each word with probability p (never everything), `random_swap`
exchanges random word pairs. Images: `random_resized_crop`, `horizontal_flip`, `color_jitter`
(brightness / contrast / saturation), `random_rotation`, `random_blur` (Gaussian).
`augment_text` / `augment_image` apply the configured chain (`data.text_augmentation`,
`data.image_augmentation` as plain dicts).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

MODALITY_STREAM = {"image": 0, "text": 1}


# -- seeds -------------------------------------------------------------------------------------

def item_key(item_id: str) -> int:
    """A stable 63-bit integer for an item id (independent of the item's position)."""
    digest = hashlib.blake2b(str(item_id).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def view_seed(seed: int, item_id: str, view: int, modality: str) -> list[int]:
    """Entropy for view `view` of one item's `modality` under the config `seed`."""
    return [seed % (1 << 63), MODALITY_STREAM[modality], view, item_key(item_id)]


def view_rng(seed: int, item_id: str, view: int, modality: str) -> np.random.Generator:
    """The generator of one augmented view: the same item, view and seed give the same view."""
    return np.random.default_rng(view_seed(seed, item_id, view, modality))


# -- text --------------------------------------------------------------------------------------

def random_delete(text: str, prob: float, rng: np.random.Generator) -> str:
    """Drop each word with probability `prob`; one random word survives if all would go.

    Texts of one word (or none) and `prob` 0 are returned unchanged.
    """
    words = text.split()
    if prob <= 0 or len(words) < 2:
        return text
    keep = rng.random(len(words)) >= prob
    if not keep.any():
        keep[rng.integers(len(words))] = True
    return " ".join(w for w, k in zip(words, keep, strict=True) if k)


def random_swap(text: str, n_swaps: int, rng: np.random.Generator) -> str:
    """Exchange two randomly chosen word positions, `n_swaps` times."""
    words = text.split()
    if n_swaps <= 0 or len(words) < 2:
        return text
    for _ in range(n_swaps):
        i, j = rng.choice(len(words), size=2, replace=False)
        words[i], words[j] = words[j], words[i]
    return " ".join(words)


def augment_text(text: str, params: Mapping[str, Any], rng: np.random.Generator) -> str:
    """`random_delete` with `random_delete_prob`, then Binomial(words, `random_swap_prob`) swaps.
    An empty text stays empty (it is a missing modality, not something to augment)."""
    if not text.strip():
        return text
    out = random_delete(text, float(params["random_delete_prob"]), rng)
    swaps = int(rng.binomial(len(out.split()), float(params["random_swap_prob"])))
    return random_swap(out, swaps, rng)


# -- images ------------------------------------------------------------------------------------

def random_resized_crop(im: Image.Image, size: int, scale: Sequence[float],
                        ratio: Sequence[float], rng: np.random.Generator,
                        resample: int = Image.Resampling.BICUBIC) -> Image.Image:
    """A crop covering a fraction in `scale` of the image area with width/height in `ratio`
    (log-uniform), at a random position, resized to `size` x `size`.

    After 10 draws that do not fit inside the image, the largest centred crop whose aspect ratio
    lies in `ratio` is used instead.
    """
    w, h = im.size
    area = float(w * h)
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        cw, ch = math.sqrt(target * aspect), math.sqrt(target / aspect)
        if 0 < cw <= w and 0 < ch <= h:
            left, top = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
            return im.resize((size, size), resample, box=(left, top, left + cw, top + ch))
    aspect = w / h
    cw, ch = float(w), float(h)
    if aspect < ratio[0]:
        ch = w / ratio[0]
    elif aspect > ratio[1]:
        cw = h * ratio[1]
    left, top = (w - cw) / 2, (h - ch) / 2
    return im.resize((size, size), resample, box=(left, top, left + cw, top + ch))


def horizontal_flip(im: Image.Image) -> Image.Image:
    return im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def random_horizontal_flip(im: Image.Image, prob: float, rng: np.random.Generator) -> Image.Image:
    return horizontal_flip(im) if rng.random() < prob else im


def color_jitter(im: Image.Image, brightness: float, contrast: float, saturation: float,
                 rng: np.random.Generator) -> Image.Image:
    """Scale brightness, contrast and saturation (in random order) by factors drawn uniformly
    from [1 - s, 1 + s] for each strength s; a strength of 0 leaves that property alone."""
    ops = [(ImageEnhance.Brightness, brightness), (ImageEnhance.Contrast, contrast),
           (ImageEnhance.Color, saturation)]
    for k in rng.permutation(len(ops)):
        enhancer, strength = ops[k]
        if strength > 0:
            im = enhancer(im).enhance(rng.uniform(max(0.0, 1 - strength), 1 + strength))
    return im


def random_rotation(im: Image.Image, degrees: float, rng: np.random.Generator) -> Image.Image:
    """Rotate by an angle drawn uniformly from [-degrees, degrees]; corners are filled black."""
    if degrees <= 0:
        return im
    angle = rng.uniform(-degrees, degrees)
    return im.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))


def gaussian_blur(im: Image.Image, radius: float) -> Image.Image:
    return im.filter(ImageFilter.GaussianBlur(radius))


def random_blur(im: Image.Image, prob: float, max_radius: float,
                rng: np.random.Generator) -> Image.Image:
    """With probability `prob`, a Gaussian blur of radius drawn from [0.1, max_radius] pixels."""
    if rng.random() >= prob:
        return im
    return gaussian_blur(im, rng.uniform(min(0.1, max_radius), max_radius))


def augment_image(im: Image.Image, params: Mapping[str, Any], size: int,
                  rng: np.random.Generator,
                  resample: int = Image.Resampling.BICUBIC) -> np.ndarray:
    """One augmented view as uint8 [size, size, 3]: random resized crop (replacing the encoder's
    centre crop), horizontal flip, rotation, colour jitter, blur."""
    im = random_resized_crop(im.convert("RGB"), size, params["crop_scale"], params["crop_ratio"],
                             rng, resample)
    im = random_horizontal_flip(im, float(params["horizontal_flip_prob"]), rng)
    im = random_rotation(im, float(params["rotation_degrees"]), rng)
    jitter = params["color_jitter"]
    im = color_jitter(im, float(jitter["brightness"]), float(jitter["contrast"]),
                      float(jitter["saturation"]), rng)
    im = random_blur(im, float(params["blur_prob"]), float(params["blur_radius"]), rng)
    return np.asarray(im, dtype=np.uint8)


def augmentation_params(section) -> dict[str, Any]:
    """The parameters of a `data.*_augmentation` section that shape a view (a plain dict, also
    the cache key of cached views): everything but `enabled` and `cached_views`."""
    return section.model_dump(exclude={"enabled", "cached_views"})
