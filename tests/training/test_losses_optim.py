"""Losses on hand-computed values; learning-rate schedules and weight-decay groups."""

from __future__ import annotations

import math

import pytest
import torch

from pixelrec.config.model import ModelConfig, TrainingConfig
from pixelrec.training.losses import LOSSES, build_loss
from pixelrec.training.optim import LRSchedule, build_optimizer


def test_registry_holds_the_three_losses():
    assert set(LOSSES) >= {"bce", "bpr", "softmax"}
    with pytest.raises(ValueError, match="registered"):
        build_loss("nope")


def test_bpr_and_bce_values():
    pos, neg = torch.tensor([2.0]), torch.tensor([[0.0, 1.0]])
    bpr = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert float(build_loss("bpr")(pos, neg)) == pytest.approx(bpr)
    bce = (math.log1p(math.exp(-2.0)) + math.log(2.0) + math.log1p(math.exp(1.0))) / 3
    assert float(build_loss("bce")(pos, neg)) == pytest.approx(bce)


def test_softmax_masks_invalid_candidates_and_applies_log_q():
    logits = torch.tensor([[1.0, 5.0, 0.0], [0.0, 2.0, 1.0]])
    valid = torch.tensor([[True, False, True], [True, True, True]])
    log_q = torch.tensor([0.0, 0.0, math.log(0.5)])
    loss = float(build_loss("softmax")(logits, torch.tensor([0, 1]), valid, log_q))
    row0 = -1.0 + math.log(math.exp(1.0) + math.exp(0.0 - math.log(0.5)))
    row1 = -2.0 + math.log(math.exp(0.0) + math.exp(2.0) + math.exp(1.0 - math.log(0.5)))
    assert loss == pytest.approx((row0 + row1) / 2, rel=1e-5)


def schedule(**cfg):
    params = [torch.nn.Parameter(torch.zeros(2, 2))]
    opt = torch.optim.SGD(params, lr=1.0)
    return LRSchedule(opt, TrainingConfig(learning_rate=1.0, epochs=2, **cfg), 10), opt


def test_warmup_then_cosine():
    sched, opt = schedule(scheduler="cosine", warmup_steps=4)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(20):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4 + 8] == pytest.approx(0.5)  # half-way through the 16 post-warmup steps
    assert lrs[20] == pytest.approx(0.0)


def test_reduce_on_plateau_and_state_roundtrip():
    sched, opt = schedule(scheduler="reduce_on_plateau", scheduler_patience=1,
                          scheduler_gamma=0.5)
    for score in (0.3, 0.2, 0.2):
        sched.epoch_end(score)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5)
    again, opt2 = schedule(scheduler="reduce_on_plateau")
    again.load_state_dict(sched.state_dict())
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.5)


def test_weight_decay_skips_biases_and_temperature():
    from pixelrec.models.multimodal.contrastive import ContrastiveAlignment

    model = torch.nn.ModuleDict({"lin": torch.nn.Linear(3, 2), "c": ContrastiveAlignment(0.1)})
    opt = build_optimizer(model, TrainingConfig(optimizer="adamw", weight_decay=0.1))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and [p.shape for p in decay["params"]] == [(2, 3)]
    assert any(p is model["c"].log_scale for p in no_decay["params"])
    sgd = build_optimizer(model, TrainingConfig(optimizer="sgd", momentum=0.8))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.8


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(fusion_type="attention", embedding_dim=10, num_attention_heads=4)
    with pytest.raises(ValueError, match="val_loss"):
        TrainingConfig(validation_metric="auc")
    with pytest.raises(ValueError):
        TrainingConfig(loss="hinge")
