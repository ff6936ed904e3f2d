"""keras.applications networks as kerascnn models: their weights, their preprocessing inside.

`from_keras_applications(keras_model)` recognizes which keras.applications
network `keras_model` is, builds the kerascnn variant with keras.applications'
layout, copies every weighted layer by name and puts the network's
`preprocess_input` inside the graph (the `preprocessing` argument), so that
`ours(raw) == theirs(preprocess_input(raw))` for raw [0, 255] images.
Nothing is downloaded: bring a keras.applications model (with the weights
you hold) and get a kerascnn model.

This module sits above `kerascnn.models` (docs/architecture.md, floors).
"""

import collections
import re

import keras

from kerascnn.models import densenet, resnet, resnet_v2, vgg

Network = collections.namedtuple("Network", "keras_class variant preprocessing options")

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
}

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
        return {"include_top": True, "classes": head.units,
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


def copy_weights(source, target):
    """Copies every weighted layer of `source` into the layer of `target` with its name.

    Every weighted layer must have its counterpart, with the same weight
    shapes (and, for BatchNormalization, the same epsilon), both ways; a
    ValueError names the first that has none, before anything is copied.

    Returns:
        The number of layers copied.
    """
    theirs = {layer.name: layer for layer in source.layers if layer.weights}
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
        other = [tuple(w.shape) for w in theirs[name].weights]
        if mine != other:
            raise ValueError(f"Layer {name!r}: weight shapes {other} in the source "
                             f"{source.name!r} but {mine} in the target {target.name!r}.")
        if isinstance(layer, keras.layers.BatchNormalization) and (
                getattr(theirs[name], "epsilon", None) != layer.epsilon):
            raise ValueError(f"Layer {name!r}: BatchNormalization epsilon "
                             f"{getattr(theirs[name], 'epsilon', None)} in the source "
                             f"{source.name!r} but {layer.epsilon} in the target {target.name!r}.")
    for name, layer in ours.items():
        layer.set_weights(theirs[name].get_weights())
    return len(ours)


def from_keras_applications(keras_model):
    """A kerascnn model carrying a keras.applications network's weights and preprocessing.

    Supported: VGG16, VGG19, ResNet50, ResNet101, ResNet152, ResNet50V2,
    ResNet101V2, ResNet152V2, DenseNet121, DenseNet169, DenseNet201 (the keys
    of `NETWORKS`), built with any `weights`, recognized by their layers
    (and checked against their name). The result is our variant with
    keras.applications' layout (`NETWORKS`), the source's input shape,
    include_top, pooling, classes, classifier activation, BatchNormalization
    epsilon and momentum, and model name, and the source's
    `preprocess_input` as its `preprocessing`, so that for raw [0, 255]
    images `ours(raw) == theirs(preprocess_input(raw))`. Every weighted
    layer is copied by name (`copy_weights`).

    Args:
        keras_model: a keras.applications model (channels_last).

    Returns:
        A kerascnn `keras.Model`.

    Raises:
        ValueError: the model is none of the supported networks (the message
            lists them), or a weighted layer has no counterpart (the message
            names it).
    """
    key = identify(keras_model)
    network = NETWORKS[key]
    channels_first = any(getattr(layer, "data_format", None) == "channels_first"
                         for layer in keras_model.layers)
    if len(keras_model.inputs) != 1 or channels_first:
        raise ValueError(f"Model {keras_model.name!r}: from_keras_applications converts "
                         "single-input channels_last models only.")
    ours = network.variant(
        preprocessing=network.preprocessing, input_shape=tuple(keras_model.input_shape[1:]),
        name=keras_model.name, **network.options, **_head_arguments(keras_model),
        **_batchnorm_arguments(keras_model),
    )
    try:
        copy_weights(keras_model, ours)
    except ValueError as error:
        raise ValueError(
            f"Model {keras_model.name!r} has the layers of keras.applications."
            f"{network.keras_class} but does not map onto kerascnn's "
            f"{network.variant.__name__}: {error}") from None
    return ours
