"""RecommendationEngine on the tiny trained model and on baselines: known, unknown and
history-only users, seen-item masking, cold items, similar items, new items."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from pixelrec.inference import known_interactions, load_engine
from pixelrec.inference.engine import UnknownItemError, UnsupportedError
from tests.inference.helpers import (
    clone_embedder,
    clone_fields,
    copy_work,
    features_for,
    user_with_history,
)


@pytest.fixture
def work(trained, tmp_path):
    return copy_work(trained, tmp_path / "work")


@pytest.fixture
def engine(work):
    _, config = work
    return load_engine(config, features=features_for(config))


def test_known_users_get_unseen_items_and_unknown_users_popularity(work, engine):
    _, config = work
    known = known_interactions(config)
    users = sorted(known["user_id"].unique())[:5]
    lists = engine.recommend([*users, "never-seen"], k=7)
    for user, recs in zip(users, lists[:-1], strict=True):
        assert recs.fallback is None and len(recs.items) == 7
        seen = set(known.loc[known["user_id"] == user, "item_id"])
        assert not seen & set(recs.items)  # every known interaction is masked, not only train
        assert recs.scores == sorted(recs.scores, reverse=True)
    stranger = lists[-1]
    assert stranger.fallback == "popularity"
    pop = dict(zip(engine.model.item_ids_, engine.model.item_popularity_.tolist(), strict=True))
    assert stranger.scores == sorted(pop.values(), reverse=True)[:7]
    assert [pop[i] for i in stranger.items] == stranger.scores


def test_batched_lists_equal_one_by_one(work):
    _, config = work
    engine = load_engine(config, features=features_for(config))
    users = engine.known_users[:9].tolist()
    batched = engine.recommend(users, 5)
    config.recommendation.chunk_size = 2
    engine = load_engine(config, features=features_for(config))
    assert engine.chunk_size == 2
    chunked = engine.recommend(users, 5)
    single = [engine.recommend([u], 5)[0] for u in users]
    assert [r.items for r in batched] == [r.items for r in chunked] == [r.items for r in single]


def test_cold_items_are_scored_from_content(work, engine):
    _, config = work
    train = pd.read_parquet(f"{config.data.split_data_path}/train.parquet")
    cold = set(engine.item_ids) - set(train["item_id"].astype(str))
    assert cold, "the temporal split leaves some items without train interactions"
    lists = engine.recommend(engine.known_users.tolist(), k=len(engine.item_ids))
    ranks = np.array([[recs.items.index(i) for i in sorted(cold)] for recs in lists
                      if cold <= set(recs.items)])
    assert len(ranks) > 0  # ranked (finite scores from content), not left out
    assert len({tuple(np.argsort(r)) for r in ranks}) > 1  # in a personal order


def test_history_only_user_is_personalised_and_history_is_not_recommended(work, engine):
    _, config = work
    user, history = user_with_history(config)
    recs = engine.recommend_for_history(history, k=10)
    assert recs.fallback is None and not set(history) & set(recs.items)
    other = engine.recommend_for_history(history[:1], k=10)
    assert other.items != recs.items or other.scores != recs.scores
    with pytest.raises(UnknownItemError, match="no-such-item"):
        engine.recommend_for_history([history[0], "no-such-item"], k=5)


def test_similar_items_excludes_the_item_and_ranks_by_cosine(engine):
    item = str(engine.item_ids[0])
    recs = engine.similar_items(item, k=5)
    assert item not in recs.items and len(recs.items) == 5
    assert all(-1.0001 <= s <= 1.0001 for s in recs.scores)
    with pytest.raises(UnknownItemError):
        engine.similar_items("no-such-item")


@pytest.mark.parametrize("kind", ["popularity", "ease", "als"])
def test_baselines_fall_back_to_popularity_for_history_users(work, kind):
    _, config = work
    engine = load_engine(config, kind)
    _, history = user_with_history(config)
    recs = engine.recommend_for_history(history, k=5)
    assert recs.fallback == "popularity" and not set(history) & set(recs.items)
    assert engine.similar_items(history[0], k=3).items
    with pytest.raises(UnsupportedError, match="multimodal"):
        engine.add_item("new", {"title": "x"})


def test_a_baseline_is_fitted_once_on_every_known_interaction(work, monkeypatch):
    from pixelrec.models.baselines.ease import EASERecommender

    _, config = work
    fitted = []
    real = EASERecommender._fit
    monkeypatch.setattr(EASERecommender, "_fit",
                        lambda self, matrix: fitted.append(matrix.nnz) or real(self, matrix))
    engine = load_engine(config, "ease")
    known = known_interactions(config).astype(str)
    known = known[known["item_id"].isin(set(engine.item_ids))]
    assert fitted == [len(known.drop_duplicates(["user_id", "item_id"]))]  # one fit, on all
    user, _ = user_with_history(config)
    direct = EASERecommender.from_config(config).fit(known, items=engine.item_ids)
    top, _ = direct.recommend([user], k=5)
    assert list(engine.recommend([user], k=5)[0].items) == list(top[0])


def test_new_item_is_recommended_at_once_and_survives_a_restart(work):
    _, config = work
    features = features_for(config)
    engine = load_engine(config, embedder=clone_embedder(features, config), features=features)
    user, history = user_with_history(config)
    before = engine.recommend_for_history(history, k=5)
    fields = clone_fields(config, before.items[0])
    engine.add_item("clone-1", fields)
    vectors = engine._item_vectors(engine._catalogue)
    col, original = engine.columns(["clone-1", before.items[0]], "test")
    assert torch.allclose(vectors[col], vectors[original], atol=1e-5)
    after = engine.recommend_for_history(history, k=6)
    assert "clone-1" in after.items
    assert "clone-1" in engine.recommend([user], k=len(engine.item_ids))[0].items
    assert engine.similar_items("clone-1", k=3).items
    restarted = load_engine(config, embedder=clone_embedder(features, config),
                            features=features)
    assert restarted.n_added == 1 and "clone-1" in restarted.item_ids
    assert restarted.recommend_for_history(history, k=6).items == after.items
    with pytest.raises(Exception, match="already exists"):
        restarted.add_item("clone-1", fields)


def test_ann_index_matches_exact_search(work):
    pytest.importorskip("faiss")
    _, config = work
    features = features_for(config)
    exact = load_engine(config, features=features)
    for overrides in ({"enabled": True},
                      {"enabled": True, "approximate_above": 10, "index_type": "hnsw",
                       "hnsw_m": 8, "hnsw_ef_search": 64, "recall_check_users": 7},
                      {"enabled": True, "approximate_above": 10, "index_type": "ivf",
                       "ivf_nprobe": 64}):
        config.recommendation.ann = config.recommendation.ann.model_copy(update=overrides)
        ann = load_engine(config, features=features)
        assert ann.ann is not None
        users = exact.known_users.tolist()
        got, want = ann.recommend(users, 5), exact.recommend(users, 5)
        overlap = np.mean([len(set(a.items) & set(b.items)) / 5
                           for a, b in zip(got, want, strict=True)])
        assert overlap >= (0.999 if not ann.ann.approximate else 0.8)
        if ann.ann.approximate:
            assert ann.ann.report[f"recall@{config.recommendation.top_k}"] >= 0.8
        if overrides.get("index_type") == "hnsw":
            assert ann.ann.kind == "hnsw (M=8, efSearch=64)"
            assert ann.ann.report["recall_users"] == 7
        if overrides.get("index_type") == "ivf":
            assert ann.ann.index.nprobe == min(64, ann.ann.index.nlist)


def test_without_faiss_exact_search_is_used_with_a_clear_message(work, monkeypatch):
    import pixelrec.inference.ann as ann_module

    _, config = work
    monkeypatch.setattr(ann_module, "faiss_available", lambda: False)
    config.recommendation.ann = config.recommendation.ann.model_copy(update={"enabled": True})
    with pytest.warns(UserWarning, match="faiss-cpu is not installed"):
        engine = load_engine(config, features=features_for(config))
    assert engine.ann is None and engine.recommend(engine.known_users[:2].tolist(), 3)


def test_auto_builds_an_approximate_index_only_from_approximate_above_items(work, monkeypatch):
    import pixelrec.inference.ann as ann_module

    _, config = work
    n = len(load_engine(config, "als").model.item_ids_)
    below = config.model_copy(deep=True)  # the default: auto, 100k items
    assert below.recommendation.ann.enabled == "auto"
    assert load_engine(below, "als").ann is None
    above = config.model_copy(deep=True)
    above.recommendation.ann = above.recommendation.ann.model_copy(
        update={"approximate_above": n, "recall_check_users": 5})
    engine = load_engine(above, "als")
    assert engine.ann is not None and engine.ann.approximate
    assert 0.0 <= engine.ann.report[f"recall@{above.recommendation.top_k}"] <= 1.0
    monkeypatch.setattr(ann_module, "faiss_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # auto without faiss: exact search, no warning
        assert load_engine(above, "als").ann is None


def test_repeats_are_hits_lets_known_items_come_back(work):
    _, config = work
    config = config.model_copy(deep=True)
    config.data.filtering.repeats = "keep"
    config.evaluation.repeats_are_hits = True
    engine = load_engine(config, "popularity")
    user, history = user_with_history(config)
    known = known_interactions(config)
    seen = set(known.loc[known["user_id"] == user, "item_id"])
    n = len(engine.model.item_ids_)
    assert seen and set(engine.recommend([user], k=n)[0].items) >= seen  # nothing masked
    assert set(engine.recommend_for_history(history, k=n).items) >= set(history)


def test_engine_scores_from_every_known_interaction_unless_told_not_to(work):
    _, config = work
    known = known_interactions(config)
    folded = load_engine(config, "popularity").model
    counts = known["item_id"].value_counts().reindex(folded.item_ids_, fill_value=0)
    assert folded.item_popularity_.tolist() == counts.tolist()
    train_only = load_engine(config, "popularity", fold_in=False).model
    assert train_only.item_popularity_.sum() < folded.item_popularity_.sum()
