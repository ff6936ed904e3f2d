"""Pre-activation ResNets (v2): ImageNet 50-200, CIFAR 164/1001 and 18, and the
CIFAR wide ResNets (WRN-d-k).

He, Zhang, Ren, Sun. Identity Mappings in Deep Residual Networks. ECCV 2016.
https://arxiv.org/abs/1603.05027
Zagoruyko, Komodakis. Wide Residual Networks. BMVC 2016.
https://arxiv.org/abs/1605.07146
"""

import keras

from kerascnn.models import _common
from kerascnn.registry import builds_on, register_variant

LAYOUTS = ("paper", "keras")


def _preact_and_shortcut(x, out_channels, strides, preact, kit, end_kit, name):
    """BN-ReLU of the block's input, and the shortcut.

    A projection (1x1 conv, no BN) where the channels change reads the
    pre-activated input, as both branches then share it (He et al. 2016b,
    Fig. 1b / keras.applications); otherwise the shortcut is the raw input,
    subsampled by a 1x1 max pool where the block strides (keras.applications'
    layout).
    """
    pre = kit.act(kit.bn(x, name + "_preact"), name + "_preact_relu") if preact else x
    if x.shape[-1] != out_channels:
        short = end_kit.conv(pre, out_channels, 1, strides, name + "_0")
    elif strides > 1:
        short = keras.layers.MaxPooling2D(1, strides=strides, name=name + "_0_pool")(x)
    else:
        short = x
    return pre, short


def preact_basic_block(x, filters, strides, kit, end_kit, name, preact=True, dropout_rate=0.0,
                       survival=1.0):
    """BN-ReLU-3x3-BN-ReLU-[dropout]-3x3 plus the shortcut (He et al. 2016b, Fig. 1b;
    WRN's dropout between the convolutions, Zagoruyko & Komodakis Fig. 1d)."""
    pre, short = _preact_and_shortcut(x, filters, strides, preact, kit, end_kit, name)
    x = kit.act(kit.conv_bn(pre, filters, 3, strides, name + "_1"), name + "_1_relu")
    x = _common.dropout(x, dropout_rate, name + "_dropout")
    x = end_kit.conv(x, filters, 3, 1, name + "_2")
    return _common.add_residual(short, x, name, survival=survival, add_name=name + "_out")


def preact_bottleneck_block(x, filters, strides, kit, end_kit, name, preact=True,
                            dropout_rate=0.0, survival=1.0):
    """BN-ReLU-1x1-BN-ReLU-3x3(stride)-BN-ReLU-1x1 to 4 * filters plus the shortcut."""
    pre, short = _preact_and_shortcut(x, 4 * filters, strides, preact, kit, end_kit, name)
    x = kit.act(kit.conv_bn(pre, filters, 1, 1, name + "_1"), name + "_1_relu")
    x = kit.act(kit.conv_bn(x, filters, 3, strides, name + "_2"), name + "_2_relu")
    x = end_kit.conv(x, 4 * filters, 1, 1, name + "_3")
    return _common.add_residual(short, x, name, survival=survival, add_name=name + "_out")


