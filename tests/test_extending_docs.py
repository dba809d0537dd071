"""docs/extending.md: every `python` block runs as written and registers what it says; the
registries are restored afterwards, so nothing leaks into other tests."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelrec.config import load_config
from pixelrec.data.processors import PROCESSORS
from pixelrec.evaluation import TASKS, TOPK_METRICS
from pixelrec.evaluation.metrics import topk_metrics
from pixelrec.features.registry import ENCODERS
from pixelrec.models import RECOMMENDERS, create_recommender, recommender_types
from pixelrec.models.multimodal.fusion import FUSIONS
from pixelrec.testing import block_data
from pixelrec.training.losses import LOSSES

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
REGISTRIES = [FUSIONS, LOSSES, RECOMMENDERS, PROCESSORS, TOPK_METRICS, TASKS, *ENCODERS.values()]
# what each example registers: (registry, name)
EXPECTED = [(ENCODERS["text"], "letters"), (FUSIONS, "max"), (LOSSES, "hinge"),
            (RECOMMENDERS, "cooccurrence"), (PROCESSORS, "strip_boilerplate"),
            (TOPK_METRICS, "dcg"), (TASKS, "r_precision")]


@pytest.fixture
def examples():
    recommender_types()  # register the built-in recommenders before the snapshot
    saved = [dict(r) for r in REGISTRIES]
    try:
        for block in BLOCKS:
            exec(compile(block, str(DOC), "exec"), {"__name__": "extending_example"})  # noqa: S102
        yield
    finally:
        for registry, before in zip(REGISTRIES, saved, strict=True):
            registry.clear()
            registry.update(before)


def test_every_block_is_an_example_that_registers_its_name(examples):
    assert len(BLOCKS) == len(EXPECTED)
    for registry, name in EXPECTED:
        assert name in registry, name


def test_the_examples_work(examples):
    assert list(PROCESSORS)[:2] == ["text", "strip_boilerplate"]
    train, _, items = block_data()
    model = create_recommender("cooccurrence", load_config(None)).fit(train, items=items)
    assert model.score(["u0_0"]).shape == (1, len(items))
    out = topk_metrics(np.array([[False, True]]), np.array([1.0]), [2])
    assert out["dcg@2"][0] == pytest.approx(1 / np.log2(3))
    fusion = FUSIONS["max"](2, 4, 3, None)
    assert fusion(torch.ones(5, 2, 4)).shape == (5, 3)
    assert LOSSES["hinge"]()(torch.zeros(2), torch.zeros(2, 3)).item() == 1.0
    assert load_config(None, ["model.language_model=letters"]).model.language_model == "letters"


def test_registries_are_restored():
    for registry, name in EXPECTED:
        assert name not in registry
