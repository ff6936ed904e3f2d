"""StochasticDepth, linear_decay, MCDropout and the dropout conventions of the notes."""

import math

import numpy as np
import pytest
import tensorflow as tf

import keras
from kerascnn.layers.regularization import MCDropout, StochasticDepth, linear_decay

RNG = np.random.default_rng(0)


def sample(shape):
    return RNG.standard_normal(shape).astype("float32")


# --- stochastic depth ----------------------------------------------------------------


def test_stochastic_depth_is_identity_at_inference():
    x = sample((8, 3, 3, 4))
    layer = StochasticDepth(0.5, seed=1)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)  # training defaults to off
    inp = keras.Input((3, 3, 4))
    model = keras.Model(inp, StochasticDepth(0.5)(inp))
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_stochastic_depth_drops_whole_samples():
    # x = shortcut + StochasticDepth(p)(residual): each sample gets all of
    # residual / p or none of it.
    p = 0.7
    shortcut, residual = sample((64, 3, 4, 5)), sample((64, 3, 4, 5))
    branch = np.asarray(StochasticDepth(p, seed=3)(residual, training=True))
    kept = 0
    for i in range(len(residual)):
        if np.all(branch[i] == 0):
            continue
        np.testing.assert_array_equal(branch[i], residual[i] / np.float32(p))
        kept += 1
    assert 0 < kept < len(residual)
    out = np.asarray(shortcut + StochasticDepth(p, seed=3)(residual, training=True))
    np.testing.assert_allclose(out, shortcut + branch, atol=1e-6)


def test_stochastic_depth_keeps_fraction_p():
    p, n = 0.8, 10_000
    branch = np.asarray(StochasticDepth(p, seed=5)(np.ones((n, 2), "float32"), training=True))
    kept = np.mean(branch[:, 0] != 0)
    assert abs(kept - p) < 3 * math.sqrt(p * (1 - p) / n)  # Binomial(n, p) / n


def test_stochastic_depth_preserves_expectation():
    # Each sample's branch is b x / p with b ~ Bernoulli(p): mean x, variance
    # x^2 (1 - p) / p. The mean of n samples has std |x| sqrt((1 - p) / (p n)).
    p, n = 0.5, 10_000
    x = np.tile(sample((1, 3)), (n, 1))
    branch = np.asarray(StochasticDepth(p, seed=7)(x, training=True))
    std = np.abs(x[0]) * math.sqrt((1 - p) / (p * n))
    assert np.all(np.abs(branch.mean(axis=0) - x[0]) < 4 * std)


def test_stochastic_depth_with_p_1_is_identity_at_training():
    x = sample((16, 2, 2, 3))
    np.testing.assert_array_equal(np.asarray(StochasticDepth(1.0)(x, training=True)), x)


@pytest.mark.parametrize("bad", [0.0, -0.2, 1.5])
def test_stochastic_depth_rejects_bad_probability(bad):
    with pytest.raises(ValueError, match=f"got {bad!r}"):
        StochasticDepth(bad)


def test_stochastic_depth_round_trip_and_gradients(tmp_path):
    inp = keras.Input((4, 4, 3))
    residual = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inp)
    out = keras.layers.Add()([inp, StochasticDepth(0.5, seed=11, name="drop")(residual)])
    model = keras.Model(inp, out)
    x = sample((8, 4, 4, 3))
    path = tmp_path / "sd.keras"
    model.save(path)
    again = keras.saving.load_model(path)  # no custom_objects
    layer = again.get_layer("drop")
    assert isinstance(layer, StochasticDepth)
    assert (layer.survival_probability, layer.seed) == (0.5, 11)
    np.testing.assert_allclose(np.asarray(again(x, training=False)),
                               np.asarray(model(x, training=False)), atol=1e-6)

    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        branch = model.get_layer("drop")(xt, training=True)
        branch_sum = tf.reduce_sum(branch)
        loss = tf.reduce_sum(model(xt, training=True) ** 2)
    # d branch / d x is 1 / p on kept samples and 0 on dropped ones.
    keep = np.any(np.asarray(branch) != 0, axis=(1, 2, 3))
    expected = np.where(keep, 2.0, 0.0)[:, None, None, None] * np.ones_like(x)
    np.testing.assert_allclose(np.asarray(tape.gradient(branch_sum, xt)),
                               expected, atol=1e-6)
    grads = tape.gradient(loss, model.trainable_weights)
    for w, g in zip(model.trainable_weights, grads):
        assert g is not None and np.any(np.asarray(g)), w.path


def test_linear_decay():
    p_L, L = 0.5, 4
    expected = 1 - np.arange(1, L + 1) / L * (1 - p_L)  # p_l = 1 - l / L (1 - p_L)
    np.testing.assert_allclose(linear_decay(p_L, L), expected, rtol=0, atol=1e-12)
    assert linear_decay(0.5, 4) == [0.875, 0.75, 0.625, 0.5]
    for p_L, L in ((0.5, 54), (0.8, 16), (1.0, 3), (0.3, 1)):
        ps = linear_decay(p_L, L)
        assert len(ps) == L
        assert ps[0] == pytest.approx(1 - (1 - p_L) / L)
        assert ps[-1] == pytest.approx(p_L)
        assert all(a >= b for a, b in zip(ps, ps[1:]))


