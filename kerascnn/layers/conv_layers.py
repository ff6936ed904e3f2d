"""The convolution layers the builders of `kerascnn.layers.convolution` need.

`GroupedConv2D` (a grouped `Conv2D` that is fast on TensorFlow's CPU and
converts to builtin TFLite ops), `AnyStrideDepthwiseConv2D` (a
`DepthwiseConv2D` that takes unequal strides on every CPU),
`ChannelShuffle` and `ChannelSplit`. Each is serializable under the `kerascnn` package.
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerascnn")
class AnyStrideDepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """`keras.layers.DepthwiseConv2D` that also runs unequal row and column strides.

    TensorFlow's CPU depthwise kernel without oneDNN (the one TensorFlow uses
    on AVX2-only CPUs such as AMD EPYC) rejects strides (s_h, s_w) with
    s_h != s_w ("Current implementation only supports equal length strides
    in the row and column dimensions"). With unequal strides this layer
    convolves at stride g = gcd(s_h, s_w) in both directions and keeps every
    (s_h / g)-th row and (s_w / g)-th column, which is the same output
    (the strided convolution samples a subgrid of the stride-g one); "same"
    padding is applied explicitly, as Keras pads it for (s_h, s_w). Equal
    strides run Keras's own computation. Same arguments, weights and config
    as `DepthwiseConv2D` (so `kerascnn.inspect.costs` counts the strided
    output's multiply-adds); it converts to builtin TFLite ops
    (DEPTHWISE_CONV_2D, STRIDED_SLICE). The cost of the workaround is the
    stride-g convolution: s_h * s_w / g^2 times the multiply-adds.
    """

    def call(self, inputs):
        strides = tuple(self.strides)
        if strides[0] == strides[1]:
            return super().call(inputs)
        axes = (1, 2) if self.data_format == "channels_last" else (2, 3)
        x = inputs
        if self.padding == "same":
            pads = [[0, 0]] * 4
            for axis, k, s, d in zip(axes, self.kernel_size, strides, self.dilation_rate):
                size = inputs.shape[axis] if inputs.shape[axis] is not None else ops.shape(inputs)[axis]
                total = ops.maximum(((size + s - 1) // s - 1) * s + (k - 1) * d + 1 - size, 0)
                pads[axis] = [total // 2, total - total // 2]
            x = ops.pad(x, pads)
        g = math.gcd(*strides)
        outputs = ops.depthwise_conv(x, self.kernel, strides=g, padding="valid",
                                     dilation_rate=self.dilation_rate, data_format=self.data_format)
        steps = [slice(None)] * 4
        for axis, s in zip(axes, strides):
            steps[axis] = slice(None, None, s // g)
        outputs = outputs[tuple(steps)]
        if self.use_bias:
            shape = [1, 1, 1, 1]
            shape[-1 if self.data_format == "channels_last" else 1] = self.bias.shape[0]
            outputs = ops.add(outputs, ops.reshape(self.bias, shape))
        if self.activation is not None:
            return self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="kerascnn")
class GroupedConv2D(keras.layers.Conv2D):
    """`Conv2D(groups=g)` computed as g convolutions on channel slices, concatenated.

    The same arguments, kernel (k_h, k_w, M / g, N), config and output as
    `keras.layers.Conv2D(groups=g)`, so weights move between the two (and
    from PyTorch's `groups=g`) unchanged, and anything that handles Conv2D
    (e.g. `kerascnn.inspect.costs`) handles this. Only the computation
    differs: on TensorFlow's CPU build Keras runs a grouped `Conv2D` through
    XLA, and its forward + backward pass is 10-350x slower than the g-way
    split (measured in docs/layers_convolution.md); the split version
    converts to builtin TFLite SPLIT, CONV_2D and CONCATENATION ops, which
    every delegate runs.

    Args:
        filters, kernel_size, strides, padding, dilation_rate, use_bias,
            initializers, regularizers, constraints: as in
            `keras.layers.Conv2D`.
        groups: g; the input channels and `filters` must be divisible by it.
        implementation: "split" (g convolutions, the default) or "native"
            (one grouped convolution, as `Conv2D`; may be faster on GPU).
    """

    IMPLEMENTATIONS = ("split", "native")

    def __init__(self, filters, kernel_size, groups=1, implementation="split", **kwargs):
        if implementation not in self.IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {self.IMPLEMENTATIONS}, got "
                f"{implementation!r}."
            )
        super().__init__(filters, kernel_size, groups=groups, **kwargs)
        self.implementation = implementation

    def build(self, input_shape):
        axis = -1 if self.data_format == "channels_last" else 1
        channels = input_shape[axis]
        if channels is not None and channels % self.groups:
            raise ValueError(
                f"{self.name}: input channels ({channels}) must be divisible by groups "
                f"({self.groups}); input shape {tuple(input_shape)}."
            )
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        if self.groups == 1 or self.implementation == "native":
            return super().convolution_op(inputs, kernel)
        axis = -1 if self.data_format == "channels_last" else 1
        pieces = [
            ops.conv(x, k, strides=self.strides, padding=self.padding,
                     dilation_rate=self.dilation_rate, data_format=self.data_format)
            for x, k in zip(ops.split(inputs, self.groups, axis=axis),
                            ops.split(kernel, self.groups, axis=-1))
        ]
        return ops.concatenate(pieces, axis=axis)

    def get_config(self):
        config = super().get_config()
        config.update(implementation=self.implementation)
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class ChannelShuffle(keras.layers.Layer):
    """ShuffleNet's channel shuffle (Zhang et al. 2018, Sec. 3.1): reshape, transpose, reshape.

    Channels viewed as (g, C / g) are transposed to (C / g, g) and
    flattened, so that after a grouped convolution each group of the next
    one gets channels from every group: output[..., i * g + j] =
    input[..., j * (C / g) + i]. Shuffling with C / g groups undoes it. Only
    RESHAPE and TRANSPOSE, both TFLite builtins; no parameters, no MACs.

    Args:
        groups: g; the channels must be divisible by it (checked at build).
    """

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)
        if self.groups < 1:
            raise ValueError(f"ChannelShuffle groups must be >= 1, got {groups!r}.")

    def build(self, input_shape):
        channels = input_shape[-1]
        if len(input_shape) < 2 or channels is None:
            raise ValueError(
                f"ChannelShuffle needs a known channel (last) axis; got input shape "
                f"{tuple(input_shape)}."
            )
        if channels % self.groups:
            raise ValueError(
                f"ChannelShuffle: channels ({channels}) must be divisible by groups "
                f"({self.groups}); input shape {tuple(input_shape)}."
            )

    def call(self, inputs):
        channels = inputs.shape[-1]
        dynamic = ops.shape(inputs)
        middle = [dynamic[i] if d is None else d for i, d in enumerate(inputs.shape)][1:-1]
        x = ops.reshape(inputs, (-1, *middle, self.groups, channels // self.groups))
        rank = len(inputs.shape) + 1
        x = ops.transpose(x, (*range(rank - 2), rank - 1, rank - 2))
        return ops.reshape(x, (-1, *middle, channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups)
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class ChannelSplit(keras.layers.Layer):
    """ShuffleNet v2's channel split (Ma et al. 2018, Sec. 3, Fig. 3c): the
    channels cut into `groups` equal consecutive parts, returned as a list.

    output[j] = input[..., j * C / g : (j + 1) * C / g], as PyTorch's
    `x.chunk(g, dim=1)` (torchvision's ShuffleNet v2). A slice only (TFLite
    SPLIT); no parameters, no MACs.

    Args:
        groups: g >= 2; the channels must be divisible by it (checked at build).
    """

    def __init__(self, groups=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 2:
            raise ValueError(f"ChannelSplit groups must be an integer >= 2, got {groups!r}.")
        self.groups = groups

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.groups:
            raise ValueError(
                f"ChannelSplit: channels ({channels}) must be known and divisible by groups "
                f"({self.groups}); input shape {tuple(input_shape)}."
            )

    def call(self, inputs):
        return ops.split(inputs, self.groups, axis=-1)

    def compute_output_shape(self, input_shape):
        part = (*input_shape[:-1], input_shape[-1] // self.groups)
        return [part] * self.groups

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups)
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class DepthwiseAveragePooling2D(keras.layers.Layer):
    """k x k average pooling computed as a depthwise convolution with a constant kernel.

    output[i, j, c] = mean of input[s i : s i + k, s j : s j + k, c] ("valid"
    windows; pad before it, e.g. `ZeroPadding2D(p)`, for PyTorch's
    `AvgPool2d(k, s, padding=p)`, whose padding zeros count in the mean).
    The numbers of `AveragePooling2D`; what differs is full-integer TFLite:
    an AVERAGE_POOL_2D must keep its input's int8 scale, so a concatenation
    after it (ShuffleNet v1's stride-2 unit) imposes the concatenation's
    range on the unit's input, which then clips wherever else it goes
    (measured: int8 top-1 agreement with Keras 65.6 % instead of 99.4 % for
    a ShuffleNet v1 on the digits); a DEPTHWISE_CONV_2D requantizes its
    output. No weights (the 1 / k^2 kernel is a constant), no MACs counted
    (a pooling).

    Args:
        pool_size: k >= 1.
        strides: s >= 1, the same along rows and columns (TensorFlow's
            depthwise kernels on AVX2-only CPUs take no other); default k.
    """

    def __init__(self, pool_size=3, strides=None, **kwargs):
        super().__init__(**kwargs)
        strides = pool_size if strides is None else strides
        for what, value in (("pool_size", pool_size), ("strides", strides)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DepthwiseAveragePooling2D {what} must be an integer >= 1, "
                                 f"got {value!r}.")
        self.pool_size, self.strides = pool_size, strides

    def call(self, inputs):
        k = self.pool_size
        kernel = ops.full((k, k, inputs.shape[-1], 1), 1.0 / (k * k), dtype=inputs.dtype)
        return ops.depthwise_conv(inputs, kernel, strides=self.strides, padding="valid")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        size = [None if d is None else (d - self.pool_size) // self.strides + 1 for d in (h, w)]
        return (n, *size, c)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides)
        return config
