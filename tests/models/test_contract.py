"""The shipped recommender contract (`pixelrec.testing`) over every registered recommender.

Parametrised over the registry: every recommender registered when this module is collected (the
baselines, ours, and e.g. one a plugin registered) runs the contract; the multimodal model, which
trains, runs it in test_multimodal_contract.py with a small configuration.
"""

from __future__ import annotations

import pytest

from pixelrec import testing
from pixelrec.config import load_config
from pixelrec.models import RECOMMENDER_TYPES, Recommender, create_recommender
from pixelrec.models.baselines import PopularityRecommender

SMALL = [
    "evaluation.baselines.item_knn.k_neighbors=10",
    "evaluation.baselines.user_knn.k_neighbors=10",
    "evaluation.baselines.ease.l2=1.0",
    "evaluation.baselines.als.factors=8",
    "evaluation.baselines.bpr.factors=8",
    "evaluation.baselines.bpr.learning_rate=0.05",
    "evaluation.baselines.bpr.iterations=300",
    "multimodal_ease.l2=1.0",
    "multimodal_ease.delta=1.0",
    "multimodal_ease.neighbours=3",
    "ensemble.members=[ease, content_knn, popularity]",
    "ensemble.trials=8",
]
CHECKED = [t for t in RECOMMENDER_TYPES if t != "multimodal"]
NOT_PERSONALISED = ("random", "popularity")


def unfitted(name: str) -> Recommender:
    _, _, items = testing.block_data()
    return create_recommender(name, load_config(None, SMALL),
                              item_embeddings=testing.block_embeddings(items), item_ids=items)


@pytest.fixture(scope="module", params=CHECKED)
def model(request):
    return testing.fit_on_blocks(unfitted(request.param))


@pytest.mark.parametrize("check", testing.RECOMMENDER_CHECKS, ids=lambda c: c.__name__)
def test_contract(model, check):
    check(model)


def test_held_out_item_ranks_first(model):
    if model.name in NOT_PERSONALISED:
        pytest.skip("non-personalised models cannot find a user's held-out item")
    testing.check_held_out_item_ranks_first(model)


@pytest.mark.parametrize("name", CHECKED)
def test_unfitted_model_raises_a_clear_error(name):
    testing.check_unfitted_raises(unfitted(name))


class Broken(PopularityRecommender):
    """Ignores exclude_seen: the contract must catch it."""

    def recommend(self, user_ids, k=10, exclude_seen=True):
        return super().recommend(user_ids, k, exclude_seen=False)


def test_check_recommender_runs_the_whole_contract_and_names_a_failing_check():
    testing.check_recommender(unfitted("ease"))
    with pytest.raises(AssertionError, match="returned a train item"):
        testing.check_recommender(Broken(), personalised=False)


def test_content_knn_recommends_cold_items_of_the_users_group():
    model = testing.fit_on_blocks(unfitted("content_knn"))
    ids, _ = model.recommend(["u1_0"], k=2)
    assert set(ids[0]) == {"i1_0", "cold1"}
