"""MobileNet v1 (and its full-convolution twin) and MobileNet v2.

Howard, Zhu, Chen, Kalenichenko, Wang, Andreetto, Adam. MobileNets: Efficient
Convolutional Neural Networks for Mobile Vision Applications. 2017.
https://arxiv.org/abs/1704.04861

Sandler, Howard, Zhu, Zhmoginov, Chen. MobileNetV2: Inverted Residuals and
Linear Bottlenecks. CVPR 2018. https://arxiv.org/abs/1801.04381

Layer names are keras.applications.MobileNet's and MobileNetV2's, so that
their weights map by name (but the top: a Dense `predictions` here, a 1 x 1
`conv_preds` there for v1). MobileNetV3 is in `mobilenet_v3.py`.
"""

from kerascnn.models import _common
from kerascnn.registry import register_variant

# Howard et al. 2017, Table 1: after the 3x3/2 stem of 32 filters, the 13
# depthwise separable layers as (pointwise filters, depthwise stride). The
# table's last "Conv dw / s2" runs at 7x7 at stride 1, as the authors' code.
V1_LAYERS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
             (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
V1_STEM = 32

# Sandler et al. 2018, Table 2: (expansion t, output channels c, repeats n,
# stride s of the first), after the 3x3/2 stem of 32; then a 1x1 conv to 1280.
V2_ROWS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
           (6, 160, 3, 2), (6, 320, 1, 1))
V2_STEM = 32
V2_LAST = 1280


def conv_bn_act(x, filters, kernel_size, strides, kit, conv, bn, act, pad=None,
                depth_multiplier=None, padding="symmetric"):
    """Conv (or depthwise with filters=None) -> BN -> activation, each named as given
    (act=None: no activation, the linear bottleneck); `padding` at stride > 1 as
    `_common.named_conv`."""
    x = _common.named_conv(x, filters, kernel_size, strides, conv, kit, pad_name=pad,
                           depth_multiplier=depth_multiplier, padding=padding)
    x = _common.named_bn(x, bn, kit)
    return x if act is None else kit.act(x, act)


def check_common(include_top, weights, pooling, classes, alpha, dropout_rate, padding):
    """The checks v1 and v2 share, before any layer is built."""
    _common.check_application_arguments(include_top, weights, pooling, classes)
    _common.check_alpha(alpha)
    _common.check_rate("dropout_rate", dropout_rate)
    _common.check_stride_padding(padding)


