"""First-layer filters and feature maps as image grids, against the arrays they show."""

import numpy as np
import pytest

import keras
from kerascnn.inspect import pictures


def scaled(a):
    a = np.asarray(a, np.float64)
    return np.round(255 * (a - a.min()) / (a.max() - a.min())).astype(np.uint8)


def test_grid_places_tiles_row_by_row_with_gutters():
    tiles = np.stack([np.full((2, 3), v, np.uint8) for v in (10, 20, 30)])
    out = pictures.grid(tiles, columns=2, gutter=1)
    assert out.shape == (2 * 3 + 1, 2 * 4 + 1)
    assert (out[1:3, 1:4] == 10).all() and (out[1:3, 5:8] == 20).all()
    assert (out[4:6, 1:4] == 30).all() and (out[4:6, 5:8] == 255).all()  # empty cell
    assert (out[0] == 255).all() and (out[:, 4] == 255).all()  # gutters


def test_first_layer_filters_are_the_kernels_in_rgb():
    inp = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, name="c1")
    model = keras.Model(inp, keras.layers.Conv2D(2, 3)(conv(inp)))
    kernel = np.random.default_rng(0).normal(size=(3, 3, 3, 4)).astype("float32")
    conv.set_weights([kernel, np.zeros(4, "float32")])
    out = pictures.first_layer_filters(model, scale=1)
    assert pictures.first_convolution(model) is conv
    assert out.shape == (2 * 4 + 1, 2 * 4 + 1, 3)  # 4 filters in a 2 x 2 grid
    np.testing.assert_array_equal(out[1:4, 5:8], scaled(kernel[..., 1]))


def test_feature_maps_of_an_identity_layer_are_the_image_channels():
    inp = keras.Input((6, 5, 3))
    ident = keras.layers.Conv2D(3, 1, use_bias=False, name="ident")
    model = keras.Model(inp, keras.layers.Flatten()(ident(inp)))
    ident.set_weights([np.eye(3, dtype="float32")[None, None]])
    image = np.random.default_rng(1).uniform(0, 255, (6, 5, 3))
    out = pictures.feature_maps(model, "ident", image, max_channels=2, scale=1)
    assert out.shape == (1 * 7 + 1, 2 * 6 + 1)
    np.testing.assert_array_equal(out[1:7, 1:6], scaled(image[..., 0]))
    np.testing.assert_array_equal(out[1:7, 7:12], scaled(image[..., 1]))
    with pytest.raises(ValueError, match=r"has no layer 'nope'; its layers include"):
        pictures.feature_maps(model, "nope", image)
    with pytest.raises(ValueError, match=r"not a feature map"):
        pictures.feature_maps(model, model.layers[-1].name, image)


def test_a_model_without_convolutions():
    inp = keras.Input((4,))
    with pytest.raises(ValueError, match="has no Conv2D layer"):
        pictures.first_layer_filters(keras.Model(inp, keras.layers.Dense(2)(inp), name="m"))
