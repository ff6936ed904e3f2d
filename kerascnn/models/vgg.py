"""VGG: configurations A, B, D and E (VGG-11/13/16/19), with and without BatchNorm.

Simonyan, Zisserman. Very Deep Convolutional Networks for Large-Scale Image
Recognition. ICLR 2015. https://arxiv.org/abs/1409.1556
"""

import keras

from kerascnn.models import _common
from kerascnn.registry import register_variant


def vgg_block(x, num_convs, filters, kit, batch_norm, name):
    """`num_convs` 3x3 convolutions ("same", stride 1), then a 2x2 max pool.

    Layers `{name}_conv{j}` (keras.applications' names, so its weights map),
    `{name}_conv{j}_bn` with batch_norm, `{name}_conv{j}_relu`, `{name}_pool`.
    """
    for j in range(1, num_convs + 1):
        conv = f"{name}_conv{j}"
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=kit.use_bias,
                                kernel_initializer=kit.kernel_initializer, name=conv)(x)
        if batch_norm:
            x = kit.bn(x, conv)
        x = kit.act(x, conv + "_relu")
    return keras.layers.MaxPooling2D(2, strides=2, name=name + "_pool")(x)


def VGG(
    stage_convs,
    stage_filters=(64, 128, 256, 512, 512),
    batch_norm=False,
    use_bias=True,
    activation="relu",
    kernel_initializer="he_normal",
    bn_epsilon=1e-5,
    bn_momentum=0.9,
    dropout_rate=0.5,
    preprocessing="imagenet",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation=None,
    name="vgg",
):
    """Builds a VGG network: blocks of 3x3 convolutions, each ending in a max pool, and three FC layers.

    Paper: https://arxiv.org/abs/1409.1556 (Table 1). Deviation: He-normal
    initial weights (the paper trained net A from N(0, 0.01) and initialized
    the deeper ones from it); the BatchNorm variants are torchvision's
    (BN after each convolution, which keeps its bias), not the paper's.

    The layout is keras.applications' VGG16/VGG19 (`block{i}_conv{j}`,
    `block{i}_pool`, `flatten`, `fc1`, `fc2`, `predictions`, the same
    weight shapes), so its weights carry over by name, with dropout after
    fc1 and fc2 as in the paper (keras.applications has none; dropout holds
    no weights).

    Args:
        stage_convs: 3x3 convolutions per block, e.g. (2, 2, 3, 3, 3) for
            VGG-16 (configuration D).
        stage_filters: filters of each block (the paper's 64 ... 512).
        batch_norm: BatchNormalization after every convolution (torchvision's
            vgg*_bn).
        use_bias: bias in the convolutions (the paper, keras.applications and
            torchvision have it, with BN too).
        activation: the nonlinearity, by name (default ReLU, the paper's).
        kernel_initializer: the convolutions' initializer, by name (default
            He normal, Var = 2 / n_in).
        bn_epsilon, bn_momentum: BatchNormalization's (Keras's momentum
            convention: 0.9 is PyTorch's 0.1).
        dropout_rate: dropout after fc1 and fc2 (the paper's 0.5).
        preprocessing: input normalization inside the model (raw [0, 255]
            input): "imagenet" (default), "caffe" (keras.applications' VGG
            preprocessing: BGR, mean subtracted), or another of docs/models.md.
        include_top: end in flatten, fc1, fc2 (4096 each) and predictions.
        weights: None or the path of a local weights file.
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: (H, W, C), at least 32x32 (H and W halve in each block);
            default (224, 224, 3). With the top it must be fixed (the
            flattened features feed fc1: 7x7x512 at 224).
        pooling: without the top, None (4-D features), "avg" or "max".
        classes: number of classes (>= 2) when include_top.
        classifier_activation: None for logits (default), or e.g. "softmax".
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    if len(stage_convs) != len(stage_filters) or min(stage_convs) < 1:
        raise ValueError(
            f"stage_convs {tuple(stage_convs)} needs one count >= 1 per block "
            f"of stage_filters {tuple(stage_filters)}."
        )
    _common.check_rate("dropout_rate", dropout_rate)
    kit = _common.ConvKit(use_bias, kernel_initializer, bn_epsilon, bn_momentum, activation)
    inputs, x = _common.model_inputs(
        input_tensor, input_shape, (224, 224, 3), min_size=2 ** len(stage_convs), name=name,
    )
    x = _common.normalize(x, preprocessing)
    for i, (n, filters) in enumerate(zip(stage_convs, stage_filters)):
        x = vgg_block(x, n, filters, kit, batch_norm, name=f"block{i + 1}")
    outputs = _common.fc_classifier_head(
        x, include_top, pooling, classes, classifier_activation,
        activation=activation, dropout_rate=dropout_rate,
    )
    return _common.finish_model(inputs, outputs, name, weights)


# Simonyan & Zisserman 2015, Table 1: configurations A (11 layers), B (13), D (16), E (19).
_CONFIGS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
_LETTERS = {11: "A", 13: "B", 16: "D", 19: "E"}


def _variant(depth, batch_norm):
    name = f"vgg{depth}" + ("_bn" if batch_norm else "")
    doc = f"VGG-{depth} (Table 1, configuration {_LETTERS[depth]})" + (
        ", BatchNorm after every convolution." if batch_norm else ".")
    return register_variant(name, VGG, doc, stage_convs=_CONFIGS[depth], batch_norm=batch_norm)


vgg11 = _variant(11, False)
vgg13 = _variant(13, False)
vgg16 = _variant(16, False)
vgg19 = _variant(19, False)
vgg11_bn = _variant(11, True)
vgg13_bn = _variant(13, True)
vgg16_bn = _variant(16, True)
vgg19_bn = _variant(19, True)
