"""Activations by name against NumPy versions of the notes' formulas."""

import numpy as np
import pytest
from scipy.special import erf

import keras
from kerascnn.layers import activations
from kerascnn.layers.activations import activation_layer

# Small and large |x|: every function must stay finite where exp(|x|) overflows.
GRID = np.concatenate(
    [np.linspace(-8, 8, 161), [-1e4, -500.0, -100.0, -89.0, 89.0, 100.0, 500.0, 1e4]]
).astype("float32")


def np_sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no exp overflow


def np_gelu(x):
    return x * 0.5 * (1.0 + erf(x / np.sqrt(2.0)))  # x * Phi(x)


# The notes' formulas, in float64.
FORMULAS = {
    "sigmoid": np_sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    # Howard et al. 2019, Sec. 5.2: h-sigmoid = ReLU6(x + 3) / 6, h-swish = x * h-sigmoid.
    "hard_sigmoid": lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "hard_swish": lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "leaky_relu": lambda x: np.maximum(0.01 * x, x),
    "prelu": lambda x: np.where(x >= 0, x, 0.25 * x),  # He et al.'s initial slope
    "softplus": lambda x: np.logaddexp(0.0, x),  # ln(1 + exp(x))
    "swish": lambda x: x * np_sigmoid(x),
    "silu": lambda x: x * np_sigmoid(x),
    "gelu": np_gelu,
    "gelu_approx": lambda x: x * np_sigmoid(1.702 * x),
    "sine": np.sin,
}


def apply(layer, x):
    """Calls `layer` on x laid out as one NHWC map (PReLU needs rank 4)."""
    return keras.ops.convert_to_numpy(layer(x.reshape(1, 1, -1, 1))).ravel()


def test_every_name_has_a_formula():
    assert sorted(activations.ACTIVATIONS) == sorted(FORMULAS)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_matches_formula_and_stays_finite(name):
    y = apply(activation_layer(name, layer_name=f"act_{name}"), GRID)
    assert np.all(np.isfinite(y))
    x = GRID.astype("float64")
    np.testing.assert_allclose(y, FORMULAS[name](x), rtol=2e-6, atol=1e-6)


def test_layer_name_is_used():
    assert activation_layer("relu", layer_name="stem_relu").name == "stem_relu"


def test_leaky_relu_slope_is_the_notes_not_keras_default():
    layer = activation_layer("leaky_relu")
    assert layer.negative_slope == pytest.approx(0.01)
    np.testing.assert_allclose(apply(layer, np.array([-100.0, 3.0], "float32")), [-1.0, 3.0])


def test_prelu_alpha_is_per_channel_trainable_and_learned():
    import tensorflow as tf

    layer = activation_layer("prelu")
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype("float32")
    layer.build(x.shape)
    assert layer.alpha.shape == (1, 1, 5) and layer.alpha.trainable
    assert [w.name for w in layer.trainable_weights] == ["alpha"]
    alpha = np.array([0.1, -0.2, 0.3, 0.0, 2.0], "float32")
    layer.alpha.assign(alpha.reshape(1, 1, 5))
    np.testing.assert_allclose(layer(x), np.where(x >= 0, x, alpha * x), rtol=1e-6)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    grad = tape.gradient(loss, layer.alpha).numpy().ravel()
    # d/d alpha_c = sum of the negative inputs of channel c: one value per channel.
    np.testing.assert_allclose(grad, np.minimum(x, 0).sum((0, 1, 2)), rtol=1e-5)


def test_gelu_approx_max_error_over_minus6_to_6():
    x = np.linspace(-6, 6, 12001).astype("float32")
    err = np.abs(apply(activation_layer("gelu_approx"), x) - np_gelu(x.astype("float64")))
    # max |x sigmoid(1.702x) - x Phi(x)| = 0.0203 at |x| = 2.27: just above the
    # 0.02 usually quoted, so the bound here is 0.021.
    assert 0.020 < err.max() < 0.021
    assert abs(abs(x[err.argmax()]) - 2.27) < 0.01


def test_hard_sigmoid_and_hard_swish_knots():
    """The piecewise-linear pieces meet at x = -3 and x = 3 (Howard et al. 2019, Fig. 6)."""
    x = np.array([-4.0, -3.0, 0.0, 3.0, 4.0], "float32")
    np.testing.assert_allclose(apply(activation_layer("hard_sigmoid"), x),
                               [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(apply(activation_layer("hard_swish"), x),
                               [0.0, 0.0, 0.0, 3.0, 4.0], atol=1e-6)


def test_unknown_name_lists_allowed():
    with pytest.raises(ValueError, match=r"'mish'.*allowed: \['gelu', 'gelu_approx'"):
        activation_layer("mish")


def test_round_trip_without_custom_objects(tmp_path):
    inp = keras.Input((3, 4, 2))
    x = keras.layers.Conv2D(2, 1)(inp)
    outs = [activation_layer(n)(x) for n in sorted(FORMULAS)]
    model = keras.Model(inp, keras.layers.Concatenate()(outs))
    prelu = next(l for l in model.layers if isinstance(l, keras.layers.PReLU))
    prelu.alpha.assign(np.array([[[0.3, -0.7]]], "float32"))  # a learned value must survive
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 2)).astype("float32") * 5
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6, atol=1e-6)
    configs = [l.get_config() for l in loaded.layers]
    functions = [c["activation"] for c in configs if "activation" in c]
    assert any("kerascnn>gelu_approx" in str(f) for f in functions)
    assert any("kerascnn>sine" in str(f) for f in functions)
    assert any("kerascnn>hard_swish" in str(f) for f in functions)
    leaky = [l for l in loaded.layers if isinstance(l, keras.layers.LeakyReLU)]
    assert leaky[0].negative_slope == pytest.approx(0.01)


def test_prelu_has_one_slope_per_unit_on_flat_input():
    """On (N, units) input (an MLP) there are no H and W to share a slope over:
    one slope per unit, each He et al.'s 0.25 at first."""
    layer = activation_layer("prelu")
    x = np.array([[-2.0, 3.0, -0.5], [1.0, -4.0, 0.0]], "float32")
    np.testing.assert_allclose(np.asarray(layer(x)), np.where(x >= 0, x, 0.25 * x), rtol=1e-6)
    assert tuple(layer.alpha.shape) == (3,)
    layer.alpha.assign(np.array([0.1, 0.2, 0.3], "float32"))
    np.testing.assert_allclose(np.asarray(layer(x)), np.where(x >= 0, x, [0.1, 0.2, 0.3] * x),
                               rtol=1e-6)
