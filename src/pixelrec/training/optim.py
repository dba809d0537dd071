"""Optimisers and learning-rate schedules (linear warmup, then cosine / step / plateau).

Id-embedding tables with sparse gradients (`training.sparse_embeddings`) step with `LazyAdam`:
only the rows a batch touched are read and written, so a step costs what the batch uses, not
what the catalogue holds.
"""

from __future__ import annotations

import math

import torch
from torch import nn

OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}


ENCODER_PREFIX = "item_tower.encoders."


# `training.sparse_embeddings: auto` turns sparse id tables on above this many rows: below it a
# dense step over the whole table is cheap (measured here: AdamW over a 1M x 64 table takes
# 0.42 s a step, 0.04 s sparse; at 10k rows both are about 1 ms).
SPARSE_EMBEDDINGS_ABOVE = 100_000


def use_sparse_embeddings(cfg, network: nn.Module, ctx) -> bool:
    """Whether `network.id_tables()` get sparse gradients (`training.sparse_embeddings`).

    `auto`: when a table has more than `SPARSE_EMBEDDINGS_ABOVE` rows, the optimiser is Adam(W)
    and the run is not multi-GPU (DistributedDataParallel reduces sparse gradients over gloo,
    not nccl).
    """
    from pixelrec.errors import ConfigError

    setting = cfg.sparse_embeddings
    nccl = ctx.world > 1 and ctx.device.type == "cuda"
    if setting == "auto":
        rows = max((t.num_embeddings for t in network.id_tables()), default=0)
        return rows > SPARSE_EMBEDDINGS_ABOVE and not nccl and cfg.optimizer != "sgd"
    if setting and nccl:
        raise ConfigError("training.sparse_embeddings: true cannot run multi-GPU "
                          "(DistributedDataParallel reduces sparse gradients over gloo only); "
                          "set it to auto or false.")
    return bool(setting)


