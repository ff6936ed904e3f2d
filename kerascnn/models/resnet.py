"""ResNet v1: the ImageNet networks (18-152), the CIFAR networks (6n+2) and
their plain (no-shortcut) twins; the grouped (ResNeXt), wide, SE and
stochastic-depth options that resnext.py, senet.py and resnet_v2.py build on.

He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016.
https://arxiv.org/abs/1512.03385
"""

import keras

from kerascnn.layers import ZeroPadShortcut
from kerascnn.models import _common
from kerascnn.registry import builds_on, register_variant

SHORTCUT_KINDS = ("projection", "zero_pad", "none")


def _shortcut(x, filters, strides, kind, kit, name):
    """Identity when shapes agree; else a 1x1 projection (B) or zero pad (A); None for plain nets."""
    if kind == "none":
        return None
    if strides == 1 and x.shape[-1] == filters:
        return x
    if kind == "zero_pad":
        return ZeroPadShortcut(filters, strides, name=name + "_0_pad")(x)
    return kit.conv_bn(x, filters, 1, strides, name + "_0")


def basic_block(x, filters, strides, shortcut, kit, name, se_ratio=None, survival=1.0):
    """Two 3x3 convolutions (Fig. 2 left); output channels = filters."""
    short = _shortcut(x, filters, strides, shortcut, kit, name)
    x = kit.act(kit.conv_bn(x, filters, 3, strides, name + "_1"), name + "_1_relu")
    x = kit.conv_bn(x, filters, 3, 1, name + "_2")
    x = _common.add_residual(short, x, name, se_ratio, survival)
    return kit.act(x, name + "_out")


def bottleneck_block(x, filters, strides, shortcut, kit, name, stride_in_1x1=True,
                     width=None, groups=1, se_ratio=None, survival=1.0):
    """1x1 reduce to `width` (default filters), 3x3 with `groups`, 1x1 expand
    to 4 * filters (Fig. 5 right; ResNeXt's Fig. 3c with groups > 1).

    The paper (and keras.applications) strides the first 1x1; with
    stride_in_1x1=False the 3x3 strides instead (torchvision's "v1.5").
    """
    width = width or filters
    short = _shortcut(x, 4 * filters, strides, shortcut, kit, name)
    s1, s3 = (strides, 1) if stride_in_1x1 else (1, strides)
    x = kit.act(kit.conv_bn(x, width, 1, s1, name + "_1"), name + "_1_relu")
    x = kit.act(kit.conv_bn(x, width, 3, s3, name + "_2", groups), name + "_2_relu")
    x = kit.conv_bn(x, 4 * filters, 1, 1, name + "_3")
    x = _common.add_residual(short, x, name, se_ratio, survival)
    return kit.act(x, name + "_out")


