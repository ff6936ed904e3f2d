"""SqueezeExcite: NumPy forward pass, the parameter formula, SE-ResNet-50's extra weights."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from kerascnn.layers.squeeze_excite import SqueezeExcite

RNG = np.random.default_rng(0)


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def se_ref(u, w1, b1, w2, b2, delta, sigma):
    z = u.astype(np.float64).mean(axis=(1, 2))  # squeeze: global average pool
    s = sigma(delta(z @ w1 + b1) @ w2 + b2)  # excitation
    return u * s[:, None, None, :]  # scale


def randomized(layer, shape):
    layer.build(shape)
    layer.set_weights([RNG.standard_normal(w.shape).astype("float32") for w in layer.weights])
    return [np.asarray(w, np.float64) for w in layer.weights]


def test_matches_numpy():
    u = RNG.standard_normal((2, 4, 5, 8)).astype("float32")
    layer = SqueezeExcite(ratio=4)
    w1, b1, w2, b2 = randomized(layer, u.shape)
    assert w1.shape == (8, 2) and w2.shape == (2, 8)
    expected = se_ref(u, w1, b1, w2, b2, lambda t: np.maximum(t, 0), sigmoid)
    np.testing.assert_allclose(np.asarray(layer(u)), expected, rtol=1e-5, atol=1e-5)


def test_matches_numpy_with_mobilenet_v3_activations():
    # Swish inside and MobileNetV3's gate, the hard sigmoid relu6(x + 3) / 6.
    u = RNG.standard_normal((2, 3, 3, 6)).astype("float32")
    layer = SqueezeExcite(bottleneck_filters=4, activation="swish",
                          gate_activation="hard_sigmoid")
    w1, b1, w2, b2 = randomized(layer, u.shape)
    assert w1.shape == (6, 4)
    expected = se_ref(u, w1, b1, w2, b2, lambda t: t * sigmoid(t),
                      lambda t: np.clip(t + 3.0, 0.0, 6.0) / 6.0)
    np.testing.assert_allclose(np.asarray(layer(u)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("channels, ratio, bottleneck, width", [
    (64, 16, None, 4), (32, 4, None, 8), (56, 16, None, 3), (8, 16, None, 1), (12, 16, 5, 5),
])
def test_parameter_count(channels, ratio, bottleneck, width):
    layer = SqueezeExcite(ratio=ratio, bottleneck_filters=bottleneck)
    layer.build((None, 3, 3, channels))
    count = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    # W1 (C x w) + b1 (w) + W2 (w x C) + b2 (C), w = max(1, C // r) unless given.
    assert count == 2 * channels * width + width + channels
    if bottleneck is None and channels % ratio == 0:
        assert count == 2 * channels**2 // ratio + channels // ratio + channels


def test_se_resnet50_extra_weights():
    # Hu et al. 2018, Eq. 5: (2 / r) * sum_s N_s C_s^2 extra weights; SE-ResNet-50
    # "requires ~2.5 million additional parameters beyond the ~25 million" (Sec. 4).
    stages = [(3, 256), (4, 512), (6, 1024), (3, 2048)]  # (blocks, output channels)
    total = 0
    for blocks, channels in stages:
        layer = SqueezeExcite(ratio=16)
        layer.build((None, 1, 1, channels))
        total += blocks * (np.prod(layer.reduce_kernel.shape) + np.prod(layer.expand_kernel.shape))
    assert total == 2 / 16 * sum(n * c * c for n, c in stages) == 2_514_944
    assert total == pytest.approx(2.5e6, rel=0.01)


def test_bad_arguments():
    with pytest.raises(ValueError, match="ratio must be > 0"):
        SqueezeExcite(ratio=0)
    with pytest.raises(ValueError, match="bottleneck_filters must be >= 1"):
        SqueezeExcite(bottleneck_filters=0)
    with pytest.raises(ValueError, match="known channels"):
        SqueezeExcite()(keras.Input((4,)))


def test_round_trip_and_gradients(tmp_path):
    inp = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(inp)
    out = SqueezeExcite(ratio=2, activation="swish", gate_activation="hard_sigmoid",
                        name="se")(x)
    model = keras.Model(inp, out)
    se = model.get_layer("se")
    se.set_weights([0.5 * RNG.standard_normal(w.shape).astype("float32") for w in se.weights])
    images = RNG.standard_normal((2, 4, 4, 3)).astype("float32")
    path = tmp_path / "se.keras"
    model.save(path)
    again = keras.saving.load_model(path)  # no custom_objects
    assert isinstance(again.get_layer("se"), SqueezeExcite)
    assert again.get_layer("se").get_config() == se.get_config()
    np.testing.assert_allclose(np.asarray(again(images)), np.asarray(model(images)), atol=1e-6)

    probe = tf.constant(RNG.standard_normal((2, 4, 4, 8)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(images, training=True) * probe)
    grads = tape.gradient(loss, model.trainable_weights)
    assert len(grads) == 2 + 4
    for w, g in zip(model.trainable_weights, grads):
        assert g is not None, w.path
        assert np.any(np.asarray(g)), w.path
