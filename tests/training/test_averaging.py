"""Weight averaging (`training.ema_decay`): hand-computed EMA, and exact resume with it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pixelrec.training import train_model
from pixelrec.training.averaging import WeightAverage
from pixelrec.training.checkpoint import load_checkpoint
from tests.training.conftest import interrupt_and_resume, synthetic_features


def test_average_follows_the_warm_up_decay_and_swaps_back():
    layer = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    ema = WeightAverage(layer, decay=0.5)
    with torch.no_grad():
        layer.weight.fill_(3.0)
    ema.update()  # decay min(0.5, 1/10) = 0.1: 0.1 * 1 + 0.9 * 3
    assert ema.shadow["weight"].item() == pytest.approx(2.8)
    with torch.no_grad():
        layer.weight.fill_(5.0)
    ema.update()  # decay min(0.5, 2/11)
    d = 2 / 11
    assert ema.shadow["weight"].item() == pytest.approx(d * 2.8 + (1 - d) * 5.0)
    with ema.averaged():
        assert layer.weight.item() == pytest.approx(d * 2.8 + (1 - d) * 5.0)
    assert layer.weight.item() == 5.0
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(layer, decay=1.0)


def test_checkpoints_hold_the_average_and_resume_is_exact(train_config):
    config = train_config(training__epochs=3, training__ema_decay=0.9)
    features = synthetic_features(config)
    full = train_model(config, device="cpu", features=features)
    reference = load_checkpoint(full["last_checkpoint"])
    for key, value in reference["ema"]["shadow"].items():  # served weights = the average
        assert torch.equal(reference["model_state"][key], value), key
    assert any(not torch.equal(reference["raw_model_state"][k], v)
               for k, v in reference["ema"]["shadow"].items())

    resumed = interrupt_and_resume(config, features)
    final = load_checkpoint(resumed["last_checkpoint"])
    for part in ("model_state", "raw_model_state"):
        for key, value in reference[part].items():
            assert torch.equal(value, final[part][key]), (part, key)
    assert [h["val"] for h in resumed["history"]] == [h["val"] for h in full["history"]]
