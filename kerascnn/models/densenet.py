"""DenseNet: the ImageNet networks (121-264) and the CIFAR networks (DenseNet, DenseNet-BC).

Huang, Liu, van der Maaten, Weinberger. Densely Connected Convolutional
Networks. CVPR 2017. https://arxiv.org/abs/1608.06993
"""

import keras

from kerascnn.models import _common
from kerascnn.registry import builds_on, register_variant

STEMS = ("imagenet", "cifar")


def conv_block(x, growth_rate, bottleneck, dropout_rate, kit, name):
    """One layer H_l of a dense block: x_l = H_l([x_0, ..., x_{l-1}]) (Eq. 2).

    With the bottleneck (DenseNet-B): BN-ReLU-1x1 conv (4k)-BN-ReLU-3x3 conv
    (k), keras.applications' `{name}_0_bn` ... `{name}_2_conv`; without:
    BN-ReLU-3x3 conv (k), `{name}_0_bn`, `{name}_0_relu`, `{name}_1_conv`.
    The k new maps are concatenated to the input (`{name}_concat`).
    """
    y = kit.act(kit.bn(x, name + "_0"), name + "_0_relu")
    if bottleneck:
        y = _common.dropout(kit.conv(y, 4 * growth_rate, 1, name=name + "_1"), dropout_rate,
                     name + "_1_dropout")
        y = kit.act(kit.bn(y, name + "_1"), name + "_1_relu")
        y = _common.dropout(kit.conv(y, growth_rate, 3, name=name + "_2"), dropout_rate,
                     name + "_2_dropout")
    else:
        y = _common.dropout(kit.conv(y, growth_rate, 3, name=name + "_1"), dropout_rate,
                     name + "_1_dropout")
    return keras.layers.Concatenate(name=name + "_concat")([x, y])


def dense_block(x, num_layers, growth_rate, bottleneck, dropout_rate, kit, name):
    """`num_layers` layers (`{name}_block1` ...); adds num_layers * k channels."""
    for i in range(num_layers):
        x = conv_block(x, growth_rate, bottleneck, dropout_rate, kit, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, compression, dropout_rate, kit, name):
    """BN-ReLU-1x1 conv to floor(theta * m) channels-2x2/2 average pool (Sec. 3)."""
    x = kit.act(kit.bn(x, name), name + "_relu")
    x = kit.conv(x, int(x.shape[-1] * compression), 1, name=name)
    x = _common.dropout(x, dropout_rate, name + "_dropout")
    return keras.layers.AveragePooling2D(2, strides=2, name=name + "_pool")(x)


