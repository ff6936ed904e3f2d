"""Convolution kinds as functional-API builders.

Each builder takes a Keras tensor (N, H, W, M) and returns one, like the
block functions of `kerascnn.models.resnet`. Its docstring gives the
parameter count and the multiply-adds (MACs) of one image, with

    M, N    input and output channels,
    k       kernel size (k_h x k_w when they differ),
    H', W'  the output's height and width.

The MACs of a convolution are H' * W' * (the weights one output position
uses), i.e. H' * W' * (number of kernel weights). Biases, BN and activations
are not counted. Built-in Keras layers are used wherever they exist
(Conv2D, DepthwiseConv2D, Conv2DTranspose); the new layers, in
`kerascnn.layers.conv_layers`, are `GroupedConv2D` (a faster grouped
`Conv2D` on TensorFlow's CPU), `AnyStrideDepthwiseConv2D` (unequal strides
on every CPU) and `ChannelShuffle` (re-exported here).

Padding "same" keeps ceil(H / s) rows. At stride 1 that is Keras' "same";
at stride > 1 the input is zero-padded by (k - 1) * l // 2 before and the
rest after, then convolved "valid" (PyTorch's padding=k // 2 for odd k), so
that the sampling grid matches the original networks (TF's "same" pads only
bottom/right at stride 2).
"""

import keras

from kerascnn.layers.activations import any_activation
from kerascnn.layers.conv_layers import (  # noqa: F401  (ChannelShuffle: re-exported)
    AnyStrideDepthwiseConv2D,
    ChannelShuffle,
    GroupedConv2D,
)

PADDINGS = ("same", "valid")


def _pair(value, what):
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}.")
    return value


