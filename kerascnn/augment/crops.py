"""Crops and resizes of float images [H, W, C]: the training crops and the evaluation view.

The random crops take a stateless seed [2]; each returns an image of the
requested `size` (height, width). `kerascnn.data` builds its pipelines and
`kerascnn.augment.test_time` its views from these.
"""

import math

import numpy as np
import tensorflow as tf

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


def pad_crop(image, size, padding, seed):
    """Resize to `size` if needed, zero-pad `padding` pixels per side, random crop."""
    image = resize_if_needed(image, size)
    image = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    return tf.image.stateless_random_crop(image, [*size, image.shape[-1]], seed)


def scale_aug(image, size, seed):
    """ResNet scale augmentation: random short side L, then a random `size` crop."""
    short_seed, crop_seed = tf.unstack(tf.random.split(seed, 2))
    scale = max(size) / SCALE_AUG_CROP
    low, high = (round(s * scale) for s in SCALE_AUG_SHORT_SIDE)
    short_side = tf.random.stateless_uniform([], short_seed, low, high + 1, dtype=tf.int32)
    image = resize_to_cover(image, short_side, short_side)
    return tf.image.stateless_random_crop(image, [*size, image.shape[-1]], crop_seed)


def random_resized_crop(image, size, seed):
    """Inception crop: a random box from `sample_resized_crop_box`, resized to `size`."""
    shape = tf.shape(image)
    top, left, height, width = sample_resized_crop_box(shape[0], shape[1], seed)
    return resize(image[top : top + height, left : left + width], size)


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
    image = resize_to_cover(
        image, size[0] / CENTER_CROP_FRACTION, size[1] / CENTER_CROP_FRACTION
    )
    shape = tf.shape(image)
    top = (shape[0] - size[0]) // 2
    left = (shape[1] - size[1]) // 2
    return image[top : top + size[0], left : left + size[1]]


def resize(image, size):
    # Antialiasing matters when shrinking large photos; upsampling is plain bilinear.
    return tf.image.resize(image, size, method="bilinear", antialias=True)


def resize_if_needed(image, size):
    if tuple(image.shape[:2]) == tuple(size):
        return image
    return resize(image, size)


def resize_to_cover(images, height, width):
    """Resize keeping the aspect ratio to the smallest size >= height x width (rounded).

    `images`: one image [H, W, C] or a batch [B, H, W, C]. When H, W and the
    target are known at trace time, the same float32 arithmetic runs in
    NumPy, so the output size is static too, and images already of that size
    come back as they are.
    """
    in_h, in_w = images.shape[-3], images.shape[-2]
    if None not in (in_h, in_w) and not (tf.is_tensor(height) or tf.is_tensor(width)):
        f = np.float32
        scale = max(f(height) / f(in_h), f(width) / f(in_w))
        new = (int(np.round(f(in_h) * scale)), int(np.round(f(in_w) * scale)))
        return images if new == (in_h, in_w) else resize(images, new)
    shape = tf.cast(tf.shape(images)[-3:-1], tf.float32)
    scale = tf.maximum(
        tf.cast(height, tf.float32) / shape[0], tf.cast(width, tf.float32) / shape[1]
    )
    return resize(images, tf.cast(tf.round(shape * scale), tf.int32))


def convert_channels(image, channels):
    have = image.shape[-1]
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return tf.image.grayscale_to_rgb(image)
    if have == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(image)
    raise ValueError(f"Cannot convert {have}-channel images to {channels} channels.")
