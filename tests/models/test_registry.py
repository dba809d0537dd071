"""The recommender registry: a newly registered recommender passes the shared contract, goes
through `create_recommender`, evaluation and `pixelrec evaluate`, and is accepted by the config;
a taken name is refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml

from pixelrec import models, testing
from pixelrec.cli.main import main
from pixelrec.config import load_config
from pixelrec.evaluation import evaluate_interactions
from pixelrec.models import RECOMMENDERS, create_recommender, register_recommender
from pixelrec.models.base import Recommender
from pixelrec.models.registry import BUILTIN_RECOMMENDERS, recommender_names
from pixelrec.testing import block_data


class CooccurrenceRecommender(Recommender):
    """score(u, i) = sum over the user's items j of the number of users who saw both j and i."""

    def _fit(self, matrix: sp.csr_matrix) -> None:
        self.cooccurrence_ = (matrix.T @ matrix).toarray().astype(np.float32)

    def _score_users(self, rows: np.ndarray) -> np.ndarray:
        return self.train_matrix_[rows] @ self.cooccurrence_


@pytest.fixture(scope="module", autouse=True)
def registered():
    register_recommender("cooccurrence")(CooccurrenceRecommender)
    yield
    del RECOMMENDERS["cooccurrence"]


@pytest.fixture(scope="module")
def model(registered):
    return testing.fit_on_blocks(create_recommender("cooccurrence", load_config(None)))


@pytest.mark.parametrize("check", testing.RECOMMENDER_CHECKS, ids=lambda c: c.__name__)
def test_a_plugin_passes_the_shipped_contract(model, check):
    check(model)


def test_registered_recommender_is_listed_and_configurable():
    assert CooccurrenceRecommender.name == "cooccurrence"
    assert "cooccurrence" in models.BASELINE_TYPES and "cooccurrence" in models.RECOMMENDER_TYPES
    assert "cooccurrence" in models.COLLABORATIVE_TYPES
    assert "cooccurrence" in recommender_names()
    config = load_config(None, ["recommendation.recommender_type=cooccurrence"])
    assert config.recommendation.recommender_type == "cooccurrence"


def test_evaluation_finds_every_held_out_item_first(model):
    _, held, _ = block_data()
    test = pd.DataFrame({"user_id": list(held), "item_id": list(held.values())})
    out = evaluate_interactions(model, test, [block_data()[0]],
                                evaluation=load_config(None).evaluation, seed=0)
    assert out["metrics"]["recall@5"] == 1.0 and out["metrics"]["ndcg@5"] == 1.0


def test_pixelrec_evaluate_accepts_the_registered_name(tmp_path):
    train, held, _ = block_data()
    train.assign(timestamp=1).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"user_id": list(held), "item_id": list(held.values()), "timestamp": 2}
                 ).to_csv(tmp_path / "test.csv", index=False)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "results_dir": str(tmp_path / "results"),
        "data": {"processed_item_info_path": str(tmp_path / "none.parquet"),
                 "cache_config": {"cache_directory": str(tmp_path / "cache")}},
        "evaluation": {"k_values": [1], "bootstrap_samples": 20}}))
    assert main(["evaluate", "--config", str(config), "--recommender_type", "cooccurrence",
                 "--train_data", str(tmp_path / "train.csv"),
                 "--test_data", str(tmp_path / "test.csv"), "--output", "co.json"]) == 0
    result = json.loads((tmp_path / "results" / "co.json").read_text())
    assert result["metadata"]["recommender"] == "cooccurrence"
    assert result["metrics"]["hit_rate@1"] == 1.0


def test_taken_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_recommender("cooccurrence")(CooccurrenceRecommender)
    with pytest.raises(ValueError, match="already registered"):
        register_recommender("ease")(CooccurrenceRecommender)
    with pytest.raises(ValueError, match="kind"):
        register_recommender("other", kind="trained")


def test_builtin_names_are_exactly_what_the_built_in_modules_register():
    registered = [n for n in models.RECOMMENDER_TYPES if n != "cooccurrence"]
    assert registered == list(BUILTIN_RECOMMENDERS)
    assert models.CONTENT_TYPES == ("content_knn", "multimodal_ease", "multimodal", "ensemble")
    assert "multimodal" not in models.BASELINE_TYPES and "ease" in models.BASELINE_TYPES


def test_every_recommender_is_built_the_same_way_and_fitted_by_fit():
    from pixelrec.models.multimodal import MultimodalRecommender

    model = create_recommender("multimodal", load_config(None))
    assert isinstance(model, MultimodalRecommender) and model.checkpoint is None  # fit trains
    assert not hasattr(model, "network")
