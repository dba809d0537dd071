"""Sparse id tables (`training.sparse_embeddings`): `LazyAdam` against torch's Adam(W), the
clipping of sparse gradients, and the trainer's switch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pixelrec.config.model import TrainingConfig
from pixelrec.training.distributed import Context
from pixelrec.training.optim import (
    SPARSE_EMBEDDINGS_ABOVE,
    LazyAdam,
    Optimizers,
    build_optimizer,
    clip_gradients,
    use_sparse_embeddings,
)


def _tables(sparse: bool, rows: int = 6, dim: int = 3) -> nn.Embedding:
    torch.manual_seed(0)
    return nn.Embedding(rows, dim, sparse=sparse, dtype=torch.float64)


def _loss(table: nn.Embedding, rows: torch.Tensor) -> torch.Tensor:
    target = torch.arange(table.embedding_dim, dtype=torch.float64)
    return ((table(rows) - target) ** 2).sum()


@pytest.mark.parametrize("decoupled", [True, False])
def test_lazy_adam_equals_torch_adam_when_every_row_is_touched(decoupled):
    dense, sparse = _tables(False), _tables(True)
    reference = (torch.optim.AdamW if decoupled else torch.optim.Adam)(
        dense.parameters(), lr=0.1, weight_decay=0.05)
    lazy = LazyAdam(sparse.parameters(), lr=0.1, weight_decay=0.05, decoupled=decoupled)
    rows = torch.tensor([0, 1, 2, 3, 4, 5, 2])  # a repeated row: its gradients add up
    for _ in range(4):
        for table, opt in ((dense, reference), (sparse, lazy)):
            opt.zero_grad()
            _loss(table, rows).backward()
            opt.step()
    torch.testing.assert_close(sparse.weight, dense.weight, rtol=1e-10, atol=1e-12)


def test_lazy_adam_leaves_untouched_rows_alone_and_corrects_bias_per_row():
    table = _tables(True)
    before = table.weight.detach().clone()
    opt = LazyAdam(table.parameters(), lr=0.1, weight_decay=0.5)
    for rows in ([0, 1], [0, 1], [0, 4]):
        opt.zero_grad()
        _loss(table, torch.tensor(rows)).backward()
        opt.step()
    after = table.weight.detach()
    assert torch.equal(after[[2, 3, 5]], before[[2, 3, 5]])  # no decay, no moment drift
    assert opt.state[table.weight]["steps"].tolist() == [3, 2, 0, 0, 1, 0]
    # row 4's first step is bias-corrected as a first step: it moves by lr on every column
    # whose gradient is non-zero (Adam's first update is lr * sign(grad)), after the decay
    moved = before[4] * (1 - 0.1 * 0.5) - after[4]
    torch.testing.assert_close(moved.abs(), torch.full((3,), 0.1, dtype=torch.float64))


def test_clip_gradients_counts_sparse_rows_once_and_matches_dense_clipping():
    dense, sparse = _tables(False), _tables(True)
    rows = torch.tensor([1, 1, 3])
    for table in (dense, sparse):
        _loss(table, rows).backward()
    norm_dense = torch.nn.utils.clip_grad_norm_(dense.parameters(), 1.0)
    norm_sparse = clip_gradients(sparse.parameters(), 1.0)
    torch.testing.assert_close(norm_sparse, norm_dense)
    torch.testing.assert_close(sparse.weight.grad.to_dense(), dense.weight.grad)
    assert float(torch.linalg.vector_norm(dense.weight.grad)) == pytest.approx(1.0, rel=1e-4)


class _Net(nn.Module):
    def __init__(self, rows: int) -> None:
        super().__init__()
        self.ids = nn.Embedding(rows, 2)
        self.head = nn.Linear(2, 1)

    def id_tables(self) -> list[nn.Embedding]:
        return [self.ids]


def test_auto_turns_sparse_on_above_the_threshold_only():
    cpu = Context(torch.device("cpu"))
    auto = TrainingConfig()
    assert not use_sparse_embeddings(auto, _Net(SPARSE_EMBEDDINGS_ABOVE), cpu)
    assert use_sparse_embeddings(auto, _Net(SPARSE_EMBEDDINGS_ABOVE + 1), cpu)
    assert not use_sparse_embeddings(TrainingConfig(optimizer="sgd"),
                                     _Net(SPARSE_EMBEDDINGS_ABOVE + 1), cpu)
    assert use_sparse_embeddings(TrainingConfig(sparse_embeddings=True), _Net(10), cpu)
    assert not use_sparse_embeddings(TrainingConfig(sparse_embeddings=False),
                                     _Net(SPARSE_EMBEDDINGS_ABOVE + 1), cpu)
    with pytest.raises(ValueError, match="sparse_embeddings"):
        TrainingConfig(sparse_embeddings=True, optimizer="sgd")


def test_build_optimizer_steps_sparse_tables_lazily_and_the_rest_densely():
    net = _Net(5)
    net.ids.sparse = True
    opt = build_optimizer(net, TrainingConfig(learning_rate=0.01, weight_decay=0.1))
    assert isinstance(opt, Optimizers)
    main, lazy = opt.optimizers
    assert isinstance(main, torch.optim.AdamW) and isinstance(lazy, LazyAdam)
    assert {id(p) for g in lazy.param_groups for p in g["params"]} == {id(net.ids.weight)}
    assert all(g["lr"] == 0.01 for g in opt.param_groups)  # one list for the schedule
    net.head(net.ids(torch.tensor([0, 2]))).sum().backward()
    opt.step()
    saved = opt.state_dict()
    again = build_optimizer(net, TrainingConfig(learning_rate=0.01, weight_decay=0.1))
    again.load_state_dict(saved)
    assert again.optimizers[1].state[net.ids.weight]["steps"].tolist() == [1, 0, 1, 0, 0]
    with pytest.raises(ValueError, match="sparse_embeddings"):
        again.load_state_dict(main.state_dict())


def test_training_with_sparse_tables_learns_and_resumes_exactly(train_config):
    from pixelrec.training import train_model
    from pixelrec.training.checkpoint import load_checkpoint
    from tests.training.conftest import interrupt_and_resume, synthetic_features

    config = train_config(training__epochs=3, training__sparse_embeddings=True,
                          model__user_history="mean", training__loss="bpr")
    features = synthetic_features(config)
    full = train_model(config, device="cpu", features=features)
    reference = load_checkpoint(full["last_checkpoint"])
    assert len(reference["optimizer"]["optimizers"]) == 2  # dense groups + LazyAdam
    losses = [h["train_loss"] for h in full["history"]]
    assert losses[-1] < losses[0]

    resumed = interrupt_and_resume(config, features)
    final = load_checkpoint(resumed["last_checkpoint"])["model_state"]
    for key, value in reference["model_state"].items():
        assert torch.equal(value, final[key]), key