def DenseNet(
    blocks,
    growth_rate=32,
    bottleneck=True,
    compression=0.5,
    stem="imagenet",
    stem_filters=None,
    dropout_rate=0.0,
    activation="relu",
    kernel_initializer="he_normal",
    bn_epsilon=1.001e-5,
    bn_momentum=0.9,
    preprocessing="imagenet",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation=None,
    name="densenet",
):
    """Builds a DenseNet with the Keras functional API.

    Paper: https://arxiv.org/abs/1608.06993 (Table 1 for ImageNet, Sec. 3
    "Implementation Details" for CIFAR). Deviation: none; the layer names,
    the structure and (with the defaults) the weights' shapes are
    keras.applications.DenseNet121/169/201's (`conv1_conv`, `pool1`,
    `conv2_block1_0_bn`, ..., `pool2_conv`, ..., `bn`, `predictions`).

    Layout: stem, then dense blocks `conv2`, `conv3`, ... separated by
    transitions `pool2`, `pool3`, ..., then BN-ReLU (`bn`, `relu`) and the
    head. Convolutions have no bias.

    Args:
        blocks: layers per dense block, e.g. (6, 12, 24, 16) for DenseNet-121.
        growth_rate: k, the maps each layer adds (32 on ImageNet).
        bottleneck: each layer is BN-ReLU-1x1 conv (4k)-BN-ReLU-3x3 conv (k)
            (DenseNet-B; default) or BN-ReLU-3x3 conv (k) (False).
        compression: theta in (0, 1]: a transition maps m channels to
            floor(theta * m) (0.5: DenseNet-C; 1: no compression).
        stem: "imagenet" (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or "cifar"
            (one 3x3 conv, no BN or pool: the first dense layer's BN-ReLU
            follows it).
        stem_filters: the stem's filters; default 2k (the paper's ImageNet
            and DenseNet-BC choice).
        dropout_rate: dropout after each convolution but the first (the
            paper's 0.2 on CIFAR without data augmentation); default 0.
        activation: the nonlinearity, by name ("relu", the paper, or any of
            `kerascnn.layers.ACTIVATIONS` or keras.activations).
        kernel_initializer: the convolutions' initializer, by name (default
            "he_normal", as the paper's Torch code and torchvision).
        bn_epsilon: BatchNormalization epsilon (keras.applications: 1.001e-5).
        bn_momentum: moving-statistics momentum (Keras convention; 0.9 equals
            PyTorch's 0.1).
        preprocessing: input normalization inside the model, so the model
            takes raw [0, 255] images: "imagenet" (default; what
            keras.applications.densenet.preprocess_input computes), a dataset
            preset, "caffe", "tf", "none" or a (mean, std) pair.
        include_top: end in the classifier (global average pool + dense).
        weights: None (random initialization) or the path of a local weights
            file (.weights.h5 or .keras).
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: (H, W, C); default (224, 224, 3) for the ImageNet stem
            and (32, 32, 3) for the CIFAR stem. H and W may be None.
        pooling: without the top, None (4-D features after the final
            BN-ReLU), "avg" or "max".
        classes: number of classes (>= 2) when include_top.
        classifier_activation: None for logits (default), or e.g. "softmax".
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    _common.check_one_of("stem", stem, STEMS)
    if not blocks or any(not isinstance(n, int) or n < 1 for n in blocks):
        raise ValueError(f"blocks must be layer counts >= 1, one per dense block; got {blocks!r}.")
    if not isinstance(growth_rate, int) or growth_rate < 1:
        raise ValueError(f"growth_rate must be an integer >= 1, got {growth_rate!r}.")
    if not 0 < compression <= 1:
        raise ValueError(f"compression (theta) must be in (0, 1], got {compression!r}.")
    _common.check_rate("dropout_rate", dropout_rate)
    stem_filters = 2 * growth_rate if stem_filters is None else stem_filters
    default_shape = (224, 224, 3) if stem == "imagenet" else (32, 32, 3)
    downsamplings = len(blocks) - 1 + (2 if stem == "imagenet" else 0)
    inputs, x = _common.model_inputs(
        input_tensor, input_shape, default_shape, min_size=2 ** downsamplings, name=name
    )
    x = _common.normalize(x, preprocessing)

    kit = _common.ConvKit(False, kernel_initializer, bn_epsilon, bn_momentum, activation)
    if stem == "imagenet":
        x = kit.act(kit.conv_bn(x, stem_filters, 7, 2, "conv1"), "conv1_relu")
        x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    else:
        x = kit.conv(x, stem_filters, 3, 1, "conv1")

    for i, num_layers in enumerate(blocks):
        if i:
            x = transition_block(x, compression, dropout_rate, kit, name=f"pool{i + 1}")
        x = dense_block(x, num_layers, growth_rate, bottleneck, dropout_rate, kit,
                        name=f"conv{i + 2}")
    x = keras.layers.BatchNormalization(
        epsilon=bn_epsilon, momentum=bn_momentum, name="bn")(x)
    x = kit.act(x, "relu")
    outputs = _common.classifier_head(x, include_top, pooling, classes, classifier_activation)
    return _common.finish_model(inputs, outputs, name, weights)


@builds_on(DenseNet, fixes=("blocks", "stem"))
def DenseNetCIFAR(depth, growth_rate=12, bottleneck=True, compression=0.5, stem_filters=None,
                  preprocessing="cifar10", name=None, **kwargs):
    """The paper's CIFAR DenseNet of `depth` layers (Sec. 3, Implementation Details).

    Three dense blocks of equal size at 32x32, 16x16 and 8x8 on a 3x3 stem
    conv, so depth = 3n + 4 (n layers per block) without the bottleneck and
    6n + 4 with it (each layer is then two convolutions). The stem has 2k
    filters with the bottleneck (DenseNet-BC) and 16 without (DenseNet), as
    the paper, unless `stem_filters` says otherwise. `preprocessing`
    defaults to the CIFAR-10 per-channel mean/std; the other arguments are
    those of `DenseNet` (blocks and stem are set here).
    """
    per_layer = 2 if bottleneck else 1
    if (not isinstance(depth, int) or isinstance(depth, bool) or depth < 4 + 3 * per_layer
            or (depth - 4) % (3 * per_layer)):
        form = "6n + 4 (100, 190, 250, ...) with" if bottleneck else "3n + 4 (40, 100, ...) without"
        raise ValueError(
            f"CIFAR DenseNet depth must be {form} the bottleneck, n >= 1; got {depth!r}.")
    n = (depth - 4) // (3 * per_layer)
    if stem_filters is None:
        stem_filters = 2 * growth_rate if bottleneck else 16
    return DenseNet(
        (n, n, n), growth_rate=growth_rate, bottleneck=bottleneck, compression=compression,
        stem="cifar", stem_filters=stem_filters, preprocessing=preprocessing,
        name=name or f"densenet{'_bc' if bottleneck and compression < 1 else ''}{depth}_k{growth_rate}",
        **kwargs,
    )


# Huang et al. 2017, Table 1 (ImageNet: DenseNet-BC, k = 32, theta = 0.5) and
# Table 2 (CIFAR).
densenet121 = register_variant("densenet121", DenseNet, "DenseNet-121 (Table 1).",
                               blocks=(6, 12, 24, 16))
densenet169 = register_variant("densenet169", DenseNet, "DenseNet-169 (Table 1).",
                               blocks=(6, 12, 32, 32))
densenet201 = register_variant("densenet201", DenseNet, "DenseNet-201 (Table 1).",
                               blocks=(6, 12, 48, 32))
densenet264 = register_variant("densenet264", DenseNet, "DenseNet-264 (Table 1).",
                               blocks=(6, 12, 64, 48))
densenet_bc100_k12 = register_variant(
    "densenet_bc100_k12", DenseNetCIFAR, "CIFAR DenseNet-BC, L = 100, k = 12 (Table 2).",
    depth=100, growth_rate=12, bottleneck=True, compression=0.5)
densenet40_k12 = register_variant(
    "densenet40_k12", DenseNetCIFAR, "CIFAR DenseNet, L = 40, k = 12 (Table 2).",
    depth=40, growth_rate=12, bottleneck=False, compression=1.0)
