"""kerascnn.data pipelines: shapes, exact crops, seeded reproducibility, statistics."""

import math

import numpy as np
import pytest
import tensorflow as tf

from kerascnn import data
from kerascnn.augment import crops
from kerascnn.data import pipeline


def _dataset(images, labels):
    """Unbatched (uint8 image, int32 label) dataset; images may differ in size."""
    channels = images[0].shape[-1]
    return tf.data.Dataset.from_generator(
        lambda: zip(images, labels),
        output_signature=(
            tf.TensorSpec([None, None, channels], tf.uint8),
            tf.TensorSpec([], tf.int32),
        ),
    )


def _random_images(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for shape in shapes]


def _batches(ds, n=None):
    return [(x.numpy(), y.numpy()) for x, y in (ds.take(n) if n else ds)]


def _epoch(ds):
    x, y = zip(*_batches(ds))
    return np.concatenate(x), np.concatenate(y)


@pytest.fixture(scope="module")
def cifar_like():
    images = _random_images([(32, 32, 3)] * 12)
    labels = [i % 5 for i in range(12)]
    return images, labels


@pytest.mark.parametrize("crop", data.pipeline.CROPS)
def test_train_pipeline_shapes_and_one_hot(crop):
    shapes = [(40, 56, 3), (64, 48, 3), (24, 24, 3), (300, 200, 3), (37, 90, 3)]
    labels = [0, 6, 2, 3, 6]
    ds = data.train_pipeline(
        _dataset(_random_images(shapes), labels),
        batch_size=2, image_size=(24, 40), num_classes=7, crop=crop, shuffle_buffer=0,
    )
    assert ds.element_spec == (
        tf.TensorSpec([None, 24, 40, 3], tf.float32),
        tf.TensorSpec([None, 7], tf.float32),
    )
    x, y = _epoch(ds)
    assert x.shape == (5, 24, 40, 3) and x.min() >= 0 and x.max() <= 255
    np.testing.assert_array_equal(y, np.eye(7, dtype=np.float32)[labels])


def test_pad_crop_is_a_shifted_window_of_the_zero_padded_image(cifar_like):
    images, labels = cifar_like
    padding = 4
    ds = data.train_pipeline(
        _dataset(images, labels), batch_size=5, image_size=32, num_classes=5,
        padding=padding, shuffle_buffer=0, seed=1,
    )
    x, _ = _epoch(ds)
    seen = set()
    for image, out in zip(images, x):
        padded = np.pad(image.astype(np.float32), ((padding, padding), (padding, padding), (0, 0)))
        matches = [
            (dy, dx, flipped)
            for dy in range(2 * padding + 1)
            for dx in range(2 * padding + 1)
            for flipped in (False, True)
            if np.array_equal(
                padded[dy : dy + 32, dx : dx + 32][:, :: -1 if flipped else 1], out
            )
        ]
        assert matches, "no offset in [0, 2 * padding] reproduces the crop"
        seen.add(matches[0])
    assert len(seen) > 3  # offsets and flips vary from example to example
    assert {flipped for _, _, flipped in seen} == {False, True}


def test_resize_without_flip_is_the_identity_at_the_same_size(cifar_like):
    images, labels = cifar_like
    ds = data.train_pipeline(
        _dataset(images, labels), batch_size=4, image_size=32, num_classes=5,
        crop="resize", flip=False, shuffle_buffer=0,
    )
    x, y = _epoch(ds)
    np.testing.assert_array_equal(x, np.stack(images).astype(np.float32))
    np.testing.assert_array_equal(y.argmax(1), labels)


def test_same_seed_same_batches_other_seed_other_batches(cifar_like):
    images, labels = cifar_like

    def first_two_batches(seed):
        ds = data.train_pipeline(
            _dataset(images, labels), batch_size=4, image_size=32, num_classes=5,
            seed=seed, shuffle_buffer=12,
        )
        return _batches(ds, 2)

    a, b, c = first_two_batches(3), first_two_batches(3), first_two_batches(4)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not all(np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))


