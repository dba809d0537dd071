"""`generate_recommendations`: the entry function behind `pixelrec recommend`; JSON/CSV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pixelrec.errors import DataError, PixelRecError
from pixelrec.evaluation.results import output_path
from pixelrec.io import write_json_atomic, write_table

FORMATS = ("json", "csv")


def select_users(known_users: np.ndarray, *, users: list[str] | None = None,
                 user_file: str | Path | None = None, sample_users: int | None = None,
                 seed: int = 42) -> list[str]:
    """The users to recommend for: `users`, the ids in `user_file` (one per line), a seeded
    sample of `sample_users` known users, or (none given) every known user."""
    given = [x is not None for x in (users, user_file, sample_users)]
    if sum(given) > 1:
        raise PixelRecError("choose one of --users, --user_file and --sample_users.")
    if users is not None:
        return [str(u) for u in users]
    if user_file is not None:
        path = Path(user_file)
        if not path.exists():
            raise DataError(f"user file not found: {path}; pass a text file with one user id "
                            f"per line (--user_file).")
        ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        ids = [i for i in ids if i]
        if not ids:
            raise DataError(f"user file {path} holds no user ids; write one id per line.")
        return ids
    known = np.sort(np.asarray(known_users, dtype=object).astype(str))
    if sample_users is not None:
        if sample_users < 1:
            raise PixelRecError(f"--sample_users must be at least 1, got {sample_users}.")
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(known), min(sample_users, len(known)), replace=False)
        return known[np.sort(pick)].tolist()
    return known.tolist()


def read_histories(path: str | Path, columns=None) -> dict[str, list[str]]:
    """user -> item ids (oldest first) from a CSV/Parquet table with user_id, item_id and,
    optionally, timestamp columns, under their canonical names or the names `columns`
    (`data.columns`) maps them to: users known only by these interactions."""
    from pixelrec.io import read_table

    names = {c: getattr(columns, c, c) for c in ("user_id", "item_id", "timestamp")}
    table = read_table(path, str_columns=tuple({*names.values(), "user_id", "item_id"}
                                               - {names["timestamp"]}),
                       what="history file")
    table = table.rename(columns={own: c for c, own in names.items()
                                  if c not in table.columns and own in table.columns})
    missing = {"user_id", "item_id"} - set(table.columns)
    if missing:
        wanted = " and ".join(f"{c} (or data.columns.{c}: {names[c]!r})" for c in sorted(missing))
        raise DataError(f"history file {path} lacks {wanted}; its columns are "
                        f"{', '.join(map(str, table.columns))}. It needs user and item ids "
                        f"(and optionally a timestamp).")
    if "timestamp" in table.columns:
        table = table.sort_values("timestamp", kind="stable")
    table = table.astype({"user_id": str, "item_id": str})
    return {user: group["item_id"].tolist() for user, group in table.groupby("user_id",
                                                                             sort=True)}


COLUMNS = ["user_id", "rank", "item_id", "title", "score", "fallback"]


def to_frame(result: dict[str, dict]) -> pd.DataFrame:
    """One row per (user, rank): user_id, rank, item_id, title, score, fallback."""
    rows = [{"user_id": user, "rank": rank, "item_id": rec["item_id"],
             "title": rec.get("title", ""), "score": rec["score"],
             "fallback": entry["fallback"] or ""}
            for user, entry in result.items()
            for rank, rec in enumerate(entry["recommendations"], start=1)]
    return pd.DataFrame(rows, columns=COLUMNS)


def add_titles(result: dict[str, dict], titles: dict[str, str]) -> dict[str, dict]:
    """`result` with each recommended item's title ("" when it has none)."""
    for entry in result.values():
        for rec in entry["recommendations"]:
            rec["title"] = titles.get(str(rec["item_id"]), "")
    return result


def preview(result: dict[str, dict], users: int = 3, rows: int = 5, width: int = 40) -> str:
    """A plain-text table of the first `rows` items of the first `users` lists."""
    head = dict(list(result.items())[:users])
    frame = to_frame({u: {**e, "recommendations": e["recommendations"][:rows]}
                      for u, e in head.items()})
    if frame.empty:
        return "(no recommendations)"
    frame["title"] = [t if len(t) <= width else t[:width - 3] + "..." for t in frame["title"]]
    frame["score"] = frame["score"].map(lambda s: f"{s:.4f}")
    shown = frame[[c for c in COLUMNS if c != "fallback" or frame["fallback"].any()]]
    text = shown.to_string(index=False)
    if len(result) > users:
        text += f"\n... and {len(result) - users} more user(s) in the file"
    return text


def write_recommendations(result: dict[str, dict], path: str | Path, fmt: str = "json") -> Path:
    if fmt not in FORMATS:
        raise PixelRecError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    path = Path(path)
    if fmt == "json":
        write_json_atomic(path, result)
    else:
        write_table(to_frame(result), path)
    return path


def generate_recommendations(config, *, users: list[str] | None = None,
                             user_file: str | Path | None = None,
                             sample_users: int | None = None,
                             history_file: str | Path | None = None, top_k: int | None = None,
                             output: str | None = None, fmt: str = "json",
                             recommender_type: str | None = None, checkpoint: str | None = None,
                             engine=None) -> tuple[dict[str, dict], Path | None]:
    """Top-K lists `{user: {"recommendations": [{"item_id", "title", "score"}], "fallback"}}`
    for the
    chosen users (see `select_users`), or for the users of `history_file` (see
    `read_histories`) scored from those histories alone; written to `results_dir/<output>`
    when `output` is given.

    The recommender is `recommender_type` (default `recommendation.recommender_type`), or the
    ready `engine`. Unknown users get popularity, marked `"fallback": "popularity"`.
    """
    from pixelrec.inference.loading import load_engine

    if fmt not in FORMATS:
        raise PixelRecError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    k = top_k if top_k is not None else config.recommendation.top_k
    if k < 1:
        raise PixelRecError(f"--top_k must be at least 1, got {k}.")
    if history_file is not None and any(x is not None for x in (users, user_file,
                                                                   sample_users)):
        raise PixelRecError("--history_file cannot be combined with --users, --user_file or "
                            "--sample_users.")
    engine = engine or load_engine(config, recommender_type, checkpoint)
    if history_file is not None:
        result = {user: engine.recommend_for_history(items, k).to_dict()
                  for user, items in read_histories(history_file,
                                                    config.data.columns).items()}
    else:
        chosen = select_users(engine.known_users.to_numpy(), users=users, user_file=user_file,
                              sample_users=sample_users, seed=config.seed)
        lists = engine.recommend(chosen, k)
        result = {user: recs.to_dict() for user, recs in zip(chosen, lists, strict=True)}
    from pixelrec.inference.titles import item_titles

    add_titles(result, item_titles(config))
    path = None
    if output is not None:
        path = write_recommendations(result, output_path(config.results_dir, output), fmt)
    return result, path
