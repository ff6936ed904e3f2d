"""The confusion matrix, per-class top-1 and their PNG, against hand-counted examples."""

import math

import numpy as np
import pytest

from kerascnn.evaluate import metrics
from kerascnn.evaluate.plots import plot_confusion_matrix


def test_counts_rows_true_columns_predicted():
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    labels = np.array([0, 1, 1, 2])
    counts = metrics.confusion_matrix(scores, labels)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(metrics.confusion_matrix(scores, np.eye(3)[labels]), counts)
    assert metrics.per_class_accuracy(counts) == [1.0, 0.5, 1.0]
    four = metrics.confusion_matrix(np.c_[scores, np.zeros(4)], labels, num_classes=4)
    assert math.isnan(metrics.per_class_accuracy(four)[3])  # no example of class 3


def test_per_class_top1_averages_to_top1_with_the_class_sizes():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(200, 7)), rng.integers(0, 7, 200)
    counts = metrics.confusion_matrix(logits, labels)
    sizes = np.bincount(labels, minlength=7)
    weighted = np.nansum(np.array(metrics.per_class_accuracy(counts)) * sizes) / sizes.sum()
    assert weighted == pytest.approx(metrics.topk_accuracy(logits, labels, 1))
    assert counts.sum() == 200


def test_png(tmp_path):
    from PIL import Image

    path = tmp_path / "c.png"
    plot_confusion_matrix([[5, 1], [0, 4]], path, class_names=["cat", "dog"], title="test")
    assert Image.open(path).size[0] > 100 and not list(tmp_path.glob(".*tmp"))
