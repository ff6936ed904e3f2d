"""MobileNetV3-Large and -Small.

Howard, Sandler, Chu, Chen, Chen, Tan, Wang, Zhu, Pang, Vasudevan, Le, Adam.
Searching for MobileNetV3. ICCV 2019. https://arxiv.org/abs/1905.02244

Layer names are keras.applications.MobileNetV3Large/Small's (`conv`,
`expanded_conv_{i}_expand`, ..., `conv_1`, `conv_2`), whose layout and
counts are torchvision's. Hard-swish and the hard-sigmoid gate are written
with ReLU6 (`kerascnn.layers.hard_swish`, `hard_sigmoid`), so that the
network converts to TFLite builtin ops.
"""

import keras

from kerascnn.layers import any_activation
from kerascnn.models import _common
from kerascnn.registry import register_variant

RE, HS = "relu", "hard_swish"

# Howard et al. 2019, Table 1 (Large) and Table 2 (Small), as torchvision's
# mobilenet_v3 configs: one row per bneck, (kernel, expanded channels, output
# channels, SE, nonlinearity, stride), after a 3x3/2 conv of 16 (hard-swish).
# Then a 1x1 conv to `last` (BN, hard-swish), global pooling, and a 1x1 conv
# (no BN, with bias) to `head` (hard-swish) before the classifier.
CONFIGS = {
    "large": {
        "rows": ((3, 16, 16, False, RE, 1), (3, 64, 24, False, RE, 2),
                 (3, 72, 24, False, RE, 1), (5, 72, 40, True, RE, 2),
                 (5, 120, 40, True, RE, 1), (5, 120, 40, True, RE, 1),
                 (3, 240, 80, False, HS, 2), (3, 200, 80, False, HS, 1),
                 (3, 184, 80, False, HS, 1), (3, 184, 80, False, HS, 1),
                 (3, 480, 112, True, HS, 1), (3, 672, 112, True, HS, 1),
                 (5, 672, 160, True, HS, 2), (5, 960, 160, True, HS, 1),
                 (5, 960, 160, True, HS, 1)),
        "last": 960,
        "head": 1280,
    },
    "small": {
        "rows": ((3, 16, 16, True, RE, 2), (3, 72, 24, False, RE, 2),
                 (3, 88, 24, False, RE, 1), (5, 96, 40, True, HS, 2),
                 (5, 240, 40, True, HS, 1), (5, 240, 40, True, HS, 1),
                 (5, 120, 48, True, HS, 1), (5, 144, 48, True, HS, 1),
                 (5, 288, 96, True, HS, 2), (5, 576, 96, True, HS, 1),
                 (5, 576, 96, True, HS, 1)),
        "last": 576,
        "head": 1024,
    },
}
STEM = 16
# The SE bottleneck: make_divisible(expanded / SE_REDUCTION, 8) units
# (torchvision, keras.applications).
SE_REDUCTION = 4


def act(x, activation, name):
    """The activation layer `{name}_{activation}` ("relu" or "hard_swish")."""
    return any_activation(activation, f"{name}_{activation}")(x)


def squeeze_excite(x, prefix):
    """SE on the depthwise output (Sec. 5.3): GAP, 1x1 conv to
    make_divisible(C / 4, 8) with bias, ReLU, 1x1 conv to C with bias,
    hard-sigmoid gate, product. keras.applications' `{prefix}squeeze_excite_*` names."""
    channels = x.shape[-1]
    name = prefix + "squeeze_excite"
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=name + "_avg_pool")(x)
    s = keras.layers.Conv2D(_common.make_divisible(channels / SE_REDUCTION), 1,
                            name=name + "_conv")(s)
    s = keras.layers.ReLU(name=name + "_relu")(s)
    s = keras.layers.Conv2D(channels, 1, name=name + "_conv_1")(s)
    s = any_activation("hard_sigmoid", name + "_hard_sigmoid")(s)
    return keras.layers.Multiply(name=name + "_mul")([x, s])


def bneck(x, kernel_size, expanded, filters, se, activation, stride, kit, prefix,
          padding="symmetric"):
    """One bneck row of Tables 1-2: 1x1 expansion (BN, act; none when the
    expansion is the input's width), k x k depthwise at the stride (BN, act),
    SE, linear 1x1 projection (BN), identity shortcut when the stride is 1 and
    the width is kept (Sec. 5.3, Fig. 4)."""
    shortcut = x
    channels = x.shape[-1]
    if expanded != channels:
        x = _common.named_conv(x, expanded, 1, 1, prefix + "expand", kit)
        x = act(_common.named_bn(x, prefix + "expand_bn", kit), activation, prefix + "expand")
    x = _common.named_conv(x, None, kernel_size, stride, prefix + "depthwise", kit,
                           pad_name=prefix + "depthwise_pad", padding=padding)
    x = act(_common.named_bn(x, prefix + "depthwise_bn", kit), activation, prefix + "depthwise")
    if se:
        x = squeeze_excite(x, prefix)
    x = _common.named_conv(x, filters, 1, 1, prefix + "project", kit)
    x = _common.named_bn(x, prefix + "project_bn", kit)
    if stride == 1 and channels == filters:
        return _common.add_residual(shortcut, x, prefix, add_name=prefix + "add")
    return x


