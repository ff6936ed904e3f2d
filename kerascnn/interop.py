"""keras.applications networks as kerascnn models: their weights, their preprocessing inside.

`from_keras_applications(keras_model)` recognizes which keras.applications
network `keras_model` is, builds the kerascnn variant with keras.applications'
layout, copies every weighted layer by name and puts the network's
`preprocess_input` inside the graph (the `preprocessing` argument), so that
`ours(raw) == theirs(preprocess_input(raw))` for raw [0, 255] images
(MobileNetV3, which scales inside the model or expects [-1, 1] inputs: our
model takes raw images either way). The MobileNets' 1 x 1 convolution tops
are our Dense layers, their kernels reshaped (`copy_weights`).
Nothing is downloaded: bring a keras.applications model (with the weights
you hold) and get a kerascnn model.

This module sits above `kerascnn.models` (docs/architecture.md, floors).
"""

import collections
import functools
import re

import keras

from kerascnn.models import _common, densenet, mobilenet, mobilenet_v3, resnet, resnet_v2, vgg

# `renames`: source layer -> our layer, where the names differ (the MobileNets'
# 1 x 1 convolution tops, which are our Dense layers).
Network = collections.namedtuple("Network", "keras_class variant preprocessing options renames",
                                 defaults=({},))

# keras.applications' model name -> its class, our variant, our `preprocessing`
# equal to its `preprocess_input`, and the options that give keras.applications'
# layout. preprocess_input modes: caffe (VGG, ResNet), tf (ResNetV2), torch
# (DenseNet: x / 255, then torchvision's ImageNet mean / std = our "imagenet").
# VGG: keras.applications has no dropout in its top.
NETWORKS = {
    "vgg16": Network("VGG16", vgg.vgg16, "caffe", {"dropout_rate": 0.0}),
    "vgg19": Network("VGG19", vgg.vgg19, "caffe", {"dropout_rate": 0.0}),
    "resnet50": Network("ResNet50", resnet.resnet50, "caffe", {"use_bias": True}),
    "resnet101": Network("ResNet101", resnet.resnet101, "caffe", {"use_bias": True}),
    "resnet152": Network("ResNet152", resnet.resnet152, "caffe", {"use_bias": True}),
    "resnet50v2": Network("ResNet50V2", resnet_v2.resnet50_v2, "tf",
                          {"use_bias": True, "layout": "keras"}),
    "resnet101v2": Network("ResNet101V2", resnet_v2.resnet101_v2, "tf",
                           {"use_bias": True, "layout": "keras"}),
    "resnet152v2": Network("ResNet152V2", resnet_v2.resnet152_v2, "tf",
                           {"use_bias": True, "layout": "keras"}),
    "densenet121": Network("DenseNet121", densenet.densenet121, "imagenet", {}),
    "densenet169": Network("DenseNet169", densenet.densenet169, "imagenet", {}),
    "densenet201": Network("DenseNet201", densenet.densenet201, "imagenet", {}),
    # The MobileNets pad stride-2 layers as keras does. MobileNet (v1) and
    # MobileNetV2 are named mobilenet_{alpha}_{rows} / mobilenetv2_... by
    # default; their alpha is read from the layers' widths (_mobile_builder).
    # V3's own Rescaling (include_preprocessing) is x / 127.5 - 1: our "tf".
    "mobilenet": Network("MobileNet", mobilenet.mobilenet_v1, "tf", {"padding": "keras"},
                         {"conv_preds": "predictions"}),
    "mobilenetv2": Network("MobileNetV2", mobilenet.mobilenet_v2, "tf", {"padding": "keras"}),
    "MobileNetV3Small": Network("MobileNetV3Small", mobilenet_v3.mobilenet_v3_small, "tf",
                                {"padding": "keras"}, {"logits": "predictions"}),
    "MobileNetV3Large": Network("MobileNetV3Large", mobilenet_v3.mobilenet_v3_large, "tf",
                                {"padding": "keras"}, {"logits": "predictions"}),
}

# The MobileNets, by a layer only that network has, first match wins (Large
# also has Small's last block), checked after _FAMILIES.
_MOBILE_MARKERS = (("conv_dw_13", "mobilenet"), ("block_16_project", "mobilenetv2"),
                   ("expanded_conv_14_project_bn", "MobileNetV3Large"),
                   ("expanded_conv_10_project_bn", "MobileNetV3Small"))
