"""ShuffleNet v1 and v2: grouped pointwise convolutions, channel shuffle, channel split.

Zhang, Zhou, Lin, Sun. ShuffleNet: An Extremely Efficient Convolutional
Neural Network for Mobile Devices. CVPR 2018. https://arxiv.org/abs/1707.01083
Ma, Zhang, Zheng, Sun. ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design. ECCV 2018. https://arxiv.org/abs/1807.11164
"""

import keras

from kerascnn.layers import ChannelShuffle, ChannelSplit, DepthwiseAveragePooling2D, depthwise_conv
from kerascnn.models import _common
from kerascnn.registry import register_variant

# Zhang et al. 2018, Table 1: output channels of stages 2, 3, 4 of ShuffleNet 1x, per g.
V1_CHANNELS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
               4: (272, 544, 1088), 8: (384, 768, 1536)}
V1_SCALES = (0.5, 1.0, 1.5, 2.0)  # "ShuffleNet s x" (Sec. 4.1.1, Tables 2 and 8)
STAGE_UNITS = (4, 8, 4)  # units of stages 2-4, the first strides (both papers' Table 1 / 5)
STEM_CHANNELS = 24  # conv1 (Table 1 of both papers)
MIN_SIZE = 32  # five stride-2 steps: conv1, pool1, stages 2-4