def MobileNetV3(
    config,
    alpha=1.0,
    dropout_rate=0.2,
    padding="symmetric",
    kernel_initializer="he_normal",
    bn_epsilon=1e-3,
    bn_momentum=0.99,
    preprocessing="tf",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation=None,
    name="mobilenet_v3",
):
    """Builds MobileNetV3-Large or -Small (Howard et al. 2019, Tables 1, 2), Keras functional API.

    Paper: https://arxiv.org/abs/1905.02244. Deviation: stride-2 layers pad
    symmetrically (torchvision's) where keras.applications pads bottom/right
    (padding="keras" does so); the layout and counts are torchvision's and
    keras.applications' (the head's 1x1 conv on the pooled 1 x 1 map is the
    Dense `conv_2` here, the same weights; the classifier is the Dense
    `predictions` for their `logits` conv).

    Layout: a 3x3/2 conv of 16 (`conv`, `conv_bn`, hard-swish), the bneck
    rows of `CONFIGS[config]` (`expanded_conv_`, `expanded_conv_1_`, ...: see
    `bneck`), a 1x1 conv to 960 / 576 (`conv_1`, `conv_1_bn`, hard-swish), and
    with the top: global average pooling, `conv_2` to 1280 / 1024 (bias,
    hard-swish, no BN), dropout and the classifier. Without the top, `pooling`
    acts on the `conv_1` features.

    Args:
        config: "large" (Table 1) or "small" (Table 2).
        alpha: the width multiplier: every width c of the table becomes
            make_divisible(alpha * c, 8) (torchvision's width_mult; the last
            conv is 6 times the last block's width, as in the tables).
        dropout_rate: dropout before the classifier (the paper and
            torchvision: 0.2).
        padding: how stride-2 convolutions pad: "symmetric" (default;
            torchvision's) or "keras" (TF's "same": keras.applications').
        kernel_initializer: the convolutions' initializer, by name.
        bn_epsilon, bn_momentum: BatchNormalization's (torchvision: 1e-3 and
            PyTorch's 0.01, Keras's 0.99).
        preprocessing: input normalization inside the model: "tf" (default;
            [-1, 1], what keras.applications' MobileNetV3 does inside the
            model), a dataset preset, "caffe", "none" or a (mean, std) pair.
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as in `kerascnn.models.mobilenet.MobileNetV1`.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {sorted(CONFIGS)}, got {config!r}.")
    _common.check_alpha(alpha)
    _common.check_rate("dropout_rate", dropout_rate)
    _common.check_stride_padding(padding)
    spec = CONFIGS[config]
    inputs, x = _common.model_inputs(input_tensor, input_shape, (224, 224, 3), min_size=32,
                                     name=name)
    x = _common.normalize(x, preprocessing)
    kit = _common.ConvKit(False, kernel_initializer, bn_epsilon, bn_momentum, HS)

    def width(c):
        return _common.make_divisible(c * alpha)

    x = _common.named_conv(x, width(STEM), 3, 2, "conv", kit, padding=padding)
    x = act(_common.named_bn(x, "conv_bn", kit), HS, "conv")
    for i, (kernel_size, expanded, filters, se, activation, stride) in enumerate(spec["rows"]):
        prefix = f"expanded_conv_{i}_" if i else "expanded_conv_"
        x = bneck(x, kernel_size, width(expanded), width(filters), se, activation, stride, kit,
                  prefix, padding)
    last = 6 * width(spec["rows"][-1][2])
    x = _common.named_conv(x, last, 1, 1, "conv_1", kit)
    x = act(_common.named_bn(x, "conv_1_bn", kit), HS, "conv_1")
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dense(width(spec["head"]), kernel_initializer=kit.kernel_initializer,
                               name="conv_2")(x)
        x = act(x, HS, "conv_2")
        x = _common.dropout(x, dropout_rate, "top_dropout")
        outputs = keras.layers.Dense(classes, activation=classifier_activation,
                                     name="predictions")(x)
    else:
        outputs = _common.classifier_head(x, False, pooling, classes, classifier_activation)
    return _common.finish_model(inputs, outputs, name, weights)


mobilenet_v3_large = register_variant(
    "mobilenet_v3_large", MobileNetV3, "MobileNetV3-Large (Howard et al. 2019, Table 1).",
    config="large")
mobilenet_v3_small = register_variant(
    "mobilenet_v3_small", MobileNetV3, "MobileNetV3-Small (Howard et al. 2019, Table 2).",
    config="small")