# MobileNet v1's registered widths (Howard et al. 2017, Table 6; keras.applications'
# alphas with weights), and MobileNetV2's alphas with keras.applications weights.
_V1_VARIANTS = (mobilenet.mobilenet_v1, mobilenet.mobilenet_v1_075, mobilenet.mobilenet_v1_050,
                mobilenet.mobilenet_v1_025)
_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_MOBILE_KEYS = {key for _, key in _MOBILE_MARKERS}

# How the layers tell the families apart, first match wins (a ResNetV2 also
# has `conv2_block1_3_conv`): a layer only that family has, the layer names
# that count its blocks per stage (group 1: the stage, group 2: the block),
# and the argument of our builder that holds those counts (compared with each
# variant's fixed value, so the counts are written once, in the variants).
_FAMILIES = (
    (resnet_v2.ResNetV2, "conv2_block1_preact_bn", r"conv(\d+)_block(\d+)_out", "stage_blocks"),
    (densenet.DenseNet, "conv2_block1_concat", r"conv(\d+)_block(\d+)_concat", "blocks"),
    (resnet.ResNet, "conv2_block1_3_conv", r"conv(\d+)_block(\d+)_out", "stage_blocks"),
    (vgg.VGG, "block1_conv1", r"block(\d+)_conv(\d+)", "stage_convs"),
)


def _supported():
    """"keras.applications.VGG16 ('vgg16'), ...", for the error messages."""
    return ", ".join(f"keras.applications.{n.keras_class} ({name!r})"
                     for name, n in NETWORKS.items())


def _by_layers(names):
    """The NETWORKS key whose family and blocks per stage the layer names show, or None."""
    for builder, marker, pattern, counts_arg in _FAMILIES:
        if marker not in names:
            continue
        last = {}
        for name in names:
            match = re.fullmatch(pattern, name)
            if match:
                stage, index = int(match.group(1)), int(match.group(2))
                last[stage] = max(last.get(stage, 0), index)
        counts = tuple(last[s] for s in sorted(last))
        for key, network in NETWORKS.items():
            variant = network.variant
            if variant.builder is builder and tuple(variant.fixed_values[counts_arg]) == counts:
                return key
        return None
    for marker, key in _MOBILE_MARKERS:
        if marker in names:
            return key
    return None


def identify(keras_model):
    """The NETWORKS key of a keras.applications model, from its layers and its name.

    The layers decide (a renamed model is still recognized); a model whose
    name is one of NETWORKS but whose layers say otherwise, or whose layers
    are none of NETWORKS, is a ValueError.
    """
    by_layers = _by_layers({layer.name for layer in keras_model.layers})
    name = keras_model.name
    if by_layers is None:
        detail = (f" Its name says {NETWORKS[name].keras_class}, but its layers are not that "
                  "network's." if name in NETWORKS else "")
        raise ValueError(
            f"Model {name!r} is none of the keras.applications networks that "
            f"from_keras_applications converts.{detail} Supported: {_supported()}."
        )
    if name in NETWORKS and name != by_layers:
        raise ValueError(
            f"Model {name!r}: its name says keras.applications.{NETWORKS[name].keras_class} "
            f"but its layers are {NETWORKS[by_layers].keras_class}'s; rename it or check "
            "which network it is."
        )
    return by_layers


def _activation_argument(activation):
    """A Dense layer's activation as our `classifier_activation`: None for linear, a
    built-in's name, else the function itself."""
    name = keras.activations.serialize(activation)
    if name == "linear":
        return None
    return name if isinstance(name, str) else activation


def _head_arguments(keras_model):
    """include_top, pooling, classes and classifier_activation as the source has them."""
    layers = {layer.name: layer for layer in keras_model.layers}
    if "predictions" in layers:
        head = layers["predictions"]
        # MobileNet v1 / V3: `predictions` is the Activation after the 1 x 1 conv top.
        classes = head.units if isinstance(head, keras.layers.Dense) else next(
            layers[n].filters for n in ("conv_preds", "logits") if n in layers)
        return {"include_top": True, "classes": classes,
                "classifier_activation": _activation_argument(head.activation)}
    last = keras_model.layers[-1]
    pooling = None
    if isinstance(last, keras.layers.GlobalAveragePooling2D):
        pooling = "avg"
    elif isinstance(last, keras.layers.GlobalMaxPooling2D):
        pooling = "max"
    return {"include_top": False, "pooling": pooling}


