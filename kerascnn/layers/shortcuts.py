"""Residual shortcuts that are not a plain convolution."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerascnn")
class ZeroPadShortcut(keras.layers.Layer):
    """ResNet option-A shortcut: subsample by `strides`, zero-pad new channels.

    He et al. 2016, Sec. 4.2 (CIFAR): "the shortcut connections are identity
    shortcuts ... extra zero entries padded for increasing dimensions"; no
    parameters. The added channels are split evenly before and after the
    existing ones, as in the common CIFAR implementations.
    """

    def __init__(self, filters, strides=2, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.strides = int(strides)

    def call(self, inputs):
        x = inputs
        if self.strides > 1:
            x = x[:, :: self.strides, :: self.strides, :]
        extra = self.filters - x.shape[-1]
        if extra < 0:
            raise ValueError(
                f"ZeroPadShortcut cannot reduce channels: input has {x.shape[-1]}, "
                f"filters={self.filters}."
            )
        if extra:
            before = extra // 2
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [before, extra - before]])
        return x

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        s = self.strides
        h = None if h is None else (h + s - 1) // s
        w = None if w is None else (w + s - 1) // s
        return (b, h, w, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides)
        return config
