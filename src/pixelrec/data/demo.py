"""A deterministic synthetic dataset in the PixelRec schema whose multimodal signal is real.

Every item has hidden attributes (category, colour, pattern, price tier). Its picture is drawn
from them (shape = category, fill = colour, overlay = pattern, frame = price tier), and its
title/tag/description are written from them with synonyms and noise. Users have hidden tastes over
the same attributes plus a popularity bias; a colour trend drifts over time and items are released
over time. So content predicts behaviour, and items never seen in training can still be
recommended from their pictures and text.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from pixelrec.config.data import PIXELREC_NUMERIC
from pixelrec.io import atomic_dir

CATEGORIES = {
    # name: (shape, nouns)
    "sneaker": ("ellipse", ["sneakers", "trainers", "running shoes"]),
    "handbag": ("rectangle", ["handbag", "tote bag", "purse"]),
    "t-shirt": ("triangle", ["t-shirt", "tee", "top"]),
    "hat": ("star", ["hat", "cap", "beanie"]),
    "watch": ("ring", ["watch", "wristwatch", "timepiece"]),
    "mug": ("diamond", ["mug", "coffee cup", "tumbler"]),
    "lamp": ("hexagon", ["lamp", "desk light", "lantern"]),
    "backpack": ("cross", ["backpack", "rucksack", "daypack"]),
}
COLOURS = {
    "red": ((210, 40, 40), ["red", "crimson", "scarlet"]),
    "orange": ((240, 140, 30), ["orange", "tangerine", "amber"]),
    "yellow": ((235, 210, 40), ["yellow", "lemon", "golden"]),
    "green": ((50, 160, 70), ["green", "emerald", "olive"]),
    "blue": ((40, 90, 210), ["blue", "navy", "cobalt"]),
    "purple": ((130, 60, 180), ["purple", "violet", "plum"]),
    "pink": ((240, 120, 180), ["pink", "rose", "blush"]),
    "black": ((35, 35, 35), ["black", "charcoal", "jet"]),
}
PATTERNS = {
    "solid": ["plain", "solid", "classic"],
    "striped": ["striped", "pinstripe", "banded"],
    "dotted": ["polka-dot", "dotted", "spotted"],
    "checked": ["checked", "plaid", "gingham"],
}
PRICE_TIERS = {
    "budget": ["affordable", "budget", "value"],
    "standard": ["everyday", "versatile", "reliable"],
    "premium": ["luxury", "premium", "designer"],
}
FILLERS = [
    "Ships in recyclable packaging.",
    "A customer favourite this season.",
    "Pairs well with almost anything.",
    "Made to last, easy to care for.",
    "Limited stock available.",
    "Great as a gift.",
    "Designed in our studio.",
    "",
]
NUMERIC_COLUMNS = PIXELREC_NUMERIC  # the PixelRec count columns, in schema order
START_TIMESTAMP = 1_600_000_000  # 2020-09-13, fixed so files are byte-identical across runs
SPAN_SECONDS = 180 * 24 * 3600
N_PERIODS = 12
IMAGE_SIZE = 128


@dataclass(frozen=True)
class DemoData:
    """The generated tables plus the hidden truth (kept out of the written files)."""

    item_info: pd.DataFrame
    interactions: pd.DataFrame
    item_attributes: pd.DataFrame  # hidden: category, colour, pattern, price per item
    images: dict[int, bytes]  # item_id -> JPEG bytes (items without an image are absent)


def generate_demo(n_items: int = 2000, n_users: int = 1500, seed: int = 0) -> DemoData:
    """Generate the demo dataset in memory; the same arguments give identical output."""
    if n_items < 20 or n_users < 10:
        raise ValueError("the demo needs at least 20 items and 10 users")
    rng = np.random.default_rng(seed)
    attrs = _item_attributes(rng, n_items)
    popularity = rng.lognormal(0.0, 1.0, n_items)
    release = np.where(rng.random(n_items) < 0.4, 0.0, rng.random(n_items) * 0.9)
    interactions = _interactions(rng, attrs, popularity, release, n_users)
    counts = np.bincount(interactions["item_idx"], minlength=n_items)
    item_info = _item_table(rng, attrs, popularity, counts)
    no_image = rng.random(n_items) < 0.01  # a few items ship without a picture
    images = {
        int(item_id): _render_image(seed, idx, attrs.iloc[idx])
        for idx, item_id in enumerate(item_info["item_id"])
        if not no_image[idx]
    }
    interactions = pd.DataFrame({
        "item_id": interactions["item_idx"] + 1,
        "user_id": interactions["user_idx"] + 1,
        "timestamp": interactions["timestamp"],
    })
    hidden = attrs.assign(item_id=item_info["item_id"].to_numpy())
    return DemoData(item_info, interactions, hidden, images)


def write_demo(out: str | os.PathLike, n_items: int = 2000, n_users: int = 1500,
               seed: int = 0) -> dict:
    """Generate and write `item_info.csv`, `interactions.csv`, `images/` under `out`, atomically.

    The dataset is built in a sibling temporary folder and swapped in at the end, so an
    interrupted run never leaves a half-written dataset.
    """
    data = generate_demo(n_items, n_users, seed)
    with atomic_dir(out) as tmp:
        data.item_info.to_csv(tmp / "item_info.csv", index=False)
        data.interactions.to_csv(tmp / "interactions.csv", index=False)
        (tmp / "images").mkdir()
        for item_id, jpeg in data.images.items():
            (tmp / "images" / f"{item_id}.jpg").write_bytes(jpeg)
        params = {"n_items": n_items, "n_users": n_users, "seed": seed,
                  "interactions": len(data.interactions), "images": len(data.images)}
        (tmp / "demo_params.json").write_text(json.dumps(params, indent=2) + "\n")
    return params


def demo_exists(out: str | os.PathLike, n_items: int, n_users: int, seed: int) -> bool:
    """True when `out` already holds the demo generated with these parameters."""
    path = Path(out) / "demo_params.json"
    if not path.exists():
        return False
    params = json.loads(path.read_text())
    return (params.get("n_items"), params.get("n_users"), params.get("seed")) == (
        n_items, n_users, seed)


def _item_attributes(rng: np.random.Generator, n_items: int) -> pd.DataFrame:
    cat_p = rng.dirichlet(np.full(len(CATEGORIES), 4.0))
    return pd.DataFrame({
        "category": rng.choice(len(CATEGORIES), n_items, p=cat_p),
        "colour": rng.integers(0, len(COLOURS), n_items),
        "pattern": rng.integers(0, len(PATTERNS), n_items),
        "price": rng.choice(len(PRICE_TIERS), n_items, p=[0.4, 0.4, 0.2]),
    })


def _interactions(rng: np.random.Generator, attrs: pd.DataFrame, popularity: np.ndarray,
                  release: np.ndarray, n_users: int) -> dict[str, np.ndarray]:
    """Sample user histories: taste x colour trend x popularity, among released items."""
    n_items = len(attrs)
    cat_pref = rng.dirichlet(np.full(len(CATEGORIES), 0.3), n_users)
    col_pref = rng.dirichlet(np.full(len(COLOURS), 0.5), n_users)
    pat_pref = rng.dirichlet(np.full(len(PATTERNS), 1.0), n_users)
    price_pref = rng.integers(0, len(PRICE_TIERS), n_users)
    pop_bias = rng.uniform(0.2, 1.0, n_users)
    eps = 1e-3
    affinity = (
        np.log(cat_pref[:, attrs["category"]] + eps)
        + 0.8 * np.log(col_pref[:, attrs["colour"]] + eps)
        + 0.5 * np.log(pat_pref[:, attrs["pattern"]] + eps)
        + 0.7 * (price_pref[:, None] == attrs["price"].to_numpy()[None, :])
        + pop_bias[:, None] * np.log(popularity)[None, :]
    )
    activity = np.clip(np.round(rng.lognormal(np.log(18), 0.6, n_users)), 6, 150).astype(int)
    start = rng.uniform(0.0, 0.7, n_users)
    end = np.minimum(1.0, start + rng.uniform(0.3, 1.0, n_users))
    n_events = int(activity.sum())
    user_of = np.repeat(np.arange(n_users), activity)
    t = start[user_of] + rng.random(n_events) * (end - start)[user_of]
    period_of = np.minimum((t * N_PERIODS).astype(int), N_PERIODS - 1)
    consumed = np.zeros((n_users, n_items), dtype=bool)
    users_out, items_out, times_out = [], [], []
    for p in range(N_PERIODS):
        in_period = period_of == p
        if not in_period.any():
            continue
        users, counts = np.unique(user_of[in_period], return_counts=True)
        phase = 2 * math.pi * (p / N_PERIODS - np.arange(len(COLOURS)) / len(COLOURS))
        trend = 0.7 * np.cos(phase)[attrs["colour"].to_numpy()]
        logits = affinity[users] + trend[None, :]
        logits[:, release > (p + 0.5) / N_PERIODS] = -np.inf
        logits[consumed[users]] = -np.inf
        noisy = logits + rng.gumbel(size=logits.shape)  # Gumbel top-k = sampling w/o replacement
        order = np.argsort(-noisy, axis=1, kind="stable")[:, : counts.max()]
        take = np.arange(order.shape[1])[None, :] < counts[:, None]
        take &= np.isfinite(np.take_along_axis(noisy, order, axis=1))
        rows, cols = np.nonzero(take)
        chosen_users, chosen_items = users[rows], order[rows, cols]
        consumed[chosen_users, chosen_items] = True
        times = np.sort(t[in_period])  # reuse the period's event times, shuffled onto events
        users_out.append(chosen_users)
        items_out.append(chosen_items)
        times_out.append(rng.permutation(times)[: len(chosen_users)])
    user_idx = np.concatenate(users_out)
    item_idx = np.concatenate(items_out)
    frac = np.concatenate(times_out)
    # a few repeated interactions (same user and item, later), as real logs have
    repeat = rng.choice(len(user_idx), size=len(user_idx) // 100, replace=False)
    user_idx = np.concatenate([user_idx, user_idx[repeat]])
    item_idx = np.concatenate([item_idx, item_idx[repeat]])
    frac = np.concatenate([frac, np.minimum(1.0, frac[repeat] + rng.uniform(0.001, 0.05,
                                                                            len(repeat)))])
    timestamp = START_TIMESTAMP + np.round(frac * SPAN_SECONDS).astype(np.int64)
    order = np.lexsort((item_idx, user_idx, timestamp))
    return {"user_idx": user_idx[order], "item_idx": item_idx[order],
            "timestamp": timestamp[order]}


def _item_table(rng: np.random.Generator, attrs: pd.DataFrame, popularity: np.ndarray,
                counts: np.ndarray) -> pd.DataFrame:
    n = len(attrs)
    cat_names, col_names = list(CATEGORIES), list(COLOURS)
    pat_names, price_names = list(PATTERNS), list(PRICE_TIERS)
    titles, tags, descriptions = [], [], []
    for i in range(n):
        cat = cat_names[attrs["category"].iat[i]]
        col = col_names[attrs["colour"].iat[i]]
        pat = pat_names[attrs["pattern"].iat[i]]
        price = price_names[attrs["price"].iat[i]]
        noun = rng.choice(CATEGORIES[cat][1])
        colour_word = rng.choice(COLOURS[col][1])
        pattern_word = rng.choice(PATTERNS[pat])
        price_word = rng.choice(PRICE_TIERS[price])
        titles.append(f"{price_word.title()} {colour_word.title()} {pattern_word.title()} "
                      f"{noun.title()}")
        tag_parts = [cat, col, pat]
        if rng.random() < 0.1:  # noisy tags: one attribute swapped for a random colour
            tag_parts[rng.integers(0, 3)] = rng.choice(col_names)
        tags.append("|".join(tag_parts))
        if rng.random() < 0.03:
            descriptions.append("")  # some items have no description at all
            continue
        filler = rng.choice(FILLERS)
        article = "An" if price_word[0] in "aeiou" else "A"
        text = (f"{article} {price_word} {noun} in {colour_word} with a <b>{pattern_word}</b> "
                f"finish."
                f"  {filler}")
        if rng.random() < 0.2:
            text = f"<p>{text}</p><br>"
        descriptions.append(text)
    views = np.round(popularity * 800 * rng.lognormal(0, 0.3, n) + counts * 40).astype(float)

    def share(scale: float) -> np.ndarray:
        return np.round(views * scale * rng.lognormal(0, 0.4, n))

    table = pd.DataFrame({
        "item_id": np.arange(1, n + 1),
        "title": titles,
        "tag": tags,
        "description": descriptions,
        "view_number": views,
        "comment_number": share(0.01),
        "thumbup_number": share(0.05),
        "share_number": share(0.005),
        "coin_number": share(0.01),
        "favorite_number": share(0.02),
        "barrage_number": share(0.03),
    })
    missing = rng.random(n) < 0.01  # a few missing counts, imputed by preprocessing
    table.loc[missing, "comment_number"] = np.nan
    return table


def _render_image(seed: int, idx: int, attrs: pd.Series) -> bytes:
    rng = np.random.default_rng([seed, idx])
    size = IMAGE_SIZE
    bg = tuple(int(v) for v in 235 + rng.integers(-15, 16, 3))
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    colour = np.array(list(COLOURS.values())[attrs["colour"]][0])
    fill = tuple(int(v) for v in np.clip(colour + rng.integers(-20, 21, 3), 0, 255))
    shape = list(CATEGORIES.values())[attrs["category"]][0]
    cx, cy = size / 2 + rng.uniform(-10, 10, 2)
    r = size * rng.uniform(0.28, 0.36)
    _draw_shape(draw, shape, cx, cy, r, fill)
    _draw_pattern(img, list(PATTERNS)[attrs["pattern"]], fill, rng)
    frame = [0, 3, 8][attrs["price"]]  # price tier = frame thickness (gold for premium)
    if frame:
        frame_colour = (200, 160, 40) if attrs["price"] == 2 else (90, 90, 90)
        draw.rectangle([0, 0, size - 1, size - 1], outline=frame_colour, width=frame)
    pixels = np.asarray(img, dtype=np.int16)
    noise = rng.integers(-8, 9, pixels.shape, dtype=np.int16)
    img = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=88)
    return buf.getvalue()


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float,
                fill: tuple[int, int, int]) -> None:
    box = [cx - r, cy - r, cx + r, cy + r]
    if shape == "ellipse":
        draw.ellipse([cx - r, cy - r * 0.6, cx + r, cy + r * 0.6], fill=fill)
    elif shape == "rectangle":
        draw.rectangle([cx - r, cy - r * 0.75, cx + r, cy + r * 0.75], fill=fill)
    elif shape == "ring":
        draw.ellipse(box, outline=fill, width=max(4, int(r / 3)))
    elif shape == "cross":
        w = r / 2.5
        draw.rectangle([cx - w, cy - r, cx + w, cy + r], fill=fill)
        draw.rectangle([cx - r, cy - w, cx + r, cy + w], fill=fill)
    else:
        draw.polygon(_polygon(shape, cx, cy, r), fill=fill)


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "triangle":
        angles, radii = [90, 210, 330], [r] * 3
    elif shape == "diamond":
        angles, radii = [0, 90, 180, 270], [r * 0.7, r, r * 0.7, r]
    elif shape == "hexagon":
        angles, radii = list(range(0, 360, 60)), [r] * 6
    else:  # star
        angles = list(range(90, 450, 36))
        radii = [r if k % 2 == 0 else r * 0.45 for k in range(10)]
    return [(cx + rad * math.cos(math.radians(a)), cy - rad * math.sin(math.radians(a)))
            for a, rad in zip(angles, radii, strict=True)]


def _draw_pattern(img: Image.Image, pattern: str, fill: tuple[int, int, int],
                  rng: np.random.Generator) -> None:
    if pattern == "solid":
        return
    arr = np.asarray(img).copy()
    mask = np.all(np.abs(arr.astype(int) - np.array(fill)) < 4, axis=2)  # pixels of the shape
    yy, xx = np.mgrid[0: arr.shape[0], 0: arr.shape[1]]
    step = int(rng.integers(9, 13))
    if pattern == "striped":
        on = (xx + yy) % step < step // 2
    elif pattern == "dotted":
        on = ((xx % step - step / 2) ** 2 + (yy % step - step / 2) ** 2) < (step / 4) ** 2
    else:  # checked
        on = ((xx // step) + (yy // step)) % 2 == 0
    light = np.array([255, 255, 255]) if sum(fill) < 300 else np.array([20, 20, 20])
    sel = mask & on
    arr[sel] = (0.55 * arr[sel] + 0.45 * light).astype(np.uint8)
    img.paste(Image.fromarray(arr))