def ResNet(
    block,
    stage_blocks,
    stage_filters=(64, 128, 256, 512),
    stem="imagenet",
    shortcut="projection",
    stride_in_1x1=None,
    cardinality=1,
    width_per_group=64,
    se_ratio=None,
    drop_path_rate=0.0,
    use_bias=False,
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
    name="resnet",
):
    """Builds a ResNet v1 (post-activation) with the Keras functional API.

    Paper: https://arxiv.org/abs/1512.03385 (Table 1 for ImageNet, Sec. 4.2 for
    CIFAR). Deviation: none by default; `stride_in_1x1=False` gives the
    torchvision "v1.5" layout and `use_bias=True` the keras.applications one.
    The options add ResNeXt's grouped bottleneck (Xie et al. 2017,
    https://arxiv.org/abs/1611.05431), the wide bottleneck (Zagoruyko &
    Komodakis 2016, https://arxiv.org/abs/1605.07146), SE blocks (Hu et al.
    2018, https://arxiv.org/abs/1709.01507) and stochastic depth (Huang et al.
    2016, https://arxiv.org/abs/1603.09382), and remove the shortcuts (the
    paper's plain nets).

    Args:
        block: "basic" (two 3x3) or "bottleneck" (1x1-3x3-1x1, 4x expansion).
        stage_blocks: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50.
        stage_filters: filters of each stage (bottleneck outputs 4x these).
        stem: "imagenet" (7x7/2 conv + 3x3/2 max pool) or "cifar" (3x3 conv,
            `stage_filters[0]` filters, no pooling).
        shortcut: "projection" (option B: 1x1 conv + BN when the shape
            changes), "zero_pad" (option A: subsample and zero-pad, no
            parameters; the paper's CIFAR networks) or "none" (no shortcut
            at all: the plain networks of the degradation experiment, Fig. 4).
        stride_in_1x1: bottleneck blocks only (an error with basic blocks):
            stride on the first 1x1 (None or True: the paper and
            keras.applications) or on the 3x3 (False: torchvision's "v1.5").
        cardinality: bottleneck blocks only: the groups C of the 3x3
            convolution (ResNeXt; 1 is ResNet).
        width_per_group: bottleneck blocks only: the 3x3's channels per group
            at the first stage, doubling with `stage_filters`; the bottleneck
            width is int(filters * width_per_group / 64) * cardinality
            (torchvision's rule). 64 with cardinality 1 is ResNet, 4 with
            cardinality 32 ResNeXt 32x4d, 128 with cardinality 1 WRN-50-2.
        se_ratio: None, or the SE reduction r (16 in Hu et al.): a
            `SqueezeExcite` gates each block's residual branch before the sum.
        drop_path_rate: stochastic depth, 1 - p_L: block l of L keeps its
            residual branch with probability p_l = 1 - l / L * drop_path_rate
            (Huang et al. Eq. 4; 0.5 in the paper); 0 adds no layer. At
            inference the branch is used whole (`kerascnn.layers.StochasticDepth`
            divides the kept branch by p_l at training instead of multiplying
            it by p_l at test, equal in expectation).
        use_bias: bias in the convolutions (keras.applications has them).
        activation: the nonlinearity, by name: "relu" (the paper) or any of
            `kerascnn.layers.ACTIVATIONS` ("gelu_approx", "leaky_relu", "prelu",
            ...) or of keras.activations.
        kernel_initializer: the convolutions' initializer, by name: any of
            `kerascnn.layers.INITIALIZERS` ("kaiming_normal", "xavier_normal",
            ...) or of keras.initializers. Default "he_normal" (Var = 2/n_in,
            He et al. 2015, as the paper).
        bn_epsilon: BatchNormalization epsilon (keras.applications: 1.001e-5).
        bn_momentum: moving-statistics momentum (Keras convention; 0.9 equals
            PyTorch's 0.1).
        preprocessing: input normalization inside the model, so the model
            takes raw [0, 255] images: a dataset's mean/std ("imagenet",
            "cifar10", "cifar100", "digits"), "caffe", "tf", "none", or a
            (mean, std) pair of per-channel values.
        include_top: end in the classifier (global average pool + dense).
        weights: None (random initialization) or the path of a local weights
            file (.weights.h5 or .keras).
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: (H, W, C); default (224, 224, 3) for the ImageNet stem
            and (32, 32, 3) for the CIFAR stem. H and W may be None.
        pooling: without the top, None (4-D features), "avg" or "max".
        classes: number of classes (>= 2) when include_top
            (`create_model` also takes timm's `num_classes`).
        classifier_activation: None for logits (default), or e.g. "softmax".
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    _common.check_one_of("block", block, _common.BLOCK_KINDS)
    if stride_in_1x1 not in (None, True, False):
        raise ValueError(f"stride_in_1x1 must be None, True or False, got {stride_in_1x1!r}.")
    if block == "basic" and stride_in_1x1 is not None:
        raise ValueError(
            f"stride_in_1x1={stride_in_1x1!r} applies to bottleneck blocks only; {name} "
            "has basic blocks, whose first 3x3 convolution strides."
        )
    for arg, value in (("cardinality", cardinality), ("width_per_group", width_per_group)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be an integer >= 1, got {value!r}.")
    if block == "basic" and (cardinality, width_per_group) != (1, 64):
        raise ValueError(
            f"cardinality and width_per_group apply to bottleneck blocks only; {name} has "
            "basic blocks (widen them with stage_filters)."
        )
    if se_ratio is not None and not se_ratio > 0:
        raise ValueError(f"se_ratio must be None or > 0, got {se_ratio!r}.")
    _common.check_one_of("shortcut", shortcut, SHORTCUT_KINDS)
    if shortcut == "none" and drop_path_rate:
        raise ValueError("drop_path_rate needs shortcuts: a plain network (shortcut='none') "
                         "would lose its whole signal when a block is dropped.")
    if stem not in ("imagenet", "cifar"):
        raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}.")
    _common.check_stage_blocks(stage_blocks, stage_filters)
    survivals = _common.block_survivals(stage_blocks, drop_path_rate)
    default_shape = (224, 224, 3) if stem == "imagenet" else (32, 32, 3)
    downsamplings = len(stage_filters) - 1 + (2 if stem == "imagenet" else 0)
    inputs, x = _common.model_inputs(
        input_tensor, input_shape, default_shape, min_size=2 ** downsamplings,
        name=name,
    )
    x = _common.normalize(x, preprocessing)

    kit = _common.ConvKit(use_bias, kernel_initializer, bn_epsilon, bn_momentum, activation)
    if stem == "imagenet":
        x = kit.act(kit.conv_bn(x, stage_filters[0], 7, 2, "conv1"), "conv1_relu")
        x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    else:
        x = kit.act(kit.conv_bn(x, stage_filters[0], 3, 1, "conv1"), "conv1_relu")

    block_fn = basic_block if block == "basic" else bottleneck_block
    for i, (n, f) in enumerate(zip(stage_blocks, stage_filters)):
        extra = {} if block == "basic" else {
            "stride_in_1x1": stride_in_1x1 is not False, "groups": cardinality,
            "width": int(f * width_per_group / 64) * cardinality,
        }
        x = _common.stage(
            x, block_fn, n, f, strides=1 if i == 0 else 2, name=f"conv{i + 2}",
            survivals=survivals[i], shortcut=shortcut, kit=kit, se_ratio=se_ratio, **extra,
        )
    outputs = _common.classifier_head(
        x, include_top, pooling, classes, classifier_activation
    )
    return _common.finish_model(inputs, outputs, name, weights)


@builds_on(ResNet, fixes=("block", "stage_blocks", "stage_filters", "stem"))
def ResNetCIFAR(depth, shortcut="zero_pad", preprocessing="cifar10", name=None, **kwargs):
    """The paper's CIFAR ResNet of `depth` = 6n + 2 layers (Sec. 4.2).

    Three stages of n basic blocks with 16, 32 and 64 filters on a 3x3 stem;
    option-A (zero-pad) shortcuts by default. Any depth 6n + 2 works (the
    paper goes to 1202). `preprocessing` defaults to the CIFAR-10 per-channel
    mean/std; the other arguments are those of `ResNet` (block, stage_blocks,
    stage_filters and stem are set here).
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"CIFAR ResNet depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110, ...), "
            f"got {depth!r}.")
    n = (depth - 2) // 6
    return ResNet(
        "basic", (n, n, n), stage_filters=(16, 32, 64), stem="cifar",
        shortcut=shortcut, preprocessing=preprocessing,
        name=name or f"resnet{depth}", **kwargs,
    )


