"""A trained classifier as a backbone: its pooled features, its stages, a new head.

Transfer learning (kerascnn.train.transfer) keeps a network up to the
features its classifier reads and puts a new `Dense` on them. A stage here
is what the papers' tables call one: the layers that work at one
feature-map size (ResNet's conv2_x ... conv5_x, VGG's blocks, ShuffleNet's
Stage2-4, MobileNet's rows of one output size), found from the layers'
output shapes, so every registered family has them without a table of
names. The dense layers between the pooled (or flattened) maps and the
classifier (VGG's and AlexNet's fc1, fc2) are one more stage, the last.
"""

import keras

from kerascnn.layers import ImageNormalization, MeanImageNormalization

MODES = ("linear_probe", "fine_tune")
# "pooled": what the classifier reads (after the global pooling, or fc2);
# "map": the last feature map before the pooling (or flatten), flattened, so
# the head also sees where things are.
FEATURES = ("pooled", "map")
_POOLS = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D,
          keras.layers.Flatten)


# Fixed statistics, not features: in no stage, never trained.
_INPUT_NORMALIZATION = (ImageNormalization, MeanImageNormalization, keras.layers.Normalization)


def _producer(tensor):
    return tensor._keras_history.operation  # as kerascnn.export.fold reads it


def feature_tensor(model, features="pooled"):
    """The features `model`'s classifier reads: the input of its final `Dense`,
    before any dropout (the global-pool output for most families, fc2's for
    VGG). A model without a top (`include_top=False, pooling="avg"`) is its
    own feature extractor. With `features="map"`, the feature map the global
    pooling (or the flatten) reads instead: [B, H, W, C].

    Raises:
        ValueError: the output is neither a `Dense` nor rank-2 features, or
            ("map") no global pooling or flatten leads to them.
    """
    if features not in FEATURES:
        raise ValueError(f"features must be one of {FEATURES}, got {features!r}.")
    kind = features
    output = model.outputs[0]
    layer = _producer(output)
    if isinstance(layer, keras.layers.Dense):
        features = layer.input
    elif len(output.shape) == 2:
        features = output
    else:
        raise ValueError(
            f"Cannot find the features of model {model.name!r}: its output comes from "
            f"{layer.name!r} ({type(layer).__name__}, shape {tuple(output.shape)}), "
            "neither a Dense classifier nor pooled features; build it with include_top=True "
            "or pooling='avg'.")
    while isinstance(_producer(features), keras.layers.Dropout):
        features = _producer(features).input
    if len(features.shape) != 2:
        raise ValueError(f"The features of model {model.name!r} have shape "
                         f"{tuple(features.shape)}; expected (batch, channels).")
    return _feature_map(model, features) if kind == "map" else features


def _feature_map(model, pooled):
    """The rank-4 input of the global pooling (or flatten) that `pooled` comes from."""
    tensor = pooled
    while True:
        layer = _producer(tensor)
        inputs = [] if isinstance(layer, keras.layers.InputLayer) else (
            layer.input if isinstance(layer.input, (list, tuple)) else [layer.input])
        if len(inputs) != 1:
            raise ValueError(f"Model {model.name!r} has no global pooling or flatten before its "
                             "classifier: features='map' needs one; use features='pooled'.")
        if isinstance(layer, _POOLS) and len(inputs[0].shape) == 4:
            if isinstance(_producer(inputs[0]), keras.layers.InputLayer):
                raise ValueError(f"Model {model.name!r} flattens its input image: its 'map' "
                                 "would be the pixels; use features='pooled'.")
            return inputs[0]
        tensor = inputs[0]


def feature_extractor(model, features="pooled"):
    """A model from `model`'s inputs to `feature_tensor(model, features)`, sharing its
    layers; a feature map ("map") is flattened."""
    tensor = feature_tensor(model, features)
    if len(tensor.shape) == 4:
        tensor = keras.layers.Flatten(name="feature_map_flatten")(tensor)
    return keras.Model(model.inputs[0], tensor, name=f"{model.name}_features")


def stages(model):
    """[(name, [layers with weights])] of a feature extractor, input first.

    A stage holds the layers whose output has one spatial size; it is named
    after that size and its first and last layers ("8x8 (conv3_block1_1_conv
    .. conv3_block3_2_bn)"); the dense layers after pooling form the stage
    "dense (fc1 .. fc2)". The input normalization is in no stage (it has no
    weights to train).
    """
    groups = {}
    for layer in model.layers:
        if not layer.weights or isinstance(layer, _INPUT_NORMALIZATION):
            continue
        shape = layer.output.shape
        if len(shape) == 4:
            key = f"{shape[1]}x{shape[2]}"
        elif len(shape) == 2:
            key = "dense"
        else:
            key = f"rank-{len(shape)}"
        groups.setdefault(key, []).append(layer)
    return [(f"{key} ({layers[0].name} .. {layers[-1].name})", layers)
            for key, layers in groups.items()]


def stage_names(model):
    """The names of `stages(feature_extractor(model))`, input first."""
    return [name for name, _ in stages(feature_extractor(model))]


def replace_head(model, num_classes, mode="linear_probe", fine_tune_stages=1, features="pooled"):
    """`model`'s features with a new `Dense(num_classes)` head named "predictions".

    The head starts at zero, so its first loss is ln C exactly (the notes'
    first check). Layers that are not trained get `trainable=False`, which in
    Keras 3 also runs their BatchNormalization in inference mode: the moving
    mean and variance neither move nor replace the batch statistics.

    Args:
        model: a trained classifier (or a model with pooled outputs).
        num_classes: classes of the new task.
        mode: "linear_probe" (the whole backbone frozen: a linear classifier
            on fixed features) or "fine_tune" (the last `fine_tune_stages`
            stages trained with the head; the earlier ones frozen).
        fine_tune_stages: how many stages, counted from the top, are trained
            in "fine_tune" mode.
        features: "pooled" (what the old classifier read) or "map" (the last
            feature map, flattened: `feature_tensor`).

    Returns:
        A new, uncompiled `keras.Model` sharing `model`'s layers (and weights).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
    extractor = feature_extractor(model, features)
    found = stages(extractor)
    trained = []
    if mode == "fine_tune":
        if (isinstance(fine_tune_stages, bool) or not isinstance(fine_tune_stages, int)
                or not 1 <= fine_tune_stages <= len(found)):
            listing = "; ".join(name for name, _ in found)
            raise ValueError(
                f"fine_tune_stages must be an integer in [1, {len(found)}] for "
                f"{model.name!r}, got {fine_tune_stages!r}; its stages, input first: {listing}.")
        trained = [layer for _, layers in found[-fine_tune_stages:] for layer in layers]
    for layer in extractor.layers:
        layer.trainable = False
    for layer in trained:
        layer.trainable = True
    head = keras.layers.Dense(num_classes, kernel_initializer="zeros", name="predictions")
    return keras.Model(extractor.inputs[0], head(extractor.outputs[0]), name=model.name)
