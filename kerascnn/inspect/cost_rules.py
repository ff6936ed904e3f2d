"""The multiply-add rules of `kerascnn.inspect.costs`, one per layer class.

A rule is `fn(layer, input_shapes, output_shapes) -> multiply-adds for one
example`, registered with `register_cost`; `cost_rule` finds the rule of a
layer's class or its nearest base. One multiply-add counts 1, as the papers
count them; biases, normalization, activations and pooling cost 0.
"""

import math

import keras

from kerascnn.layers import normalization as _norm
from kerascnn.layers import squeeze_excite as _se

_RULES = {}


def register_cost(layer_class):
    """Registers the multiply-add rule of `layer_class` (and its subclasses).

        @register_cost(GroupedConv2D)
        def _grouped_conv_macs(layer, input_shapes, output_shapes):
            ...

    The rule gets the layer and the shapes of one call: `input_shapes` and
    `output_shapes` are lists with one tuple per tensor, batch dimension
    first (None). It returns the multiply-adds of one example as an int; the
    layer's parameters are counted separately. A rule replaces the recursion
    into the layer's sub-layers. Registering a class twice raises.
    """
    if not isinstance(layer_class, type):
        raise TypeError(f"register_cost takes a layer class, got {layer_class!r}.")

    def register(fn):
        if layer_class in _RULES:
            old = _RULES[layer_class]
            raise ValueError(
                f"{layer_class.__name__} already has a cost rule "
                f"({old.__module__}.{old.__qualname__})."
            )
        _RULES[layer_class] = fn
        return fn

    return register


def cost_rule(layer):
    """The rule registered for `layer`'s class or its nearest base, or None."""
    for cls in type(layer).__mro__:
        if cls in _RULES:
            return _RULES[cls]
    return None


# ----------------------------------------------------------------------------
# The rules. Shapes include the batch dimension; each rule counts one example.


def _dims(layer, shape, data_format=None):
    """(spatial dims, channels) of a feature map; unknown dims are an error."""
    shape = tuple(shape[1:])
    if data_format == "channels_first":
        spatial, channels = shape[1:], shape[0]
    else:
        spatial, channels = shape[:-1], shape[-1]
    if channels is None or any(d is None for d in spatial):
        raise ValueError(
            f"costs(): layer {layer.name!r} sees shape {(None, *shape)} with unknown "
            "dimensions; pass input_shape=(H, W, C) to costs()."
        )
    return spatial, channels


@register_cost(keras.layers.Conv1D)
@register_cost(keras.layers.Conv2D)
@register_cost(keras.layers.Conv3D)
def _conv_macs(layer, input_shapes, output_shapes):
    # Per output position and channel: one k_1 x ... x k_n x (C_in / groups) window.
    _, c_in = _dims(layer, input_shapes[0], layer.data_format)
    spatial, c_out = _dims(layer, output_shapes[0], layer.data_format)
    groups = getattr(layer, "groups", 1)
    return math.prod(spatial) * c_out * math.prod(layer.kernel_size) * (c_in // groups)


@register_cost(keras.layers.DepthwiseConv1D)
@register_cost(keras.layers.DepthwiseConv2D)
def _depthwise_macs(layer, input_shapes, output_shapes):
    # D_K^2 * M * D_F^2 (MobileNet eq. 2), times the depth multiplier.
    spatial, c_out = _dims(layer, output_shapes[0], layer.data_format)
    return math.prod(spatial) * c_out * math.prod(layer.kernel_size)


@register_cost(keras.layers.SeparableConv1D)
@register_cost(keras.layers.SeparableConv2D)
def _separable_macs(layer, input_shapes, output_shapes):
    # Depthwise D_K^2 * M' * D_F^2 plus pointwise M' * N * D_F^2 (MobileNet
    # eq. 5), with M' = M * depth_multiplier.
    _, c_in = _dims(layer, input_shapes[0], layer.data_format)
    spatial, c_out = _dims(layer, output_shapes[0], layer.data_format)
    mid = c_in * layer.depth_multiplier
    return math.prod(spatial) * mid * (math.prod(layer.kernel_size) + c_out)


@register_cost(keras.layers.Conv1DTranspose)
@register_cost(keras.layers.Conv2DTranspose)
@register_cost(keras.layers.Conv3DTranspose)
def _conv_transpose_macs(layer, input_shapes, output_shapes):
    # Each input position scatters a k_1 x ... x k_n x C_out window per input channel.
    spatial, c_in = _dims(layer, input_shapes[0], layer.data_format)
    _, c_out = _dims(layer, output_shapes[0], layer.data_format)
    return math.prod(spatial) * c_in * math.prod(layer.kernel_size) * c_out


@register_cost(keras.layers.Dense)
def _dense_macs(layer, input_shapes, output_shapes):
    # Dense acts on the last axis: C_in * units per position of the other axes.
    positions, c_in = _dims(layer, input_shapes[0])
    return math.prod(positions) * c_in * layer.units


def _zero(layer, input_shapes, output_shapes):
    return 0


# Layers with weights whose work papers do not count as multiply-adds: per-
# channel scale and shift (foldable into the previous convolution), a table
# lookup, a per-channel slope.
for _cls in (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    getattr(keras.layers, "RMSNormalization", None),
    keras.layers.Normalization,
    keras.layers.PReLU,
    keras.layers.Embedding,
):
    if _cls is not None:
        register_cost(_cls)(_zero)
del _cls


# kerascnn's own layers with weights.


@register_cost(_se.SqueezeExcite)
def _squeeze_excite_macs(layer, input_shapes, output_shapes):
    # The two fully connected layers, C x C_r and C_r x C (Hu et al. 2018: 2C^2/r);
    # the pooling and the per-channel scaling are not multiply-adds.
    c, c_r = layer.reduce_kernel.shape
    return 2 * int(c) * int(c_r)


# Per-style scale and shift, like BatchNorm: no multiply-adds counted.
register_cost(_norm.ConditionalInstanceNormalization)(_zero)
