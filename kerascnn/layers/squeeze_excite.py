"""Squeeze-and-Excitation: a channel gate computed from the whole feature map."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerascnn")
class SqueezeExcite(keras.layers.Layer):
    """The SE block (Hu, Shen, Sun 2018, https://arxiv.org/abs/1709.01507, Fig. 1).

        z = mean over H, W of u                   (squeeze, Eq. 2)
        s = sigma(W2 delta(W1 z + b1) + b2)       (excitation, Eq. 3)
        output = s * u, per channel               (scale, Eq. 4)

    W1 is C x C/r, W2 is C/r x C, so the block holds 2C^2/r + C/r + C
    parameters with its biases (the paper's 2C^2/r counts the weights only)
    and costs about 2C^2/r MACs per image, independent of H and W. The two
    weights are the 1 x 1 convolutions of the torchvision/timm modules,
    stored as matrices.

    Args:
        ratio: the reduction r; the bottleneck has max(1, C // r) units.
        bottleneck_filters: the bottleneck width, overriding `ratio`
            (MobileNetV3 and EfficientNet size it from the block's input
            channels, not the expanded C the gate sees).
        activation: delta, the bottleneck's activation (Keras name).
        gate_activation: sigma (e.g. "sigmoid", or "hard_sigmoid" for
            MobileNetV3).
        kernel_initializer, bias_initializer: for W1, W2 and b1, b2.
    """

    def __init__(self, ratio=16, bottleneck_filters=None, activation="relu",
                 gate_activation="sigmoid", kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not ratio > 0:
            raise ValueError(f"SqueezeExcite ratio must be > 0, got {ratio!r}.")
        if bottleneck_filters is not None and int(bottleneck_filters) < 1:
            raise ValueError(
                f"SqueezeExcite bottleneck_filters must be >= 1, got {bottleneck_filters!r}."
            )
        self.ratio = ratio
        self.bottleneck_filters = None if bottleneck_filters is None else int(bottleneck_filters)
        self.activation = keras.activations.get(activation)
        self.gate_activation = keras.activations.get(gate_activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def bottleneck_width(self, channels):
        """The number of bottleneck units for `channels` input channels."""
        if self.bottleneck_filters is not None:
            return self.bottleneck_filters
        return max(1, int(channels // self.ratio))

    def build(self, input_shape):
        channels = input_shape[-1]
        if len(input_shape) < 3 or channels is None:
            raise ValueError(
                f"SqueezeExcite needs (batch, ..., channels) with known channels and at "
                f"least one spatial axis; got input shape {tuple(input_shape)}."
            )
        width = self.bottleneck_width(channels)
        self.reduce_kernel = self.add_weight(
            shape=(channels, width), initializer=self.kernel_initializer,
            name="reduce_kernel",
        )
        self.reduce_bias = self.add_weight(
            shape=(width,), initializer=self.bias_initializer, name="reduce_bias"
        )
        self.expand_kernel = self.add_weight(
            shape=(width, channels), initializer=self.kernel_initializer,
            name="expand_kernel",
        )
        self.expand_bias = self.add_weight(
            shape=(channels,), initializer=self.bias_initializer, name="expand_bias"
        )

    def call(self, inputs):
        spatial = tuple(range(1, len(inputs.shape) - 1))
        z = ops.mean(inputs, axis=spatial, keepdims=True)
        hidden = self.activation(ops.matmul(z, self.reduce_kernel) + self.reduce_bias)
        gate = self.gate_activation(ops.matmul(hidden, self.expand_kernel) + self.expand_bias)
        return inputs * gate

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            ratio=self.ratio,
            bottleneck_filters=self.bottleneck_filters,
            activation=keras.activations.serialize(self.activation),
            gate_activation=keras.activations.serialize(self.gate_activation),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config
