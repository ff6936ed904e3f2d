"""tf.data input pipelines: seeded augmentation for training, fixed resizing for evaluation.

Both take the unbatched (uint8 image, integer label) datasets of
`kerascnn.data.load` and give batches of float32 images in [0, 255]
[B, H, W, C] with float32 one-hot labels [B, num_classes]; the model
normalizes its input itself.

Training randomness is stateless: each example gets its own seed from
`tf.data.Dataset.random(seed)`, so the same seed gives the same augmented
epochs on any machine, whatever the number of parallel calls.
"""

import math

import numpy as np
import tensorflow as tf

CROPS = ("pad_crop", "resize", "scale_aug", "random_resized_crop")
EVAL_RESIZES = ("resize", "center_crop")
# ResNet scale augmentation (He et al. 2016, sec. 3.4): short side in
# [256, 480] for 224x224 crops; scaled by image_size / 224 for other sizes.
SCALE_AUG_SHORT_SIDE = (256, 480)
SCALE_AUG_CROP = 224
# Inception crop (Szegedy et al. 2015) as torchvision's RandomResizedCrop draws it.
RESIZED_CROP_AREA = (0.08, 1.0)
RESIZED_CROP_RATIO = (3 / 4, 4 / 3)
RESIZED_CROP_ATTEMPTS = 10
# ImageNet evaluation: resize to 256, central 224 crop (224 / 256 = 0.875).
CENTER_CROP_FRACTION = 0.875


def train_pipeline(
    ds,
    *,
    batch_size,
    image_size,
    num_classes,
    seed=0,
    crop="pad_crop",
    padding=4,
    flip=True,
    shuffle_buffer=10_000,
    drop_remainder=False,
):
    """Shuffles, augments, batches and one-hot encodes a training dataset.

    Per example: channels converted (1 -> 3 replicates gray, 3 -> 1 takes
    luma), a random geometric transform chosen by `crop`, then an optional
    random horizontal flip.

    Args:
        ds: unbatched (image [H, W, C], integer label) dataset, e.g. from `load`.
        batch_size: examples per batch, >= 1.
        image_size: output size: an int (square), (H, W), or (H, W, C) to set
            the channel count (default 3).
        num_classes: length of the one-hot labels.
        seed: the shuffle order and every augmentation follow from it; each
            iteration (epoch) reshuffles and redraws, reproducibly.
        crop: "pad_crop" (resize if needed, zero-pad `padding` pixels each
            side, random crop; the CIFAR recipe), "resize" (no randomness),
            "scale_aug" (ResNet: random short side, random crop) or
            "random_resized_crop" (Inception crop).
        padding: pixels of zero padding for "pad_crop", >= 0.
        flip: random horizontal flip with probability 1/2.
        shuffle_buffer: size of the shuffle buffer; 0 keeps the input order.
        drop_remainder: drop a last batch smaller than `batch_size`.

    Returns:
        A prefetched `tf.data.Dataset` of (float32 [B, H, W, C] in [0, 255],
        float32 [B, num_classes]).
    """
    height, width, channels = _check_common(ds, batch_size, image_size, num_classes)
    _check_choice("crop", crop, CROPS)
    _check_int("padding", padding, minimum=0)
    _check_int("shuffle_buffer", shuffle_buffer, minimum=0)
    _check_int("seed", seed)
    size = (height, width)

    def augment(example, random):
        image, label = example
        crop_seed, flip_seed = tf.unstack(tf.random.split(tf.stack([random, 0]), 2))
        image = _convert_channels(tf.cast(image, tf.float32), channels)
        if crop == "pad_crop":
            image = pad_crop(image, size, padding, crop_seed)
        elif crop == "scale_aug":
            image = scale_aug(image, size, crop_seed)
        elif crop == "random_resized_crop":
            image = random_resized_crop(image, size, crop_seed)
        else:
            image = _resize_if_needed(image, size)
        if flip:
            image = tf.image.stateless_random_flip_left_right(image, flip_seed)
        image.set_shape([height, width, channels])
        return image, _one_hot(label, num_classes)

    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(ds, randoms).map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_pipeline(ds, *, batch_size, image_size, num_classes, resize="resize"):
    """Resizes, batches and one-hot encodes an evaluation dataset, in order.

    Args:
        ds: unbatched (image [H, W, C], integer label) dataset, e.g. from `load`.
        batch_size: examples per batch, >= 1; the last batch may be smaller.
        image_size: an int (square), (H, W), or (H, W, C); see `train_pipeline`.
        num_classes: length of the one-hot labels.
        resize: "resize" (to image_size, aspect ratio not kept; nothing when
            the size already matches) or "center_crop" (resize keeping the
            aspect ratio to cover image_size / 0.875, then the central
            image_size crop; the ImageNet standard 256 -> 224).

    Returns:
        A prefetched `tf.data.Dataset` of (float32 [B, H, W, C] in [0, 255],
        float32 [B, num_classes]).
    """
    height, width, channels = _check_common(ds, batch_size, image_size, num_classes)
    _check_choice("resize", resize, EVAL_RESIZES)
    size = (height, width)

    def prepare(image, label):
        image = _convert_channels(tf.cast(image, tf.float32), channels)
        if resize == "center_crop":
            image = center_crop(image, size)
        else:
            image = _resize_if_needed(image, size)
        image.set_shape([height, width, channels])
        return image, _one_hot(label, num_classes)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def compute_mean_std(ds, max_examples=None):
    """Per-channel mean and standard deviation of the images of a dataset.

    Every pixel counts once (images of different sizes weigh by their area);
    the standard deviation is the population one (ddof=0), on the scale of
    the data ([0, 255] for uint8 images). For `ImageNormalization`.

    Args:
        ds: dataset of (image, label) or of images; [H, W, C] or batched.
        max_examples: read only the first this many elements.

    Returns:
        (mean, std): tuples of floats, one per channel.
    """
    if max_examples is not None:
        _check_int("max_examples", max_examples, minimum=1)
        ds = ds.take(max_examples)
    if isinstance(ds.element_spec, tuple):
        ds = ds.map(lambda image, *_: image)
    channels = ds.element_spec.shape[-1]
    if channels is None:
        raise ValueError(f"Images need a known channel count, got {ds.element_spec}.")

    def moments(image):
        x = tf.reshape(tf.cast(image, tf.float64), [-1, channels])
        return tf.cast(tf.shape(x)[0], tf.float64), tf.reduce_sum(x, 0), tf.reduce_sum(x * x, 0)

    zeros = tf.zeros([channels], tf.float64)
    count, total, squares = ds.map(moments, num_parallel_calls=tf.data.AUTOTUNE).reduce(
        (tf.constant(0.0, tf.float64), zeros, zeros),
        lambda acc, m: tuple(a + b for a, b in zip(acc, m)),
    )
    count = float(count)
    if count == 0:
        raise ValueError("compute_mean_std got an empty dataset.")
    mean = total.numpy() / count
    # Var = E[x^2] - E[x]^2; float64 sums of values <= 255 keep this exact enough.
    std = np.sqrt(np.maximum(squares.numpy() / count - mean**2, 0.0))
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