def ResNetV2(
    block,
    stage_blocks,
    stage_filters=(64, 128, 256, 512),
    stem="imagenet",
    stem_filters=None,
    layout="paper",
    dropout_rate=0.0,
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
    name="resnet_v2",
):
    """Builds a pre-activation ResNet (v2) with the Keras functional API.

    Paper: https://arxiv.org/abs/1603.05027 (Fig. 1b, Sec. 4 for CIFAR, Table 5
    for ImageNet). Deviation: the 3x3 of a downsampling bottleneck strides (as
    in fb.resnet.torch's preresnet and keras.applications), where the authors'
    CIFAR code strides its first 1x1; the parameter counts are the same.

    Every block computes x + F(BN-ReLU(x)), the network ends in BN-ReLU
    (`post_bn`, `post_relu`) before the pooling, and layer names are
    keras.applications' (`conv2_block1_preact_bn`, `conv2_block1_0_conv`,
    `conv2_block1_out` for the sum, ...).

    Args:
        block: "basic" (two 3x3) or "bottleneck" (1x1-3x3-1x1, 4x expansion).
        stage_blocks: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50.
        stage_filters: filters of each stage (bottleneck outputs 4x these).
        stem: "imagenet" (7x7/2 conv + 3x3/2 max pool) or "cifar" (one 3x3
            conv, no pooling).
        stem_filters: the stem's filters; None: 64 for the ImageNet stem,
            `stage_filters[0]` for the CIFAR stem.
        layout: "paper": the first block of each stage after the first
            strides, and the ImageNet stem is conv-BN-ReLU (so the first block
            skips its own BN-ReLU), as fb.resnet.torch's preresnet. "keras":
            keras.applications' ResNet50V2 layout: the stem is a bare conv,
            and the *last* block of each stage but the last strides (its
            shortcut a 1x1/2 max pool). The same weights in both.
        dropout_rate: basic blocks only: dropout between the two 3x3
            convolutions (WRN; 0.3 in Zagoruyko & Komodakis's best CIFAR runs).
        drop_path_rate: stochastic depth, 1 - p_L: block l of L keeps its
            residual branch with probability 1 - l / L * drop_path_rate
            (Huang et al. 2016, Eq. 4); 0 adds no layer. At inference the
            branch is used whole (see `kerascnn.layers.StochasticDepth`).
        use_bias: bias in the convolutions that no BatchNormalization follows
            directly: the stem (keras layout), the shortcut projections and
            each block's last convolution, as keras.applications' ResNetV2.
        activation: the nonlinearity, by name (`kerascnn.layers.ACTIVATIONS`
            or Keras's).
        kernel_initializer: the convolutions' initializer, by name.
        bn_epsilon: BatchNormalization epsilon (keras.applications: 1.001e-5).
        bn_momentum: moving-statistics momentum (Keras convention).
        preprocessing: input normalization inside the model (see
            `kerascnn.models._common.normalize`); keras.applications' ResNetV2
            expects "tf".
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation: the keras.applications arguments
            (input_shape defaults to (224, 224, 3) for the ImageNet stem and
            (32, 32, 3) for the CIFAR stem).
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    _common.check_one_of("block", block, _common.BLOCK_KINDS)
    if stem not in ("imagenet", "cifar"):
        raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}.")
    _common.check_one_of("layout", layout, LAYOUTS)
    _common.check_rate("dropout_rate", dropout_rate)
    if dropout_rate and block != "basic":
        raise ValueError("dropout_rate applies to basic blocks only (WRN's dropout "
                         "between the two 3x3 convolutions).")
    _common.check_stage_blocks(stage_blocks, stage_filters)
    survivals = _common.block_survivals(stage_blocks, drop_path_rate)
    if stem_filters is None:
        stem_filters = 64 if stem == "imagenet" else stage_filters[0]
    default_shape = (224, 224, 3) if stem == "imagenet" else (32, 32, 3)
    downsamplings = len(stage_filters) - 1 + (2 if stem == "imagenet" else 0)
    inputs, x = _common.model_inputs(
        input_tensor, input_shape, default_shape, min_size=2 ** downsamplings, name=name,
    )
    x = _common.normalize(x, preprocessing)

    kit = _common.ConvKit(False, kernel_initializer, bn_epsilon, bn_momentum, activation)
    end_kit = _common.ConvKit(use_bias, kernel_initializer, bn_epsilon, bn_momentum, activation)
    activated = stem == "imagenet" and layout == "paper"
    if stem == "cifar":
        x = end_kit.conv(x, stem_filters, 3, 1, "conv1")
    elif activated:
        x = kit.act(kit.conv_bn(x, stem_filters, 7, 2, "conv1"), "conv1_relu")
    else:
        x = end_kit.conv(x, stem_filters, 7, 2, "conv1")
    if stem == "imagenet":
        x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

    block_fn = preact_basic_block if block == "basic" else preact_bottleneck_block
    last = len(stage_blocks) - 1
    for i, (n, f) in enumerate(zip(stage_blocks, stage_filters)):
        for j in range(n):
            if layout == "paper":
                strides = 2 if i > 0 and j == 0 else 1
            else:
                strides = 2 if i < last and j == n - 1 else 1
            x = block_fn(
                x, f, strides, kit, end_kit, name=f"conv{i + 2}_block{j + 1}",
                preact=not (activated and i == 0 and j == 0), dropout_rate=dropout_rate,
                survival=survivals[i][j],
            )
    x = kit.act(kit.bn(x, "post"), "post_relu")
    outputs = _common.classifier_head(
        x, include_top, pooling, classes, classifier_activation
    )
    return _common.finish_model(inputs, outputs, name, weights)


@builds_on(ResNetV2, fixes=("stage_blocks", "stem"))
def PreActResNetCIFAR(depth, block="bottleneck", stage_filters=(16, 32, 64),
                      preprocessing="cifar10", name=None, **kwargs):
    """A CIFAR pre-activation ResNet of `depth` layers (He et al. 2016b, Sec. 4).

    A 3x3 stem of `stage_filters[0]` filters and n blocks in each stage, with
    depth = (2 for basic, 3 for bottleneck) * n * stages + 2: 164 and 1001 are
    the paper's bottleneck networks (16/32/64, outputs 64/128/256); 18 with
    basic blocks and 64/128/256/512 filters is the PreAct-ResNet-18 of later
    CIFAR work. `preprocessing` defaults to the CIFAR-10 mean/std; the other
    arguments are `ResNetV2`'s. The model name defaults to
    `preact_resnet{depth}`.
    """
    per_block = 3 if block == "bottleneck" else 2
    layers = per_block * len(stage_filters)
    if (not isinstance(depth, int) or isinstance(depth, bool) or depth < layers + 2
            or (depth - 2) % layers):
        raise ValueError(
            f"depth must be {per_block} * {len(stage_filters)} * n + 2 for {block} blocks "
            f"in {len(stage_filters)} stages (164, 1001 with bottlenecks), got {depth!r}."
        )
    n = (depth - 2) // layers
    return ResNetV2(block, (n,) * len(stage_filters), stage_filters=stage_filters,
                    stem="cifar", preprocessing=preprocessing,
                    name=name or f"preact_resnet{depth}", **kwargs)


@builds_on(ResNetV2, fixes=("block", "stage_blocks", "stage_filters", "stem", "stem_filters"))
def WideResNet(depth, widen_factor, dropout_rate=0.0, preprocessing="cifar10", name=None,
               **kwargs):
    """WRN-depth-k for CIFAR (Zagoruyko & Komodakis 2016, Table 1).

    Paper: https://arxiv.org/abs/1605.07146. A 3x3 stem of 16 filters and
    three stages of n = (depth - 4) / 6 pre-activation basic blocks with
    16k, 32k and 64k filters (k = `widen_factor`), dropout between the two
    3x3 convolutions. Deviation: none (the first block's 16 -> 16k shortcut
    is a 1x1 projection, as the authors' code). `preprocessing` defaults to
    the CIFAR-10 mean/std; the other arguments are `ResNetV2`'s. The model
    name defaults to `wrn{depth}_{widen_factor}`.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n + 4 with n >= 1 (16, 28, 40, ...), got {depth!r}.")
    if isinstance(widen_factor, bool) or not isinstance(widen_factor, int) or widen_factor < 1:
        raise ValueError(f"widen_factor must be an integer >= 1, got {widen_factor!r}.")
    n = (depth - 4) // 6
    k = widen_factor
    return ResNetV2("basic", (n, n, n), stage_filters=(16 * k, 32 * k, 64 * k), stem="cifar",
                    stem_filters=16, dropout_rate=dropout_rate, preprocessing=preprocessing,
                    name=name or f"wrn{depth}_{widen_factor}", **kwargs)


# He et al. 2016b: ImageNet Table 5 (ResNet-200) and fb.resnet.torch's depths.
resnet50_v2 = register_variant("resnet50_v2", ResNetV2, "Pre-activation ResNet-50.",
                               block="bottleneck", stage_blocks=(3, 4, 6, 3))
resnet101_v2 = register_variant("resnet101_v2", ResNetV2, "Pre-activation ResNet-101.",
                                block="bottleneck", stage_blocks=(3, 4, 23, 3))
resnet152_v2 = register_variant("resnet152_v2", ResNetV2, "Pre-activation ResNet-152.",
                                block="bottleneck", stage_blocks=(3, 8, 36, 3))
resnet200_v2 = register_variant("resnet200_v2", ResNetV2,
                                "Pre-activation ResNet-200 (He et al. 2016b, Table 5).",
                                block="bottleneck", stage_blocks=(3, 24, 36, 3))
# He et al. 2016b, Table 2 and 3 (CIFAR); PreAct-ResNet-18 as in the mixup / CIFAR literature.
preact_resnet164 = register_variant("preact_resnet164", PreActResNetCIFAR,
                                    "CIFAR pre-activation ResNet-164 (Table 2).", depth=164)
preact_resnet1001 = register_variant("preact_resnet1001", PreActResNetCIFAR,
                                     "CIFAR pre-activation ResNet-1001 (Table 2).", depth=1001)
preact_resnet18 = register_variant(
    "preact_resnet18", PreActResNetCIFAR, "CIFAR PreAct-ResNet-18 (basic blocks, 64-512).",
    depth=18, block="basic", stage_filters=(64, 128, 256, 512))
# Zagoruyko & Komodakis 2016, Tables 4 and 5.
wrn28_10 = register_variant("wrn28_10", WideResNet, "WRN-28-10 (Table 4).", depth=28,
                            widen_factor=10)
wrn16_8 = register_variant("wrn16_8", WideResNet, "WRN-16-8 (Table 4).", depth=16,
                           widen_factor=8)
wrn40_4 = register_variant("wrn40_4", WideResNet, "WRN-40-4 (Table 4).", depth=40,
                           widen_factor=4)