def _batchnorm_arguments(keras_model):
    """bn_epsilon and bn_momentum of the source's BatchNormalization layers (none: {})."""
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            return {"bn_epsilon": layer.epsilon, "bn_momentum": layer.momentum}
    return {}


def _mobile_builder(key, network, keras_model):
    """What builds our MobileNet for a source: the variant, or the builder with the alpha
    that the layers' widths show; and the source's options that the widths and layers
    show. A width or form that our builders do not give keras's layout is a ValueError."""
    layers = {layer.name: layer for layer in keras_model.layers}
    dropouts = [layer.rate for layer in keras_model.layers
                if isinstance(layer, keras.layers.Dropout)]
    options = {"dropout_rate": dropouts[0] if dropouts else 0.0}
    if key == "mobilenet":
        widths = (layers["conv1"].filters, layers["conv_pw_13"].filters)
        options["depth_multiplier"] = layers["conv_dw_1"].depth_multiplier
        for variant in _V1_VARIANTS:
            alpha = variant.fixed_values["alpha"]
            if widths == (int(mobilenet.V1_STEM * alpha), int(mobilenet.V1_LAYERS[-1][0] * alpha)):
                return variant, options
        supported = [v.fixed_values["alpha"] for v in _V1_VARIANTS]
    elif key == "mobilenetv2":
        width = layers["block_16_project"].filters
        for alpha in _V2_ALPHAS:
            if width == _common.make_divisible(mobilenet.V2_ROWS[-1][1] * alpha):
                variant = network.variant
                return (variant if alpha == variant.fixed_values["alpha"] else
                        functools.partial(variant.builder, alpha=alpha)), options
        supported = list(_V2_ALPHAS)
    else:
        config = mobilenet_v3.CONFIGS[network.variant.fixed_values["config"]]
        rows = config["rows"]
        if f"expanded_conv_{len(rows) - 1}_squeeze_excite_conv" not in layers:
            raise ValueError(f"Model {keras_model.name!r}: a minimalistic "
                             f"{network.keras_class} (no squeeze-excite, 3x3 kernels, ReLU) "
                             "has no kerascnn counterpart; use minimalistic=False.")
        widths = (layers[f"expanded_conv_{len(rows) - 1}_project"].filters,
                  layers["conv_1"].filters)
        if widths == (rows[-1][2], config["last"]):
            return network.variant, options
        supported = [1.0]
    raise ValueError(f"Model {keras_model.name!r}: a keras.applications.{network.keras_class} "
                     f"whose widths are none of the alphas from_keras_applications converts "
                     f"({', '.join(f'{a:g}' for a in supported)}).")


def _weights_for(layer, counterpart):
    """`layer`'s weights in `counterpart`'s form: a 1 x 1 Conv2D kernel (h, w = 1,
    C, K) reshaped to a Dense kernel (C, K), where `counterpart` is a Dense (the
    MobileNets' tops act on the pooled 1 x 1 map: the same product)."""
    weights = layer.get_weights()
    if (isinstance(counterpart, keras.layers.Dense) and isinstance(layer, keras.layers.Conv2D)
            and tuple(layer.kernel_size) == (1, 1)):
        weights[0] = weights[0].reshape(weights[0].shape[2:])
    return weights


