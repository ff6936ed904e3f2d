"""Flip averaging in every mode, multi-scale on fixed-size models, the zoo through TTA."""

import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerascnn
from kerascnn import evaluate
from kerascnn.augment import test_time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from test_tta import _blocky_images, _dataset, _hand_ten_crop_probs, _softmax  # noqa: E402

NUM_CLASSES = 10


def _mirror_invariant_model(size=None):
    """A conv net that is exactly invariant to horizontal flips: each kernel is its own
    mirror image (so the convolution commutes with the flip) and global average
    pooling forgets where things are."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
    x = conv(keras.layers.Rescaling(1 / 128, offset=-1)(inputs))
    kernel = conv.kernel.numpy()
    conv.kernel.assign(kernel + kernel[:, ::-1])
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(x))


def _lopsided_model(size=None):
    """Not flip invariant: the scores weigh the left half of the image."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(
        keras.layers.Rescaling(1 / 128, offset=-1)(inputs))
    x = keras.layers.Lambda(lambda t: t[:, :, : keras.ops.shape(t)[2] // 2])(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(x))


@pytest.mark.parametrize("mode", ["center", "ten_crop", "multi_scale", "multi_scale_ten_crop"])
def test_flip_of_a_flip_invariant_model_returns_the_same_predictions(mode):
    images = np.stack(_blocky_images([(20, 20)] * 4, seed=5)).astype(np.float32)
    model = _mirror_invariant_model()
    x = images[:1]
    np.testing.assert_allclose(model.predict(x[:, :, ::-1], verbose=0), model.predict(x, verbose=0),
                               atol=1e-5)  # the model is invariant
    kwargs = dict(scales=(16, 24), batch_size=4)
    plain = test_time.predict_tta(model, images, mode, 16, **kwargs)
    flipped = test_time.predict_tta(model, images, mode, 16, flip=True, **kwargs)
    np.testing.assert_allclose(flipped, plain, atol=1e-6)
    assert np.array_equal(flipped.argmax(-1), plain.argmax(-1))
    views = len(test_time.make_views(images, mode, 16, scales=(16, 24), flip=True))
    assert views == {"center": 2, "ten_crop": 10, "multi_scale": 4, "multi_scale_ten_crop": 20}[mode]


def test_flip_averages_each_image_and_its_mirror():
    images = _blocky_images([(16, 16)] * 6, seed=7)
    model = _lopsided_model(16)
    x = np.stack(images).astype(np.float32)
    p = (_softmax(model.predict(x, verbose=0)) + _softmax(model.predict(x[:, :, ::-1], verbose=0))) / 2
    assert not np.allclose(_softmax(model.predict(x, verbose=0)), p, atol=1e-3)  # flips matter
    labels = p.argmax(-1)
    labels[[0, 3]] = p[[0, 3]].argmin(-1)
    batched = _dataset(images, labels).map(lambda i, y: (tf.cast(i, tf.float32), y)).batch(4)
    result = evaluate.evaluate(model, batched, flip=True)
    assert result["top1"] == pytest.approx(4 / 6)
    assert result["loss"] == pytest.approx(-np.mean(np.log(p[np.arange(6), labels])), rel=1e-5)
    center = evaluate.evaluate_tta(model, _dataset(images, labels), num_classes=NUM_CLASSES,
                                   mode="center", image_size=16, resize_to=16, flip=True)
    assert center["top1"] == pytest.approx(4 / 6) and center["views"] == 2 and center["flip"]


def _resnet20(input_shape):
    return kerascnn.create_model("resnet20", input_shape=input_shape, num_classes=NUM_CLASSES)


def test_multi_scale_on_a_fixed_size_model_is_the_hand_made_loop():
    """A 16x16 ResNet-20 evaluated at scales 16 and 24 with mirrors: the same weights in
    the builder's any-size network, the images resized (aspect kept) by hand."""
    fixed = _resnet20((16, 16, 3))
    free = _resnet20((None, None, 3))
    free.set_weights(fixed.get_weights())
    images = _blocky_images([(16, 20)] * 3, seed=9)
    x = np.stack(images).astype(np.float32)
    probs = 0
    for size in ((16, 20), (24, 30)):  # short side 16 and 24, aspect 4:5 kept
        view = tf.image.resize(x, size, antialias=True).numpy()
        for v in (view, view[:, :, ::-1]):
            probs = probs + _softmax(free.predict(v, verbose=0)) / 4
    labels = probs.argmax(-1)
    labels[2] = probs[2].argmin()
    result = evaluate.evaluate_tta(fixed, _dataset(images, labels), num_classes=NUM_CLASSES,
                                   mode="multi_scale", image_size=16, scales=(16, 24), flip=True)
    assert result["top1"] == pytest.approx(2 / 3) and result["views"] == 4


def test_ten_crop_of_a_flattening_model_is_the_hand_made_loop():
    """LeNet-5 (flatten and fully connected layers) takes ten crops of its own size."""
    model = kerascnn.create_model("lenet5", input_shape=(32, 32, 3), num_classes=NUM_CLASSES)
    images = _blocky_images([(40, 44), (44, 40), (38, 38), (40, 44)], seed=11)
    probs = np.stack([_hand_ten_crop_probs(model, image, 32) for image in images])
    labels = probs.argmax(-1)
    labels[0] = probs[0].argmin()
    result = evaluate.evaluate_tta(model, _dataset(images, labels), num_classes=NUM_CLASSES,
                                   mode="ten_crop", image_size=32, flip=True)
    assert result["top1"] == pytest.approx(3 / 4) and result["views"] == 10
    with pytest.raises(ValueError, match=r"takes only 32x32 images: its layer 'f\w*' reads a "
                                         r"feature map flattened.*use a crop mode"):
        evaluate.evaluate_tta(model, _dataset(images, labels), num_classes=NUM_CLASSES,
                              mode="multi_scale", image_size=32, scales=(32, 40))