# He et al. 2016, Table 1 (ImageNet) and Sec. 4.2 (CIFAR-10).
resnet18 = register_variant("resnet18", ResNet, "ResNet-18 (Table 1).",
                            block="basic", stage_blocks=(2, 2, 2, 2))
resnet34 = register_variant("resnet34", ResNet, "ResNet-34 (Table 1).",
                            block="basic", stage_blocks=(3, 4, 6, 3))
resnet50 = register_variant("resnet50", ResNet, "ResNet-50 (Table 1).",
                            block="bottleneck", stage_blocks=(3, 4, 6, 3))
resnet101 = register_variant("resnet101", ResNet, "ResNet-101 (Table 1).",
                             block="bottleneck", stage_blocks=(3, 4, 23, 3))
resnet152 = register_variant("resnet152", ResNet, "ResNet-152 (Table 1).",
                             block="bottleneck", stage_blocks=(3, 8, 36, 3))
resnet20 = register_variant("resnet20", ResNetCIFAR, "CIFAR ResNet-20 (Sec. 4.2).", depth=20)
resnet32 = register_variant("resnet32", ResNetCIFAR, "CIFAR ResNet-32 (Sec. 4.2).", depth=32)
resnet44 = register_variant("resnet44", ResNetCIFAR, "CIFAR ResNet-44 (Sec. 4.2).", depth=44)
resnet56 = register_variant("resnet56", ResNetCIFAR, "CIFAR ResNet-56 (Sec. 4.2).", depth=56)
resnet110 = register_variant("resnet110", ResNetCIFAR, "CIFAR ResNet-110 (Sec. 4.2).",
                             depth=110)

# The plain twins of the degradation experiment (He et al. 2016, Fig. 4 and Fig. 6).
plain18 = register_variant("plain18", ResNet, "Plain-18: ResNet-18 without shortcuts (Fig. 4).",
                           block="basic", stage_blocks=(2, 2, 2, 2), shortcut="none")
plain34 = register_variant("plain34", ResNet, "Plain-34: ResNet-34 without shortcuts (Fig. 4).",
                           block="basic", stage_blocks=(3, 4, 6, 3), shortcut="none")
plain20 = register_variant("plain20", ResNetCIFAR, "CIFAR plain-20 (Fig. 6 left).", depth=20,
                           shortcut="none")
plain56 = register_variant("plain56", ResNetCIFAR, "CIFAR plain-56 (Fig. 6 left).", depth=56,
                           shortcut="none")

# Huang et al. 2016, Sec. 4: ResNet-110 with linearly decaying survival, p_L = 0.5.
resnet110_sd = register_variant(
    "resnet110_sd", ResNetCIFAR, "CIFAR ResNet-110 with stochastic depth, p_L = 0.5 "
    "(Huang et al. 2016).", depth=110, drop_path_rate=0.5)
