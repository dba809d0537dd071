"""`pixelrec evaluate` / `compare` / scripts/evaluate.py on a crafted case known by hand."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pixelrec.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
# popularity a=3 > b=2 > c=1; d and e appear only in test (cold: never recommended)
TRAIN = [("u1", "a"), ("u2", "a"), ("u2", "b"), ("u3", "a"), ("u3", "b"), ("u3", "c")]
TEST = [("u1", "b"), ("u1", "d"), ("u2", "c"), ("u3", "e")]
NDCG2_U1 = 1 / (1 + 1 / math.log2(3))
EXPECTED = {  # u1 top [b, c] of {b, d}; u2 top [c] of {c}; u3 nothing rankable of {e}
    "precision@1": 2 / 3, "recall@1": 0.5, "f1@1": (2 / 3 + 1) / 3, "hit_rate@1": 2 / 3,
    "ndcg@1": 2 / 3, "mrr@1": 2 / 3, "map@1": 2 / 3,
    "precision@2": 1 / 3, "recall@2": 0.5, "f1@2": (0.5 + 2 / 3) / 3, "hit_rate@2": 2 / 3,
    "ndcg@2": (NDCG2_U1 + 1) / 3, "mrr@2": 2 / 3, "map@2": 0.5,
}


@pytest.fixture
def crafted(tmp_path):
    splits = tmp_path / "splits"
    splits.mkdir()
    pd.DataFrame(TRAIN, columns=["user_id", "item_id"]).assign(timestamp=1).to_csv(
        splits / "train.csv", index=False)
    pd.DataFrame(TEST, columns=["user_id", "item_id"]).assign(timestamp=2).to_parquet(
        splits / "test.parquet")
    config = {"results_dir": str(tmp_path / "results"), "seed": 7,
              "data": {"split_data_path": str(splits),
                       "processed_item_info_path": str(tmp_path / "none.parquet"),
                       "cache_config": {"cache_directory": str(tmp_path / "cache")}},
              "evaluation": {"k_values": [1, 2], "bootstrap_samples": 50,
                             "beyond_accuracy": {"k": 2}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return tmp_path, path


def evaluate(config, *args):
    return main(["evaluate", "--config", str(config), *args])


def test_cli_reproduces_hand_computed_metrics(crafted, capsys):
    tmp, config = crafted
    assert evaluate(config, "--recommender_type", "popularity", "--train_data",
                    str(tmp / "splits" / "train.csv"), "--output", "pop") == 0
    result = json.loads((tmp / "results" / "pop").read_text())
    assert result["metrics"] == pytest.approx(EXPECTED)
    assert list(result["metrics"]) == list(EXPECTED)
    assert set(result["ci95"]) == set(EXPECTED)
    assert result["beyond_accuracy"]["coverage"] == pytest.approx(2 / 5)
    cold = result["cold_items"]
    assert cold["counts"]["evaluated_users"] == 2 and cold["metrics"]["recall@2"] == 0.0
    meta = result["metadata"]
    assert meta["task"] == "retrieval" and meta["recommender"] == "popularity"
    assert meta["split_files"]["train"]["rows"] == 6 and meta["split_files"]["test"]["rows"] == 4
    assert meta["catalogue"] == {"source": "split files", "n_items": 5, "cold_items": 2}
    assert meta["seed"] == 7 and meta["k_values"] == [1, 2] and len(meta["config_hash"]) == 16
    assert meta["checkpoint"] is meta["checkpoint_epoch"] is meta["training_complete"] is None
    assert result["per_user"]["user_id"] == ["u1", "u2", "u3"]
    assert result["per_user"]["recall@1"] == [0.5, 1.0, 0.0]
    assert "ndcg@2" in capsys.readouterr().out


def test_output_with_a_directory_part_is_a_path(crafted):
    tmp, config = crafted
    target = tmp / "elsewhere" / "run.json"
    assert evaluate(config, "--recommender_type", "random", "--train_data",
                    str(tmp / "splits" / "train.csv"), "--output", str(target)) == 0
    assert target.exists() and not (tmp / "results").exists()


def test_compare_two_results(crafted, capsys):
    tmp, config = crafted
    for name in ("random", "popularity"):
        assert evaluate(config, "--recommender_type", name, "--train_data",
                        str(tmp / "splits" / "train.csv"), "--output", f"{name}.json") == 0
    capsys.readouterr()
    assert main(["compare", "--config", str(config), str(tmp / "results" / "random.json"),
                 str(tmp / "results" / "popularity.json"), "--metrics", "ndcg@2"]) == 0
    out = capsys.readouterr().out
    assert "paired over 3 common users" in out and "ndcg@2" in out


def test_sampled_mode_prints_the_bias_warning(crafted, capsys):
    tmp, config = crafted
    assert evaluate(config, "--recommender_type", "popularity", "--train_data",
                    str(tmp / "splits" / "train.csv"), "--use_sampling", "--num_negatives", "2",
                    "--sampling_strategy", "popularity") == 0
    assert "Krichene & Rendle" in capsys.readouterr().out
    result = json.loads((tmp / "results" / "eval_popularity_retrieval.json").read_text())
    assert result["metadata"]["mode"] == "sampled"
    assert result["sampling"]["num_negatives"] == 2


def test_missing_split_is_a_clear_error(crafted, capsys):
    tmp, config = crafted
    assert evaluate(config, "--recommender_type", "popularity", "--test_data",
                    str(tmp / "missing.parquet")) == 2
    assert "test split file not found" in capsys.readouterr().err


def test_content_knn_without_cache_says_to_precompute(crafted, capsys):
    tmp, config = crafted
    assert evaluate(config, "--recommender_type", "content_knn", "--train_data",
                    str(tmp / "splits" / "train.csv")) == 2
    assert "pixelrec precompute" in capsys.readouterr().err


def test_unknown_recommender_or_task_lists_the_registered_names(crafted, capsys):
    tmp, config = crafted
    train = str(tmp / "splits" / "train.csv")
    assert evaluate(config, "--recommender_type", "nope", "--train_data", train) == 2
    err = capsys.readouterr().err
    assert "unknown recommender type 'nope'" in err and "popularity" in err
    assert evaluate(config, "--recommender_type", "popularity", "--train_data", train,
                    "--eval_task", "nope") == 2
    assert "retrieval, ranking" in capsys.readouterr().err


def test_script_wrapper_runs_evaluate(crafted):
    tmp, config = crafted
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evaluate.py"), "--config", str(config),
         "--recommender_type", "popularity", "--train_data", str(tmp / "splits" / "train.csv"),
         "--eval_task", "ranking", "--output", "rank.json"],
        capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp / "results" / "rank.json").read_text())
    assert set(result["metrics"]) == {"auc", "gauc", "ndcg", "mrr"}


@pytest.mark.parametrize("fold_in", [True, False])
def test_val_interactions_are_folded_in_before_testing(crafted, fold_in):
    tmp, config = crafted
    # d is new in val (u2, u3): folded in, it is a known item with popularity 2, so u1's top 2
    # of {b 2, d 2, c 1} holds both test items; on train alone d is cold and never ranked
    pd.DataFrame([("u2", "d"), ("u3", "d")], columns=["user_id", "item_id"]).assign(
        timestamp=1).to_parquet(tmp / "splits" / "val.parquet")
    assert evaluate(config, "--recommender_type", "popularity", "--train_data",
                    str(tmp / "splits" / "train.csv"), "--output", "pop",
                    "--set", f"evaluation.fold_in_val={str(fold_in).lower()}") == 0
    result = json.loads((tmp / "results" / "pop").read_text())
    assert result["per_user"]["recall@2"] == [1.0 if fold_in else 0.5, 1.0, 0.0]
    assert result["metadata"]["history"] == ("train+val" if fold_in else "train")
    assert result["metadata"]["catalogue"]["cold_items"] == (1 if fold_in else 2)
