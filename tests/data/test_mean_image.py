"""data.compute_mean_image and preprocessing="dataset_mean_image" in build_model."""

import numpy as np
import pytest
import tensorflow as tf

from kerascnn import data
from kerascnn.layers import MeanImageNormalization


def _images(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for shape in shapes]


def _dataset(images, labels=True):
    """Unbatched (uint8 image, int32 label) of images that may differ in size."""
    channels = images[0].shape[-1]
    image_spec = tf.TensorSpec([None, None, channels], tf.uint8)
    if not labels:
        return tf.data.Dataset.from_generator(lambda: iter(images), output_signature=image_spec)
    return tf.data.Dataset.from_generator(
        lambda: ((image, np.int32(i % 3)) for i, image in enumerate(images)),
        output_signature=(image_spec, tf.TensorSpec([], tf.int32)),
    )


def _numpy_mean(images, size):
    """NumPy mean in float64 of the images, each resized as the pipeline documents
    (bilinear, antialiased; left alone when it already has the size)."""
    resized = []
    for image in images:
        x = image.astype(np.float32)
        if x.shape[:2] != size:
            x = tf.image.resize(x, size, method="bilinear", antialias=True).numpy()
        resized.append(x.astype(np.float64))
    return np.mean(resized, axis=0)


def test_mean_image_is_the_numpy_mean_of_the_resized_images():
    images = _images([(12, 10, 3), (8, 8, 3), (5, 9, 3), (8, 8, 3), (20, 16, 3)])
    mean = data.compute_mean_image(_dataset(images), 8)
    assert mean.dtype == np.float32 and mean.shape == (8, 8, 3)
    np.testing.assert_allclose(mean, _numpy_mean(images, (8, 8)), rtol=1e-6, atol=1e-4)
    # Images alone, (H, W) and (H, W, C) sizes, and max_examples.
    alone = data.compute_mean_image(_dataset(images, labels=False), (6, 7, 3), max_examples=2)
    np.testing.assert_allclose(alone, _numpy_mean(images[:2], (6, 7)), rtol=1e-6, atol=1e-4)


def test_mean_image_of_a_batched_dataset_equals_the_unbatched_one():
    images = np.stack(_images([(8, 8, 3)] * 6))
    ds = tf.data.Dataset.from_tensor_slices(images)
    np.testing.assert_allclose(
        data.compute_mean_image(ds.batch(4), 8), images.mean(0), rtol=1e-6, atol=1e-4
    )


def test_mean_image_converts_channels_as_the_eval_pipeline_does():
    gray = _images([(8, 8, 1)] * 3)
    mean = data.compute_mean_image(_dataset(gray), 8)
    assert mean.shape == (8, 8, 3)
    expected = np.mean([g.astype(np.float64) for g in gray], axis=0)
    np.testing.assert_allclose(mean, np.repeat(expected, 3, axis=-1), atol=1e-4)

    rgb = _images([(8, 8, 3)] * 3)
    luma = data.compute_mean_image(_dataset(rgb), (8, 8, 1))
    batch = data.eval_pipeline(_dataset(rgb), batch_size=3, image_size=(8, 8, 1),
                               num_classes=3)
    np.testing.assert_allclose(luma, next(iter(batch))[0].numpy().mean(0), atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(image_size=0), "image_size"),
        (dict(image_size=(8, 8, 2)), "channels"),
        (dict(image_size=8, max_examples=0), "max_examples"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.compute_mean_image(_dataset(_images([(8, 8, 3)])), **kwargs)


def test_empty_dataset_raises():
    with pytest.raises(ValueError, match="empty"):
        data.compute_mean_image(_dataset(_images([(8, 8, 3)])).take(0), 8)


def test_build_model_with_dataset_mean_image_on_digits():
    from kerascnn.train import train_lib

    train_raw = data.load("digits", "train")
    cfg = {"model": {"name": "resnet20", "kwargs": {"preprocessing": "dataset_mean_image"}},
           "data": {"name": "digits"}, "transfer": {"backbone": None},
           "runtime": {"precision": "float32"}}
    model = train_lib.build_model(cfg, data.info("digits"), (32, 32, 3), train_raw)
    layer = next(layer for layer in model.layers if "Normalization" in type(layer).__name__)
    assert isinstance(layer, MeanImageNormalization)
    assert layer.mean_image.shape == (32, 32, 3)
    expected = data.compute_mean_image(train_raw, (32, 32, 3))
    np.testing.assert_allclose(layer.mean_image, expected, rtol=1e-6)
    _, std = data.compute_mean_std(train_raw)
    np.testing.assert_allclose(layer.std, std, rtol=1e-6)
    with pytest.raises(ValueError, match="needs the training data"):
        train_lib.build_model(cfg, data.info("digits"), (32, 32, 3))
