"""What every model family shares: the conv / BN / activation kit, the input,
the in-model normalization, the classifier head and weight loading, the
argument checks, and the residual networks' sum, stages and stochastic depth.

A family module holds only its blocks, its builder and its variants. Its
builder takes the keras.applications arguments with `APPLICATION_DEFAULTS`
(the contract test over `list_models()` checks every registered model),
validates them with `check_application_arguments` before any layer is built,
and goes `model_inputs` -> `normalize` -> blocks -> `classifier_head` (or
`fc_classifier_head`, the classic nets' flatten and fully connected top) ->
`finish_model`.
"""

import os

import keras

from kerascnn.layers import (SqueezeExcite, StochasticDepth, any_activation, any_initializer,
                             grouped_conv, linear_decay, normalization_layer)

POOLINGS = (None, "avg", "max")

# The keras.applications arguments every builder takes, with kerascnn's
# defaults. Two differ from keras.applications on purpose: nothing is
# downloaded (weights=None; "imagenet" is an error that says what to do), and
# models give logits (classifier_activation=None), as the losses expect.
APPLICATION_DEFAULTS = {
    "include_top": True,
    "weights": None,
    "input_tensor": None,
    "input_shape": None,
    "pooling": None,
    "classes": 1000,
    "classifier_activation": None,
}


class ConvKit:
    """The conv / BN / activation constructors every block of one network shares.

    Layer names follow keras.applications: `kit.conv(x, ..., name="conv2_block1_1")`
    makes `conv2_block1_1_conv` (and `conv2_block1_1_pad`), `kit.bn(x, name)`
    makes `{name}_bn`, and `kit.act(x, name)` names the activation `name`
    whatever its function ("conv1_relu" stays the name with GELU).

    Convolutions go through `kerascnn.layers.grouped_conv`: at stride > 1
    they pad symmetrically, (k - 1) // 2 before and the rest after, then
    convolve "valid", so that the sampling grid is the original networks'
    (TF's "same" pads only bottom/right at stride 2); groups > 1 is a
    `GroupedConv2D`.

    Args:
        use_bias: bias in the convolutions.
        kernel_initializer: the convolutions' initializer, by name or object
            (`kerascnn.layers.INITIALIZERS` or Keras's).
        bn_epsilon, bn_momentum: BatchNormalization's (Keras's momentum
            convention: 0.9 is PyTorch's 0.1).
        activation: the nonlinearity, by name (`kerascnn.layers.ACTIVATIONS`
            or Keras's).
    """

    def __init__(self, use_bias=False, kernel_initializer="he_normal", bn_epsilon=1e-5,
                 bn_momentum=0.9, activation="relu"):
        self.use_bias = use_bias
        self.kernel_initializer = any_initializer(kernel_initializer)
        self.bn_epsilon = bn_epsilon
        self.bn_momentum = bn_momentum
        self.activation = activation
        any_activation(activation)  # an unknown name fails here, before any layer is built

    def conv(self, x, filters, kernel_size, strides=1, name=None, groups=1, dilation_rate=1,
             padding="same"):
        return grouped_conv(
            x, filters, kernel_size, groups=groups, strides=strides, padding=padding,
            dilation_rate=dilation_rate, use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer, name=name,
        )

    def bn(self, x, name):
        return keras.layers.BatchNormalization(
            axis=-1, epsilon=self.bn_epsilon, momentum=self.bn_momentum, name=name + "_bn"
        )(x)

    def act(self, x, name):
        return any_activation(self.activation, name)(x)

    def conv_bn(self, x, filters, kernel_size, strides=1, name=None, groups=1):
        """conv then BN, both named from `name`."""
        return self.bn(self.conv(x, filters, kernel_size, strides, name, groups), name)

    def conv_act(self, x, filters, kernel_size, strides=1, name=None, groups=1, padding="same",
                 batch_norm=False):
        """conv (+ BN with `batch_norm`) then the activation `{name}_relu` (the classic
        nets' and GoogLeNet's layer, named as in Caffe's models)."""
        x = self.conv(x, filters, kernel_size, strides, name, groups=groups, padding=padding)
        if batch_norm:
            x = self.bn(x, name)
        return self.act(x, name + "_relu")


