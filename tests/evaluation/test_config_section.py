"""The `evaluation` config section: validation and every key reaching the code that reads it."""

from __future__ import annotations

import pytest

from pixelrec.config import load_config
from pixelrec.errors import ConfigError
from pixelrec.evaluation import evaluate_interactions
from pixelrec.evaluation.results import output_path
from pixelrec.models import create_recommender
from pixelrec.models.baselines import PopularityRecommender

from .helpers import frame


def test_k_values_are_sorted_and_deduplicated():
    assert load_config(None, ["evaluation.k_values=[10,5,10]"]).evaluation.k_values == [5, 10]


@pytest.mark.parametrize("bad", ["evaluation.k_values=[]", "evaluation.k_values=[0,5]",
                                 "evaluation.chunk_size=0", "evaluation.bootstrap_samples=5",
                                 "evaluation.sampling.strategy=zipf",
                                 "evaluation.beyond_accuracy.head_fraction=1",
                                 "evaluation.baselines.ease.l2=0"])
def test_invalid_values_are_config_errors(bad):
    with pytest.raises(ConfigError, match=bad.split("=")[0].split(".")[-1]):
        load_config(None, [bad])


def test_unknown_baseline_is_named_with_a_suggestion():
    with pytest.raises(ConfigError, match="unknown key 'knn'.*did you mean"):
        load_config(None, ["evaluation.baselines.knn.k_neighbors=5"])


def test_baseline_hyper_parameters_reach_the_models():
    config = load_config(None, [
        "seed=3", "evaluation.baselines.item_knn.k_neighbors=7",
        "evaluation.baselines.user_knn.shrinkage=2.5", "evaluation.baselines.ease.l2=9",
        "evaluation.baselines.als.alpha=4", "evaluation.baselines.als.iterations=3",
        "evaluation.baselines.als.regularization=0.5", "evaluation.baselines.als.factors=5",
        "evaluation.baselines.bpr.learning_rate=0.2", "evaluation.baselines.bpr.factors=6",
        "evaluation.baselines.bpr.regularization=0.3", "evaluation.baselines.bpr.iterations=4"])
    assert create_recommender("item_knn", config).k_neighbors == 7
    assert create_recommender("user_knn", config).shrinkage == 2.5
    assert create_recommender("ease", config).l2 == 9
    als = create_recommender("als", config)
    assert (als.alpha, als.iterations, als.regularization, als.factors, als.seed) == \
        (4, 3, 0.5, 5, 3)
    bpr = create_recommender("bpr", config)
    assert (bpr.learning_rate, bpr.factors, bpr.regularization, bpr.iterations) == \
        (0.2, 6, 0.3, 4)
    assert create_recommender("random", config).seed == 3


def test_chunk_size_and_bootstrap_samples_are_read():
    train = frame([(f"u{i}", f"i{i % 7}") for i in range(30)])
    test = frame([(f"u{i}", f"i{(i + 1) % 7}") for i in range(30)])
    model = PopularityRecommender().fit(train)

    def run(*sets):
        evaluation = load_config(None, ["evaluation.k_values=[3]", *sets]).evaluation
        return evaluate_interactions(model, test, [train], evaluation=evaluation, seed=0)

    a = run("evaluation.chunk_size=1", "evaluation.bootstrap_samples=10")
    b = run("evaluation.chunk_size=512", "evaluation.bootstrap_samples=10")
    c = run("evaluation.chunk_size=512", "evaluation.bootstrap_samples=200")
    assert a["per_user"] == b["per_user"] and a["ci95"] == b["ci95"]
    assert b["ci95"] != c["ci95"]


def test_max_users_evaluates_a_seeded_sample_of_whole_users():
    train = frame([(f"u{i}", f"i{i % 7}") for i in range(30)])
    test = frame([(f"u{i}", f"i{(i + j) % 7}") for i in range(30) for j in (1, 2)])
    model = PopularityRecommender().fit(train)

    def run(*sets, seed=0):
        evaluation = load_config(None, ["evaluation.k_values=[3]", *sets]).evaluation
        return evaluate_interactions(model, test, [train], evaluation=evaluation, seed=seed)

    full, sample = run(), run("evaluation.max_users=8")
    users = sample["per_user"]["user_id"]
    assert len(users) == 8 and set(users) < set(full["per_user"]["user_id"])
    assert sample["user_sample"] == {"users": 8, "of": 30, "seed": 0,
                                     "key": "evaluation.max_users"}
    # each sampled user keeps every test row: its per-user value is the full run's
    value = dict(zip(full["per_user"]["user_id"], full["per_user"]["ndcg@3"], strict=True))
    assert sample["per_user"]["ndcg@3"] == [value[u] for u in users]
    assert run("evaluation.max_users=8")["per_user"]["user_id"] == users  # seeded
    assert run("evaluation.max_users=8", seed=1)["per_user"]["user_id"] != users
    at_least_all = run("evaluation.max_users=30")
    assert at_least_all["per_user"] == full["per_user"] and "user_sample" not in at_least_all


def test_head_fraction_is_read():
    train = frame([("u1", "a"), ("u2", "a"), ("u2", "b"), ("u3", "c")])
    test = frame([("u1", "b"), ("u3", "a")])
    model = PopularityRecommender().fit(train)

    def share(fraction):
        evaluation = load_config(None, [f"evaluation.beyond_accuracy.head_fraction={fraction}",
                                        "evaluation.k_values=[1]"]).evaluation
        out = evaluate_interactions(model, test, [train], evaluation=evaluation, seed=0)
        return out["beyond_accuracy"]["long_tail_share"]

    assert share(0.3) > share(0.9) == 0.0


def test_output_path_rules(tmp_path):
    assert output_path(tmp_path, "run") == tmp_path / "run"
    assert output_path(tmp_path, "sub/run.json").as_posix() == "sub/run.json"
    assert output_path(tmp_path, str(tmp_path / "x.json")) == tmp_path / "x.json"
