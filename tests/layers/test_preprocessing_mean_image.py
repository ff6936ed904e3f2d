"""MeanImageNormalization: formula, .keras round trip, shape checks, builders."""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.layers import MeanImageNormalization, normalization_layer

SHAPE = (5, 6, 3)
STD = (50.0, 60.0, 70.0)


def _mean_image(shape=SHAPE, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def _images(batch=4, shape=SHAPE, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (batch, *shape)).astype(np.float32)


@pytest.mark.parametrize("std", [STD, None])
def test_layer_is_the_numpy_formula(std):
    mean, x = _mean_image(), _images()
    y = MeanImageNormalization(mean, std)(x)
    expected = (x - mean) / (np.asarray(std) if std is not None else 1.0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(y), expected, rtol=1e-5, atol=1e-5)


def test_keras_round_trip_without_custom_objects(tmp_path):
    inputs = keras.Input(SHAPE)
    layer = MeanImageNormalization(_mean_image(), STD, name="normalize")
    model = keras.Model(inputs, keras.layers.Dense(2)(layer(inputs)))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    restored = loaded.get_layer("normalize")
    assert type(restored) is MeanImageNormalization
    assert restored.get_config() == layer.get_config()
    x = _images()
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6, atol=1e-6)


def test_config_holds_the_mean_image_as_nested_lists():
    config = MeanImageNormalization(_mean_image(), None).get_config()
    assert isinstance(config["mean_image"], list)
    assert np.asarray(config["mean_image"]).shape == SHAPE and config["std"] is None
    again = MeanImageNormalization.from_config(config)
    np.testing.assert_array_equal(again.mean_image, _mean_image())


@pytest.mark.parametrize("input_shape", [(5, 7, 3), (6, 5, 3), (5, 6, 1), (None, None, 3)])
def test_input_of_another_shape_fails_naming_both_shapes(input_shape):
    layer = MeanImageNormalization(_mean_image())
    with pytest.raises(ValueError, match=r"\(5, 6, 3\).*input has shape") as error:
        layer(keras.Input(input_shape))
    assert str(input_shape[:2])[1:-1] in str(error.value)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros((5, 6)),), "mean_image must be an array"),
        ((np.full(SHAPE, np.nan),), "NaN"),
        ((_mean_image(), (1.0, 2.0)), "one value per channel"),
        ((_mean_image(), (1.0, 0.0, 2.0)), "> 0"),
        ((_mean_image(), 3.0), "per-channel values"),
    ],
)
def test_bad_arguments_raise(args, match):
    with pytest.raises(ValueError, match=match):
        MeanImageNormalization(*args)


def test_normalization_layer_takes_a_mean_image_dict():
    layer = normalization_layer({"mean_image": _mean_image().tolist(), "std": STD}, 3)
    assert isinstance(layer, MeanImageNormalization) and layer.std == STD
    assert normalization_layer({"mean_image": _mean_image()}, 3).std is None
    with pytest.raises(ValueError, match="keys"):
        normalization_layer({"mean_image": _mean_image(), "scale": 2}, 3)
    with pytest.raises(ValueError, match="keys"):
        normalization_layer({"std": STD}, 3)
    with pytest.raises(ValueError, match="3 channels.*1 channels"):
        normalization_layer({"mean_image": _mean_image()}, 1)


def test_builder_preprocessing_takes_a_mean_image_dict():
    mean = _mean_image((32, 32, 3))
    model = kerascnn.create_model("resnet20", input_shape=(32, 32, 3), classes=10,
                                  preprocessing={"mean_image": mean, "std": STD})
    layer = next(layer for layer in model.layers if "Normalization" in type(layer).__name__)
    assert isinstance(layer, MeanImageNormalization)
    np.testing.assert_array_equal(layer.mean_image, mean)
    x = _images(2, (32, 32, 3))
    # The normalization is the model's first step: a sub-model up to it is the formula.
    head = keras.Model(model.input, layer.output)
    np.testing.assert_allclose(head(x), (x - mean) / np.asarray(STD), rtol=1e-5, atol=1e-5)
    assert model(x).shape == (2, 10)
