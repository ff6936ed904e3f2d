"""kerascnn.augment.test_time: exact crops, torchvision order, scales, averaged predictions."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascnn.augment import test_time as tta
from kerascnn.augment import crops


def _ramp(height, width, channels=3, offset=0.0):
    return (np.arange(height * width * channels, dtype=np.float32) + offset).reshape(
        height, width, channels
    )


def _random_batch(batch, height, width, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (batch, height, width, 3)).astype(np.float32)


def _numpy_five(image, h, w):
    height, width = image.shape[:2]
    top, left = (height - h) // 2, (width - w) // 2
    return [
        image[:h, :w],
        image[:h, width - w :],
        image[height - h :, :w],
        image[height - h :, width - w :],
        image[top : top + h, left : left + w],
    ]


@pytest.mark.parametrize("size", [4, (3, 5), (6, 8)])
def test_ten_crop_is_numpy_slicing_in_torchvision_order(size):
    image = _ramp(6, 8)
    h, w = (size, size) if isinstance(size, int) else size
    expected = _numpy_five(image, h, w) + _numpy_five(np.flip(image, axis=1), h, w)
    crops = tta.ten_crop(image, size).numpy()
    assert crops.shape == (10, h, w, 3) and crops.dtype == np.float32
    np.testing.assert_array_equal(crops, np.stack(expected))
    # torchvision flips the whole image first: flipped tl mirrors the tr crop.
    np.testing.assert_array_equal(crops[5], np.flip(crops[1], axis=1))
    np.testing.assert_array_equal(crops[8], np.flip(crops[2], axis=1))


def test_ten_crop_corners_of_a_4x4_crop_of_a_6x8_ramp():
    image = _ramp(6, 8, channels=1)[..., 0]
    crops = tta.ten_crop(image[..., None], 4).numpy()[..., 0]
    np.testing.assert_array_equal(crops[0], image[0:4, 0:4])
    np.testing.assert_array_equal(crops[1], image[0:4, 4:8])
    np.testing.assert_array_equal(crops[2], image[2:6, 0:4])
    np.testing.assert_array_equal(crops[3], image[2:6, 4:8])
    np.testing.assert_array_equal(crops[4], image[1:5, 2:6])
    np.testing.assert_array_equal(crops[5], image[0:4, 4:8][:, ::-1])
    np.testing.assert_array_equal(crops[9], image[1:5, 2:6][:, ::-1])


def test_ten_crop_resize_to_sets_the_short_side():
    image = _random_batch(1, 30, 45)[0]
    crops = tta.ten_crop(image, 16, resize_to=20)
    resized = tf.image.resize(image, (20, 30), antialias=True).numpy()
    expected = _numpy_five(resized, 16, 16) + _numpy_five(np.flip(resized, 1), 16, 16)
    np.testing.assert_allclose(crops.numpy(), np.stack(expected), atol=1e-4)


def test_center_crop_without_resize_is_the_central_slice():
    # 28 / 0.875 = 32: a 32 x 48 image already covers it, no resampling.
    image = _ramp(32, 48)
    np.testing.assert_array_equal(tta.center_crop(image, 28).numpy(), image[2:30, 10:38])
    np.testing.assert_array_equal(
        tta.center_crop(image, (24, 36), crop_fraction=0.75).numpy(), image[4:28, 6:42]
    )
    np.testing.assert_array_equal(
        tta.center_crop(image, (32, 48), crop_fraction=1.0).numpy(), image
    )


@pytest.mark.parametrize("shape", [(50, 70), (37, 23), (256, 300), (20, 20)])
def test_center_crop_matches_the_eval_pipeline(shape):
    image = _random_batch(1, *shape)[0]
    ours = tta.center_crop(image, (24, 32)).numpy()
    theirs = crops.center_crop(tf.constant(image), (24, 32)).numpy()
    assert ours.shape == (24, 32, 3)
    np.testing.assert_array_equal(ours, theirs)


def test_multi_scale_short_side_and_aspect():
    image = _random_batch(1, 30, 45)[0]
    scales = (16, 24, 40, 61)
    views = tta.multi_scale(image, scales)
    for view, scale in zip(views, scales):
        h, w, c = view.shape
        assert (h, c) == (scale, 3)
        assert abs(w - 45 * scale / 30) <= 0.5
    tall = tta.multi_scale(_random_batch(2, 45, 30), scales)
    assert [tuple(v.shape) for v in tall] == [(2, round(1.5 * s), s, 3) for s in scales]
    # 30 -> 30 is no resize at all.
    np.testing.assert_array_equal(tta.multi_scale(image, [30])[0].numpy(), image)


def test_multi_scale_with_size_stacks_the_centre_crops():
    image = _random_batch(1, 30, 45)[0]
    stacked = tta.multi_scale(image, (16, 24, 40), size=16).numpy()
    assert stacked.shape == (3, 16, 16, 3)
    for crop, view in zip(stacked, tta.multi_scale(image, (16, 24, 40))):
        view = view.numpy()
        top, left = (view.shape[0] - 16) // 2, (view.shape[1] - 16) // 2
        np.testing.assert_array_equal(crop, view[top : top + 16, left : left + 16])


def test_batch_and_single_image_forms_agree():
    batch = _random_batch(3, 26, 35)
    ten = tta.ten_crop(batch, (12, 16), resize_to=20).numpy()
    center = tta.center_crop(batch, 16).numpy()
    scaled = tta.multi_scale(batch, (18, 22), size=(14, 18)).numpy()
    full = [v.numpy() for v in tta.multi_scale(batch, (18, 22))]
    assert ten.shape == (3, 10, 12, 16, 3) and scaled.shape == (3, 2, 14, 18, 3)
    for i, image in enumerate(batch):
        np.testing.assert_allclose(ten[i], tta.ten_crop(image, (12, 16), resize_to=20), atol=1e-4)
        np.testing.assert_allclose(center[i], tta.center_crop(image, 16), atol=1e-4)
        np.testing.assert_allclose(
            scaled[i], tta.multi_scale(image, (18, 22), (14, 18)), atol=1e-4
        )
        for view, single in zip(full, tta.multi_scale(image, (18, 22))):
            np.testing.assert_allclose(view[i], single, atol=1e-4)


def test_dynamic_shapes_in_tf_function():
    spec = [tf.TensorSpec([None, None, None, 3], tf.float32)]
    ten = tf.function(lambda x: tta.ten_crop(x, 8, resize_to=10), input_signature=spec)
    center = tf.function(lambda x: tta.center_crop(x, (8, 6)), input_signature=spec)
    for shape in [(2, 12, 17), (1, 31, 10)]:
        batch = _random_batch(*shape)
        np.testing.assert_allclose(ten(batch), tta.ten_crop(batch, 8, resize_to=10), atol=1e-4)
        np.testing.assert_allclose(center(batch), tta.center_crop(batch, (8, 6)), atol=1e-4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="crop size 9x9"):
        tf.function(lambda x: tta.ten_crop(x, 9), input_signature=spec)(_random_batch(1, 8, 20))


def test_make_views_counts_and_shapes():
    batch = _random_batch(2, 30, 40)
    scales = (20, 28)
    center = tta.make_views(batch, "center", 16)
    ten = tta.make_views(batch, "ten_crop", 16)
    multi = tta.make_views(batch, "multi_scale", 16, scales=scales)
    multi_ten = tta.make_views(batch, "multi_scale_ten_crop", 16, scales=scales)
    assert [v.shape for v in center] == [(2, 16, 16, 3)]
    assert [v.shape for v in ten] == [(2, 16, 16, 3)] * 10
    assert [tuple(v.shape) for v in multi] == [(2, 20, 27, 3), (2, 28, 37, 3)]
    assert [v.shape for v in multi_ten] == [(2, 16, 16, 3)] * 20
    np.testing.assert_array_equal(center[0], tta.center_crop(batch, 16))
    # Default resize_to: round(16 / 0.875) = 18 for the short side.
    np.testing.assert_array_equal(np.stack(ten, 1), tta.ten_crop(batch, 16, resize_to=18))
    # The centre view of ten_crop is the "center" view.
    np.testing.assert_array_equal(ten[4], center[0])
    np.testing.assert_array_equal(
        np.stack(multi_ten[10:], 1), tta.ten_crop(batch, 16, resize_to=28)
    )
    resized = tta.make_views(batch, "center", 16, resize_to=24)
    np.testing.assert_array_equal(resized[0], tta.ten_crop(batch, 16, resize_to=24)[:, 4])
    single = tta.make_views(batch[0], "ten_crop", 16)
    assert single[0].shape == (1, 16, 16, 3)


def _tiny_model(activation=None, classes=5):
    inputs = keras.Input((None, None, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.Dense(classes, activation=activation)(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(1)
    model.layers[-1].set_weights(
        [
            rng.normal(0, 0.05, (3, classes)).astype(np.float32),
            rng.normal(0, 1, classes).astype(np.float32),
        ]
    )
    return model


def _softmax(z):
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


@pytest.mark.parametrize("mode", tta.VIEWS)
def test_predict_tta_is_the_mean_of_the_softmaxes(mode):
    model = _tiny_model()
    kernel, bias = model.layers[-1].get_weights()
    batch = _random_batch(3, 30, 40)
    # One scale for multi_scale_ten_crop keeps it to 10 predict calls.
    scales = (24,) if mode == "multi_scale_ten_crop" else (18, 24)
    views = tta.make_views(batch, mode, 16, scales=scales)
    assert len(views) == {"center": 1, "ten_crop": 10, "multi_scale": 2}.get(mode, 10)
    expected = np.mean(
        [_softmax(np.asarray(v).mean(axis=(1, 2)) @ kernel + bias) for v in views], axis=0
    )
    got = tta.predict_tta(model, batch, mode, 16, scales=scales, batch_size=2)
    assert got.shape == (3, 5) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    if mode != "center":
        # The views differ, so the average is not any single view's softmax.
        single = _softmax(np.asarray(views[0]).mean(axis=(1, 2)) @ kernel + bias)
        assert np.abs(got - single).max() > 1e-6


def test_probability_outputs_are_not_softmaxed_again():
    model = _tiny_model(activation="softmax")
    batch = _random_batch(2, 20, 24)
    views = tta.make_views(batch, "multi_scale", 16, scales=(16, 20, 24))
    probs = [model(v).numpy() for v in views]
    got = tta.predict_views(model, views)
    np.testing.assert_allclose(got, np.mean(probs, axis=0), atol=1e-6)
    # Softmaxing again would flatten the probabilities towards uniform.
    assert np.abs(got - np.mean([_softmax(p) for p in probs], axis=0)).max() > 1e-3


def test_argument_errors():
    image = _ramp(6, 8)
    allowed = "center, ten_crop, multi_scale, multi_scale_ten_crop"
    with pytest.raises(ValueError, match=f"'five'.*{allowed}"):
        tta.make_views(image, "five", 4)
    with pytest.raises(ValueError, match="size.*positive.*0"):
        tta.ten_crop(image, 0)
    with pytest.raises(ValueError, match=r"size.*\(4, 4, 3\)"):
        tta.center_crop(image, (4, 4, 3))
    with pytest.raises(ValueError, match="crop size 7x7.*6x8"):
        tta.ten_crop(image, 7)
    with pytest.raises(ValueError, match="crop size 5x9.*6x8"):
        tta.ten_crop(image, (5, 9))
    with pytest.raises(ValueError, match="crop size 20x20.*16x21"):
        tta.make_views(_random_batch(1, 30, 40), "multi_scale_ten_crop", 20, scales=(16, 24))
    with pytest.raises(ValueError, match="crop size 20x20.*16x21"):
        tta.multi_scale(_random_batch(1, 30, 40), (16, 24), size=20)
    with pytest.raises(ValueError, match="scales.*\\(\\)"):
        tta.multi_scale(image, ())
    with pytest.raises(ValueError, match="scales.*-2"):
        tta.make_views(image, "multi_scale", 4, scales=(8, -2))
    with pytest.raises(ValueError, match="resize_to.*0"):
        tta.ten_crop(image, 4, resize_to=0)
    with pytest.raises(ValueError, match="crop_fraction.*1.5"):
        tta.center_crop(image, 4, crop_fraction=1.5)
    with pytest.raises(ValueError, match=r"\[H, W, C\].*\(6, 8\)"):
        tta.center_crop(image[..., 0], 4)
    with pytest.raises(ValueError, match="batch_size.*0"):
        tta.predict_views(_tiny_model(), [image[None]], batch_size=0)
    with pytest.raises(ValueError, match="non-empty"):
        tta.predict_views(_tiny_model(), [])