def test_each_epoch_is_a_new_reproducible_shuffle(cifar_like):
    images, labels = cifar_like

    def two_epochs():
        ds = data.train_pipeline(
            _dataset(images, labels), batch_size=5, image_size=32, num_classes=5,
            crop="resize", flip=False, seed=7,
        )
        return _epoch(ds), _epoch(ds)

    (x1, y1), (x2, y2) = two_epochs()
    (x1_again, _), (x2_again, _) = two_epochs()
    np.testing.assert_array_equal(x1, x1_again)
    np.testing.assert_array_equal(x2, x2_again)
    assert not np.array_equal(x1, x2)
    # Each epoch is a permutation of the data: same images, labels kept with them.
    source = np.stack(images).astype(np.float32).reshape(12, -1)
    for x, y in ((x1, y1), (x2, y2)):
        order = [int(np.flatnonzero((source == row).all(1))[0]) for row in x.reshape(12, -1)]
        assert sorted(order) == list(range(12))
        np.testing.assert_array_equal(y.argmax(1), np.array(labels)[order])


def test_augmentation_is_redrawn_each_epoch_reproducibly(cifar_like):
    images, labels = cifar_like

    def two_epochs():
        ds = data.train_pipeline(
            _dataset(images, labels), batch_size=12, image_size=32, num_classes=5,
            seed=2, shuffle_buffer=0,
        )
        return _epoch(ds)[0], _epoch(ds)[0]

    first, second = two_epochs()
    first_again, second_again = two_epochs()
    np.testing.assert_array_equal(first, first_again)
    np.testing.assert_array_equal(second, second_again)
    # Unshuffled, example i sits at position i in both epochs: new crops anyway.
    assert sum(not np.array_equal(a, b) for a, b in zip(first, second)) > 6


def test_drop_remainder(cifar_like):
    images, labels = cifar_like
    for drop, sizes in ((False, [5, 5, 2]), (True, [5, 5])):
        ds = data.train_pipeline(
            _dataset(images, labels), batch_size=5, image_size=32, num_classes=5,
            drop_remainder=drop,
        )
        assert [len(x) for x, _ in _batches(ds)] == sizes


def test_full_batches_fill_the_last_batch_with_the_first_examples_and_drop_none():
    # Labels are the example indices, so each batch says which examples it holds.
    for n, batch, expected in ((12, 5, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 0, 1, 2]]),
                               (2, 5, [[0, 1, 0, 1, 0]]),  # fewer examples than one batch
                               (10, 5, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])):
        images = _random_images([(8, 8, 3)] * n)
        ds = data.train_pipeline(
            _dataset(images, list(range(n))), batch_size=batch, image_size=8, num_classes=n,
            epochs=2, crop="resize", flip=False, shuffle_buffer=0, full_batches=True)
        got = [y.argmax(-1).tolist() for _, y in _batches(ds)]
        assert got == expected * 2, (n, batch, got)
        assert len(expected) == data.steps_per_epoch(n, batch) == math.ceil(n / batch)


def test_scale_aug_short_side_is_drawn_from_the_scaled_range():
    # A horizontal ramp, value = 2 * column: after resizing by s the interior
    # slope is 2 / s, which gives the drawn short side L = 64 * s.
    ramp = np.tile(2.0 * np.arange(96, dtype=np.float32), (64, 1))[..., None]
    image = tf.constant(np.repeat(ramp, 3, axis=-1))
    lows, highs = round(256 * 32 / 224), round(480 * 32 / 224)  # 37, 69
    short_sides = []
    for i in range(40):
        out = crops.scale_aug(image, (32, 32), tf.constant([i, 0])).numpy()
        assert out.shape == (32, 32, 3)
        slope = np.median(np.diff(out[16, 4:-4, 0]))
        short_sides.append(64 * 2 / slope)
    short_sides = np.array(short_sides)
    assert short_sides.min() >= lows - 0.5 and short_sides.max() <= highs + 0.5
    assert short_sides.min() < 45 and short_sides.max() > 60  # the range is used


def _boxes(height, width, n=2000):
    boxes = (
        tf.data.Dataset.range(n)
        .map(lambda i: crops.sample_resized_crop_box(height, width, tf.stack([i, 5])))
        .batch(n)
        .get_single_element()
    )
    return (b.numpy().astype(float) for b in boxes)