def sparse_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Weights of the embedding tables that produce sparse gradients."""
    return [m.weight for m in model.modules()
            if isinstance(m, nn.Embedding) and m.sparse and m.weight.requires_grad]


def build_optimizer(model: nn.Module, cfg) -> torch.optim.Optimizer | Optimizers:
    """Weight decay on weight matrices only: not on biases, norms or the contrastive temperature.

    Fine-tuned encoder weights (`item_tower.encoders.*`) get their own groups at
    `training.encoder_learning_rate`; every group records its peak rate as `base_lr`. Sparse
    embedding tables (see `sparse_parameters`) step with a `LazyAdam` beside the main optimiser.
    """
    sparse = sparse_parameters(model)
    sparse_ids = {id(p) for p in sparse}
    decay, no_decay, enc_decay, enc_no_decay = [], [], [], []
    for name, param in model.named_parameters():
        if not param.requires_grad or id(param) in sparse_ids:
            continue
        skip = param.ndim < 2 or name.endswith("log_scale")
        if name.startswith(ENCODER_PREFIX):
            (enc_no_decay if skip else enc_decay).append(param)
        else:
            (no_decay if skip else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay, "base_lr": cfg.learning_rate},
              {"params": no_decay, "weight_decay": 0.0, "base_lr": cfg.learning_rate}]
    if enc_decay or enc_no_decay:
        groups += [{"params": enc_decay, "weight_decay": cfg.weight_decay,
                    "base_lr": cfg.encoder_learning_rate},
                   {"params": enc_no_decay, "weight_decay": 0.0,
                    "base_lr": cfg.encoder_learning_rate}]
    kwargs = {"lr": cfg.learning_rate}
    if cfg.optimizer == "sgd":
        kwargs["momentum"] = cfg.momentum
    main = OPTIMIZERS[cfg.optimizer](groups, **kwargs)
    if not sparse:
        return main
    lazy = LazyAdam([{"params": sparse, "weight_decay": cfg.weight_decay,
                      "base_lr": cfg.learning_rate}], lr=cfg.learning_rate,
                    decoupled=cfg.optimizer == "adamw")
    return Optimizers([main, lazy])


class LazyAdam(torch.optim.Optimizer):
    """Adam(W) for sparse gradients: moments, weight decay and the update touch only the rows
    present in the gradient (as TensorFlow's LazyAdam; `torch.optim.SparseAdam` has no weight
    decay). Weight decay is decoupled (AdamW) with `decoupled`, else added to the gradient;
    bias correction counts the steps of each row, so a rarely seen row is not under-corrected.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = True) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "decoupled": decoupled})

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 - torch.optim.Optimizer.step
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = (group["lr"], group["betas"], group["eps"],
                                     group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.coalesce() if p.grad.is_sparse else p.grad.to_sparse()
                rows, values = grad.indices()[0], grad.values()
                if len(rows) == 0:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    state["steps"] = torch.zeros(len(p), dtype=torch.long, device=p.device)
                weights = p[rows]
                if wd and group["decoupled"]:
                    weights.mul_(1 - lr * wd)
                elif wd:
                    values = values + wd * weights
                steps = state["steps"][rows] + 1
                state["steps"][rows] = steps
                m = state["exp_avg"][rows].mul_(b1).add_(values, alpha=1 - b1)
                v = state["exp_avg_sq"][rows].mul_(b2).addcmul_(values, values, value=1 - b2)
                state["exp_avg"][rows], state["exp_avg_sq"][rows] = m, v
                shape = (-1,) + (1,) * (p.ndim - 1)
                m_hat = m / (1 - b1 ** steps.to(p.dtype)).view(shape)
                v_hat = v / (1 - b2 ** steps.to(p.dtype)).view(shape)
                p[rows] = weights - lr * m_hat / (v_hat.sqrt() + eps)
        return None


class Optimizers:
    """Several optimisers stepped as one: their groups are one list (the schedule sets every
    group's rate), their states one dict."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict]:
        return [g for opt in self.optimizers for g in opt.param_groups]

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state: dict) -> None:
        states = state.get("optimizers")
        if states is None or len(states) != len(self.optimizers):
            raise ValueError("the saved optimiser state has another layout (sparse embeddings "
                             "on/off?); resume with the training.sparse_embeddings it used")
        for opt, saved in zip(self.optimizers, states, strict=True):
            opt.load_state_dict(saved)


def clip_gradients(params, max_norm: float) -> torch.Tensor:
    """`torch.nn.utils.clip_grad_norm_` that also takes sparse gradients (whose rows are
    coalesced first, so each value is counted once)."""
    params = [p for p in params if p.grad is not None]
    if not any(p.grad.is_sparse for p in params):
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    grads = []
    for p in params:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
            grads.append(p.grad.values())
        else:
            grads.append(p.grad)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.to(g.dtype))
    return total


class LRSchedule:
    """lr = base_lr x warmup(step) x factor per parameter group (base_lr: `learning_rate`, or
    `encoder_learning_rate` for fine-tuned encoders); the factor follows `training.scheduler`.

    `cosine` anneals to 0 over all steps, `step` multiplies by `scheduler_gamma` every
    `scheduler_step_size` epochs, `reduce_on_plateau` does so after `scheduler_patience` epochs
    without validation improvement. Call `step()` per optimiser step and `epoch_end(score)`.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, cfg, steps_per_epoch: int) -> None:
        self.optimizer, self.cfg = optimizer, cfg
        self.total = max(1, steps_per_epoch * cfg.epochs)
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.steps = 0
        self.epochs = 0
        self.factor = 1.0
        self.best = -math.inf
        self.bad = 0
        self._apply()

    def lr(self) -> float:
        """The current rate of the main groups (encoder groups scale from their own peak)."""
        return self.cfg.learning_rate * self.scale()

    def scale(self) -> float:
        """Warmup x schedule factor, applied to every group's `base_lr`."""
        cfg = self.cfg
        warm = min(1.0, (self.steps + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
        if cfg.scheduler == "cosine":
            after = max(0, self.steps - cfg.warmup_steps)
            span = max(1, self.total - cfg.warmup_steps)
            factor = 0.5 * (1.0 + math.cos(math.pi * min(1.0, after / span)))
        elif cfg.scheduler == "step":
            factor = cfg.scheduler_gamma ** (self.steps // (self.steps_per_epoch
                                                             * cfg.scheduler_step_size))
        else:
            factor = self.factor
        return warm * factor

    def _apply(self) -> None:
        scale = self.scale()
        for group in self.optimizer.param_groups:
            group["lr"] = group.get("base_lr", self.cfg.learning_rate) * scale

    def step(self) -> None:
        self.steps += 1
        self._apply()

    def epoch_end(self, score: float) -> None:
        """`score`: the validation value, higher is better."""
        self.epochs += 1
        if self.cfg.scheduler != "reduce_on_plateau":
            return
        if score > self.best:
            self.best, self.bad = score, 0
        else:
            self.bad += 1
            if self.bad > self.cfg.scheduler_patience:
                self.factor *= self.cfg.scheduler_gamma
                self.bad = 0
        self._apply()

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("steps", "epochs", "factor", "best", "bad")}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
        self._apply()