def v1_channels(groups, scale):
    """Stage 2-4 output channels of ShuffleNet `scale` x with g = `groups`.

    Table 1's channels times s, rounded half up to a multiple of 4g, so that
    the bottleneck (a quarter of the output) and the output split into g
    groups; the rounding changes nothing at 1x and 2x, nor at 0.5x and 1.5x
    for g in {1, 3, 8} (megvii's 0.5x g=3 is 120, 240, 480).
    """
    step = 4 * groups
    return tuple(max(step, int(scale * c + step / 2) // step * step)
                 for c in V1_CHANNELS[groups])


def v1_stem_channels(groups, scale):
    """conv1's channels at `scale`: 24 s (s x every filter count, Sec. 4.1.1), rounded
    half up to a multiple of g so that stage 2's first branch (out - conv1) splits
    into g groups: 12 at 0.5x, 48 at 2x (megvii's code), 16 at 0.5x with g = 8 (megvii's)."""
    return max(groups, int(STEM_CHANNELS * scale + groups / 2) // groups * groups)


def v1_unit(x, out_channels, groups, strides, group_first, kit, name):
    """The ShuffleNet unit (Zhang et al. Fig. 2b, c).

    1x1 GConv (out / 4, grouped unless `group_first` is False) -> BN -> ReLU
    -> channel shuffle -> 3x3 depthwise (strides) -> BN -> 1x1 GConv -> BN;
    at stride 1 added to the input, at stride 2 concatenated after the input's
    3x3/2 average pool (the branch then gives out - in channels); ReLU after.
    Layers `{name}_1_conv`, `{name}_shuffle`, `{name}_2_conv` (depthwise),
    `{name}_3_conv`, `{name}_pool`, `{name}_add` / `{name}_concat`, `{name}_out`.
    """
    in_channels = x.shape[-1]
    branch = out_channels - in_channels if strides == 2 else out_channels
    y = kit.conv_bn(x, out_channels // 4, 1, 1, name + "_1", groups=groups if group_first else 1)
    y = kit.act(y, name + "_1_relu")
    if groups > 1:
        y = ChannelShuffle(groups, name=name + "_shuffle")(y)
    y = depthwise_conv(y, 3, strides, kernel_initializer=kit.kernel_initializer, name=name + "_2")
    y = kit.bn(y, name + "_2")
    y = kit.conv_bn(y, branch, 1, 1, name + "_3", groups=groups)
    if strides == 1:
        x = keras.layers.Add(name=name + "_add")([x, y])
    else:
        # PyTorch's AvgPool2d(3, 2, padding=1): the zero padding counts in the mean.
        shortcut = keras.layers.ZeroPadding2D(1, name=name + "_pool_pad")(x)
        shortcut = DepthwiseAveragePooling2D(3, strides=2, name=name + "_pool")(shortcut)
        x = keras.layers.Concatenate(name=name + "_concat")([shortcut, y])
    return kit.act(x, name + "_out")


def v2_unit(x, out_channels, strides, kit, name):
    """The ShuffleNet v2 unit (Ma et al. Fig. 3c, d), torchvision's `InvertedResidual`.

    Stride 1: the channels split in halves; the first passes, the second goes
    through 1x1 -> BN -> ReLU -> 3x3 depthwise -> BN -> 1x1 -> BN -> ReLU.
    Stride 2: no split; the first branch is 3x3/2 depthwise -> BN -> 1x1 ->
    BN -> ReLU, the second as above with the depthwise striding. Each branch
    gives out / 2 channels; they are concatenated and shuffled (2 groups).
    Layers `{name}_split`, `{name}_branch1_dw_conv`, `{name}_branch1_pw_conv`,
    `{name}_branch2_1_conv`, `{name}_branch2_2_conv` (depthwise),
    `{name}_branch2_3_conv`, `{name}_concat`, `{name}_shuffle`.
    """
    half = out_channels // 2

    def depthwise_bn(y, part):
        y = depthwise_conv(y, 3, strides, kernel_initializer=kit.kernel_initializer,
                           name=f"{name}_{part}")
        return kit.bn(y, f"{name}_{part}")

    def pointwise(y, part):
        return kit.act(kit.conv_bn(y, half, 1, 1, f"{name}_{part}"), f"{name}_{part}_relu")

    if strides == 1:
        left, right = ChannelSplit(2, name=name + "_split")(x)
    else:
        left = pointwise(depthwise_bn(x, "branch1_dw"), "branch1_pw")
        right = x
    right = pointwise(right, "branch2_1")
    right = pointwise(depthwise_bn(right, "branch2_2"), "branch2_3")
    x = keras.layers.Concatenate(name=name + "_concat")([left, right])
    return ChannelShuffle(2, name=name + "_shuffle")(x)


def _check_units(stage_units):
    if (not isinstance(stage_units, (tuple, list)) or len(stage_units) != 3
            or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in stage_units)):
        raise ValueError(
            f"stage_units must be three unit counts >= 1 (stages 2-4), got {stage_units!r}.")


def _stem(x, filters, kit):
    """conv1: 3x3/2 conv -> BN -> ReLU; pool1: 3x3/2 max pool (padding 1, as PyTorch's)."""
    x = kit.act(kit.conv_bn(x, filters, 3, 2, "conv1"), "conv1_relu")
    # After ReLU, zero padding gives what PyTorch's -inf padding gives.
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)


def ShuffleNetV1(
    groups=3,
    scale=1.0,
    stem_channels=None,
    stage_units=STAGE_UNITS,
    activation="relu",
    kernel_initializer="he_normal",
    bn_epsilon=1e-5,
    bn_momentum=0.9,
    preprocessing="imagenet",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation=None,
    name="shufflenet_v1",
):
    """Builds ShuffleNet `scale` x with `groups` groups (Zhang et al. 2018).

    Paper: https://arxiv.org/abs/1707.01083 (Table 1, Fig. 2). Deviation:
    none at 1x; at other scales the channels are rounded to a multiple of 4g
    where s x Table 1's do not split into g groups (`v1_channels`).

    Layout: conv1 (3x3/2) and pool1 (3x3/2 max), stages `stage2` ...
    `stage4` of `stage_units` units (`stage2_block1` ..., the first strides
    and concatenates), global average pool and the classifier. The first 1x1
    of `stage2_block1` is not grouped (its input has only 24 channels).
    Convolutions have no bias; no ReLU after the depthwise convolution.

    Args:
        groups: g, the groups of the pointwise convolutions: 1, 2, 3, 4 or 8.
        scale: s, the width multiplier: 0.5, 1.0, 1.5 or 2.0.
        stem_channels: conv1's filters; default `v1_stem_channels` (24 s: the
            paper's Table 1 gives 24 at 1x, its 38 M at 0.5x and 524 M at 2x
            need 12 and 48, as megvii's code; `shufflenet_v1_x1_5` fixes 24,
            the code's and the 292 M of Table 8).
        stage_units: units of stages 2-4 (Table 1: 4, 8, 4).
        activation: the nonlinearity, by name ("relu", the paper).
        kernel_initializer: the convolutions' initializer, by name.
        bn_epsilon, bn_momentum: BatchNormalization's (PyTorch's defaults;
            Keras's momentum convention, 0.9 = PyTorch's 0.1).
        preprocessing: input normalization inside the model ("imagenet", a
            dataset preset, "caffe", "tf", "none" or a (mean, std) pair).
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation: as keras.applications; input_shape
            defaults to (224, 224, 3), H and W may be None (>= 32).
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups not in V1_CHANNELS:
        raise ValueError(f"groups must be one of {tuple(V1_CHANNELS)} (Table 1), got {groups!r}.")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale not in V1_SCALES:
        raise ValueError(f"scale must be one of {V1_SCALES}, got {scale!r}.")
    if stem_channels is None:
        stem_channels = v1_stem_channels(groups, scale)
    if (isinstance(stem_channels, bool) or not isinstance(stem_channels, int)
            or stem_channels < groups or stem_channels % groups):
        raise ValueError(
            f"stem_channels must be a multiple of groups ({groups}), got {stem_channels!r}.")
    _check_units(stage_units)
    kit = _common.ConvKit(False, kernel_initializer, bn_epsilon, bn_momentum, activation)
    inputs, x = _common.model_inputs(input_tensor, input_shape, (224, 224, 3), MIN_SIZE, name)
    x = _common.normalize(x, preprocessing)
    x = _stem(x, stem_channels, kit)
    for stage, (units, channels) in enumerate(zip(stage_units, v1_channels(groups, scale))):
        for unit in range(units):
            x = v1_unit(x, channels, groups, 2 if unit == 0 else 1,
                        group_first=stage > 0 or unit > 0, kit=kit,
                        name=f"stage{stage + 2}_block{unit + 1}")
    outputs = _common.classifier_head(x, include_top, pooling, classes, classifier_activation)
    return _common.finish_model(inputs, outputs, name, weights)


def ShuffleNetV2(
    stage_out_channels,
    stage_units=STAGE_UNITS,
    activation="relu",
    kernel_initializer="he_normal",
    bn_epsilon=1e-5,
    bn_momentum=0.9,
    preprocessing="imagenet",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation=None,
    name="shufflenet_v2",
):
    """Builds a ShuffleNet v2 (Ma et al. 2018).

    Paper: https://arxiv.org/abs/1807.11164 (Table 5, Fig. 3c, d).
    Deviation: none; the network is torchvision's `ShuffleNetV2` (the first
    half of the channels passes a stride-1 unit, as `x.chunk(2)`).

    Layout: conv1 (3x3/2) and pool1 (3x3/2 max), stages `stage2` ...
    `stage4` of `stage_units` units (`stage2_block1` ..., the first strides),
    conv5 (1x1 -> BN -> ReLU), global average pool and the classifier.

    Args:
        stage_out_channels: the output channels of conv1, stages 2-4 and
            conv5 (Table 5, 1x: (24, 116, 232, 464, 1024)); the stages' even.
        stage_units: units of stages 2-4 (Table 5: 4, 8, 4).
        activation, kernel_initializer, bn_epsilon, bn_momentum,
            preprocessing, include_top, weights, input_tensor, input_shape,
            pooling, classes, classifier_activation, name: as `ShuffleNetV1`.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    channels = tuple(stage_out_channels) if isinstance(stage_out_channels, (tuple, list)) else ()
    if (len(channels) != 5 or any(isinstance(c, bool) or not isinstance(c, int) or c < 1
                                  for c in channels) or any(c % 2 for c in channels[1:4])):
        raise ValueError(
            "stage_out_channels must be five channel counts >= 1 (conv1, stages 2-4, conv5), "
            f"the stages' even; got {stage_out_channels!r}.")
    _check_units(stage_units)
    kit = _common.ConvKit(False, kernel_initializer, bn_epsilon, bn_momentum, activation)
    inputs, x = _common.model_inputs(input_tensor, input_shape, (224, 224, 3), MIN_SIZE, name)
    x = _common.normalize(x, preprocessing)
    x = _stem(x, channels[0], kit)
    for stage, (units, out) in enumerate(zip(stage_units, channels[1:4])):
        for unit in range(units):
            x = v2_unit(x, out, 2 if unit == 0 else 1, kit,
                        name=f"stage{stage + 2}_block{unit + 1}")
    x = kit.act(kit.conv_bn(x, channels[4], 1, 1, "conv5"), "conv5_relu")
    outputs = _common.classifier_head(x, include_top, pooling, classes, classifier_activation)
    return _common.finish_model(inputs, outputs, name, weights)


