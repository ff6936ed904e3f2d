"""A trained fixed-size model as the same network for images of any size, where it can be.

Multi-scale testing (He et al. 2016, Sec. 3.4; Simonyan and Zisserman 2015,
Sec. 3.2) runs the whole image at several sizes through a network whose
classifier follows a global pooling. A model built for 32x32 inputs refuses
other sizes, though its layers would take them: `accepting_any_size` rebuilds
it from its config with an input of (None, None, C) and the same weights.
A network whose classifier reads a flattened feature map of fixed size
(LeNet, AlexNet, VGG, the MLPs) cannot take other sizes; it gets an error
naming the layer and pointing at the crop modes, which need no other size.
"""

import keras


def accepting_any_size(model):
    """`model` with inputs of any height and width, the same weights and outputs.

    Returns `model` itself when it already takes any size.

    Raises:
        ValueError: the model's classifier needs a feature map of one size
            (a Dense layer fed a flattened map), or a weight depends on the
            input size (a mean-image normalization).
    """
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 4:
        raise ValueError(f"Model {model.name!r} has input {shape}; multi-scale testing needs one "
                         "image input [B, H, W, C].")
    if shape[1] is None and shape[2] is None:
        return model
    config = model.get_config()
    for layer in config.get("layers", ()):
        if layer["class_name"] == "InputLayer":
            batch_shape = layer["config"]["batch_shape"]
            layer["config"]["batch_shape"] = [batch_shape[0], None, None, batch_shape[-1]]
    hint = ("; use a crop mode (center, ten_crop, multi_scale_ten_crop), whose views "
            f"are {shape[1]}x{shape[2]}")
    try:
        rebuilt = model.__class__.from_config(config)
    except Exception as err:  # a layer that fixes its shape at build time
        raise ValueError(f"Model {model.name!r} cannot be rebuilt for inputs of any size "
                         f"({type(err).__name__}: {str(err).splitlines()[0]}){hint}.") from err
    for layer in rebuilt.layers:
        if isinstance(layer, keras.layers.Dense) and layer.input.shape[-1] is None:
            raise ValueError(
                f"Model {model.name!r} takes only {shape[1]}x{shape[2]} images: its layer "
                f"{layer.name!r} reads a feature map flattened to a fixed length, not a "
                f"global pooling{hint}.")
    try:
        rebuilt.set_weights(model.get_weights())
    except ValueError as err:
        raise ValueError(f"Model {model.name!r} has weights that depend on the input size "
                         f"({str(err).splitlines()[0]}){hint}.") from err
    return rebuilt