def test_resized_crop_boxes_respect_area_and_aspect_bounds():
    height, width = 300, 200
    top, left, h, w = _boxes(height, width)
    assert np.all((top >= 0) & (left >= 0) & (top + h <= height) & (left + w <= width))
    # h and w are rounded from real sizes: each is within 0.5 of one in bounds.
    area = height * width
    assert np.all((h + 0.5) * (w + 0.5) >= 0.08 * area)
    assert np.all((w - 0.5) / (h + 0.5) <= 4 / 3) and np.all((w + 0.5) / (h - 0.5) >= 3 / 4)
    fraction = h * w / area
    # The whole area range is drawn; the largest box of ratio >= 3/4 is 266 x 200.
    assert fraction.min() < 0.1 and fraction.max() > 0.85
    # Offsets are uniform over the free space, not always centred.
    assert len(set(top.tolist())) > 50


def test_resized_crop_aspect_ratio_is_log_uniform():
    # On a square image a box fits as often as its transpose, so log(w / h)
    # of log-uniform ratios averages 0 (se ~0.004 for 2000 boxes); ratios
    # uniform on [3/4, 4/3] would average +0.028.
    _, _, h, w = _boxes(256, 256)
    log_ratio = np.log(w / h)
    assert abs(np.mean(log_ratio)) < 0.012
    assert log_ratio.min() < -0.25 and log_ratio.max() > 0.25  # log(4/3) = 0.288


@pytest.mark.parametrize(
    "height, width, expected",
    [
        # No 8 % box with ratio in [3/4, 4/3] fits: central crop cut to the ratio bound.
        (2, 200, (0, 98, 2, 3)),  # w = round(2 * 4/3) = 3
        (200, 2, (98, 0, 3, 2)),  # h = round(2 / (3/4)) = 3, top = (200 - 3) // 2
    ],
)
def test_resized_crop_falls_back_to_a_center_crop(height, width, expected):
    box = crops.sample_resized_crop_box(height, width, tf.constant([1, 2]))
    assert tuple(int(b) for b in box) == expected


def test_random_resized_crop_is_the_resized_sampled_box():
    image = tf.constant(_random_images([(50, 70, 3)])[0], tf.float32)
    seed = tf.constant([4, 2])
    top, left, h, w = (int(b) for b in crops.sample_resized_crop_box(50, 70, seed))
    expected = tf.image.resize(
        image[top : top + h, left : left + w], (16, 16), antialias=True
    )
    np.testing.assert_allclose(
        crops.random_resized_crop(image, (16, 16), seed), expected, atol=1e-4
    )


@pytest.mark.parametrize(
    "shape, resized, offset",
    [
        # size 28: cover 28 / 0.875 = 32 on the short side, crop the centre.
        ((40, 60), (32, 48), (2, 10)),
        ((60, 40), (48, 32), (10, 2)),
        ((28, 28), (32, 32), (2, 2)),
    ],
)
def test_eval_center_crop_matches_resize_then_central_window(shape, resized, offset):
    image = _random_images([(*shape, 3)])[0]
    ds = data.eval_pipeline(
        _dataset([image], [1]), batch_size=1, image_size=28, num_classes=3,
        resize="center_crop",
    )
    (x, y), = _batches(ds)
    big = tf.image.resize(image.astype(np.float32), resized, antialias=True).numpy()
    dy, dx = offset
    np.testing.assert_allclose(x[0], big[dy : dy + 28, dx : dx + 28], atol=1e-3)
    np.testing.assert_array_equal(y, [[0, 1, 0]])


def test_eval_pipeline_is_deterministic_and_keeps_order():
    shapes = [(30, 20, 3), (32, 32, 3), (50, 40, 3)]
    images = _random_images(shapes)
    ds = data.eval_pipeline(
        _dataset(images, [2, 0, 1]), batch_size=2, image_size=32, num_classes=3,
    )
    (x1, y1), (x2, y2) = _epoch(ds), _epoch(ds)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1.argmax(1), [2, 0, 1])
    np.testing.assert_array_equal(x1[1], images[1])  # already 32x32: untouched
    np.testing.assert_allclose(
        x1[0], tf.image.resize(images[0].astype(np.float32), (32, 32), antialias=True), atol=1e-3
    )