# Zhang et al. 2018, Table 1 (1x, g = 1 ... 8), Tables 2 and 8 and megvii's code
# (g = 3 at 0.5x-2x).
shufflenet_v1 = register_variant("shufflenet_v1", ShuffleNetV1, "ShuffleNet 1x, g = 3 (Table 1).",
                                 groups=3, scale=1.0)
shufflenet_v1_g1 = register_variant("shufflenet_v1_g1", ShuffleNetV1,
                                    "ShuffleNet 1x, g = 1 (Table 1).", groups=1, scale=1.0)
shufflenet_v1_g2 = register_variant("shufflenet_v1_g2", ShuffleNetV1,
                                    "ShuffleNet 1x, g = 2 (Table 1).", groups=2, scale=1.0)
shufflenet_v1_g4 = register_variant("shufflenet_v1_g4", ShuffleNetV1,
                                    "ShuffleNet 1x, g = 4 (Table 1).", groups=4, scale=1.0)
shufflenet_v1_g8 = register_variant("shufflenet_v1_g8", ShuffleNetV1,
                                    "ShuffleNet 1x, g = 8 (Table 1).", groups=8, scale=1.0)
shufflenet_v1_x0_5 = register_variant(
    "shufflenet_v1_x0_5", ShuffleNetV1, "ShuffleNet 0.5x, g = 3 (Table 2).", groups=3, scale=0.5)
