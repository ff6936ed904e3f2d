"""Top-k accuracy and cross-entropy against hand-computed cases and NumPy."""

import numpy as np
import pytest

from kerascnn import evaluate


def test_topk_hand_case():
    logits = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = np.array([1, 1, 0, 2])
    # top-1 right on row 0 only; top-2 adds row 1 (0.3 is second); row 2's label 0 is third.
    assert evaluate.topk_accuracy(logits, labels, 1) == 0.25
    assert evaluate.topk_accuracy(logits, labels, 2) == 0.5
    assert evaluate.topk_accuracy(logits, labels, 3) == 1.0
    one_hot = np.eye(3)[labels]
    assert evaluate.topk_accuracy(logits, one_hot, 2) == 0.5


def test_topk_bad_k():
    with pytest.raises(ValueError, match="k must be in"):
        evaluate.topk_accuracy(np.zeros((2, 3)), np.zeros(2, int), 4)


def test_cross_entropy_is_stable_and_correct():
    logits = np.array([[1000.0, 0.0], [0.0, 2.0]])
    labels = np.array([0, 0])
    # row 0: -log softmax = log(1 + e^-1000) ~ 0; row 1: log(1 + e^2)
    assert evaluate.cross_entropy(logits, labels) == pytest.approx(np.log1p(np.exp(2.0)) / 2)
    assert np.isfinite(evaluate.cross_entropy(np.array([[-1e4, 1e4]]), np.array([0])))
