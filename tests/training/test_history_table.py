"""`training.history_vectors: table`: history items read a refreshed table of item vectors
instead of running the item tower (and taking its gradient) in every batch."""

from __future__ import annotations

import math

import pytest
import torch

from pixelrec.training import train_model
from pixelrec.training.distributed import Context
from pixelrec.training.trainer import Trainer
from tests.training.conftest import synthetic_features


def _trainer(train_config, mode: str, history: str = "mean", loss: str = "bpr") -> Trainer:
    config = train_config(training__history_vectors=mode, model__user_history=history,
                          training__loss=loss, training__ema_decay=0.0, model__id_dropout=0.0,
                          model__history_dropout=0.0)
    return Trainer(config, Context(torch.device("cpu")), features=synthetic_features(config))


def _id_grad_rows(trainer: Trainer, batch: dict) -> torch.Tensor:
    """Catalogue rows whose item-id embedding gets a gradient from this batch."""
    net = trainer.network
    net.zero_grad(set_to_none=True)
    net(batch)["loss"].backward()
    return net.item_tower.ids.weight.grad.abs().sum(1).nonzero().squeeze(1)


def test_history_items_read_the_table_and_take_no_tower_gradient(train_config):
    live, table = _trainer(train_config, "live"), _trainer(train_config, "table")
    assert (live.history_table, table.history_table) == (False, True)
    batch = next(iter(table.data.batches(0, 64)))
    net = table.network
    net.train()
    net.refresh_history_table()
    net.eval()
    torch.testing.assert_close(net.history_table, net.item_vectors())  # dropout off, same weights
    net.train()
    id_row = net.item_tower.id_rows
    own = torch.unique(torch.cat([batch["pos"], batch["neg"].flatten()]))
    history = torch.unique(net.history[batch["users"]].flatten())
    history_only = history[(history >= 0) & ~torch.isin(history, own) & (id_row[history] > 0)]
    assert len(history_only) > 0
    trained = _id_grad_rows(table, batch)
    assert set(trained.tolist()) <= set(id_row[own].tolist())
    live.network.train()
    assert set(id_row[history_only].tolist()) <= set(_id_grad_rows(live, batch).tolist())


@pytest.mark.parametrize(("history", "loss"), [("mean", "bpr"), ("transformer", "softmax")])
def test_training_with_the_history_table_learns(train_config, history, loss):
    config = train_config(training__history_vectors="table", training__history_refresh_steps=2,
                          model__user_history=history, training__loss=loss,
                          training__epochs=3)
    summary = train_model(config, device="cpu", features=synthetic_features(config))
    losses = [h["train_loss"] for h in summary["history"]]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert summary["best_val_ndcg@10"] > 0


def test_auto_uses_the_table_for_pooled_histories_above_the_full_softmax_limit(train_config):
    small = _trainer(train_config, "auto")
    assert small.history_table is False
    config = train_config(training__history_vectors="auto", training__full_softmax_max_items=10,
                          model__user_history="mean", training__loss="bpr")
    assert Trainer(config, Context(torch.device("cpu")),
                   features=synthetic_features(config)).history_table is True
    sequential = train_config(training__history_vectors="auto", model__user_history="transformer",
                              training__full_softmax_max_items=10)
    assert Trainer(sequential, Context(torch.device("cpu")),
                   features=synthetic_features(sequential)).history_table is False
