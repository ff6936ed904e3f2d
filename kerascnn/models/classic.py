"""The classic networks: the multilayer perceptron, XOR, LeNet-5, AlexNet, ZFNet.

Minsky & Papert. Perceptrons. 1969 (XOR needs a hidden layer).
LeCun, Bottou, Bengio, Haffner. Gradient-Based Learning Applied to Document
Recognition. Proc. IEEE 1998. http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf
Krizhevsky, Sutskever, Hinton. ImageNet Classification with Deep Convolutional
Neural Networks. NIPS 2012.
https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks
Zeiler, Fergus. Visualizing and Understanding Convolutional Networks. ECCV 2014.
https://arxiv.org/abs/1311.2901

The keras.applications arguments (include_top, weights, input_tensor,
input_shape, pooling, classes, classifier_activation) mean what
docs/models.md says; each builder documents the rest and its default input.
"""

import keras

from kerascnn.layers import LocalResponseNormalization, any_activation
from kerascnn.models import _common
from kerascnn.registry import builds_on, register_variant

SUBSAMPLINGS = ("avg", "max")


def _fixed_inputs(input_tensor, input_shape, default_shape, name):
    """The `Input` of a fully connected net: any fixed shape, flat (d,) or an image (H, W, C)."""
    if input_tensor is not None:
        if not keras.backend.is_keras_tensor(input_tensor):
            raise ValueError(
                f"input_tensor must be a Keras tensor (keras.Input(...) or a layer "
                f"output), got {type(input_tensor).__name__}."
            )
        shape = tuple(input_tensor.shape[1:])
    else:
        shape = tuple(default_shape if input_shape is None else input_shape)
    if not shape or not all(isinstance(d, int) and d >= 1 for d in shape):
        raise ValueError(
            f"{name} flattens its input, so every size must be known and >= 1, "
            f"e.g. (2,) or (28, 28, 1); got input shape {shape}."
        )
    if input_tensor is None:
        inputs = keras.Input(shape=shape, name="image")
        return inputs, inputs
    sources = keras.utils.get_source_inputs(input_tensor)
    return sources[0] if len(sources) == 1 else sources, input_tensor


