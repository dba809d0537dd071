"""Train/validation/test splits without leakage.

Every strategy returns a `Split`: three disjoint frames plus the rows it removed and why, so
train + val + test + removed is exactly the input. `check_leakage` runs on every split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pixelrec.config import SplittingConfig
from pixelrec.errors import DataError

PARTS = ("train", "val", "test")
WARM = ("temporal", "leave_one_out", "user_temporal", "random")


@dataclass
class Split:
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    strategy: str
    removed: pd.DataFrame = field(default_factory=pd.DataFrame)  # rows + `reason` column
    cuts: dict = field(default_factory=dict)  # temporal: the val/test cut timestamps
    checks: list[str] = field(default_factory=list)  # leakage checks that ran and passed

    def parts(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "val": self.val, "test": self.test}


def split_interactions(interactions: pd.DataFrame, config: SplittingConfig) -> Split:
    """Split canonical interactions (user_id, item_id, timestamp) by `config.strategy`."""
    strategy = "random" if config.strategy == "stratified" else config.strategy
    # Stable: same-timestamp rows keep the file's order (preprocess keeps the raw file's).
    df = interactions.sort_values(["user_id", "timestamp"], kind="stable")
    df = df.reset_index(drop=True)
    rng = np.random.default_rng(config.seed)
    assign = STRATEGIES[strategy](df, config, rng)
    parts = {name: df[assign == i] for i, name in enumerate(PARTS)}
    split = _drop_unseen(parts, strategy)
    if strategy == "temporal":
        split.cuts = {"val_from": _int(_temporal_cuts(df, config)[0]),
                      "test_from": _int(_temporal_cuts(df, config)[1])}
    split.checks = check_leakage(split)
    return split


def _int(value) -> int | None:
    return None if value is None else int(value)


def sample_interactions(interactions: pd.DataFrame, *, sample_n: int | None = None,
                        sample_users: int | None = None, seed: int = 42) -> pd.DataFrame:
    """Keep whole user histories: `sample_users` random users, or users up to `sample_n` rows."""
    users = interactions["user_id"].drop_duplicates().sort_values().to_numpy()
    order = np.random.default_rng(seed).permutation(len(users))
    if sample_users is not None:
        chosen = users[order[:sample_users]]
    elif sample_n is not None:
        sizes = interactions.groupby("user_id").size().reindex(users[order]).to_numpy()
        cum = np.cumsum(sizes)
        chosen = users[order[: max(1, int(np.searchsorted(cum, sample_n, side="right")))]]
    else:
        return interactions
    return interactions[interactions["user_id"].isin(set(chosen))]


def check_leakage(split: Split) -> list[str]:
    """Fail loudly if any split property is violated; return the names of the checks run."""
    key = ["user_id", "item_id", "timestamp"]
    parts = split.parts()
    checks = ["no_row_in_two_parts"]
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        both = parts[a][key].merge(parts[b][key], on=key)
        if len(both):
            _leak(split, f"{len(both)} interaction row(s) appear in both {a} and {b}")
    train = split.train
    if split.strategy == "temporal" and len(train):
        checks.append("val_test_not_before_train")
        t_max = train["timestamp"].max()
        for name in ("val", "test"):
            if len(parts[name]) and parts[name]["timestamp"].min() < t_max:
                _leak(split, f"{name} has interactions earlier than the last train interaction")
    if split.strategy == "cold_item":
        checks.append("val_test_items_not_in_train")
        for name in ("val", "test"):
            if parts[name]["item_id"].isin(set(train["item_id"])).any():
                _leak(split, f"{name} items appear in train")
    if split.strategy == "cold_user":
        checks.append("val_test_users_not_in_train")
        for name in ("val", "test"):
            if parts[name]["user_id"].isin(set(train["user_id"])).any():
                _leak(split, f"{name} users appear in train")
    if split.strategy in WARM:
        checks.append("val_test_users_and_items_in_train")
        for name in ("val", "test"):
            for col in ("user_id", "item_id"):
                if not parts[name][col].isin(set(train[col])).all():
                    _leak(split, f"{name} has {col}s that are not in train")
    return checks


def split_stats(split: Split) -> dict:
    stats: dict = {"strategy": split.strategy}
    for name, part in split.parts().items():
        stats[name] = {
            "interactions": len(part),
            "users": int(part["user_id"].nunique()),
            "items": int(part["item_id"].nunique()),
            "time_min": int(part["timestamp"].min()) if len(part) else None,
            "time_max": int(part["timestamp"].max()) if len(part) else None,
        }
    reasons = split.removed["reason"].value_counts() if len(split.removed) else pd.Series()
    stats["removed"] = {str(k): int(v) for k, v in reasons.items()}
    total = sum(stats[name]["interactions"] for name in PARTS)
    stats["realized_fractions"] = {name: round(stats[name]["interactions"] / total, 4)
                                   if total else None for name in PARTS}
    if split.cuts:
        stats["cuts"] = split.cuts
    stats["ties"] = tie_stats(split)
    stats["repeats"] = repeat_stats(split)
    stats["leakage_checks_passed"] = list(split.checks)
    return stats


TIE_RULE = ("interactions with equal timestamps keep the input file's row order (stable sort): "
            "per-user strategies hold out the later row; the temporal cut puts every row at a "
            "cut timestamp into the later part")


def tie_stats(split: Split) -> dict:
    """How timestamp ties met the held-out parts: users whose val or test interaction shares
    its timestamp with one of their interactions in another part."""
    frames = [part[["user_id", "timestamp"]].assign(part=k)
              for k, part in enumerate(split.parts().values())]
    both = pd.concat(frames, ignore_index=True).drop_duplicates()
    parts_per_moment = both.groupby(["user_id", "timestamp"])["part"].transform("nunique")
    tied = both[(parts_per_moment > 1) & (both["part"] > 0)]
    return {"rule": TIE_RULE, "users_with_tied_holdout": int(tied["user_id"].nunique()),
            "held_out_moments_tied": int(len(tied))}


def repeat_stats(split: Split) -> dict:
    """Held-out rows whose (user, item) pair is already known before them (val: in train;
    test: in train or val); non-zero only with `data.filtering.repeats: keep`."""
    pair = ["user_id", "item_id"]
    known = split.train[pair].drop_duplicates()
    out = {}
    for name in ("val", "test"):
        part = split.parts()[name][pair]
        out[f"{name}_rows_repeating_known_item"] = int(len(part.merge(known, on=pair)))
        known = pd.concat([known, part], ignore_index=True).drop_duplicates()
    return out


def _leak(split: Split, what: str) -> None:
    raise DataError(f"leakage check failed for the '{split.strategy}' split: {what}. This is a "
                    f"bug in the splitter or inconsistent input; nothing was written.")


def _temporal_cuts(df: pd.DataFrame, cfg: SplittingConfig) -> tuple[int, int]:
    """The first val and the first test timestamp of a global time cut."""
    ts = np.sort(df["timestamp"].to_numpy())
    n = len(ts)
    return (ts[min(n - 1, int(n * cfg.train_ratio))],
            ts[min(n - 1, int(n * (cfg.train_ratio + cfg.val_ratio)))])


def _temporal(df: pd.DataFrame, cfg: SplittingConfig, rng) -> np.ndarray:
    """Global time cut; ties at a boundary go to the later part so no test row precedes train."""
    cut_val, cut_test = _temporal_cuts(df, cfg)
    t = df["timestamp"].to_numpy()
    return np.where(t < cut_val, 0, np.where(t < cut_test, 1, 2))


def _leave_one_out(df: pd.DataFrame, cfg: SplittingConfig, rng) -> np.ndarray:
    """Per user (sorted by time): last -> test, second-last -> val; users with < 3 stay in train."""
    pos_from_end = df.groupby("user_id").cumcount(ascending=False).to_numpy()
    size = df.groupby("user_id")["item_id"].transform("size").to_numpy()
    assign = np.zeros(len(df), dtype=int)
    eligible = size >= 3
    assign[eligible & (pos_from_end == 0)] = 2
    assign[eligible & (pos_from_end == 1)] = 1
    return assign


def _per_user_ratio(df: pd.DataFrame, cfg: SplittingConfig, rank: np.ndarray) -> np.ndarray:
    """Assign by a per-user rank (time order or random): first train_ratio to train, etc."""
    size = df.groupby("user_id")["item_id"].transform("size").to_numpy()
    n_test = np.where(size >= 3, np.maximum(1, np.round(size * cfg.test_ratio)), 0)
    n_val = np.where((size >= 3) & (cfg.val_ratio > 0),
                     np.maximum(1, np.round(size * cfg.val_ratio)), 0)
    overflow = np.maximum(0, n_test + n_val - (size - 1))  # keep >= 1 train row per user
    n_val = np.maximum(0, n_val - overflow)
    n_test = np.minimum(n_test, np.maximum(0, size - 1 - n_val))
    n_train = size - n_test - n_val
    return np.where(rank < n_train, 0, np.where(rank < n_train + n_val, 1, 2))


def _user_temporal(df: pd.DataFrame, cfg: SplittingConfig, rng) -> np.ndarray:
    return _per_user_ratio(df, cfg, df.groupby("user_id").cumcount().to_numpy())


def _random(df: pd.DataFrame, cfg: SplittingConfig, rng) -> np.ndarray:
    keys = rng.random(len(df))
    rank = (pd.DataFrame({"u": df["user_id"].to_numpy(), "k": keys})
            .groupby("u")["k"].rank(method="first").to_numpy().astype(int) - 1)
    return _per_user_ratio(df, cfg, rank)


def _by_entity(column: str):
    """Hold out whole users (cold_user) or whole items (cold_item), seeded."""

    def assign(df: pd.DataFrame, cfg: SplittingConfig, rng) -> np.ndarray:
        entities = np.sort(df[column].unique())
        perm = rng.permutation(len(entities))
        n_test = max(1, int(round(len(entities) * cfg.test_ratio)))
        n_val = int(round(len(entities) * cfg.val_ratio))
        if len(entities) - n_test - n_val < 1:
            raise DataError(f"too few distinct {column}s ({len(entities)}) for a cold split; "
                            f"lower data.splitting.val_ratio/test_ratio.")
        part = np.zeros(len(entities), dtype=int)
        part[perm[:n_test]] = 2
        part[perm[n_test: n_test + n_val]] = 1
        lookup = pd.Series(part, index=entities)
        return lookup.reindex(df[column]).to_numpy()

    return assign


STRATEGIES = {
    "temporal": _temporal,
    "leave_one_out": _leave_one_out,
    "user_temporal": _user_temporal,
    "random": _random,
    "cold_user": _by_entity("user_id"),
    "cold_item": _by_entity("item_id"),
}


def _drop_unseen(parts: dict[str, pd.DataFrame], strategy: str) -> Split:
    """Remove val/test rows whose user or item never occurs in train (counted, never kept).

    cold_user keeps unseen users (the point of it) and cold_item keeps unseen items.
    """
    train = parts["train"]
    checks = [c for c in ("user_id", "item_id")
              if not (strategy == "cold_user" and c == "user_id")
              and not (strategy == "cold_item" and c == "item_id")]
    removed = []
    out = {"train": train.reset_index(drop=True)}
    for name in ("val", "test"):
        part = parts[name]
        for col in checks:
            unseen = ~part[col].isin(set(train[col]))
            if unseen.any():
                removed.append(part[unseen].assign(reason=f"{name}_{col.split('_')[0]}_not_in_train"))
                part = part[~unseen]
        out[name] = part.reset_index(drop=True)
    removed_df = (pd.concat(removed, ignore_index=True) if removed
                  else pd.DataFrame(columns=[*train.columns, "reason"]))
    return Split(out["train"], out["val"], out["test"], strategy, removed_df)
