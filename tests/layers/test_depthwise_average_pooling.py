"""DepthwiseAveragePooling2D: average pooling as a constant depthwise convolution, against
NumPy and Keras' AveragePooling2D; errors; round trip; costs; its int8 TFLite op."""

import numpy as np
import pytest

import keras
from kerascnn.inspect import costs
from kerascnn.layers import DepthwiseAveragePooling2D


def sample(shape):
    return np.random.default_rng(0).normal(size=shape).astype("float32")


def numpy_pool(x, k, s):
    n, h, w, c = x.shape
    rows, cols = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, rows, cols, c), np.float64)
    for i in range(rows):
        for j in range(cols):
            out[:, i, j] = x[:, s * i:s * i + k, s * j:s * j + k].mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("k, s, hw",
                         [(3, 2, (9, 8)), (3, 1, (5, 5)), (2, 2, (6, 7)), (1, 1, (3, 4))])
def test_means_of_the_windows(k, s, hw):
    x = sample((2, *hw, 5))
    ours = np.asarray(DepthwiseAveragePooling2D(k, strides=s)(x))
    np.testing.assert_allclose(ours, numpy_pool(x, k, s), atol=1e-6)
    keras_pool = keras.layers.AveragePooling2D(k, strides=s, padding="valid")(x)
    np.testing.assert_allclose(ours, np.asarray(keras_pool), atol=1e-6)


def test_zero_padding_before_it_is_pytorchs_count_include_pad():
    """ZeroPadding2D(1) + DepthwiseAveragePooling2D(3, 2) = AvgPool2d(3, 2, padding=1): a
    corner window holds 4 values and 5 padding zeros, divided by 9."""
    x = np.ones((1, 4, 4, 1), np.float32)
    padded = keras.layers.ZeroPadding2D(1)(x)
    out = np.asarray(DepthwiseAveragePooling2D(3, strides=2)(padded))[0, ..., 0]
    np.testing.assert_allclose(out, [[4 / 9, 6 / 9], [6 / 9, 1.0]], atol=1e-6)


@pytest.mark.parametrize("kwargs", [{"pool_size": 0}, {"pool_size": 2.0}, {"pool_size": True},
                                    {"strides": (2, 1)}, {"strides": 0}])
def test_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError, match=r"DepthwiseAveragePooling2D \w+ must be an integer >= 1"):
        DepthwiseAveragePooling2D(**kwargs)


def test_round_trips_has_no_weights_and_costs_nothing(tmp_path):
    inp = keras.Input((None, None, 6))
    model = keras.Model(inp, DepthwiseAveragePooling2D(3, strides=2, name="pool")(inp))
    assert model.weights == [] and tuple(model.output.shape) == (None, None, None, 6)
    x = sample((2, 7, 7, 6))
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)  # no custom_objects
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))
    report = costs(model, (7, 7, 6))
    assert report.macs == 0 and report.trainable_params == 0 and not report.unknown


def test_int8_tflite_op_is_a_depthwise_convolution():
    """In the full-integer file the layer is a DEPTHWISE_CONV_2D, whose output gets its own
    scale (an AVERAGE_POOL_2D keeps its input's); test_mobile_int8 measures what that does
    for ShuffleNet v1."""
    from kerascnn import export

    def builtin_ops(pool):
        inp = keras.Input((8, 8, 4))
        x = keras.layers.Conv2D(4, 1, name="conv")(keras.layers.Rescaling(1 / 255)(inp))
        model = keras.Model(inp, keras.layers.Flatten()(pool(x)))
        images = np.random.default_rng(0).integers(0, 256, (16, 8, 8, 4), dtype=np.uint8)
        content = export.to_tflite(model, quantization="int8", representative_data=images)
        return export.tflite_ops(content)["builtin"]

    assert "AVERAGE_POOL_2D" in builtin_ops(keras.layers.AveragePooling2D(3, strides=1))
    ops = builtin_ops(DepthwiseAveragePooling2D(3, strides=1))
    assert "DEPTHWISE_CONV_2D" in ops and "AVERAGE_POOL_2D" not in ops
