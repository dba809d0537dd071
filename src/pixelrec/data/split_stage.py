"""The split stage: processed interactions -> train/val/test files + split_stats.json."""

from __future__ import annotations

import logging
from pathlib import Path

from pixelrec.config import Config, write_resolved_config
from pixelrec.data.splitting import sample_interactions, split_interactions, split_stats
from pixelrec.errors import DataError
from pixelrec.io import atomic_dir, read_table, write_json_atomic, write_table

STATS_NAME = "split_stats.json"
RATIO_STRATEGIES = ("temporal", "user_temporal", "random", "cold_user", "cold_item")

log = logging.getLogger(__name__)


def split_files(split_dir: str | Path, suffix: str = ".parquet") -> dict[str, Path]:
    """Paths of the train/val/test files under a split folder."""
    return {name: Path(split_dir) / f"{name}{suffix}" for name in ("train", "val", "test")}


def catalogue_stats(config: Config) -> dict:
    """Size of the catalogue (the processed item table) that later stages rank."""
    path = Path(config.data.processed_item_info_path)
    if not path.exists():
        return {"items": None, "source": None, "policy": config.data.catalogue}
    from pixelrec.data.items import read_processed_items

    return {"items": len(read_processed_items(path)), "source": str(path),
            "policy": config.data.catalogue}


def create_splits(config: Config) -> dict:
    """Read `data.processed_interactions_path`, sample, split, check, write; return the stats."""
    data = config.data
    interactions = read_table(data.processed_interactions_path,
                              str_columns=("user_id", "item_id"),
                              what="processed interactions",
                              config_key="data.processed_interactions_path",
                              made_by="pixelrec preprocess")
    missing = {"user_id", "item_id", "timestamp"} - set(interactions.columns)
    if missing:
        raise DataError(f"{data.processed_interactions_path} lacks columns {sorted(missing)}; "
                        f"it was not written by `pixelrec preprocess`. Re-run preprocess.")
    cfg = data.splitting
    rows_in = len(interactions)
    interactions = sample_interactions(interactions, sample_n=cfg.sample_n,
                                       sample_users=cfg.sample_users, seed=cfg.seed)
    split = split_interactions(interactions, cfg)
    stats = split_stats(split)
    stats["rows_in"] = rows_in
    stats["rows_after_sampling"] = len(interactions)
    stats["seed"] = cfg.seed
    if split.strategy in RATIO_STRATEGIES:
        stats["ratios"] = {"train": cfg.train_ratio, "val": cfg.val_ratio,
                           "test": cfg.test_ratio}
    stats["catalogue"] = catalogue_stats(config)
    if stats["test"]["interactions"] == 0:
        raise DataError(f"the '{split.strategy}' split left no test interactions "
                        f"(removed: {stats['removed']}). Use more data, another "
                        f"`data.splitting.strategy`, or a larger test_ratio.")
    _warn_if_empty_val(stats, cfg.val_ratio)
    _warn_if_most_held_out_removed(stats)
    with atomic_dir(data.split_data_path) as tmp:
        for name, part in split.parts().items():
            write_table(part, tmp / f"{name}.parquet")
            if data.write_csv:
                write_table(part, tmp / f"{name}.csv")
        write_json_atomic(tmp / STATS_NAME, stats)
        write_resolved_config(config, tmp)
    return stats


def _warn_if_empty_val(stats: dict, val_ratio: float) -> None:
    """A val part that came out empty (not asked for with val_ratio 0) leaves early stopping
    and tuning without data: say so."""
    asked_none = val_ratio == 0 and stats["strategy"] in RATIO_STRATEGIES
    if stats["val"]["interactions"] or asked_none:
        return
    counts = ", ".join(f"{p} {stats[p]['interactions']}" for p in ("train", "val", "test"))
    log.warning("the '%s' split left the val part empty (%s interactions; removed: "
                "%s): early stopping and tuning get no validation data. Raise "
                "`data.splitting.val_ratio` or use more data.",
                stats["strategy"], counts, stats["removed"])


# Strategies to suggest when a split removes most held-out rows, and why each helps.
HOLDOUT_FRIENDLY = {
    "leave_one_out": "each user's last interactions held out",
    "user_temporal": "each user's later interactions held out",
    "cold_user": "whole users held out, on purpose unseen in train",
}


def _warn_if_most_held_out_removed(stats: dict) -> None:
    """More than half of the val/test rows removed (their user or item never occurs in train,
    typical of a global time cut on data whose users come and go) leaves little to evaluate
    on: say so, and name strategies whose held-out users stay evaluable."""
    removed = sum(stats["removed"].values())
    held_out = removed + stats["val"]["interactions"] + stats["test"]["interactions"]
    if removed * 2 <= held_out:
        return
    others = ", ".join(f"`{name}` ({why})" for name, why in HOLDOUT_FRIENDLY.items()
                       if name != stats["strategy"])
    log.warning("the '%s' split removed %d of %d held-out val/test rows (%.0f%%) because their "
                "user or item is not in train (removed: %s), leaving val %d and test %d "
                "interactions to evaluate on. Consider another `data.splitting.strategy`: %s.",
                stats["strategy"], removed, held_out, 100 * removed / held_out,
                stats["removed"], stats["val"]["interactions"], stats["test"]["interactions"],
                others)
