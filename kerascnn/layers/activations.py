"""Activations by name: `activation_layer("gelu")` returns a Keras layer.

Keras's own layers and functions are used wherever they compute the formula;
the functions Keras lacks or computes otherwise (the sigmoid GELU
approximation, sine, and MobileNetV3's hard sigmoid and hard swish, written
with ReLU6 so that they convert to TFLite builtin ops) are registered serializable, so a saved model that uses them loads without
`custom_objects` once kerascnn is imported.
"""

import keras
from keras import ops

# The notes' Leaky ReLU, max(0.01 x, x); Keras's LeakyReLU defaults to 0.3.
LEAKY_RELU_SLOPE = 0.01
# He et al. 2015 (PReLU) initialize every slope at 0.25; Keras's default is 0.
PRELU_INIT = 0.25


@keras.saving.register_keras_serializable(package="kerascnn")
def gelu_approx(x):
    """GELU's sigmoid approximation x * sigmoid(1.702 x) (Hendrycks & Gimpel 2016)."""
    return x * ops.sigmoid(1.702 * x)


@keras.saving.register_keras_serializable(package="kerascnn")
def sine(x):
    """sin(x), the activation of implicit representations (SIREN, Sitzmann et al. 2020)."""
    return ops.sin(x)


@keras.saving.register_keras_serializable(package="kerascnn")
def hard_sigmoid(x):
    """relu6(x + 3) / 6, MobileNetV3's piecewise-linear sigmoid (Howard et al. 2019, Sec. 5.2)."""
    return ops.relu6(x + 3.0) * (1.0 / 6.0)


@keras.saving.register_keras_serializable(package="kerascnn")
def hard_swish(x):
    """x * relu6(x + 3) / 6, MobileNetV3's h-swish (Howard et al. 2019, Sec. 5.2)."""
    return x * hard_sigmoid(x)


def _leaky_relu(name):
    return keras.layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE, name=name)


@keras.saving.register_keras_serializable(package="kerascnn")
class ChannelPReLU(keras.layers.PReLU):
    """PReLU with one slope per channel (He et al. 2015), whatever the input rank.

    The slopes are shared over every axis but the batch and the last (H and
    W of an NHWC map; none of a flat (N, units) input, one slope per unit).
    `shared_axes` may still be given, as for `keras.layers.PReLU`.
    """

    def build(self, input_shape):
        if self.shared_axes is None:
            self.shared_axes = list(range(1, len(input_shape) - 1))
        super().build(input_shape)


def _prelu(name):
    return ChannelPReLU(alpha_initializer=keras.initializers.Constant(PRELU_INIT), name=name)


def _activation(function):
    return lambda name: keras.layers.Activation(function, name=name)


# name -> layer factory taking the layer name. Keras's "gelu" is the exact
# x * Phi(x) (approximate=False); "swish" and "silu" are the same function.
ACTIVATIONS = {
    "sigmoid": _activation("sigmoid"),
    "tanh": _activation("tanh"),
    "relu": _activation("relu"),
    "relu6": _activation("relu6"),
    "hard_sigmoid": _activation(hard_sigmoid),
    "hard_swish": _activation(hard_swish),
    "leaky_relu": _leaky_relu,
    "prelu": _prelu,
    "softplus": _activation("softplus"),
    "swish": _activation("swish"),
    "silu": _activation("silu"),
    "gelu": _activation("gelu"),
    "gelu_approx": _activation(gelu_approx),
    "sine": _activation(sine),
}


def activation_layer(name, layer_name=None):
    """A new Keras layer computing the activation `name`.

    Args:
        name: one of `ACTIVATIONS`: "sigmoid", "tanh", "relu", "relu6"
            (min(max(x, 0), 6)), "hard_sigmoid" (relu6(x + 3) / 6),
            "hard_swish" (x * relu6(x + 3) / 6), "leaky_relu"
            (slope 0.01), "prelu" (per-channel slope, initialized at 0.25,
            shared over H and W of NHWC maps), "softplus", "swish"/"silu"
            (x * sigmoid(x)), "gelu" (exact, x * Phi(x)), "gelu_approx"
            (x * sigmoid(1.702 x)), "sine".
        layer_name: the Keras layer's name (default: Keras picks one).

    Returns:
        A `keras.layers.Layer`.
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {name!r}; allowed: {sorted(ACTIVATIONS)}."
        )
    return ACTIVATIONS[key](layer_name)


def any_activation(name, layer_name=None):
    """A layer for the activation `name`: kerascnn's names (`ACTIVATIONS`, e.g.
    "gelu_approx", "leaky_relu" with slope 0.01, "prelu"), else any Keras one."""
    if isinstance(name, str) and name.lower() in ACTIVATIONS:
        return activation_layer(name, layer_name)
    try:
        keras.activations.get(name)
    except (ValueError, TypeError):
        raise ValueError(
            f"Unknown activation {name!r}; allowed: {sorted(ACTIVATIONS)} or any "
            "keras.activations name."
        ) from None
    return keras.layers.Activation(name, name=layer_name)