def test_grayscale_becomes_three_channels_unless_asked_for_one():
    gray = _random_images([(28, 28, 1)] * 3)
    for build in (data.train_pipeline, data.eval_pipeline):
        kwargs = {"crop": "resize", "flip": False, "shuffle_buffer": 0} if build is data.train_pipeline else {}
        x, _ = _epoch(build(_dataset(gray, [0, 1, 2]), batch_size=3, image_size=32, num_classes=3, **kwargs))
        assert x.shape == (3, 32, 32, 3)
        reference = tf.image.resize(np.stack(gray).astype(np.float32), (32, 32), antialias=True)
        for c in range(3):
            np.testing.assert_allclose(x[..., c : c + 1], reference, atol=1e-3)
        x, _ = _epoch(build(_dataset(gray, [0, 1, 2]), batch_size=3, image_size=(28, 28, 1), num_classes=3, **kwargs))
        np.testing.assert_array_equal(x, np.stack(gray).astype(np.float32))


def test_rgb_to_one_channel_is_luma():
    rgb = _random_images([(8, 8, 3)] * 2)
    x, _ = _epoch(data.eval_pipeline(_dataset(rgb, [0, 1]), batch_size=2, image_size=(8, 8, 1), num_classes=2))
    # ITU-R BT.601 luma, the weights tf.image.rgb_to_grayscale documents.
    luma = np.stack(rgb).astype(np.float64) @ np.array([0.2989, 0.5870, 0.1140])
    np.testing.assert_allclose(x[..., 0], luma, atol=0.05)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.0}, "batch_size"),
        ({"image_size": 0}, "image_size"),
        ({"image_size": (32, 32, 2)}, "2 channels"),
        ({"image_size": "32"}, "image_size"),
        ({"num_classes": 0}, "num_classes"),
        ({"crop": "center"}, "'center'.*pad_crop, resize, scale_aug, random_resized_crop"),
        ({"padding": -1}, "padding.*-1"),
        ({"shuffle_buffer": -5}, "shuffle_buffer"),
        ({"seed": None}, "seed"),
    ],
)
def test_train_pipeline_rejects_bad_arguments(cifar_like, kwargs, message):
    images, labels = cifar_like
    args = {"batch_size": 4, "image_size": 32, "num_classes": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        data.train_pipeline(_dataset(images, labels), **args)


def test_eval_pipeline_rejects_bad_arguments(cifar_like):
    images, labels = cifar_like
    ds = _dataset(images, labels)
    with pytest.raises(ValueError, match="'crop'.*resize, center_crop"):
        data.eval_pipeline(ds, batch_size=4, image_size=32, num_classes=5, resize="crop")
    with pytest.raises(ValueError, match="unbatched"):
        data.eval_pipeline(ds.batch(2), batch_size=4, image_size=32, num_classes=5)


def test_label_out_of_range_fails_loudly(cifar_like):
    images, labels = cifar_like
    ds = data.eval_pipeline(_dataset(images, labels), batch_size=4, image_size=32, num_classes=3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes"):
        _epoch(ds)


def test_compute_mean_std_matches_numpy():
    images = _random_images([(5, 7, 3), (9, 4, 3), (6, 6, 3), (3, 8, 3)], seed=3)
    pixels = np.concatenate([im.reshape(-1, 3) for im in images]).astype(np.float64)
    mean, std = data.compute_mean_std(_dataset(images, [0, 1, 2, 3]))
    np.testing.assert_allclose(mean, pixels.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, pixels.std(0), rtol=1e-10)
    assert all(isinstance(v, float) for v in mean + std)

    first_two = np.concatenate([im.reshape(-1, 3) for im in images[:2]]).astype(np.float64)
    mean, std = data.compute_mean_std(_dataset(images, [0, 1, 2, 3]), max_examples=2)
    np.testing.assert_allclose(mean, first_two.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, first_two.std(0), rtol=1e-10)

    same_size = _random_images([(4, 4, 1)] * 6, seed=4)
    batched = tf.data.Dataset.from_tensor_slices(np.stack(same_size)).batch(4)
    mean, std = data.compute_mean_std(batched)
    assert math.isclose(mean[0], np.mean(same_size)) and math.isclose(std[0], np.std(same_size))
