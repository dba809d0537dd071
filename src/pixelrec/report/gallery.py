"""Gallery content: sample test users' histories and top-K lists from two models, and cold items
with the users they are recommended to."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pixelrec.errors import PixelRecError

NON_BASELINES = ("multimodal", "random")


@dataclass
class Gallery:
    models: list[str] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)  # {user_id, history, lists: {model: recs}}
    cold: list[dict] = field(default_factory=list)  # {item_id, users: [user_id]}
    cold_model: str | None = None
    notes: list[str] = field(default_factory=list)


def pick_baseline(results: dict[str, dict], k: int) -> str:
    """The evaluated baseline with the best NDCG@k (popularity when none was evaluated)."""
    scored = [(r["metrics"].get(f"ndcg@{k}", float("-inf")), r["metadata"].get("recommender"))
              for r in results.values()
              if r["metadata"].get("recommender") not in (None, *NON_BASELINES)]
    scored = [s for s in scored if s[0] is not None]
    return max(scored)[1] if scored else "popularity"


def _engines(config, baseline: str, notes: list[str]) -> dict:
    from pixelrec.inference import load_engine

    engines = {}
    for name in ("multimodal", baseline):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # the evaluated model: train histories, so held-out items are the cold ones
                engines[name] = load_engine(config, name, fold_in=False)
        except PixelRecError as exc:
            notes.append(f"{name}: not shown ({str(exc).splitlines()[0]})")
    return engines


def sample_users(config, n: int) -> tuple[list[str], pd.DataFrame]:
    """`n` test users who have train history (seeded), and the train split."""
    from pixelrec.evaluation.data import default_split_path
    from pixelrec.io import read_table

    split = config.data.split_data_path
    train = read_table(default_split_path(split, "train"), str_columns=("user_id", "item_id"),
                       what="train split", config_key="data.split_data_path")
    test_path = default_split_path(split, "test")
    pool = train["user_id"].unique()
    if test_path.exists():
        test = read_table(test_path, str_columns=("user_id", "item_id"), what="test split")
        pool = np.intersect1d(test["user_id"].unique(), pool)
    pool = np.sort(pool.astype(str))
    rng = np.random.default_rng(config.seed)
    pick = rng.choice(len(pool), min(n, len(pool)), replace=False) if len(pool) else []
    return pool[np.sort(pick)].tolist(), train


def build_gallery(config, results: dict[str, dict], n_users: int = 4,
                  baseline: str | None = None, history_shown: int = 8,
                  cold_shown: int = 4) -> Gallery:
    k = config.recommendation.top_k
    gallery = Gallery()
    baseline = baseline or pick_baseline(results, 10)
    engines = _engines(config, baseline, gallery.notes)
    gallery.models = list(engines)
    if not engines:
        return gallery
    users, train = sample_users(config, n_users)
    if "timestamp" in train.columns:
        train = train.sort_values("timestamp", kind="stable")
    histories = train.groupby("user_id")["item_id"].apply(list)
    lists = {name: engine.recommend(users, k) for name, engine in engines.items()}
    for i, user in enumerate(users):
        gallery.users.append({"user_id": user,
                              "history": histories.get(user, [])[-history_shown:],
                              "lists": {name: lists[name][i] for name in engines}})
    name = "multimodal" if "multimodal" in engines else next(iter(engines))
    gallery.cold_model = name
    gallery.cold = cold_items(engines[name], k, cold_shown)
    return gallery


def cold_items(engine, k: int, shown: int, users_shown: int = 5) -> list[dict]:
    """Items without train interactions that reach some top-`k` list, most recommended first."""
    model = engine.model
    cold = {str(model.item_ids_[c]) for c in np.flatnonzero(model.item_popularity_ == 0)}
    cold |= {str(i) for i in engine.item_ids[engine.n_base:]}
    if not cold:
        return []
    users = engine.known_users.tolist()
    to: dict[str, list[str]] = {}
    for user, recs in zip(users, engine.recommend(users, k), strict=True):
        for item in recs.items:
            if item in cold:
                to.setdefault(item, []).append(user)
    ranked = sorted(to.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:shown]
    return [{"item_id": item, "n_users": len(who), "users": who[:users_shown]}
            for item, who in ranked]
