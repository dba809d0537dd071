"""Training with cached augmented views (frozen encoders): one view per item per epoch, drawn
reproducibly; ranking (validation, evaluation, inference) only ever sees the clean vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelrec.training import train_model
from pixelrec.training.distributed import Context
from pixelrec.training.trainer import Trainer
from tests.training.conftest import synthetic_features

AUGMENT = {"data__image_augmentation__enabled": True, "data__image_augmentation__cached_views": 2}


def synthetic_views(features, n_views=2, seed=1):
    """Noisy copies of the clean image vectors (same missing items)."""
    rng = np.random.default_rng(seed)
    vectors, mask = features["image"]
    out = []
    for _ in range(n_views):
        view = vectors + rng.normal(scale=0.5, size=vectors.shape).astype(np.float32)
        view[~mask] = 0.0
        out.append((view, mask))
    return {"image": out}


def normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def test_each_epoch_draws_one_view_per_item_reproducibly(train_config):
    config = train_config(**AUGMENT)
    features = synthetic_features(config)
    views = synthetic_views(features)
    trainer = Trainer(config, Context(torch.device("cpu")), features=features, views=views)
    first, second = trainer.view_choice(0)["image"], trainer.view_choice(1)["image"]
    assert set(np.unique(first)) == {0, 1, 2}  # clean + both views
    assert (first != second).mean() > 0.4  # redrawn every epoch
    again = Trainer(config, Context(torch.device("cpu")), features=features, views=views)
    np.testing.assert_array_equal(again.view_choice(0)["image"], first)

    table = trainer.epoch_views(0)["image"].numpy()
    clean, mask = features["image"]
    sources = [normalised(clean)] + [normalised(v) for v, _ in views["image"]]
    for item in np.flatnonzero(mask):
        np.testing.assert_allclose(table[item], sources[first[item]][item], atol=1e-6)


def test_ranking_never_sees_views_and_training_does(train_config):
    config = train_config(**AUGMENT)
    features = synthetic_features(config)
    trainer = Trainer(config, Context(torch.device("cpu")), features=features,
                      views=synthetic_views(features))
    net, rec = trainer.network, trainer.recommender
    rows = torch.arange(net.item_tower.n_items)
    rec.refresh()
    clean_vectors = rec.item_vectors_.clone()
    net.train()
    clean_tokens = net.item_tower.modality_tokens(rows)["image"].detach()

    trainer.begin_epoch()  # binds epoch 0's views
    rec.refresh()  # eval mode, as in validation
    torch.testing.assert_close(rec.item_vectors_, clean_vectors, rtol=0, atol=0)
    net.train()
    augmented_tokens = net.item_tower.modality_tokens(rows)["image"].detach()
    changed = (augmented_tokens - clean_tokens).abs().sum(1) > 1e-6
    assert changed.float().mean() > 0.4  # roughly the 2/3 of items showing a view
    trainer.end_epoch()
    assert net.item_tower.train_vectors == {}


def test_views_change_training_but_not_how_a_checkpoint_ranks(train_config):
    from pixelrec.models.multimodal import load_multimodal_recommender

    config = train_config(training__epochs=1, **AUGMENT)
    features = synthetic_features(config)
    plain = train_model(config.model_copy(deep=True), device="cpu", features=features)
    with_views = train_model(config, device="cpu", features=features,
                             views=synthetic_views(features))
    assert plain["history"][0]["train_loss"] != with_views["history"][0]["train_loss"]
    loaded = load_multimodal_recommender(config, features=features)
    off = config.model_copy(deep=True)
    off.data.image_augmentation.enabled = False
    off.data.image_augmentation.cached_views = 0
    same = load_multimodal_recommender(off, features=features)
    torch.testing.assert_close(loaded.item_vectors_, same.item_vectors_, rtol=0, atol=0)


def test_frozen_augmentation_without_views_warns(train_config):
    config = train_config(data__text_augmentation__enabled=True, training__epochs=1)
    with pytest.warns(UserWarning, match="cached_views is 0"):
        Trainer(config, Context(torch.device("cpu")), features=synthetic_features(config))


def test_real_cache_end_to_end_evaluation_ignores_views(train_config, tiny_models):
    """precompute with views -> train (reads them from the cache) -> evaluate / recommend: the
    same numbers as for a config without views."""
    from pixelrec.evaluation import evaluate_recommender
    from pixelrec.features import precompute
    from pixelrec.models.multimodal import load_multimodal_recommender

    encoders = {"model__vision_model": f"hf:{tiny_models('resnet')}",
                "model__language_model": f"hf:{tiny_models('bert')}"}
    config = train_config(training__epochs=1, data__text_augmentation__enabled=True,
                          data__text_augmentation__cached_views=1,
                          data__text_augmentation__random_delete_prob=0.5, **AUGMENT, **encoders)
    summary = precompute(config, progress=False)
    assert summary["image"]["views"]["computed"] == 2 * summary["items"]
    trainer = Trainer(config, Context(torch.device("cpu")))
    assert [len(trainer.views[m]) for m in ("image", "text")] == [2, 1]  # read from the cache
    train_model(config, device="cpu")
    plain = train_config(training__epochs=1, **encoders)
    assert plain.data.image_augmentation.cached_views == 0
    with_views = load_multimodal_recommender(config)
    without = load_multimodal_recommender(plain)
    torch.testing.assert_close(with_views.item_vectors_, without.item_vectors_, rtol=0, atol=0)
    torch.testing.assert_close(with_views.user_vectors_, without.user_vectors_, rtol=0, atol=0)
    a = evaluate_recommender(config, "multimodal")["metrics"]
    b = evaluate_recommender(plain, "multimodal")["metrics"]
    assert a == b
