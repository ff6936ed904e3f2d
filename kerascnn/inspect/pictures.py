"""What a network's layers look like, as uint8 image grids (write them with
`kerascnn._io.write_png_atomic`; tools/inspect_net.py does).

    first_layer_filters(model)                  # the first convolution's kernels, a grid
    feature_maps(model, "conv2_block1_out", x)  # one image's channels at a named layer
"""

import keras
import numpy as np


def _scaled(array):
    """`array` linearly onto 0-255 (its own min to max), uint8."""
    array = np.asarray(array, np.float64)
    low, high = array.min(), array.max()
    if high <= low:
        return np.zeros(array.shape, np.uint8)
    return np.round(255 * (array - low) / (high - low)).astype(np.uint8)


def grid(tiles, columns=None, gutter=1, scale=1):
    """Tiles (N, h, w) or (N, h, w, 3) uint8 in a grid with `gutter` pixels between them
    (white), each upscaled `scale` times (nearest)."""
    tiles = np.asarray(tiles)
    if scale > 1:
        tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w = tiles.shape[:3]
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    shape = (rows * (h + gutter) + gutter, columns * (w + gutter) + gutter) + tiles.shape[3:]
    out = np.full(shape, 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        out[gutter + r * (h + gutter):gutter + r * (h + gutter) + h,
            gutter + c * (w + gutter):gutter + c * (w + gutter) + w] = tile
    return out


def first_convolution(model):
    """The first Conv2D of `model` (in layer order, nested models included)."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(
                layer, keras.layers.Conv2DTranspose):
            return layer
    raise ValueError(f"Model {model.name!r} has no Conv2D layer to show the filters of.")


def first_layer_filters(model, scale=None):
    """The first convolution's kernels as a grid: RGB when it sees 3 channels (each filter
    scaled on its own, as the notes' AlexNet figure), else each input channel's mean."""
    kernel = np.asarray(first_convolution(model).kernel)  # (k_h, k_w, c_in, filters)
    if kernel.shape[2] == 3:
        tiles = np.stack([_scaled(kernel[..., f]) for f in range(kernel.shape[-1])])
    else:
        tiles = np.stack([_scaled(kernel[..., f].mean(axis=-1)) for f in range(kernel.shape[-1])])
    scale = scale or max(1, 32 // kernel.shape[0])
    return grid(tiles, scale=scale)


def feature_maps(model, layer_name, image, max_channels=16, scale=None):
    """The first `max_channels` channels of layer `layer_name`'s output for one image
    (H, W, C) in [0, 255], each scaled on its own, as a grid."""
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        names = [l.name for l in model.layers]
        raise ValueError(f"Model {model.name!r} has no layer {layer_name!r}; its layers "
                         f"include {names[:8]} ... {names[-3:]}.") from None
    probe = keras.Model(model.inputs, layer.output)
    image = np.asarray(image, np.float32)
    if image.ndim != 3:
        raise ValueError(f"image must be (H, W, C), got shape {image.shape}.")
    output = np.asarray(probe(image[None], training=False))
    if output.ndim != 4:
        raise ValueError(f"Layer {layer_name!r} gives shape {output.shape[1:]}, not a feature "
                         f"map (H, W, C).")
    channels = output[0][..., :max_channels]
    tiles = np.stack([_scaled(channels[..., c]) for c in range(channels.shape[-1])])
    scale = scale or max(1, 64 // channels.shape[0])
    return grid(tiles, scale=scale)