def copy_weights(source, target, renames=None):
    """Copies every weighted layer of `source` into the layer of `target` with its name.

    Every weighted layer must have its counterpart, with the same weight
    shapes (and, for BatchNormalization, the same epsilon), both ways; a
    ValueError names the first that has none, before anything is copied.
    `renames` maps source layer names to target names where they differ; a
    1 x 1 Conv2D whose counterpart is a Dense gives its kernel reshaped.

    Returns:
        The number of layers copied.
    """
    renames = renames or {}
    theirs = {renames.get(layer.name, layer.name): layer
              for layer in source.layers if layer.weights}
    ours = {layer.name: layer for layer in target.layers if layer.weights}
    for name in theirs:
        if name not in ours:
            raise ValueError(
                f"Weighted layer {name!r} of the source {source.name!r} has no counterpart "
                f"in the target {target.name!r}; its weights would be lost.")
    for name, layer in ours.items():
        if name not in theirs:
            raise ValueError(
                f"Weighted layer {name!r} of the target {target.name!r} has no counterpart "
                f"in the source {source.name!r}; it would keep its initial weights.")
        mine = [tuple(w.shape) for w in layer.weights]
        other = [tuple(w.shape) for w in _weights_for(theirs[name], layer)]
        if mine != other:
            raise ValueError(f"Layer {name!r}: weight shapes {other} in the source "
                             f"{source.name!r} but {mine} in the target {target.name!r}.")
        if isinstance(layer, keras.layers.BatchNormalization) and (
                getattr(theirs[name], "epsilon", None) != layer.epsilon):
            raise ValueError(f"Layer {name!r}: BatchNormalization epsilon "
                             f"{getattr(theirs[name], 'epsilon', None)} in the source "
                             f"{source.name!r} but {layer.epsilon} in the target {target.name!r}.")
    for name, layer in ours.items():
        layer.set_weights(_weights_for(theirs[name], layer))
    return len(ours)


def from_keras_applications(keras_model):
    """A kerascnn model carrying a keras.applications network's weights and preprocessing.

    Supported: VGG16, VGG19, ResNet50, ResNet101, ResNet152, ResNet50V2,
    ResNet101V2, ResNet152V2, DenseNet121, DenseNet169, DenseNet201,
    MobileNet (alpha 1, 0.75, 0.5, 0.25; any depth_multiplier), MobileNetV2
    (alpha 0.35, 0.5, 0.75, 1, 1.3, 1.4), MobileNetV3Small and
    MobileNetV3Large (alpha 1, not minimalistic; with or without
    include_preprocessing) (the keys of `NETWORKS`), built with any
    `weights`, recognized by their layers (and checked against their name;
    a MobileNet's alpha from its widths). The result is our variant with
    keras.applications' layout (`NETWORKS`), the source's input shape,
    include_top, pooling, classes, classifier activation, BatchNormalization
    epsilon and momentum, (MobileNets) dropout rate, and model name, and the
    source's `preprocess_input` as its `preprocessing`, so that for raw
    [0, 255] images `ours(raw) == theirs(preprocess_input(raw))`; for
    MobileNetV3 `ours(raw) == theirs(raw)` with its Rescaling inside, and
    `theirs(raw / 127.5 - 1)` without it. Every weighted layer is copied by
    name (`copy_weights`; the MobileNets' 1 x 1 conv tops `conv_preds`,
    `conv_2`, `logits` into our Dense `predictions` and `conv_2`).

    Args:
        keras_model: a keras.applications model (channels_last).

    Returns:
        A kerascnn `keras.Model`.

    Raises:
        ValueError: the model is none of the supported networks (the message
            lists them), a MobileNet of another alpha or a minimalistic V3,
            or a weighted layer has no counterpart (the message names it).
    """
    key = identify(keras_model)
    network = NETWORKS[key]
    channels_first = any(getattr(layer, "data_format", None) == "channels_first"
                         for layer in keras_model.layers)
    if len(keras_model.inputs) != 1 or channels_first:
        raise ValueError(f"Model {keras_model.name!r}: from_keras_applications converts "
                         "single-input channels_last models only.")
    builder, options = network.variant, {}
    if key in _MOBILE_KEYS:
        builder, options = _mobile_builder(key, network, keras_model)
    ours = builder(
        preprocessing=network.preprocessing, input_shape=tuple(keras_model.input_shape[1:]),
        name=keras_model.name, **network.options, **options, **_head_arguments(keras_model),
        **_batchnorm_arguments(keras_model),
    )
    try:
        copy_weights(keras_model, ours, network.renames)
    except ValueError as error:
        raise ValueError(
            f"Model {keras_model.name!r} has the layers of keras.applications."
            f"{network.keras_class} but does not map onto kerascnn's "
            f"{network.variant.__name__}: {error}") from None
    return ours
