"""Bootstrap intervals and the paired randomisation test."""

from __future__ import annotations

import numpy as np
import pytest

from pixelrec.evaluation.stats import bootstrap_ci, paired_test


def test_constant_metric_has_a_degenerate_interval():
    ci = bootstrap_ci({"m": np.full(30, 0.25)}, samples=200, seed=0)
    assert ci["m"] == pytest.approx([0.25, 0.25])


def test_interval_contains_the_mean_and_is_reproducible():
    values = np.random.default_rng(0).random(200)
    a = bootstrap_ci({"m": values}, samples=300, seed=1)["m"]
    b = bootstrap_ci({"m": values}, samples=300, seed=1)["m"]
    assert a == b and a[0] < values.mean() < a[1]


def test_weighted_metric_uses_its_weights():
    ci = bootstrap_ci({"m": np.array([1.0, 0.0]), "m_weight": np.array([1.0, 0.0])},
                      samples=50, seed=0)
    assert list(ci) == ["m"]
    assert ci["m"][1] == 1.0


def test_constant_improvement_is_significant():
    a = np.random.default_rng(0).random(20)
    out = paired_test(a, a + 0.1, samples=500, seed=0)
    assert out["diff"] == pytest.approx(0.1)
    assert out["ci95"] == pytest.approx([0.1, 0.1])
    assert out["p_value"] < 0.01


def test_identical_results_are_not_significant():
    a = np.random.default_rng(0).random(20)
    out = paired_test(a, a.copy(), samples=200, seed=0)
    assert out["diff"] == 0.0 and out["p_value"] == 1.0


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.05, 0.08, 0.12, -0.05])
@pytest.mark.parametrize("samples", [10, 999, 1000])
def test_ci_excludes_zero_exactly_when_p_is_below_five_percent(shift, samples):
    rng = np.random.default_rng(int(shift * 100) + samples)
    a = rng.random(60)
    b = a + shift + rng.normal(0, 0.3, 60)
    out = paired_test(a, b, samples=samples, seed=3)
    low, high = out["ci95"]
    assert (low > 0 or high < 0) == (out["p_value"] < 0.05)
    assert low <= out["diff"] <= high or samples == 10