def make_divisible(value, divisor=8, min_value=None):
    """`value` rounded to the nearest multiple of `divisor`, at least `min_value`
    (default `divisor`) and never more than 10 % below `value`: the channel
    rounding of the MobileNet v2/v3 authors' code, torchvision and keras.applications."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def check_alpha(alpha, smallest=0.0):
    """A width multiplier: a number > `smallest` (MobileNet's alpha)."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > smallest:
        raise ValueError(f"alpha (the width multiplier) must be a number > {smallest:g}, "
                         f"got {alpha!r}.")


# How a stride-2 convolution pads: "symmetric", (k - 1) // 2 before and the
# rest after (ConvKit's, torchvision's), or "keras": TF's "same", the extra
# pixel at the bottom/right (keras.applications' MobileNets, the authors' TF code).
STRIDE_PADDINGS = ("symmetric", "keras")


def check_stride_padding(padding):
    if padding not in STRIDE_PADDINGS:
        raise ValueError(f"padding must be one of {STRIDE_PADDINGS}, got {padding!r}.")


def named_conv(x, filters, kernel_size, strides, name, kit, pad_name=None, use_bias=None,
               depth_multiplier=None, padding="symmetric"):
    """A `Conv2D` named exactly `name` (keras.applications MobileNet's names, which
    `ConvKit.conv`'s `{name}_conv` does not give), or with `filters=None` a
    `DepthwiseConv2D` (`depth_multiplier`, default 1); `kit` gives the
    initializer and the bias (unless `use_bias` says). At stride > 1 with
    `padding="symmetric"` the input is padded symmetrically first (`pad_name`,
    default `{name}_pad`), as `ConvKit.conv`; with "keras" the conv pads "same"
    (see `STRIDE_PADDINGS`)."""
    if strides > 1 and padding == "symmetric":
        total = kernel_size - 1
        x = keras.layers.ZeroPadding2D(((total // 2, total - total // 2),) * 2,
                                       name=pad_name or name + "_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    use_bias = kit.use_bias if use_bias is None else use_bias
    if filters is None:
        return keras.layers.DepthwiseConv2D(
            kernel_size, strides=strides, padding=padding, depth_multiplier=depth_multiplier or 1,
            use_bias=use_bias, depthwise_initializer=kit.kernel_initializer, name=name)(x)
    return keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                               use_bias=use_bias, kernel_initializer=kit.kernel_initializer,
                               name=name)(x)


def named_bn(x, name, kit):
    """`BatchNormalization` named exactly `name`, with `kit`'s epsilon and momentum."""
    return keras.layers.BatchNormalization(epsilon=kit.bn_epsilon, momentum=kit.bn_momentum,
                                           name=name)(x)


def check_application_arguments(include_top, weights, pooling, classes):
    """Validates the keras.applications arguments before any layer is built."""
    if include_top:
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
            raise ValueError(
                f"classes must be an integer >= 2 when include_top=True, got {classes!r}."
            )
    check_one_of("pooling", pooling, POOLINGS)
    if weights is not None:
        if not isinstance(weights, (str, os.PathLike)):
            raise ValueError(
                f"weights must be None or the path of a local weights file, got {weights!r}."
            )
        if str(weights) == "imagenet":
            raise ValueError(
                "weights='imagenet' is not available: kerascnn ships no pretrained "
                "weights and downloads nothing. Pass None, or the path of a local "
                "weights file (.weights.h5 or .keras). "
                "kerascnn.interop.from_keras_applications(keras.applications."
                "ResNet50(weights=...)) carries keras.applications weights over "
                "(VGG16/19, ResNet50/101/152, ResNet50V2/101V2/152V2, DenseNet121/169/201)."
            )
        if not os.path.exists(weights):
            raise FileNotFoundError(
                f"weights file {os.fspath(weights)!r} does not exist; pass None "
                "or the path of a local weights file (.weights.h5 or .keras)."
            )


def check_one_of(name, value, allowed):
    """`value` is one of `allowed` (a builder's block kind, stem, layout, ...)."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}.")


def check_rate(name, value):
    """A dropout or drop-path rate: in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}.")


def check_stage_blocks(stage_blocks, stage_filters):
    """One block count >= 1 per stage of `stage_filters`."""
    if len(stage_blocks) != len(stage_filters) or min(stage_blocks) < 1:
        raise ValueError(
            f"stage_blocks {tuple(stage_blocks)} needs one count >= 1 per stage "
            f"of stage_filters {tuple(stage_filters)}."
        )


def model_inputs(input_tensor, input_shape, default_shape, min_size, name):
    """The model's `Input` and the tensor the network starts from.

    Args:
        input_tensor: optional Keras tensor to build the model on.
        input_shape: optional (H, W, C); H and W may be None.
        default_shape: the shape used when neither is given.
        min_size: the smallest H and W the network can take.
        name: the model name, for messages.
    """
    if input_tensor is not None:
        if not keras.backend.is_keras_tensor(input_tensor):
            raise ValueError(
                f"input_tensor must be a Keras tensor (keras.Input(...) or a layer "
                f"output), got {type(input_tensor).__name__}."
            )
        shape = tuple(input_tensor.shape[1:])
    else:
        shape = tuple(default_shape if input_shape is None else input_shape)
    if len(shape) != 3:
        raise ValueError(
            f"{name} takes images of shape (height, width, channels); got input "
            f"shape {shape}."
        )
    h, w, c = shape
    if c is None or c < 1:
        raise ValueError(f"{name}: the channel count must be known and >= 1, got {shape}.")
    for size in (h, w):
        if size is not None and size < min_size:
            raise ValueError(
                f"{name} needs height and width >= {min_size}; got input shape {shape}."
            )
    if input_tensor is None:
        inputs = keras.Input(shape=shape, name="image")
        return inputs, inputs
    sources = keras.utils.get_source_inputs(input_tensor)
    return sources[0] if len(sources) == 1 else sources, input_tensor


def normalize(x, preprocessing):
    """Applies the in-model input normalization for `preprocessing`.

    `preprocessing`: a dataset preset of `kerascnn.layers.DATASET_STATS`
    ("imagenet", "cifar10", "cifar100", "digits"), "caffe", "tf", "none", a
    (mean, std) pair of per-channel values on the [0, 255] scale, or a mean
    image dict (see `kerascnn.layers.normalization_layer`).
    """
    layer = normalization_layer(preprocessing, x.shape[-1])
    return x if layer is None else layer(x)


def classifier_head(x, include_top, pooling, classes, classifier_activation,
                    dropout_rate=0.0):
    """Global pooling, optional dropout and the final dense layer.

    With include_top, the features are average-pooled and mapped to `classes`
    logits (or `classifier_activation` outputs); without, `pooling` decides.
    """
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = dropout(x, dropout_rate, "top_dropout")
        return keras.layers.Dense(
            classes, activation=classifier_activation, name="predictions"
        )(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def fully_connected(x, units, activation="relu", dropout_rate=0.0, names=None,
                    act_suffix="relu", kernel_initializer="glorot_uniform"):
    """Dense -> activation -> dropout for each width in `units`.

    The fully connected layers of the classic nets (MLP, LeNet-5, AlexNet,
    VGG). Layers `{name}`, `{name}_{act_suffix}` and, when dropout_rate > 0,
    `{name}_dropout`; `names` defaults to fc1, fc2, ... (keras.applications
    VGG's). Dropout follows the activation, as in Caffe's AlexNet and
    torchvision's VGG.
    """
    names = names or [f"fc{i + 1}" for i in range(len(units))]
    for width, name in zip(units, names):
        x = keras.layers.Dense(width, kernel_initializer=kernel_initializer, name=name)(x)
        x = any_activation(activation, f"{name}_{act_suffix}")(x)
        x = dropout(x, dropout_rate, name + "_dropout")
    return x


def fc_classifier_head(x, include_top, pooling, classes, classifier_activation,
                       units=(4096, 4096), activation="relu", dropout_rate=0.5,
                       names=None, act_suffix="relu"):
    """The classic nets' top: flatten, fully connected layers, `predictions`.

    keras.applications VGG's layout (flatten -> fc1 -> fc2 -> predictions),
    with dropout after the hidden ones (AlexNet and VGG: 0.5), so that its
    weights map by name. The first dense layer's size depends on the input's,
    which must therefore be fixed. Without the top, `pooling` decides, as in
    `classifier_head`. `names` and `act_suffix` name the hidden layers (see
    `fully_connected`).
    """
    if not include_top:
        return classifier_head(x, include_top, pooling, classes, classifier_activation)
    if None in tuple(x.shape[1:]):
        raise ValueError(
            f"With include_top=True the input size must be fixed (the flattened "
            f"features feed a dense layer); got features of shape {tuple(x.shape)}. "
            "Pass a full input_shape, or include_top=False."
        )
    x = keras.layers.Flatten(name="flatten")(x)
    x = fully_connected(x, units, activation, dropout_rate, names, act_suffix)
    return keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


def dropout(x, rate, name):
    """`Dropout(rate)` named `name`, or nothing at rate 0."""
    return keras.layers.Dropout(rate, name=name)(x) if rate else x


# ---- residual networks (resnet, resnet_v2, resnext, senet) ----

BLOCK_KINDS = ("basic", "bottleneck")


def add_residual(shortcut, branch, name, se_ratio=None, survival=1.0, add_name=None):
    """shortcut + [StochasticDepth](SE(branch)); the branch alone when shortcut is None (plain nets).

    SE gates the residual branch before the sum (Hu et al. 2018, Fig. 3);
    stochastic depth keeps it with probability `survival` (Huang et al. 2016).
    Layers `{name}_se`, `{name}_drop_path` and the `Add` (`add_name`, default
    `{name}_add`).
    """
    if se_ratio:
        branch = SqueezeExcite(se_ratio, name=name + "_se")(branch)
    if shortcut is None:
        return branch
    if survival < 1.0:
        branch = StochasticDepth(survival, name=name + "_drop_path")(branch)
    return keras.layers.Add(name=add_name or name + "_add")([shortcut, branch])


def block_survivals(stage_blocks, drop_path_rate):
    """Each block's survival probability, per stage: the linear decay over all
    L blocks to p_L = 1 - drop_path_rate (Huang et al. 2016, Eq. 4)."""
    check_rate("drop_path_rate", drop_path_rate)
    total = sum(stage_blocks)
    flat = linear_decay(1.0 - drop_path_rate, total) if drop_path_rate else [1.0] * total
    starts = [sum(stage_blocks[:i]) for i in range(len(stage_blocks))]
    return [flat[s:s + n] for s, n in zip(starts, stage_blocks)]


def stage(x, block, num_blocks, filters, strides, name, survivals=None, **block_kwargs):
    """`num_blocks` blocks; the first one strides (conv{k}_block1 ... blockN).

    `survivals`: each block's stochastic-depth survival probability (default all 1).
    """
    for i in range(num_blocks):
        if survivals is not None:
            block_kwargs["survival"] = survivals[i]
        x = block(x, filters, strides if i == 0 else 1,
                  name=f"{name}_block{i + 1}", **block_kwargs)
    return x


def finish_model(inputs, outputs, name, weights):
    """Creates the functional model and loads `weights` (a local file) when given."""
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


def main_head(model):
    """`model` with its first output only, sharing its layers and weights.

    A model with auxiliary classifiers (`googlenet(aux_logits=True)`: [main,
    aux1, aux2]) trains them beside its main head and is evaluated and
    deployed without them; a one-output model is returned as it is.
    """
    if len(model.outputs) == 1:
        return model
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, model.outputs[0], name=model.name)