def MLP(
    widths=(300,),
    activation="relu",
    dropout_rate=0.0,
    kernel_initializer="glorot_uniform",
    preprocessing="tf",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation=None,
    name="mlp",
):
    """Builds a multilayer perceptron: flatten, fully connected hidden layers, a linear classifier.

    The notes' MLP, a composition of perceptrons (seed 002). The default, one
    hidden layer of 300 units on 28x28 images, is LeCun et al. 1998's
    "2-layer NN, 300 HU" (Sec. III.C, http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf).
    Deviation: ReLU hidden units by default where the 1998 net had sigmoids.

    Without the top the features (the last hidden layer, or the flattened
    input when `widths` is empty) come as a 1 x 1 map of that many channels,
    as a fully connected layer is a convolution whose kernel covers its whole
    input; `pooling` then reduces that map like any other model's.

    Args:
        widths: units of each hidden layer; () is a single layer of
            perceptrons (a linear classifier).
        activation: the hidden units' nonlinearity, by name ("relu", "tanh",
            "sigmoid", any of `kerascnn.layers.ACTIVATIONS` or Keras's).
        dropout_rate: dropout after each hidden layer (0 = none).
        kernel_initializer: the hidden layers' initializer (default Xavier).
        preprocessing: input normalization inside the model, so the model
            takes raw [0, 255] values: "tf" (default, scale to [-1, 1]), "none",
            a (mean, std) pair, ... (docs/models.md).
        include_top, weights, input_tensor, pooling, classes,
            classifier_activation: the keras.applications arguments.
        input_shape: any fixed shape, flat (d,) or an image (H, W, C);
            default (28, 28, 1).
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    if not all(isinstance(w, int) and w >= 1 for w in widths):
        raise ValueError(f"widths must be positive integers, got {tuple(widths)!r}.")
    _common.check_rate("dropout_rate", dropout_rate)
    any_activation(activation)  # an unknown name fails here, before any layer is built
    inputs, x = _fixed_inputs(input_tensor, input_shape, (28, 28, 1), name)
    x = _common.normalize(x, preprocessing)
    x = keras.layers.Flatten(name="flatten")(x)
    x = _common.fully_connected(x, widths, activation, dropout_rate, act_suffix="act",
                                kernel_initializer=kernel_initializer)
    if include_top:
        outputs = keras.layers.Dense(
            classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = keras.layers.Reshape((1, 1, x.shape[-1]), name="features")(x)
        outputs = _common.classifier_head(x, False, pooling, classes, classifier_activation)
    return _common.finish_model(inputs, outputs, name, weights)


@builds_on(MLP, fixes=("widths",))
def XORNet(activation="sigmoid", input_shape=None, name="xor_mlp", **kwargs):
    """The notes' two-layer perceptron for XOR: 2 inputs -> 2 hidden units -> output.

    x XOR y = (x OR y) AND (NOT x OR NOT y): no single perceptron computes it
    (Minsky & Papert 1969), one hidden layer of two (OR, NAND) feeding an AND
    does (seed 002). The hidden units are sigmoids, the perceptron's smooth
    step, by default. `input_shape` defaults to (2,). With `classes=2` the
    output is the notes' unit as two logits (false, true), their difference
    being the single unit's pre-activation. Like every kerascnn model it
    takes raw [0, 255] values: a bit is 0 or 255, scaled to -1 / +1 by the
    default preprocessing "tf" (pass preprocessing="none" for 0 / 1 inputs).
    With only two hidden units about one random start in ten stalls with two
    points on one hidden code (a local minimum); train again from another.
    The other arguments are those of `MLP` (widths is set here).
    """
    if input_shape is None and kwargs.get("input_tensor") is None:
        input_shape = (2,)
    return MLP((2,), activation=activation, input_shape=input_shape, name=name, **kwargs)


def _subsample(x, kind, name):
    pool = keras.layers.AveragePooling2D if kind == "avg" else keras.layers.MaxPooling2D
    return pool(2, name=name)(x)


def LeNet5(
    activation="tanh",
    subsampling="avg",
    kernel_initializer="glorot_uniform",
    preprocessing="tf",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation=None,
    name="lenet5",
):
    """Builds LeNet-5: C1 - S2 - C3 - S4 - C5 - F6 - output (LeCun et al. 1998, Fig. 2).

    Paper: http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf. Deviations: C3
    sees all six S2 maps (not Table I's partial connectivity), S2 and S4 are
    plain pools without the trainable coefficient and bias, the activation is
    tanh, not 1.7159 tanh(2a/3), and the output is a dense layer giving logits
    (softmax) in place of the Euclidean RBF units.

    Layers: `c1_conv` (6 maps, 5x5), `s2_pool`, `c3_conv` (16, 5x5), `s4_pool`,
    `c5_conv` (120, 5x5: 1x1 maps at 32x32 input), then with the top
    `flatten`, `f6` (84 units) and `predictions`; activations `{layer}_act`.
    Without the top the features are C5's maps.

    Args:
        activation: "tanh" (default) or "relu", or any activation by name.
        subsampling: "avg" (the paper's averaging) or "max" for S2 and S4.
        kernel_initializer: the layers' initializer (default Xavier).
        preprocessing: input normalization inside the model (raw [0, 255]
            input): "tf" (default, [-1, 1]; works for any channel count),
            "none", or a pair such as ((20,), (200,)), the paper's scaling of a
            grey image (background 0 -> -0.1, ink 255 -> 1.175).
        include_top, weights, input_tensor, pooling, classes,
            classifier_activation: the keras.applications arguments.
        input_shape: (H, W, C), at least 32x32; default (32, 32, 1).
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    _common.check_one_of("subsampling", subsampling, SUBSAMPLINGS)
    kit = _common.ConvKit(use_bias=True, kernel_initializer=kernel_initializer,
                          activation=activation)
    inputs, x = _common.model_inputs(input_tensor, input_shape, (32, 32, 1), min_size=32,
                                     name=name)
    x = _common.normalize(x, preprocessing)
    x = kit.act(kit.conv(x, 6, 5, name="c1", padding="valid"), "c1_act")
    x = _subsample(x, subsampling, "s2_pool")
    x = kit.act(kit.conv(x, 16, 5, name="c3", padding="valid"), "c3_act")
    x = _subsample(x, subsampling, "s4_pool")
    x = kit.act(kit.conv(x, 120, 5, name="c5", padding="valid"), "c5_act")
    outputs = _common.fc_classifier_head(
        x, include_top, pooling, classes, classifier_activation, units=(84,),
        activation=activation, dropout_rate=0.0, names=("f6",), act_suffix="act",
    )
    return _common.finish_model(inputs, outputs, name, weights)


def _lrn(x, lrn, name):
    # The paper's constants k=2, n=5, alpha=1e-4, beta=0.75 are the layer's defaults.
    return LocalResponseNormalization(name=name)(x) if lrn else x


def AlexNet(
    groups=1,
    lrn=True,
    dropout_rate=0.5,
    activation="relu",
    kernel_initializer="he_normal",
    preprocessing="imagenet",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation=None,
    name="alexnet",
):
    """Builds AlexNet: 5 convolutions and 3 fully connected layers (Krizhevsky et al. 2012, Fig. 2).

    Paper: https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks.
    Deviation: He-normal weights rather than N(0, 0.01) with unit biases, and
    one tower by default (groups=1; groups=2 is the paper's two-GPU layout).

    conv1 96 11x11/4 (valid) - LRN - max pool 3/2 - conv2 256 5x5 - LRN -
    pool - conv3 384 3x3 - conv4 384 3x3 - conv5 256 3x3 - pool (6x6x256 at
    227) - fc1 4096 - fc2 4096 - predictions, ReLU after every hidden layer
    and dropout after fc1 and fc2. Layers `conv{i}_conv`, `conv{i}_relu`,
    `norm1`, `norm2`, `pool1`, `pool2`, `pool5`, then the top as
    keras.applications VGG names it (`flatten`, `fc1`, `fc2`, `predictions`).
    Trainable parameters (1000 classes): 62,378,344 with groups=1,
    60,965,224 with groups=2 (Caffe's bvlc_alexnet).

    Args:
        groups: 1 (one tower) or 2: conv2, conv4 and conv5 split in two
            groups, each seeing only its own GPU's half of the maps below;
            conv1 and conv3 stay whole, as in the paper.
        lrn: local response normalization (k=2, n=5, alpha=1e-4, beta=0.75)
            after conv1's and conv2's ReLU, before pooling, as in the paper.
        dropout_rate: dropout after fc1 and fc2 (the paper's 0.5).
        activation: the nonlinearity, by name (default ReLU, the paper's).
        kernel_initializer: the convolutions' initializer (default He normal).
        preprocessing: input normalization inside the model (raw [0, 255]
            input): "imagenet" (default), or the paper's mean image as
            {"mean_image": ...} (docs/models.md).
        include_top, weights, input_tensor, pooling, classes,
            classifier_activation: the keras.applications arguments.
        input_shape: (H, W, C), at least 67x67; default (227, 227, 3), the
            size at which conv1's unpadded 11x11/4 gives the paper's 55x55
            maps (torchvision pads 2 at 224 instead). The top needs it fixed.
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    if groups not in (1, 2):
        raise ValueError(f"groups must be 1 (one tower) or 2 (the paper's two), got {groups!r}.")
    _common.check_rate("dropout_rate", dropout_rate)
    kit = _common.ConvKit(use_bias=True, kernel_initializer=kernel_initializer,
                          activation=activation)
    # 67 is the smallest size that leaves a 1x1 map after pool5.
    inputs, x = _common.model_inputs(input_tensor, input_shape, (227, 227, 3), min_size=67,
                                     name=name)
    x = _common.normalize(x, preprocessing)
    x = kit.conv_act(x, 96, 11, 4, "conv1", padding="valid")
    x = keras.layers.MaxPooling2D(3, 2, name="pool1")(_lrn(x, lrn, "norm1"))
    x = kit.conv_act(x, 256, 5, 1, "conv2", groups=groups)
    x = keras.layers.MaxPooling2D(3, 2, name="pool2")(_lrn(x, lrn, "norm2"))
    x = kit.conv_act(x, 384, 3, 1, "conv3")
    x = kit.conv_act(x, 384, 3, 1, "conv4", groups=groups)
    x = kit.conv_act(x, 256, 3, 1, "conv5", groups=groups)
    x = keras.layers.MaxPooling2D(3, 2, name="pool5")(x)
    outputs = _common.fc_classifier_head(
        x, include_top, pooling, classes, classifier_activation,
        activation=activation, dropout_rate=dropout_rate,
    )
    return _common.finish_model(inputs, outputs, name, weights)


def ZFNet(
    lrn=True,
    dropout_rate=0.5,
    activation="relu",
    kernel_initializer="he_normal",
    preprocessing="imagenet",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation=None,
    name="zfnet",
):
    """Builds ZFNet, AlexNet with a 7x7 stride-2 first layer (Zeiler & Fergus 2014, Fig. 3).

    Paper: https://arxiv.org/abs/1311.2901. Deviation: the contrast
    normalization is AlexNet's LRN and the weights start He-normal; the
    paper's renormalization of first-layer filters is a training step, not
    part of the model.

    conv1 96 7x7/2 (padding 1) - pool 3/2 - LRN - conv2 256 5x5/2 (valid) -
    pool - LRN - conv3 384 - conv4 384 - conv5 256 (3x3) - pool - fc1 4096 -
    fc2 4096 - predictions: at 224x224 the maps are Fig. 3's 110, 55, 26,
    13, 13, 13, 13 and 6. pool1 and pool2 round up (padding "same"), pool5
    down, as Fig. 3's sizes require. All layers are whole (the paper's dense
    connections in place of AlexNet's two towers). Names as in `AlexNet`.

    Args:
        lrn: contrast normalization across maps after pool1 and pool2.
        dropout_rate: dropout after fc1 and fc2 (0.5, as AlexNet).
        activation: the nonlinearity, by name (default ReLU).
        kernel_initializer: the convolutions' initializer (default He normal).
        preprocessing: input normalization inside the model: "imagenet"
            (default) or another of docs/models.md.
        include_top, weights, input_tensor, pooling, classes,
            classifier_activation: the keras.applications arguments.
        input_shape: (H, W, C), at least 53x53; default (224, 224, 3). The
            top needs it fixed.
        name: the model name.

    Returns:
        A `keras.Model`.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    _common.check_rate("dropout_rate", dropout_rate)
    kit = _common.ConvKit(use_bias=True, kernel_initializer=kernel_initializer,
                          activation=activation)
    # 53 is the smallest size that leaves a 1x1 map after pool5.
    inputs, x = _common.model_inputs(input_tensor, input_shape, (224, 224, 3), min_size=53,
                                     name=name)
    x = _common.normalize(x, preprocessing)
    x = keras.layers.ZeroPadding2D(1, name="conv1_pad")(x)
    x = kit.conv_act(x, 96, 7, 2, "conv1", padding="valid")
    x = _lrn(keras.layers.MaxPooling2D(3, 2, padding="same", name="pool1")(x), lrn, "norm1")
    x = kit.conv_act(x, 256, 5, 2, "conv2", padding="valid")
    x = _lrn(keras.layers.MaxPooling2D(3, 2, padding="same", name="pool2")(x), lrn, "norm2")
    x = kit.conv_act(x, 384, 3, 1, "conv3")
    x = kit.conv_act(x, 384, 3, 1, "conv4")
    x = kit.conv_act(x, 256, 3, 1, "conv5")
    x = keras.layers.MaxPooling2D(3, 2, name="pool5")(x)
    outputs = _common.fc_classifier_head(
        x, include_top, pooling, classes, classifier_activation,
        activation=activation, dropout_rate=dropout_rate,
    )
    return _common.finish_model(inputs, outputs, name, weights)


mlp = register_variant("mlp", MLP, "A multilayer perceptron (default 784-300-classes).")
xor_mlp = register_variant("xor_mlp", XORNet, "The notes' 2-2-output XOR network.")
lenet5 = register_variant("lenet5", LeNet5, "LeNet-5 (LeCun et al. 1998, Fig. 2).")
alexnet = register_variant("alexnet", AlexNet, "AlexNet (Krizhevsky et al. 2012, Fig. 2).")
zfnet = register_variant("zfnet", ZFNet, "ZFNet (Zeiler & Fergus 2014, Fig. 3).")