shufflenet_v1_x1_5 = register_variant(
    "shufflenet_v1_x1_5", ShuffleNetV1,
    "ShuffleNet 1.5x, g = 3 (Table 8; conv1 24, megvii's code).",
    groups=3, scale=1.5, stem_channels=24)
shufflenet_v1_x2_0 = register_variant(
    "shufflenet_v1_x2_0", ShuffleNetV1, "ShuffleNet 2x, g = 3 (Table 8).", groups=3, scale=2.0)

# Ma et al. 2018, Table 5 (torchvision's shufflenet_v2_x*): conv1, stages 2-4, conv5.
shufflenet_v2_x0_5 = register_variant(
    "shufflenet_v2_x0_5", ShuffleNetV2, "ShuffleNet v2 0.5x (Table 5).",
    stage_out_channels=(24, 48, 96, 192, 1024))
shufflenet_v2_x1_0 = register_variant(
    "shufflenet_v2_x1_0", ShuffleNetV2, "ShuffleNet v2 1x (Table 5).",
    stage_out_channels=(24, 116, 232, 464, 1024))
shufflenet_v2_x1_5 = register_variant(
    "shufflenet_v2_x1_5", ShuffleNetV2, "ShuffleNet v2 1.5x (Table 5).",
    stage_out_channels=(24, 176, 352, 704, 1024))
shufflenet_v2_x2_0 = register_variant(
    "shufflenet_v2_x2_0", ShuffleNetV2, "ShuffleNet v2 2x (Table 5).",
    stage_out_channels=(24, 244, 488, 976, 2048))
