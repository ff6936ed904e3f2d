"""What every family shares: the input, the classifier head, weight loading."""

import os

import keras

from kerascnn.layers import normalization_layer
# Name resolution the family builders share (kerascnn's names, then Keras's).
from kerascnn.layers.activations import any_activation as activation  # noqa: F401
from kerascnn.layers.initializers import any_initializer as initializer  # noqa: F401

POOLINGS = (None, "avg", "max")


def resolve_classes(classes, num_classes):
    """`classes` (keras.applications) and `num_classes` (timm) are one argument."""
    if num_classes is not None:
        if classes not in (None, 1000) and classes != num_classes:
            raise ValueError(
                f"classes={classes} and num_classes={num_classes} disagree; pass one."
            )
        classes = num_classes
    return classes


def check_arguments(include_top, weights, pooling, classes):
    """Validates the keras.applications arguments before any layer is built."""
    if include_top:
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
            raise ValueError(
                f"classes must be an integer >= 2 when include_top=True, got {classes!r}."
            )
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    if weights is not None:
        if not isinstance(weights, (str, os.PathLike)):
            raise ValueError(
                f"weights must be None or the path of a local weights file, got {weights!r}."
            )
        if str(weights) == "imagenet":
            raise ValueError(
                "weights='imagenet' is not available: kerascnn ships no pretrained "
                "weights and downloads nothing. Pass None, or the path of a local "
                "weights file (.weights.h5 or .keras); for ResNet-50, "
                "kerascnn.models.resnet.from_keras_applications(keras.applications."
                "ResNet50(weights=...)) carries keras.applications weights over."
            )
        if not os.path.exists(weights):
            raise FileNotFoundError(
                f"weights file {os.fspath(weights)!r} does not exist; pass None "
                "or the path of a local weights file (.weights.h5 or .keras)."
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
    """Applies the in-model input normalization for `preprocessing`."""
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
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name="top_dropout")(x)
        return keras.layers.Dense(
            classes, activation=classifier_activation, name="predictions"
        )(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def finish_model(inputs, outputs, name, weights):
    """Creates the functional model and loads `weights` when given."""
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model