# -------------------------------------------------------------- geometric ops
# Each takes one float32 image [H, W, C] and returns [size[0], size[1], C].


def pad_crop(image, size, padding, seed):
    """Resize to `size` if needed, zero-pad `padding` pixels per side, random crop."""
    image = _resize_if_needed(image, size)
    image = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    return tf.image.stateless_random_crop(image, [*size, image.shape[-1]], seed)


def scale_aug(image, size, seed):
    """ResNet scale augmentation: random short side L, then a random `size` crop."""
    short_seed, crop_seed = tf.unstack(tf.random.split(seed, 2))
    scale = max(size) / SCALE_AUG_CROP
    low, high = (round(s * scale) for s in SCALE_AUG_SHORT_SIDE)
    short_side = tf.random.stateless_uniform([], short_seed, low, high + 1, dtype=tf.int32)
    image = _resize_to_cover(image, short_side, short_side)
    return tf.image.stateless_random_crop(image, [*size, image.shape[-1]], crop_seed)


def random_resized_crop(image, size, seed):
    """Inception crop: a random box from `sample_resized_crop_box`, resized to `size`."""
    shape = tf.shape(image)
    top, left, height, width = sample_resized_crop_box(shape[0], shape[1], seed)
    return _resize(image[top : top + height, left : left + width], size)