def test_linear_decay_expected_depth():
    # Huang et al. 2016, Sec. 3: with p_L = 0.5, E[active blocks] = (3L - 1) / 4,
    # about 40 for the 110-layer ResNet (L = 54).
    assert sum(linear_decay(0.5, 54)) == pytest.approx((3 * 54 - 1) / 4) == 40.25


def test_linear_decay_rejects_bad_arguments():
    with pytest.raises(ValueError, match="got 0.0"):
        linear_decay(0.0, 10)
    with pytest.raises(ValueError, match="num_blocks"):
        linear_decay(0.5, 0)
    with pytest.raises(ValueError, match="num_blocks"):
        linear_decay(0.5, 2.5)


# --- dropout -------------------------------------------------------------------------


def test_mc_dropout_is_active_at_inference():
    rate, n = 0.3, 20_000
    x = np.ones((1, n), "float32")
    layer = MCDropout(rate, seed=1)
    a, b = np.asarray(layer(x, training=False)), np.asarray(layer(x, training=False))
    assert not np.array_equal(a, b)
    for y in (a, b):
        zeroed = np.mean(y == 0)
        assert abs(zeroed - rate) < 3 * math.sqrt(rate * (1 - rate) / n)
        np.testing.assert_allclose(y[y != 0], 1 / (1 - rate), rtol=1e-6)  # inverted
    inp = keras.Input((n,))
    model = keras.Model(inp, MCDropout(rate)(inp))
    assert np.any(model.predict(x, verbose=0) == 0)


def test_keras_dropout_is_inverted_and_off_at_inference():
    rate = 0.25
    x = sample((4, 500))
    layer = keras.layers.Dropout(rate, seed=2)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    y = np.asarray(layer(x, training=True))
    kept = y != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-6)


def test_vanilla_and_inverted_dropout_agree_in_expectation():
    # The notes: vanilla drops at training and scales by p at test; inverted
    # scales kept units by 1 / p at training and leaves test alone. Both keep
    # E[train output] = test output. Over T masks the mean of m x has std
    # |x| sqrt(p (1 - p) / T).
    p, T = 0.5, 20_000
    rng = np.random.default_rng(1)
    x = np.maximum(rng.standard_normal(6), 0) + 0.5  # ReLU-like activations
    masks = rng.random((T, x.size)) < p
    vanilla_train = (masks * x).mean(axis=0)
    inverted_train = (masks * x / p).mean(axis=0)
    vanilla_test, inverted_test = x * p, x
    tol = 4 * x * math.sqrt(p * (1 - p) / T)
    assert np.all(np.abs(vanilla_train - vanilla_test) < tol)
    assert np.all(np.abs(inverted_train - inverted_test) < tol / p)
    # The two trained nets differ only by p: inverted = vanilla / p, in expectation too.
    np.testing.assert_allclose(inverted_train, vanilla_train / p, rtol=1e-12)
    # Keras's Dropout is the inverted one: its training mean is x, not p x.
    keras_train = np.asarray(keras.layers.Dropout(1 - p, seed=4)(
        np.tile(x.astype("float32"), (T, 1)), training=True)).mean(axis=0)
    assert np.all(np.abs(keras_train - inverted_test) < tol / p)
    assert np.all(np.abs(keras_train - vanilla_test) > tol / p)


@pytest.mark.parametrize("bad", [1.0, -0.1])
def test_mc_dropout_rejects_bad_rate(bad):
    with pytest.raises(ValueError, match=f"got {bad!r}"):
        MCDropout(bad)


def test_mc_dropout_round_trip_and_gradients(tmp_path):
    rate = 0.5
    inp = keras.Input((6,))
    hidden = keras.layers.Dense(200, name="dense")(inp)
    model = keras.Model(inp, MCDropout(rate, seed=5, name="mc")(hidden))
    x = sample((4, 6))
    path = tmp_path / "mc.keras"
    model.save(path)
    again = keras.saving.load_model(path)  # no custom_objects
    layer = again.get_layer("mc")
    assert isinstance(layer, MCDropout)
    assert (layer.rate, layer.seed) == (rate, 5)
    # Still random at inference; the units it keeps are the original's / (1 - rate).
    y = np.asarray(again(x, training=False))
    dense = np.asarray(model.get_layer("dense")(x))
    kept = y != 0
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_allclose(y[kept], dense[kept] / (1 - rate), rtol=1e-5)

    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(xt, training=False) ** 2)
    grads = tape.gradient(loss, model.trainable_weights)
    for w, g in zip(model.trainable_weights, grads):
        assert g is not None and np.any(np.asarray(g)), w.path
