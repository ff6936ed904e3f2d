"""Layers: serializable, written with keras.ops only.

Convolution kinds (builder functions on Keras tensors, and the layers they
need), Squeeze-and-Excitation, stochastic depth and Monte Carlo dropout, the
normalizations, activations and initializers by name, and the in-model input
normalization (per channel, or AlexNet's mean image). See
docs/layers_convolution.md and docs/layers_normalization.md.
"""

from kerascnn.layers.activations import (
    ACTIVATIONS,
    activation_layer,
    any_activation,
    gelu_approx,
    hard_sigmoid,
    hard_swish,
    sine,
)
from kerascnn.layers.conv_layers import (AnyStrideDepthwiseConv2D, ChannelShuffle, ChannelSplit,
                                        DepthwiseAveragePooling2D,
                                        GroupedConv2D)
from kerascnn.layers.convolution import (
    depthwise_conv,
    depthwise_separable_conv,
    dilated_conv,
    flattened_conv,
    grouped_conv,
    pointwise_conv,
    receptive_field,
    spatial_separable_conv,
    transposed_conv,
)
from kerascnn.layers.initializers import INITIALIZERS, any_initializer, get_initializer
from kerascnn.layers.normalization import (
    AdaIN,
    BatchNormalization,
    ConditionalInstanceNormalization,
    GroupNormalization,
    InstanceNormalization,
    LayerNormalization,
    LocalResponseNormalization,
    sync_batchnorm,
    synchronize_batchnorm,
)
from kerascnn.layers.preprocessing import (
    DATASET_STATS,
    ImageNormalization,
    MeanImageNormalization,
    normalization_layer,
)
from kerascnn.layers.regularization import MCDropout, StochasticDepth, linear_decay
from kerascnn.layers.shortcuts import ZeroPadShortcut
from kerascnn.layers.squeeze_excite import SqueezeExcite

__all__ = [
    "ACTIVATIONS", "AdaIN", "AnyStrideDepthwiseConv2D", "DATASET_STATS", "BatchNormalization", "ChannelShuffle", "ChannelSplit",
    "ConditionalInstanceNormalization", "DepthwiseAveragePooling2D", "GroupNormalization",
    "GroupedConv2D",
    "INITIALIZERS", "ImageNormalization", "InstanceNormalization", "LayerNormalization",
    "LocalResponseNormalization", "MCDropout", "MeanImageNormalization", "SqueezeExcite",
    "StochasticDepth",
    "ZeroPadShortcut", "activation_layer", "depthwise_conv", "depthwise_separable_conv",
    "dilated_conv", "flattened_conv", "gelu_approx", "get_initializer", "hard_sigmoid", "hard_swish", "grouped_conv",
    "linear_decay", "normalization_layer", "pointwise_conv", "receptive_field", "sine",
    "spatial_separable_conv", "sync_batchnorm", "synchronize_batchnorm", "transposed_conv", "any_activation",
    "any_initializer",
]