def MobileNetV1(
    alpha=1.0,
    depth_multiplier=1,
    separable=True,
    dropout_rate=1e-3,
    padding="symmetric",
    activation="relu6",
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
    name="mobilenet_v1",
):
    """Builds MobileNet v1 (Howard et al. 2017, Table 1) with the Keras functional API.

    Paper: https://arxiv.org/abs/1704.04861. Deviation: stride-2 layers pad
    symmetrically (torchvision's) where keras.applications and the authors'
    TF code pad bottom/right only (padding="keras" does so); the shapes, names
    and weights are keras.applications.MobileNet's (its 1 x 1 `conv_preds` top is
    the Dense `predictions` here, the same count).

    Layout: a 3x3/2 conv of 32 (`conv1`, `conv1_bn`, `conv1_relu`), then 13
    depthwise separable layers `conv_dw_{i}` (3x3 depthwise, BN, ReLU6) and
    `conv_pw_{i}` (1x1, BN, ReLU6), i = 1 ... 13, feature maps 112, 56, 28, 14
    and 7 at 224; then global average pooling, dropout and the classifier.
    No conv bias; every conv has its BN. The resolution multiplier rho is the
    input size (224, 192, 160 or 128 in the paper).

    Args:
        alpha: the width multiplier: every layer has int(alpha * filters)
            filters (the paper's 1.0, 0.75, 0.5, 0.25).
        depth_multiplier: depthwise outputs per input channel (keras.applications';
            the paper's networks: 1).
        separable: depthwise separable layers (True), or each pair replaced by
            one standard 3x3 conv with the pair's output channels and stride
            (`conv_{i}`): the "Conv MobileNet" of Table 4.
        dropout_rate: dropout before the classifier (keras.applications: 1e-3).
        padding: how stride-2 convolutions pad: "symmetric" (default;
            torchvision's) or "keras" (TF's "same", the extra pixel at the
            bottom/right: keras.applications' and the authors' TF code, so that
            their weights give their outputs).
        activation: the nonlinearity, by name ("relu6", keras.applications'
            and the authors' code; the paper says ReLU).
        kernel_initializer: the convolutions' initializer, by name.
        bn_epsilon, bn_momentum: BatchNormalization's (keras.applications:
            1e-3, 0.99).
        preprocessing: input normalization inside the model, so the model
            takes raw [0, 255] images: "tf" (default; [-1, 1], what
            keras.applications.mobilenet.preprocess_input computes), a dataset
            preset, "caffe", "none" or a (mean, std) pair.
        include_top: end in the classifier (global average pool + dense).
        weights: None (random initialization) or the path of a local weights
            file (.weights.h5 or .keras).
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: (H, W, C), default (224, 224, 3); H and W may be None, >= 32.
        pooling: without the top, None (4-D features), "avg" or "max".
        classes: number of classes (>= 2) when include_top.
        classifier_activation: None for logits (default), or e.g. "softmax".
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    check_common(include_top, weights, pooling, classes, alpha, dropout_rate, padding)
    if int(V1_STEM * alpha) < 1:
        raise ValueError(f"alpha must leave the stem at least one filter (alpha >= "
                         f"{1 / V1_STEM:g}), got {alpha!r}.")
    if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, int) \
            or depth_multiplier < 1:
        raise ValueError(f"depth_multiplier must be an integer >= 1, got {depth_multiplier!r}.")
    if separable not in (True, False):
        raise ValueError(f"separable must be True or False, got {separable!r}.")
    inputs, x = _common.model_inputs(input_tensor, input_shape, (224, 224, 3), min_size=32,
                                     name=name)
    x = _common.normalize(x, preprocessing)
    kit = _common.ConvKit(False, kernel_initializer, bn_epsilon, bn_momentum, activation)

    x = conv_bn_act(x, int(V1_STEM * alpha), 3, 2, kit, "conv1", "conv1_bn", "conv1_relu",
                    padding=padding)
    for i, (filters, stride) in enumerate(V1_LAYERS, 1):
        filters = int(filters * alpha)
        if separable:
            x = conv_bn_act(x, None, 3, stride, kit, f"conv_dw_{i}", f"conv_dw_{i}_bn",
                            f"conv_dw_{i}_relu", pad=f"conv_pad_{i}",
                            depth_multiplier=depth_multiplier, padding=padding)
            x = conv_bn_act(x, filters, 1, 1, kit, f"conv_pw_{i}", f"conv_pw_{i}_bn",
                            f"conv_pw_{i}_relu")
        else:
            x = conv_bn_act(x, filters, 3, stride, kit, f"conv_{i}", f"conv_{i}_bn",
                            f"conv_{i}_relu", pad=f"conv_pad_{i}", padding=padding)
    outputs = _common.classifier_head(x, include_top, pooling, classes, classifier_activation,
                                      dropout_rate)
    return _common.finish_model(inputs, outputs, name, weights)


def inverted_residual(x, expansion, filters, stride, kit, prefix, padding="symmetric"):
    """The MobileNetV2 bottleneck (Sandler et al. 2018, Table 1, Fig. 4d).

    1x1 expansion to t * k channels (BN, ReLU6; none when t = 1), 3x3
    depthwise at stride s (BN, ReLU6), linear 1x1 projection to k' (BN, no
    activation), and the identity shortcut when s = 1 and k = k'.
    keras.applications' names: `{prefix}expand`, `{prefix}expand_BN`,
    `{prefix}expand_relu`, `{prefix}pad`, `{prefix}depthwise` (`_BN`,
    `_relu`), `{prefix}project` (`_BN`), `{prefix}add`.
    """
    shortcut = x
    channels = x.shape[-1]
    if expansion != 1:
        x = conv_bn_act(x, expansion * channels, 1, 1, kit, prefix + "expand",
                        prefix + "expand_BN", prefix + "expand_relu")
    x = conv_bn_act(x, None, 3, stride, kit, prefix + "depthwise", prefix + "depthwise_BN",
                    prefix + "depthwise_relu", pad=prefix + "pad", padding=padding)
    x = conv_bn_act(x, filters, 1, 1, kit, prefix + "project", prefix + "project_BN", None)
    if stride == 1 and channels == filters:
        return _common.add_residual(shortcut, x, prefix, add_name=prefix + "add")
    return x


def MobileNetV2(
    alpha=1.0,
    dropout_rate=0.2,
    padding="symmetric",
    activation="relu6",
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
    name="mobilenet_v2",
):
    """Builds MobileNet v2 (Sandler et al. 2018, Table 2) with the Keras functional API.

    Paper: https://arxiv.org/abs/1801.04381. Deviation: stride-2 layers pad
    symmetrically (torchvision's) where keras.applications pads bottom/right
    (padding="keras" does so);
    the shapes, names and weights are keras.applications.MobileNetV2's.

    Layout: a 3x3/2 conv of 32 (`Conv1`, `bn_Conv1`, `Conv1_relu`), 17
    inverted residual blocks (`expanded_conv_`, then `block_1_` ...
    `block_16_`; Table 2's rows t, c, n, s), a 1x1 conv to 1280 (`Conv_1`,
    `Conv_1_bn`, `out_relu`), global average pooling, dropout and the
    classifier. Channels are make_divisible(alpha * c, 8) (the authors'
    code, torchvision, keras.applications); the last conv stays 1280 for
    alpha <= 1 and is make_divisible(1280 * alpha, 8) above.

    Args:
        alpha: the width multiplier (the paper's 0.35 ... 1.4).
        dropout_rate: dropout before the classifier (torchvision: 0.2;
            keras.applications has none).
        padding: "symmetric" (default) or "keras", as in `MobileNetV1`.
        activation: the nonlinearity after the expansion and the depthwise
            conv, by name ("relu6", the paper).
        kernel_initializer: the convolutions' initializer, by name.
        bn_epsilon, bn_momentum: BatchNormalization's.
        preprocessing: input normalization inside the model: "tf" (default;
            [-1, 1], as keras.applications.mobilenet_v2.preprocess_input), a
            dataset preset, "caffe", "none" or a (mean, std) pair.
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as in `MobileNetV1`.

    Returns:
        A `keras.Model`.
    """
    check_common(include_top, weights, pooling, classes, alpha, dropout_rate, padding)
    inputs, x = _common.model_inputs(input_tensor, input_shape, (224, 224, 3), min_size=32,
                                     name=name)
    x = _common.normalize(x, preprocessing)
    kit = _common.ConvKit(False, kernel_initializer, bn_epsilon, bn_momentum, activation)

    x = conv_bn_act(x, _common.make_divisible(V2_STEM * alpha), 3, 2, kit, "Conv1", "bn_Conv1",
                    "Conv1_relu", padding=padding)
    block = 0
    for expansion, channels, repeats, stride in V2_ROWS:
        for j in range(repeats):
            prefix = f"block_{block}_" if block else "expanded_conv_"
            x = inverted_residual(x, expansion, _common.make_divisible(channels * alpha),
                                  stride if j == 0 else 1, kit, prefix, padding)
            block += 1
    last = _common.make_divisible(V2_LAST * alpha) if alpha > 1.0 else V2_LAST
    x = conv_bn_act(x, last, 1, 1, kit, "Conv_1", "Conv_1_bn", "out_relu")
    outputs = _common.classifier_head(x, include_top, pooling, classes, classifier_activation,
                                      dropout_rate)
    return _common.finish_model(inputs, outputs, name, weights)


mobilenet_v1 = register_variant("mobilenet_v1", MobileNetV1,
                                "MobileNet v1, alpha = 1 (Howard et al. 2017, Table 1).", alpha=1.0)
mobilenet_v1_075 = register_variant("mobilenet_v1_075", MobileNetV1,
                                    "MobileNet v1, alpha = 0.75 (Table 6).", alpha=0.75)
mobilenet_v1_050 = register_variant("mobilenet_v1_050", MobileNetV1,
                                    "MobileNet v1, alpha = 0.5 (Table 6).", alpha=0.5)
mobilenet_v1_025 = register_variant("mobilenet_v1_025", MobileNetV1,
                                    "MobileNet v1, alpha = 0.25 (Table 6).", alpha=0.25)
mobilenet_v1_conv = register_variant(
    "mobilenet_v1_conv", MobileNetV1,
    "Conv MobileNet: v1 with full 3x3 convolutions (Howard et al. 2017, Table 4).",
    separable=False)
mobilenet_v2 = register_variant("mobilenet_v2", MobileNetV2,
                                "MobileNet v2, alpha = 1 (Sandler et al. 2018, Table 2).",
                                alpha=1.0)
