"""Devices and torchrun/DistributedDataParallel set-up (gloo on CPU, nccl on CUDA)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from pixelrec.errors import ConfigError


@dataclass
class Context:
    device: torch.device
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto` -> cuda if available, else mps, else cpu; a requested device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda (training.device) was requested but CUDA is not "
                              "available; use --device auto or cpu.")
        return torch.device("cuda", local_rank)
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--device mps (training.device) was requested but MPS is not "
                          "available; use --device auto or cpu.")
    return torch.device(name)


def setup(device_name: str) -> Context:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group(backend=backend)
    return Context(device, rank, world)


def teardown(ctx: Context) -> None:
    if ctx.world > 1 and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def broadcast(ctx: Context, value):
    """Rank 0's `value` on every rank."""
    if ctx.world == 1:
        return value
    box = [value]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]
