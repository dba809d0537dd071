"""DataFilter: duplicate interactions, unknown items, missing modalities, iterative k-core."""

from __future__ import annotations

import pandas as pd


class DataFilter:
    def __init__(self, min_user_interactions: int = 5, min_item_interactions: int = 5):
        self.min_user_interactions = min_user_interactions
        self.min_item_interactions = min_item_interactions

    @staticmethod
    def drop_duplicates(interactions: pd.DataFrame, repeats: str = "first"
                        ) -> tuple[pd.DataFrame, int]:
        """`first`: keep the earliest interaction of each (user, item) pair (among rows with the
        same timestamp the first in file order); `keep`: keep repeats, collapsing only rows
        equal in user, item and timestamp (one moment cannot be split between train and test)."""
        key = ["user_id", "item_id"] if repeats == "first" else ["user_id", "item_id", "timestamp"]
        ordered = interactions.sort_values("timestamp", kind="stable")
        kept = ordered.drop_duplicates(key, keep="first")
        return kept, len(interactions) - len(kept)

    @staticmethod
    def drop_unknown_items(interactions: pd.DataFrame, item_ids: pd.Series
                           ) -> tuple[pd.DataFrame, int]:
        """Drop interactions whose item has no row in the item table."""
        known = interactions["item_id"].isin(set(item_ids))
        return interactions[known], int((~known).sum())

    def k_core(self, interactions: pd.DataFrame) -> tuple[pd.DataFrame, int]:
        """Iteratively drop users and items below the minimum counts until nothing changes."""
        current = interactions
        rounds = 0
        while True:
            user_n = current.groupby("user_id")["item_id"].transform("size")
            item_n = current.groupby("item_id")["user_id"].transform("size")
            keep = (user_n >= self.min_user_interactions) & (item_n >= self.min_item_interactions)
            if keep.all():
                return current, rounds
            current = current[keep]
            rounds += 1
