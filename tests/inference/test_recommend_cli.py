"""`pixelrec recommend` and scripts/generate_recommendations.py: user selection, formats, errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pixelrec.cli.main import main
from tests.inference.helpers import copy_work

REPO = Path(__file__).resolve().parents[2]


def faiss_installed() -> bool:
    from pixelrec.inference.ann import faiss_available

    return faiss_available()


@pytest.fixture
def work(trained, tmp_path):
    return copy_work(trained, tmp_path / "work")


def test_unknown_recommender_type_is_rejected_with_the_registered_names(work, capsys):
    path, _ = work
    assert main(["recommend", "--config", str(path), "--recommender_type", "nope"]) == 2
    err = capsys.readouterr().err
    assert "recommender_type" in err and "nope" in err and "item_knn" in err


def test_users_and_unknown_user_fallback_as_json(work, capsys):
    path, config = work
    train = pd.read_parquet(Path(config.data.split_data_path) / "train.parquet")
    user = str(train["user_id"].iloc[0])
    assert main(["recommend", "--config", str(path), "--recommender_type", "ease",
                 "--users", user, "ghost", "--top_k", "4", "--output", "recs"]) == 0
    out = json.loads((Path(config.results_dir) / "recs.json").read_text())
    assert set(out) == {user, "ghost"}
    assert out[user]["fallback"] is None and len(out[user]["recommendations"]) == 4
    assert out["ghost"]["fallback"] == "popularity"
    top = out[user]["recommendations"][0]
    assert set(top) == {"item_id", "title", "score"}
    items = pd.read_parquet(config.data.processed_item_info_path)
    title = items.loc[items["item_id"].astype(str) == top["item_id"], "title"].iloc[0]
    assert top["title"] == title and title
    printed = capsys.readouterr().out
    assert "1 unknown -> popularity fallback" in printed
    header = next(line for line in printed.splitlines() if "item_id" in line).split()
    assert header == ["user_id", "rank", "item_id", "title", "score", "fallback"]
    assert title[:37] in printed and f"{top['score']:.4f}" in printed


def test_user_file_and_csv(work, tmp_path):
    path, config = work
    users = tmp_path / "users.txt"
    users.write_text("ghost\n\n" + "\n".join(pd.read_parquet(
        Path(config.data.split_data_path) / "train.parquet")["user_id"].astype(str)
        .unique()[:2]) + "\n")
    assert main(["recommend", "--config", str(path), "--recommender_type", "popularity",
                 "--user_file", str(users), "--format", "csv", "--output", "recs"]) == 0
    table = pd.read_csv(Path(config.results_dir) / "recs.csv", dtype={"user_id": str},
                        keep_default_na=False)
    assert list(table.columns) == ["user_id", "rank", "item_id", "title", "score", "fallback"]
    assert table["title"].str.len().gt(0).all()
    assert table["user_id"].nunique() == 3 and table.groupby("user_id").size().eq(5).all()
    assert set(table.loc[table["user_id"] == "ghost", "fallback"]) == {"popularity"}


def test_sample_users_is_seeded_and_the_multimodal_model_is_the_default(work):
    path, config = work
    for name in ("a", "b"):
        assert main(["recommend", "--config", str(path), "--sample_users", "6",
                     "--output", name]) == 0
    a = json.loads((Path(config.results_dir) / "a.json").read_text())
    b = json.loads((Path(config.results_dir) / "b.json").read_text())
    assert list(a) == list(b) and len(a) == 6
    assert all(entry["fallback"] is None for entry in a.values())
    assert all(len(entry["recommendations"]) == config.recommendation.top_k
               for entry in a.values())


def test_all_users_by_default(work, capsys):
    path, config = work
    ann = ["--set", "recommendation.ann.enabled=true", "--set",
           "recommendation.ann.approximate_above=10"] if faiss_installed() else []
    assert main(["recommend", "--config", str(path), "--checkpoint", "last",
                 "--output", "all", *ann]) == 0
    if ann:
        assert re.search(r"ANN index: index ivf .* recall@5 [01]\.\d+", capsys.readouterr().out)
    out = json.loads((Path(config.results_dir) / "all.json").read_text())
    known = pd.read_parquet(config.data.processed_interactions_path)["user_id"].astype(str)
    assert set(out) == set(known)


def test_bad_arguments_exit_2_with_a_message(work, capsys):
    path, _ = work
    assert main(["recommend", "--config", str(path), "--recommender_type", "popularity",
                 "--user_file", "/nonexistent/users.txt"]) == 2
    assert "user file not found" in capsys.readouterr().err
    assert main(["recommend", "--config", str(path), "--recommender_type", "popularity",
                 "--top_k", "0"]) == 2
    assert "--top_k must be at least 1" in capsys.readouterr().err


def test_seed_script_wrapper(work):
    path, config = work
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "generate_recommendations.py"),
                          "--config", str(path), "--recommender_type", "popularity",
                          "--users", "ghost", "--output", "script"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    data = json.loads((Path(config.results_dir) / "script.json").read_text())
    assert data["ghost"]["fallback"] == "popularity"


def test_history_file_users_are_scored_from_their_history(work, tmp_path, capsys):
    path, config = work
    train = pd.read_parquet(Path(config.data.split_data_path) / "train.parquet")
    user = str(train["user_id"].iloc[0])
    history = train[train["user_id"].astype(str) == user].assign(user_id="newcomer")
    history_path = tmp_path / "histories.csv"
    history[["user_id", "item_id", "timestamp"]].to_csv(history_path, index=False)
    assert main(["recommend", "--config", str(path), "--history_file", str(history_path),
                 "--output", "hist"]) == 0
    out = json.loads((Path(config.results_dir) / "hist.json").read_text())
    recs = [r["item_id"] for r in out["newcomer"]["recommendations"]]
    assert out["newcomer"]["fallback"] is None and len(recs) == config.recommendation.top_k
    assert not set(recs) & set(history["item_id"].astype(str))
    history.iloc[:1].assign(item_id="not-an-item").to_csv(history_path, index=False)
    assert main(["recommend", "--config", str(path), "--history_file", str(history_path)]) == 2
    assert "not-an-item" in capsys.readouterr().err


def test_history_file_reads_the_configured_column_names(tmp_path):
    from pixelrec.config import load_config
    from pixelrec.errors import DataError
    from pixelrec.inference.output import read_histories

    columns = load_config(None, ["data.columns.user_id=reviewerID", "data.columns.item_id=asin",
                                 "data.columns.timestamp=unixReviewTime"]).data.columns
    path = tmp_path / "h.csv"
    path.write_text("reviewerID,asin,unixReviewTime\nr1,B2,20\nr1,B1,10\nr2,B3,5\n")
    assert read_histories(path, columns) == {"r1": ["B1", "B2"], "r2": ["B3"]}
    path.write_text("who,what\nr1,B1\n")
    with pytest.raises(DataError, match=r"item_id \(or data.columns.item_id: 'asin'\)"):
        read_histories(path, columns)
