"""Every registered model: builds small, finite outputs, .keras round trip, gradients."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import kerascnn

BIG = {"resnet101", "resnet152", "resnet110"}


def params():
    for name in kerascnn.list_models():
        marks = [pytest.mark.slow] if name in BIG else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", params())
def test_model_contract(name, tmp_path):
    model = kerascnn.create_model(name, input_shape=(32, 32, 3), classes=7)
    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    y = model(x, training=False)
    assert y.shape == (3, 7)
    assert np.all(np.isfinite(np.asarray(y)))

    path = tmp_path / f"{name}.keras"
    model.save(path)
    again = keras.saving.load_model(path)  # no custom_objects
    np.testing.assert_allclose(np.asarray(again(x, training=False)), np.asarray(y), atol=1e-5)

    labels = tf.one_hot([0, 3, 6], 7)
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = keras.losses.categorical_crossentropy(labels, logits, from_logits=True)
    grads = tape.gradient(loss, model.trainable_weights)
    missing = [w.path for w, g in zip(model.trainable_weights, grads) if g is None]
    assert not missing, f"no gradient for {missing[:5]}"
    zero = [w.path for w, g in zip(model.trainable_weights, grads)
            if not np.any(np.asarray(g))]
    assert not zero, f"all-zero gradient for {zero[:5]}"
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
