"""Fine-tuning encoders (`model.freeze_vision` / `model.freeze_language` false) with tiny models:
gradients reach the unfrozen encoder only, frozen ones stay in eval mode, augmentation is applied
on the fly in training and never when ranking, and checkpoints carry the fine-tuned weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pixelrec.features.compute import read_items
from pixelrec.features.registry import resolve_text, resolve_vision
from pixelrec.models.multimodal.encoders import EncoderModule
from pixelrec.training.distributed import Context
from pixelrec.training.optim import build_optimizer
from pixelrec.training.trainer import Trainer
from tests.training.conftest import synthetic_features

CPU = Context(torch.device("cpu"))


def encoder_config(train_config, tiny_models, *, vision=True, text=True, **overrides):
    model = {"model__vision_model": f"hf:{tiny_models('resnet')}" if vision else None,
             "model__language_model": f"hf:{tiny_models('bert')}" if text else None}
    return train_config(training__batch_size=64, **model, **overrides)


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict, module: torch.nn.Module) -> list[str]:
    return [k for k, v in module.state_dict().items() if not torch.equal(before[k], v)]


def one_step(trainer: Trainer, optimizer) -> None:
    trainer.begin_epoch()
    trainer.network.train()
    batch = next(trainer.data.batches(0, trainer.local_batch))
    optimizer.zero_grad()
    trainer.network(batch)["loss"].backward()
    optimizer.step()


def test_frozen_by_default_no_encoder_in_the_graph(train_config):
    config = train_config()
    trainer = Trainer(config, CPU, features=synthetic_features(config))
    assert len(trainer.network.item_tower.encoders) == 0
    assert len(trainer.optimizer.param_groups) == 2


def test_one_step_updates_the_unfrozen_encoder_only(train_config, tiny_models):
    config = encoder_config(train_config, tiny_models, model__freeze_vision=False,
                            model__freeze_language=False,
                            training__encoder_learning_rate=1e-3)
    trainer = Trainer(config, CPU)
    encoders = trainer.network.item_tower.encoders
    assert set(encoders) == {"image", "text"}
    groups = trainer.optimizer.param_groups
    assert [g["base_lr"] for g in groups] == [0.01, 0.01, 1e-3, 1e-3]
    assert groups[2]["lr"] == pytest.approx(1e-3)

    encoders["image"].set_trainable(False)  # a frozen encoder inside the training graph
    trainer.network.train()
    assert encoders["text"].training and not encoders["image"].training
    assert not any(p.requires_grad for p in encoders["image"].parameters())
    text_before, image_before = weights(encoders["text"]), weights(encoders["image"])
    one_step(trainer, build_optimizer(trainer.network, config.training))
    assert changed(text_before, encoders["text"])  # gradients reached the fine-tuned encoder
    assert changed(image_before, encoders["image"]) == []  # BatchNorm statistics included
    assert all(p.grad is None for p in encoders["image"].parameters())


def test_fine_tuned_checkpoint_round_trip(train_config, tiny_models):
    from pixelrec.features.encoders import load_encoder
    from pixelrec.models.multimodal import load_multimodal_recommender
    from pixelrec.training.checkpoint import load_checkpoint

    config = encoder_config(train_config, tiny_models, vision=False,
                            model__freeze_language=False, training__epochs=1,
                            training__encoder_learning_rate=1e-3)
    trainer = Trainer(config, CPU)
    pretrained = weights(trainer.network.item_tower.encoders["text"])
    trainer.fit()
    state = load_checkpoint(Path(config.checkpoint_dir) / "last.pt")
    assert state["fine_tuned"] == ["text"]
    saved = {k[len("item_tower.encoders.text."):]: v for k, v in state["model_state"].items()
             if k.startswith("item_tower.encoders.text.")}
    assert saved.keys() == pretrained.keys()
    assert any(not torch.equal(saved[k], v) for k, v in pretrained.items())

    loaded = load_multimodal_recommender(config, "last")
    tower = loaded.network.item_tower
    for key, value in tower.encoders["text"].state_dict().items():
        assert torch.equal(value, saved[key]), key
    # the ranking vectors are those the trainer validated with, from the fine-tuned encoder
    torch.testing.assert_close(loaded.item_vectors_, trainer.recommender.item_vectors_)
    texts = read_items(config).texts
    with torch.no_grad():
        tuned = torch.nn.functional.normalize(tower.encoders["text"](texts), dim=-1)
    present = tower.m_text
    torch.testing.assert_close(tower.x_text[present], tuned[present])
    spec = resolve_text(config.model.language_model, config.features.max_text_length)
    original = torch.nn.functional.normalize(
        torch.as_tensor(load_encoder(spec, "cpu").encode(texts)), dim=-1)
    assert not torch.allclose(tower.x_text[present], original[present], atol=1e-3)
    assert not (Path(config.data.cache_config.cache_directory)).exists()  # no cache involved
    loaded.network.train()
    assert not tower.encoders["text"].training  # inference copies stay frozen

    # serving a new item embeds it with the fine-tuned encoder too
    from pixelrec.inference.content import ContentModel, EncoderEmbedder

    content = ContentModel(loaded, config, state["tag_vocab"], state["numeric_cols"])
    embedder = EncoderEmbedder(config, content.dims, content.encoders)
    k = int(np.flatnonzero(present.numpy())[0])
    vector, ok = embedder(None, texts[k])["text"]
    assert ok[0]
    np.testing.assert_allclose(vector[0] / np.linalg.norm(vector[0]), tower.x_text[k].numpy(),
                               atol=1e-5)


def test_image_augmentation_on_the_fly_in_training_only(train_config, tiny_models):
    config = encoder_config(train_config, tiny_models, text=False, model__freeze_vision=False,
                            data__image_augmentation__enabled=True,
                            data__image_augmentation__blur_prob=0.5)
    trainer = Trainer(config, CPU)
    tower = trainer.network.item_tower
    assert set(tower.augment) == {"image"}
    sizes = {"image": 16}
    clean_table = tower.x_image.clone()
    tower.augment_rng = np.random.default_rng(0)
    tower.encode_catalogue(sizes)  # eval: no augmentation even with a generator bound
    torch.testing.assert_close(tower.x_image, clean_table, rtol=0, atol=0)

    rows = torch.as_tensor(np.flatnonzero(tower.m_image.numpy())[:8])
    tower.train()

    def live_tokens(seed):
        tower.augment_rng = np.random.default_rng(seed)
        with torch.no_grad():
            return tower.modality_tokens(rows, live=rows)["image"]

    a, b, c = live_tokens(1), live_tokens(1), live_tokens(2)
    torch.testing.assert_close(a, b, rtol=0, atol=0)  # reproducible from the generator
    assert not torch.allclose(a, c, atol=1e-4)  # another draw, other views
    saved = tower.augment
    tower.augment = {}
    plain = live_tokens(1)
    tower.augment = saved
    assert not torch.allclose(a, plain, atol=1e-4)  # augmentation was applied

    before = weights(tower.encoders["image"])
    one_step(trainer, trainer.optimizer)
    assert changed(before, tower.encoders["image"])


def test_resume_with_a_fine_tuned_encoder_is_exact(train_config, tiny_models):
    from pixelrec.training import train_model
    from pixelrec.training.checkpoint import load_checkpoint

    config = encoder_config(train_config, tiny_models, vision=False,
                            model__freeze_language=False, training__epochs=2,
                            data__text_augmentation__enabled=True)
    full = train_model(config, device="cpu")
    reference = load_checkpoint(full["last_checkpoint"])["model_state"]

    def interrupt(record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(config, device="cpu", callbacks=[interrupt])
    resumed = train_model(config, device="cpu", resume="last")
    final = load_checkpoint(resumed["last_checkpoint"])["model_state"]
    for key, value in reference.items():
        assert torch.equal(value, final[key]), key


def test_trainable_efficientnet_matches_the_frozen_cache_encoder():
    from pixelrec.features.encoders import load_encoder

    spec = resolve_vision("efficientnet-lite0")
    module = EncoderModule(spec)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(2, 224, 224, 3), dtype=np.uint8)
    module.eval()
    with torch.no_grad():
        eager = module(pixels)
    cached = load_encoder(spec, "cpu").encode(pixels)  # the traced graph precompute uses
    assert eager.shape == (2, 1280)
    np.testing.assert_allclose(eager.numpy(), cached, atol=1e-3)
    module.train()
    module(pixels[:1]).sum().backward()
    grads = [p.grad for p in module.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_encoders_see_only_batch_items_in_training_and_the_catalogue_once_per_epoch(
        train_config, tiny_models, monkeypatch):
    config = encoder_config(train_config, tiny_models, vision=False,
                            model__freeze_language=False, training__epochs=1)
    trainer = Trainer(config, CPU)
    calls = []
    real = EncoderModule.forward

    def spy(self, raw):
        calls.append((self.training, torch.is_grad_enabled(), len(raw)))
        return real(self, raw)

    monkeypatch.setattr(EncoderModule, "forward", spy)
    tower = trainer.network.item_tower
    batch = next(trainer.data.sequence_batches(0, trainer.local_batch,
                                               trainer.sequence_length))
    trainer.begin_epoch()
    trainer.network.train()
    trainer.network(batch)
    batch_items = torch.unique(batch["targets"][batch["targets"] >= 0])
    history = batch["seq"].flatten()
    assert len(set(history[history >= 0].tolist()) - set(batch_items.tolist())) > 0
    # the targets only: not the history items, nor the other softmax candidates
    assert calls == [(True, True, int(tower.m_text[batch_items].sum()))]

    calls.clear()
    trainer.fit()
    eval_calls = [c for c in calls if not c[0]]
    n_items, size = tower.n_items, config.features.text_batch_size
    assert len(eval_calls) == -(-n_items // size)  # one pass over the catalogue, in chunks
    assert all(not grad and n <= size for _, grad, n in eval_calls)
    assert all(train and grad for train, grad, _ in calls if train)
