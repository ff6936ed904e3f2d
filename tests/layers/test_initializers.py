"""Initializers by name: sample variances against the notes' formulas."""

import numpy as np
import pytest

import keras
from kerascnn.layers import initializers
from kerascnn.layers.initializers import get_initializer

DENSE = (4096, 4096)  # n_in = n_out = 4096
CONV = (3, 3, 256, 512)  # n_in = 3*3*256 = 2304, n_out = 3*3*512 = 4608

# name -> Var(w) as a function of (n_in, n_out)
VARIANCES = {
    "small_normal": lambda n_in, n_out: 1e-4,  # N(0, 0.01^2)
    "large_normal": lambda n_in, n_out: 1.0,
    "xavier_normal": lambda n_in, n_out: 1.0 / n_in,  # notes: std = 1/sqrt(D_in)
    "xavier_uniform": lambda n_in, n_out: 1.0 / n_in,
    "glorot_normal": lambda n_in, n_out: 2.0 / (n_in + n_out),
    "glorot_uniform": lambda n_in, n_out: 2.0 / (n_in + n_out),
    "kaiming_normal": lambda n_in, n_out: 2.0 / n_in,  # notes: std = sqrt(2/D_in)
    "kaiming_uniform": lambda n_in, n_out: 2.0 / n_in,
}


def sample(name, shape, **kwargs):
    return keras.ops.convert_to_numpy(get_initializer(name, seed=1, **kwargs)(shape))


def test_every_name_is_covered():
    assert sorted(initializers.INITIALIZERS) == sorted([*VARIANCES, "zeros", "constant"])


@pytest.mark.parametrize("shape, n_in, n_out", [(DENSE, 4096, 4096), (CONV, 2304, 4608)],
                         ids=["dense", "conv"])
@pytest.mark.parametrize("name", sorted(VARIANCES))
def test_sample_variance_matches_formula(name, shape, n_in, n_out):
    w = sample(name, shape).astype("float64")
    expected = VARIANCES[name](n_in, n_out)
    assert w.var() == pytest.approx(expected, rel=0.02)
    assert abs(w.mean()) < 0.01 * np.sqrt(expected)
    largest = np.abs(w).max() / np.sqrt(expected)  # in standard deviations
    if name.endswith("uniform"):  # U(-limit, limit) with limit = sqrt(3 Var)
        assert np.sqrt(3) * 0.99 < largest <= np.sqrt(3) * (1 + 1e-6)
    elif name == "glorot_normal":  # Keras's: truncated at 2 std of the unscaled normal
        assert largest <= 2 / 0.87962566103423978 * (1 + 1e-6)
    else:  # untruncated, like the notes' np.random.randn: > 1e6 draws reach 4 std
        assert largest > 4


def test_xavier_and_glorot_differ_on_a_conv_kernel():
    # 1/2304 vs 2/(2304 + 4608) = 1/3456: the notes' Xavier is not Keras's Glorot.
    ratio = sample("xavier_normal", CONV).var() / sample("glorot_normal", CONV).var()
    assert ratio == pytest.approx(3456 / 2304, rel=0.02)


def test_zeros_and_constant_are_exact():
    np.testing.assert_array_equal(sample("zeros", (3, 3, 2, 4)), np.zeros((3, 3, 2, 4)))
    c = sample("constant", (5, 7), value=0.1)
    np.testing.assert_array_equal(c, np.full((5, 7), 0.1, "float32"))


def test_same_seed_same_draws():
    a, b = sample("kaiming_uniform", (64, 32)), sample("kaiming_uniform", (64, 32))
    np.testing.assert_array_equal(a, b)


def test_unknown_name_and_argument_raise():
    with pytest.raises(ValueError, match=r"'he_normal'.*allowed: \['constant', "):
        get_initializer("he_normal")
    with pytest.raises(ValueError, match=r"'xavier_normal'.*\['value'\].*allowed: \[\]"):
        get_initializer("xavier_normal", value=3)


@pytest.mark.parametrize("name", sorted(initializers.INITIALIZERS))
def test_survives_in_a_saved_model(name, tmp_path):
    init = get_initializer(name, seed=3, **({"value": 0.25} if name == "constant" else {}))
    inp = keras.Input((6,))
    model = keras.Model(inp, keras.layers.Dense(4, kernel_initializer=init)(inp))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras").layers[-1].kernel_initializer
    assert type(loaded) is type(init)
    assert loaded.get_config() == init.get_config()
    np.testing.assert_array_equal(loaded((6, 4)), init((6, 4)))


def mlp_hidden_gradients(init):
    """dL/dW1 of a 5 -> 4 (tanh) -> 1 MLP: column j is hidden unit j's gradient."""
    import tensorflow as tf

    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(4, activation="tanh", kernel_initializer=init),
        keras.layers.Dense(1, kernel_initializer=init),
    ])
    x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 1)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - y) ** 2)
    return tape.gradient(loss, model.layers[0].kernel).numpy()


def test_constant_init_gives_every_hidden_unit_the_same_gradient():
    # The symmetry problem: identical units get identical updates and stay identical.
    g = mlp_hidden_gradients(get_initializer("constant", value=0.1))
    assert np.abs(g).max() > 0
    np.testing.assert_allclose(g, np.repeat(g[:, :1], 4, axis=1), rtol=1e-6)


def test_random_init_breaks_the_symmetry():
    g = mlp_hidden_gradients(get_initializer("xavier_normal", seed=0))
    assert np.abs(g - g[:, :1]).max() > 1e-3
