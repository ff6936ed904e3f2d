"""The loss at initialization against ln C (the notes' first check)."""

import math

import numpy as np
import pytest
import tensorflow as tf

import keras
from kerascnn.train import sanity


def dataset(num_classes=10, n=64, one_hot=True, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = rng.integers(0, num_classes, n)
    labels = np.eye(num_classes, dtype="float32")[y] if one_hot else y
    return tf.data.Dataset.from_tensor_slices((x, labels)).batch(16)


def classifier(num_classes=10, scale=0.0):
    inp = keras.Input((6,))
    dense = keras.layers.Dense(num_classes)
    model = keras.Model(inp, dense(inp))
    kernel = np.random.default_rng(1).normal(size=(6, num_classes)).astype("float32") * scale
    dense.set_weights([kernel, np.zeros(num_classes, "float32")])
    return model


@pytest.mark.parametrize("one_hot", [True, False])
def test_zero_logits_give_exactly_ln_c(one_hot):
    """Uniform predictions: -log(1 / C) = ln C for every example, whatever its label."""
    result = sanity.check_initial_loss(classifier(), dataset(one_hot=one_hot))
    assert result.expected == pytest.approx(math.log(10))
    assert result.loss == pytest.approx(math.log(10), abs=1e-6) and result.ok


def test_confident_random_logits_warn():
    with pytest.warns(UserWarning, match=r"loss at initialization is [0-9.]+, far from ln 10"):
        result = sanity.check_initial_loss(classifier(scale=30.0), dataset())
    assert not result.ok and result.loss > 3 * math.log(10)


def test_matches_keras_cross_entropy():
    model = classifier(scale=1.0)
    ds = dataset(num_classes=10)
    result = sanity.check_initial_loss(model, ds, batches=4)
    x = np.concatenate([b for b, _ in ds]); y = np.concatenate([c for _, c in ds])
    want = keras.losses.CategoricalCrossentropy(from_logits=True)(y, model(x))
    assert result.loss == pytest.approx(float(want), rel=1e-5)


def test_batchnorm_statistics_are_left_as_they_were():
    inp = keras.Input((6,))
    x = keras.layers.BatchNormalization()(keras.layers.Dense(8)(inp))
    model = keras.Model(inp, keras.layers.Dense(10)(x))
    before = [np.array(v) for v in model.non_trainable_variables]
    sanity.check_initial_loss(model, dataset())
    for a, b in zip(before, model.non_trainable_variables):
        np.testing.assert_array_equal(a, np.array(b))