def _pad(x, kernel_size, strides, dilation_rate, padding, name):
    """`x` and the Keras padding that together give the module's "same"/"valid"."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}.")
    if padding == "valid" or strides == (1, 1):
        return x, padding
    totals = [(k - 1) * l for k, l in zip(kernel_size, dilation_rate)]
    if any(totals):
        x = keras.layers.ZeroPadding2D(
            tuple((t // 2, t - t // 2) for t in totals), name=name + "_pad"
        )(x)
    return x, "valid"


def _check_groups(channels, filters, groups, name):
    if groups < 1:
        raise ValueError(f"{name}: groups must be >= 1, got {groups}.")
    if channels is None:
        raise ValueError(f"{name}: the input's channel (last) axis must be known.")
    if channels % groups:
        raise ValueError(
            f"{name}: input channels ({channels}) must be divisible by groups "
            f"({groups})."
        )
    if filters % groups:
        raise ValueError(
            f"{name}: filters ({filters}) must be divisible by groups ({groups})."
        )


def _name(name, prefix):
    return name if name is not None else f"{prefix}{keras.backend.get_uid(prefix)}"


def pointwise_conv(x, filters, strides=1, use_bias=False,
                   kernel_initializer="he_normal", name=None):
    """1x1 (pointwise) convolution: mixes channels, one pixel at a time.

    Parameters: M * N (+ N with bias).
    MACs: H' * W' * M * N.

    Layers: `{name}_conv`. Args as in `grouped_conv`.
    """
    return grouped_conv(x, filters, 1, strides=strides, padding="valid",
                        use_bias=use_bias, kernel_initializer=kernel_initializer,
                        name=_name(name, "pointwise"))


def spatial_separable_conv(x, filters, kernel_size=3, strides=1, padding="same",
                           use_bias=False, kernel_initializer="he_normal", name=None):
    """A k x 1 convolution (M -> N) then a 1 x k convolution (N -> N).

    A k x k kernel of rank one is a column times a row (the Sobel kernel is
    [1, 2, 1]^T [-1, 0, 1]); with one channel in and out this pair computes
    exactly such a kernel; with channels it is the asymmetric factorization
    of Inception-v3 (Szegedy et al. 2016, Sec. 3.2).
    The first convolution strides rows, the second columns.

    Parameters: k * M * N + k * N * N (+ 2N with bias).
    MACs: H' * W * k * M * N + H' * W' * k * N * N
        (= H * W * k * N * (M + N) at stride 1, "same").

    Layers: `{name}_kx1_conv`, `{name}_1xk_conv` (and `_pad` ones at stride > 1).
    Args as in `grouped_conv`; `kernel_size` and `strides` are ints.
    """
    name = _name(name, "spatial_separable")
    x = grouped_conv(x, filters, (kernel_size, 1), strides=(strides, 1),
                     padding=padding, use_bias=use_bias,
                     kernel_initializer=kernel_initializer, name=name + "_kx1")
    return grouped_conv(x, filters, (1, kernel_size), strides=(1, strides),
                        padding=padding, use_bias=use_bias,
                        kernel_initializer=kernel_initializer, name=name + "_1xk")


def depthwise_conv(x, kernel_size=3, strides=1, padding="same", dilation_rate=1,
                   depth_multiplier=1, use_bias=False,
                   kernel_initializer="he_normal", name=None):
    """Depthwise convolution: one k x k filter per input channel (`DepthwiseConv2D`).

    Output channels: M * depth_multiplier, ordered channel-major (channel c,
    multiplier j is output c * depth_multiplier + j).

    Parameters: k_h * k_w * M * depth_multiplier (+ M * depth_multiplier).
    MACs: H' * W' * k_h * k_w * M * depth_multiplier.

    Layers: `{name}_conv` (and `{name}_pad`). Args as in `grouped_conv`.
    """
    name = _name(name, "depthwise")
    kernel_size = _pair(kernel_size, "kernel_size")
    strides = _pair(strides, "strides")
    dilation_rate = _pair(dilation_rate, "dilation_rate")
    x, padding = _pad(x, kernel_size, strides, dilation_rate, padding, name)
    # Keras's layer where it runs everywhere; unequal strides need ours (see it).
    layer = keras.layers.DepthwiseConv2D if strides[0] == strides[1] else AnyStrideDepthwiseConv2D
    return layer(
        kernel_size, strides=strides, padding=padding, dilation_rate=dilation_rate,
        depth_multiplier=depth_multiplier, use_bias=use_bias,
        depthwise_initializer=kernel_initializer, name=name + "_conv",
    )(x)


def flattened_conv(x, filters, kernel_size=3, strides=1, padding="same",
                   use_bias=False, kernel_initializer="he_normal", name=None):
    """Flattened convolution: 1-D filters across channels, then vertical, then horizontal.

    Jin, Dundar, Culurciello 2014, "Flattened Convolutional Neural Networks
    for Feedforward Acceleration" (https://arxiv.org/abs/1412.5474): a 3-D
    filter C x k x k is replaced by a lateral 1 x 1 convolution across the
    M channels (M -> N), a k x 1 depthwise convolution and a 1 x k depthwise
    convolution. The vertical one strides rows, the horizontal one columns.

    Parameters: M * N + 2 * k * N (+ 3N with bias).
    MACs: H * W * M * N + H' * W * k * N + H' * W' * k * N
        (= H * W * N * (M + 2k) at stride 1, "same").

    Layers: `{name}_lateral_conv`, `{name}_vertical_conv`,
    `{name}_horizontal_conv`. Args as in `grouped_conv`; `kernel_size` and
    `strides` are ints.
    """
    name = _name(name, "flattened")
    x = pointwise_conv(x, filters, use_bias=use_bias,
                       kernel_initializer=kernel_initializer, name=name + "_lateral")
    x = depthwise_conv(x, (kernel_size, 1), strides=(strides, 1), padding=padding,
                       use_bias=use_bias, kernel_initializer=kernel_initializer,
                       name=name + "_vertical")
    return depthwise_conv(x, (1, kernel_size), strides=(1, strides), padding=padding,
                          use_bias=use_bias, kernel_initializer=kernel_initializer,
                          name=name + "_horizontal")


def depthwise_separable_conv(x, filters, kernel_size=3, strides=1, activation="relu",
                             dilation_rate=1, bn_epsilon=1e-3, bn_momentum=0.99,
                             kernel_initializer="he_normal", name=None):
    """The MobileNet unit: depthwise -> BN -> act -> pointwise -> BN -> act.

    Howard et al. 2017 (https://arxiv.org/abs/1704.04861), Fig. 3 right. The
    depthwise convolution strides. With M = N = 128, k = 3, H = W = 64 (the
    notes' example) the convolutions hold 17,536 weights against 147,456
    for a standard 3 x 3 convolution, and cost 71,827,456 MACs against
    603,979,776: a ratio of 1 / N + 1 / k^2.

    Parameters: k^2 * M + M * N in the convolutions (no biases), plus
    2M + 2N trainable and 2M + 2N non-trainable in the two BNs.
    MACs: H' * W' * (k^2 * M + M * N).

    Layers: `{name}_dw_conv`, `{name}_dw_bn`, `{name}_dw_{activation}`,
    `{name}_pw_conv`, `{name}_pw_bn`, `{name}_pw_{activation}` (and
    `{name}_dw_pad` at stride > 1).

    Args:
        x: Keras tensor (N, H, W, M).
        filters: output channels N.
        kernel_size: the depthwise kernel size k.
        strides: the depthwise stride.
        activation: an activation name (`kerascnn.layers.ACTIVATIONS`, e.g.
            "gelu_approx", or any Keras one: "relu", "relu6", ...) or None.
        dilation_rate: the depthwise dilation (stride must then be 1).
        bn_epsilon: BatchNormalization epsilon (keras.applications: 1e-3).
        bn_momentum: moving-statistics momentum (Keras convention).
        kernel_initializer: both kernels' initializer.
        name: prefix of the layer names; default an automatic unique one.
    """
    name = _name(name, "dwsep")

    def bn_act(y, part):
        y = keras.layers.BatchNormalization(
            epsilon=bn_epsilon, momentum=bn_momentum, name=f"{name}_{part}_bn"
        )(y)
        if activation is None:
            return y
        act_name = activation if isinstance(activation, str) else "act"
        return any_activation(activation, f"{name}_{part}_{act_name}")(y)

    x = depthwise_conv(x, kernel_size, strides=strides, dilation_rate=dilation_rate,
                       kernel_initializer=kernel_initializer, name=name + "_dw")
    x = bn_act(x, "dw")
    x = pointwise_conv(x, filters, kernel_initializer=kernel_initializer,
                       name=name + "_pw")
    return bn_act(x, "pw")


def grouped_conv(x, filters, kernel_size, groups=1, strides=1, padding="same",
                 dilation_rate=1, use_bias=False, kernel_initializer="he_normal",
                 implementation="split", name=None):
    """Grouped convolution: the M channels split into g groups, each convolved alone.

    AlexNet's two-GPU towers (Krizhevsky et al. 2012) are groups=2; ShuffleNet
    and ResNeXt use more; groups=1 is the standard convolution (a plain
    `Conv2D`). Output channels j * N / g ... (j + 1) * N / g - 1 see only
    input channels j * M / g ... (j + 1) * M / g - 1. For g > 1 the layer is
    a `GroupedConv2D` (a `Conv2D` subclass with the same kernel layout).

    Parameters: k_h * k_w * (M / g) * N (+ N with bias), 1/g of the standard.
    MACs: H' * W' * k_h * k_w * (M / g) * N.

    Layers: `{name}_conv` (and `{name}_pad` when padding at stride > 1).

    Args:
        x: Keras tensor (N, H, W, M), channels last.
        filters: output channels N.
        kernel_size: k or (k_h, k_w).
        groups: g; M and N must both be divisible by it (else ValueError).
        strides: s or (s_h, s_w).
        padding: "same" (ceil(H / s) rows, symmetric; see the module) or
            "valid".
        dilation_rate: l or (l_h, l_w); Keras allows l > 1 only at stride 1.
        use_bias: add a bias (False when a BatchNormalization follows).
        kernel_initializer: the kernel's initializer.
        implementation: `GroupedConv2D`'s "split" or "native".
        name: prefix of the layer names; default an automatic unique one.
    """
    name = _name(name, "grouped" if groups > 1 else "conv")
    kernel_size = _pair(kernel_size, "kernel_size")
    strides = _pair(strides, "strides")
    dilation_rate = _pair(dilation_rate, "dilation_rate")
    _check_groups(x.shape[-1], filters, groups, name)
    x, padding = _pad(x, kernel_size, strides, dilation_rate, padding, name)
    kwargs = dict(strides=strides, padding=padding, dilation_rate=dilation_rate,
                  use_bias=use_bias, kernel_initializer=kernel_initializer,
                  name=name + "_conv")
    if groups == 1:
        return keras.layers.Conv2D(filters, kernel_size, **kwargs)(x)
    return GroupedConv2D(filters, kernel_size, groups=groups,
                         implementation=implementation, **kwargs)(x)


def dilated_conv(x, filters, kernel_size=3, dilation_rate=2, padding="same",
                 use_bias=False, kernel_initializer="he_normal", name=None):
    """Dilated (atrous) convolution: kernel taps l pixels apart, stride 1.

    Yu & Koltun 2016 (https://arxiv.org/abs/1511.07122): the receptive field
    grows (see `receptive_field`) while the resolution and the weights stay;
    the effective kernel size is k + (k - 1) * (l - 1).

    Parameters: k^2 * M * N (+ N), as without dilation.
    MACs: H' * W' * k^2 * M * N.

    Layers: `{name}_conv`. Args as in `grouped_conv`.
    """
    return grouped_conv(x, filters, kernel_size, padding=padding,
                        dilation_rate=dilation_rate, use_bias=use_bias,
                        kernel_initializer=kernel_initializer,
                        name=_name(name, "dilated"))


def transposed_conv(x, filters, kernel_size, strides=2, padding="valid",
                    use_bias=False, kernel_initializer="he_normal", name=None):
    """Transposed convolution (`Conv2DTranspose`): the adjoint of a strided convolution.

    Each input pixel scatters k x k x N weighted copies into the output,
    whose positions step by s: output[i*s + a, j*s + b, o] +=
    x[i, j, c] * kernel[a, b, o, c]. Output size (n - 1) * s + k with "valid",
    n * s with "same" (Keras' padding semantics for this layer).

    Parameters: k^2 * M * N (+ N).
    MACs: H * W * k^2 * M * N (counted per input position, H x W the input).

    Layers: `{name}_conv`.
    """
    name = _name(name, "transposed")
    return keras.layers.Conv2DTranspose(
        filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
        kernel_initializer=kernel_initializer, name=name + "_conv",
    )(x)


def receptive_field(kernel_sizes, dilations=None, strides=None):
    """The receptive field (in input pixels, along one axis) after each layer of a stack.

    r_0 = 1,  r_n = r_{n-1} + (k_n - 1) * l_n * (s_1 * ... * s_{n-1}),
    with kernel size k_n, dilation l_n and stride s_n of layer n. Three 3x3
    convolutions with l = 1, 2, 4 give 3, 7, 15 (Yu & Koltun 2016, Fig. 1);
    VGG's conv3, conv3, pool2/2, conv3 give 3, 5, 6, 10.

    Args:
        kernel_sizes: k_1 ... k_L (pooling layers count as kernels).
        dilations: l_1 ... l_L; default all 1.
        strides: s_1 ... s_L; default all 1.

    Returns:
        [r_1, ..., r_L], a list of ints.
    """
    kernel_sizes = [int(k) for k in kernel_sizes]
    n = len(kernel_sizes)
    dilations = [1] * n if dilations is None else [int(l) for l in dilations]
    strides = [1] * n if strides is None else [int(s) for s in strides]
    if len(dilations) != n or len(strides) != n:
        raise ValueError(
            f"kernel_sizes, dilations and strides need one value per layer; got "
            f"{n}, {len(dilations)} and {len(strides)}."
        )
    if min(kernel_sizes + dilations + strides, default=1) < 1:
        raise ValueError(
            f"kernel sizes, dilations and strides must be >= 1; got {kernel_sizes}, "
            f"{dilations}, {strides}."
        )
    fields, r, jump = [], 1, 1
    for k, l, s in zip(kernel_sizes, dilations, strides):
        r += (k - 1) * l * jump
        jump *= s
        fields.append(r)
    return fields
