"""ResNeXt, wide ResNets and SE-ResNet/SE-ResNeXt: variants of the v1 builder.

Xie, Girshick, Dollar, Tu, He. Aggregated Residual Transformations for Deep
Neural Networks. CVPR 2017. https://arxiv.org/abs/1611.05431
Zagoruyko, Komodakis. Wide Residual Networks. BMVC 2016.
https://arxiv.org/abs/1605.07146
Hu, Shen, Sun. Squeeze-and-Excitation Networks. CVPR 2018.
https://arxiv.org/abs/1709.01507
"""

from kerascnn.models.resnet import ResNet
from kerascnn.registry import builds_on, register_variant


@builds_on(ResNet, fixes=("block",))
def ResNeXt(stage_blocks, cardinality=32, width_per_group=4, stride_in_1x1=False,
            name="resnext", **kwargs):
    """A ResNeXt: `ResNet` bottlenecks whose 3x3 is a grouped convolution (Fig. 3c).

    Paper: https://arxiv.org/abs/1611.05431 (Table 1). Deviation: none; the
    3x3 strides, as in the authors' code (fb.resnet.torch) and torchvision,
    unlike ResNet v1's first 1x1. With cardinality=1, width_per_group=128 it
    is the wide bottleneck ResNet (WRN-50-2, torchvision's wide_resnet50_2).

    Args:
        stage_blocks: bottleneck blocks per stage, e.g. (3, 4, 6, 3).
        cardinality: C, the groups of each 3x3 convolution.
        width_per_group: d, channels per group at the first stage (doubling
            per stage); the 3x3 has C * d channels there (32 x 4 = 128).
        stride_in_1x1: False (the 3x3 strides) or True (the first 1x1).
        name: the model name.
        **kwargs: `ResNet`'s other arguments (stage_filters, se_ratio,
            drop_path_rate, the keras.applications arguments, ...).
    """
    return ResNet("bottleneck", stage_blocks, cardinality=cardinality,
                  width_per_group=width_per_group, stride_in_1x1=stride_in_1x1,
                  name=name, **kwargs)


@builds_on(ResNet, fixes=("block", "stage_blocks", "stage_filters", "stem"))
def ResNeXtCIFAR(depth=29, cardinality=8, width_per_group=64, stride_in_1x1=False,
                 preprocessing="cifar10", name=None, **kwargs):
    """The CIFAR ResNeXt of `depth` = 9n + 2 layers (Xie et al., Sec. 5.3).

    A 3x3 stem of 64 filters and three stages of n bottlenecks with outputs
    256, 512 and 1024, option-B shortcuts; the grouped 3x3 has
    cardinality * width_per_group channels at the first stage (8 x 64 = 512),
    doubling per stage. `preprocessing` defaults to the CIFAR-10 mean/std; the
    other arguments are those of `ResNet` (block, stage_blocks, stage_filters
    and stem are set here). The model name defaults to
    `resnext{depth}_{cardinality}x{width_per_group}d`.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 11 or (depth - 2) % 9:
        raise ValueError(f"CIFAR ResNeXt depth must be 9n + 2 with n >= 1 (29, ...), got {depth!r}.")
    n = (depth - 2) // 9
    return ResNet(
        "bottleneck", (n, n, n), stage_filters=(64, 128, 256), stem="cifar",
        cardinality=cardinality, width_per_group=width_per_group,
        stride_in_1x1=stride_in_1x1, preprocessing=preprocessing,
        name=name or f"resnext{depth}_{cardinality}x{width_per_group}d", **kwargs,
    )


# Xie et al. 2017, Table 1 and Sec. 5.3; torchvision for 101 32x8d, 101 64x4d.
resnext50_32x4d = register_variant(
    "resnext50_32x4d", ResNeXt, "ResNeXt-50 (32x4d) (Xie et al., Table 1).",
    stage_blocks=(3, 4, 6, 3), cardinality=32, width_per_group=4)
resnext101_32x8d = register_variant(
    "resnext101_32x8d", ResNeXt, "ResNeXt-101 (32x8d) (Xie et al., Table 5).",
    stage_blocks=(3, 4, 23, 3), cardinality=32, width_per_group=8)
resnext101_64x4d = register_variant(
    "resnext101_64x4d", ResNeXt, "ResNeXt-101 (64x4d) (Xie et al., Table 5).",
    stage_blocks=(3, 4, 23, 3), cardinality=64, width_per_group=4)
resnext29_8x64d = register_variant(
    "resnext29_8x64d", ResNeXtCIFAR, "CIFAR ResNeXt-29 (8x64d) (Xie et al., Table 7).",
    depth=29, cardinality=8, width_per_group=64)

# Zagoruyko & Komodakis 2016, Sec. 3 / their ImageNet table: WRN-50-2-bottleneck.
wide_resnet50_2 = register_variant(
    "wide_resnet50_2", ResNeXt, "WRN-50-2: ResNet-50 with twice as wide bottlenecks.",
    stage_blocks=(3, 4, 6, 3), cardinality=1, width_per_group=128)
wide_resnet101_2 = register_variant(
    "wide_resnet101_2", ResNeXt, "WRN-101-2: ResNet-101 with twice as wide bottlenecks.",
    stage_blocks=(3, 4, 23, 3), cardinality=1, width_per_group=128)

# Hu et al. 2018, Table 2: SE blocks with r = 16 in ResNet and ResNeXt.
se_resnet50 = register_variant("se_resnet50", ResNet, "SE-ResNet-50 (Hu et al., Table 2).",
                               block="bottleneck", stage_blocks=(3, 4, 6, 3), se_ratio=16)
se_resnet101 = register_variant("se_resnet101", ResNet, "SE-ResNet-101 (Hu et al., Table 2).",
                                block="bottleneck", stage_blocks=(3, 4, 23, 3), se_ratio=16)
se_resnet152 = register_variant("se_resnet152", ResNet, "SE-ResNet-152 (Hu et al., Table 2).",
                                block="bottleneck", stage_blocks=(3, 8, 36, 3), se_ratio=16)
se_resnext50_32x4d = register_variant(
    "se_resnext50_32x4d", ResNeXt, "SE-ResNeXt-50 (32x4d) (Hu et al., Table 2).",
    stage_blocks=(3, 4, 6, 3), cardinality=32, width_per_group=4, se_ratio=16)