def sample_resized_crop_box(
    height,
    width,
    seed,
    area=RESIZED_CROP_AREA,
    ratio=RESIZED_CROP_RATIO,
    attempts=RESIZED_CROP_ATTEMPTS,
):
    """Draws the box of an Inception crop of a height x width image.

    The box area is a uniform fraction in `area` of the image's, its aspect
    ratio (width / height) log-uniform in `ratio`; of `attempts` draws the
    first that fits in the image is taken. If none fits, the central box of
    the whole image, narrowed to the nearest allowed ratio, is used
    (torchvision's RandomResizedCrop).

    Args:
        height, width: image size (ints or int32 scalar tensors).
        seed: stateless seed, shape [2].
        area: (min, max) fraction of the image area.
        ratio: (min, max) aspect ratio, width / height.
        attempts: number of draws before the central fallback.

    Returns:
        int32 scalars (top, left, box_height, box_width).
    """
    height = tf.cast(height, tf.int32)
    width = tf.cast(width, tf.int32)
    area_seed, ratio_seed, top_seed, left_seed = tf.unstack(tf.random.split(seed, 4))
    image_area = tf.cast(height * width, tf.float32)
    box_area = image_area * tf.random.stateless_uniform([attempts], area_seed, *area)
    log_ratio = tf.random.stateless_uniform(
        [attempts], ratio_seed, math.log(ratio[0]), math.log(ratio[1])
    )
    box_w = tf.cast(tf.round(tf.sqrt(box_area * tf.exp(log_ratio))), tf.int32)
    box_h = tf.cast(tf.round(tf.sqrt(box_area / tf.exp(log_ratio))), tf.int32)
    fits = (box_w > 0) & (box_w <= width) & (box_h > 0) & (box_h <= height)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    found = tf.reduce_any(fits)

    # Fallback: the whole image, cut to the nearest allowed aspect ratio.
    h_f = tf.cast(height, tf.float32)
    w_f = tf.cast(width, tf.float32)
    image_ratio = w_f / h_f
    fallback_w = tf.where(
        image_ratio > ratio[1], tf.cast(tf.round(h_f * ratio[1]), tf.int32), width
    )
    fallback_h = tf.where(
        image_ratio < ratio[0], tf.cast(tf.round(w_f / ratio[0]), tf.int32), height
    )
    box_h = tf.where(found, box_h[first], fallback_h)
    box_w = tf.where(found, box_w[first], fallback_w)

    top = tf.where(
        found,
        tf.random.stateless_uniform([], top_seed, 0, height - box_h + 1, dtype=tf.int32),
        (height - box_h) // 2,
    )
    left = tf.where(
        found,
        tf.random.stateless_uniform([], left_seed, 0, width - box_w + 1, dtype=tf.int32),
        (width - box_w) // 2,
    )
    return top, left, box_h, box_w


def center_crop(image, size):
    """Resize (aspect kept) to cover size / 0.875, then take the central `size` crop."""
    image = _resize_to_cover(
        image, size[0] / CENTER_CROP_FRACTION, size[1] / CENTER_CROP_FRACTION
    )
    shape = tf.shape(image)
    top = (shape[0] - size[0]) // 2
    left = (shape[1] - size[1]) // 2
    return image[top : top + size[0], left : left + size[1]]


def _resize(image, size):
    # Antialiasing matters when shrinking large photos; upsampling is plain bilinear.
    return tf.image.resize(image, size, method="bilinear", antialias=True)


def _resize_if_needed(image, size):
    if tuple(image.shape[:2]) == tuple(size):
        return image
    return _resize(image, size)


def _resize_to_cover(image, height, width):
    """Resize keeping the aspect ratio to the smallest size >= height x width (rounded)."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.maximum(
        tf.cast(height, tf.float32) / shape[0], tf.cast(width, tf.float32) / shape[1]
    )
    return _resize(image, tf.cast(tf.round(shape * scale), tf.int32))


def _convert_channels(image, channels):
    have = image.shape[-1]
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return tf.image.grayscale_to_rgb(image)
    if have == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(image)
    raise ValueError(f"Cannot convert {have}-channel images to {channels} channels.")


def _one_hot(label, num_classes):
    # An out-of-range label would silently become an all-zero target.
    label = tf.cast(label, tf.int32)
    check = tf.debugging.assert_less(
        label, num_classes, message=f"label >= num_classes ({num_classes})"
    )
    with tf.control_dependencies([check, tf.debugging.assert_non_negative(label)]):
        return tf.one_hot(label, num_classes, dtype=tf.float32)


# ------------------------------------------------------------------ arguments


def _check_common(ds, batch_size, image_size, num_classes):
    """Checks the arguments both pipelines take; returns (height, width, channels)."""
    _check_int("batch_size", batch_size, minimum=1)
    _check_int("num_classes", num_classes, minimum=1)
    size = (image_size, image_size) if _is_int(image_size) else tuple(image_size)
    if len(size) not in (2, 3) or not all(_is_int(s) and s >= 1 for s in size):
        raise ValueError(
            f"image_size must be a positive int, (height, width) or "
            f"(height, width, channels); got {image_size!r}."
        )
    height, width, channels = (*size, 3) if len(size) == 2 else size
    if channels not in (1, 3):
        raise ValueError(f"image_size asks for {channels} channels; allowed: 1 or 3.")
    spec = ds.element_spec
    if not (
        isinstance(spec, tuple)
        and len(spec) == 2
        and spec[0].shape.rank == 3
        and spec[1].shape.rank == 0
        and spec[1].dtype.is_integer
    ):
        raise ValueError(
            f"The dataset must hold unbatched (image [H, W, C], integer label) "
            f"pairs, as `kerascnn.data.load` gives; its elements are {spec}."
        )
    if spec[0].shape[-1] not in (1, 3):
        raise ValueError(
            f"Cannot make {channels}-channel images from images of shape "
            f"{spec[0].shape}; the channel count must be 1 or 3."
        )
    return height, width, channels


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"Unknown {name} {value!r}; allowed: {', '.join(allowed)}.")


def _check_int(name, value, minimum=None):
    if not _is_int(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ValueError(f"{name} must be an int{bound}, got {value!r}.")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
