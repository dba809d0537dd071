"""Beyond-accuracy metrics on a two-user, four-item case computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pixelrec.evaluation.beyond import beyond_accuracy, gini

TOP = np.array([[0, 1], [0, 2]])
POP = np.array([3.0, 2.0, 1.0, 0.0])
EMB = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])


def test_hand_computed_values():
    out = beyond_accuracy(TOP, POP, n_train_users=3, head_fraction=0.25, embeddings=EMB)
    assert out["k"] == 2
    assert out["coverage"] == 0.75
    assert out["gini"] == pytest.approx(0.375)  # exposure [2, 1, 1, 0]
    info = [-math.log2(4 / 4), -math.log2(3 / 4), -math.log2(2 / 4)]
    assert out["novelty"] == pytest.approx(((info[0] + info[1]) / 2 + (info[0] + info[2]) / 2) / 2)
    assert out["personalisation"] == pytest.approx(0.5)  # lists share 1 of 2 items
    assert out["long_tail_share"] == 0.5  # head = item 0
    assert out["average_popularity"] == pytest.approx(2.25)
    assert out["intra_list_diversity"] == pytest.approx((1 + (1 - 1 / math.sqrt(2))) / 2)


def test_without_embeddings_diversity_is_none_and_padding_is_ignored():
    top = np.array([[0, -1], [1, 2]])
    out = beyond_accuracy(top, POP, n_train_users=3, head_fraction=0.25)
    assert out["intra_list_diversity"] is None
    assert out["coverage"] == 0.75
    assert out["average_popularity"] == pytest.approx((3 + 1.5) / 2)
    assert out["long_tail_share"] == pytest.approx(2 / 3)


def test_identical_lists_have_zero_personalisation():
    out = beyond_accuracy(np.array([[0, 1], [1, 0]]), POP, n_train_users=3)
    assert out["personalisation"] == pytest.approx(0.0)


def test_gini_equal_and_concentrated_exposure():
    assert gini(np.array([2, 2, 2, 2])) == 0.0
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)
