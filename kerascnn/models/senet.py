"""SENet-154: SE blocks in a modified 64x4d ResNeXt-152 (Hu et al. 2018, Sec. 6.1
and Appendix). The SE-ResNet and SE-ResNeXt variants are in resnext.py.

Hu, Shen, Sun. Squeeze-and-Excitation Networks. CVPR 2018.
https://arxiv.org/abs/1709.01507
"""

import keras

from kerascnn.models import _common
from kerascnn.registry import register_variant


def senet_block(x, filters, strides, kit, name, width, groups, se_ratio, survival=1.0):
    """SENet-154's bottleneck: 1x1 to width / 2, grouped 3x3/stride to width,
    1x1 to 4 * filters, SE, sum with the shortcut.

    The shortcut, where the shape changes, is a 3x3/2 convolution + BN when
    it strides (the Appendix's change (c)) and a 1x1 + BN otherwise.
    """
    short = x
    if strides != 1 or x.shape[-1] != 4 * filters:
        short = kit.conv_bn(x, 4 * filters, 3 if strides > 1 else 1, strides, name + "_0")
    # Change (a): the first 1x1 has half the channels of the grouped 3x3.
    x = kit.act(kit.conv_bn(x, width // 2, 1, 1, name + "_1"), name + "_1_relu")
    x = kit.act(kit.conv_bn(x, width, 3, strides, name + "_2", groups), name + "_2_relu")
    x = kit.conv_bn(x, 4 * filters, 1, 1, name + "_3")
    x = _common.add_residual(short, x, name, se_ratio, survival)
    return kit.act(x, name + "_out")


def SENet(
    stage_blocks,
    stage_filters=(64, 128, 256, 512),
    cardinality=64,
    width_per_group=4,
    se_ratio=16,
    dropout_rate=0.2,
    drop_path_rate=0.0,
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
    name="senet",
):
    """Builds SENet-154-style networks with the Keras functional API.

    Paper: https://arxiv.org/abs/1709.01507 (Sec. 6.1 and the Appendix):
    SE blocks (r = 16) in a 64x4d ResNeXt with (a) the first 1x1 of each
    bottleneck halved, (b) a stem of three 3x3 convolutions (64, 64, 128
    filters, the first strided), (c) 3x3/2 projection shortcuts and (d)
    dropout 0.2 before the classifier. Deviation: the stem's max pool pads one
    pixel on each side (as ResNet's) where the Caffe model uses ceil mode
    without padding; (e) label smoothing and (f) frozen BN are training
    choices, not part of the model.

    Args:
        stage_blocks: blocks per stage; (3, 8, 36, 3) for SENet-154.
        stage_filters: filters of each stage (the block outputs 4x these).
        cardinality: groups of each 3x3 convolution.
        width_per_group: channels per group of the 3x3 at the first stage,
            doubling per stage (64 x 4 = 256); the first 1x1 has half as many.
        se_ratio: the SE reduction r.
        dropout_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, 1 - p_L (the linear decay over all
            blocks, as in `kerascnn.models.resnet.ResNet`); 0 adds no layer.
        activation: the nonlinearity, by name (`kerascnn.layers.ACTIVATIONS`
            or Keras's); the SE gate keeps ReLU and sigmoid.
        kernel_initializer: the convolutions' initializer, by name.
        bn_epsilon: BatchNormalization epsilon.
        bn_momentum: moving-statistics momentum (Keras convention).
        preprocessing: input normalization inside the model (see
            `kerascnn.models._common.normalize`), default ImageNet mean/std.
        include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation: the keras.applications arguments
            (input_shape defaults to (224, 224, 3)).
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    _common.check_stage_blocks(stage_blocks, stage_filters)
    if not se_ratio > 0:
        raise ValueError(f"se_ratio must be > 0, got {se_ratio!r}.")
    survivals = _common.block_survivals(stage_blocks, drop_path_rate)
    inputs, x = _common.model_inputs(
        input_tensor, input_shape, (224, 224, 3), min_size=2 ** (len(stage_filters) + 1),
        name=name,
    )
    x = _common.normalize(x, preprocessing)

    kit = _common.ConvKit(False, kernel_initializer, bn_epsilon, bn_momentum, activation)
    for i, (filters, strides) in enumerate(((64, 2), (64, 1), (128, 1))):
        x = kit.act(kit.conv_bn(x, filters, 3, strides, f"conv1_{i + 1}"), f"conv1_{i + 1}_relu")
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

    for i, (n, f) in enumerate(zip(stage_blocks, stage_filters)):
        x = _common.stage(
            x, senet_block, n, f, strides=1 if i == 0 else 2, name=f"conv{i + 2}",
            survivals=survivals[i], kit=kit, width=int(f * width_per_group / 64) * cardinality,
            groups=cardinality, se_ratio=se_ratio,
        )
    outputs = _common.classifier_head(
        x, include_top, pooling, classes, classifier_activation, dropout_rate=dropout_rate
    )
    return _common.finish_model(inputs, outputs, name, weights)


senet154 = register_variant("senet154", SENet, "SENet-154 (Hu et al., Sec. 6.1, Appendix).",
                            stage_blocks=(3, 8, 36, 3))
