"""A tiny trained multimodal model, built once per session (read-only: copy before writing)."""

from __future__ import annotations

import pytest
import torch

from tests.inference.helpers import build_trained


@pytest.fixture(scope="session")
def trained(small_demo, tmp_path_factory):
    return build_trained(small_demo, tmp_path_factory.mktemp("trained") / "work")


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
