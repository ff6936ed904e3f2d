"""The random transforms of a training pipeline, on uint8 images.

One image [H, W, 3], or a batch [B, H, W, 3] whose images each draw their own
parameters from one stateless seed (a batch of one draws what the single image
draws). Each is built on an op of `kerascnn.augment.ops`.
"""

import math
import numbers

import tensorflow as tf

from kerascnn import _checks as checks
from kerascnn.augment import _pixels as px
from kerascnn.augment import ops


def _draws(image, *shape):
    """The shape of per-image draws: `shape` for one image, [B, *shape] for a batch."""
    if image.shape.rank == 3:
        return list(shape)
    return tf.concat([tf.shape(image)[:1], tf.constant(shape, tf.int32)], 0)


def random_rotation(image, seed, max_degrees, fill=0, interpolation="nearest"):
    """Rotates by an angle uniform in [-max_degrees, max_degrees] (see `rotate`).

    The angle is `tf.random.stateless_uniform([], seed, -max_degrees, max_degrees)`
    (shape [B] for a batch).
    """
    if not isinstance(max_degrees, numbers.Real) or max_degrees < 0:
        raise ValueError(f"max_degrees must be a non-negative number, got {max_degrees!r}.")
    checks.check_fill(fill)
    checks.check_interpolation(interpolation)
    image = px.as_image(image)
    angle = tf.random.stateless_uniform(_draws(image), px.as_seed(seed), -max_degrees, max_degrees)
    return ops.rotate(image, angle, fill=fill, interpolation=interpolation)


def random_translation(image, seed, max_fraction, fill=0):
    """Shifts by whole pixels, dx uniform in +-max_fraction * W and dy in +-max_fraction * H.

    Output (x, y) samples input (x + dx, y + dy), as `translate_x` / `translate_y`.
    """
    max_fraction = checks.check_range(max_fraction, "max_fraction", 0.0, 1.0)
    checks.check_fill(fill)
    image = px.as_image(image)
    shift = tf.random.stateless_uniform(_draws(image, 2), px.as_seed(seed), -max_fraction, max_fraction)
    shift = tf.reshape(tf.floor(shift * px.size_of(image, tf.float32) + 0.5), [-1, 2])
    dy, dx = tf.unstack(shift, axis=1)
    one, zero = tf.ones_like(dx), tf.zeros_like(dx)
    coefficients = tf.stack([one, zero, 0.5 + dx, zero, one, 0.5 + dy, zero, zero], axis=1)
    return px.warp(image, coefficients, fill, "nearest")


# color_jitter's keywords shadow the op names.
_JITTER_OPS = {"brightness": ops.brightness, "contrast": ops.contrast, "saturation": ops.color,
               "hue": ops.hue}


def color_jitter(image, seed, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0):
    """torchvision `ColorJitter`: random brightness, contrast, saturation and hue, in random order.

    Factors are uniform in [max(0, 1 - s), 1 + s] for strength s, the hue
    shift uniform in [-hue, hue]; the enabled adjustments are applied in a
    random permutation, as torchvision does. Strength 0 disables an
    adjustment (decided at trace time). In a batch each image draws its own
    factors; the order is drawn once per call.

    The draws, for reproducibility: `seeds = tf.random.split(seed, 5)`; the
    order is the argsort of `stateless_uniform([n_enabled], seeds[0])`, and
    seeds[1:] draw the brightness, contrast, saturation and hue parameters.
    """
    strengths = {
        "brightness": checks.check_range(brightness, "brightness", 0.0),
        "contrast": checks.check_range(contrast, "contrast", 0.0),
        "saturation": checks.check_range(saturation, "saturation", 0.0),
        "hue": checks.check_range(hue, "hue", 0.0, 0.5),
    }
    image = px.as_image(image)
    seeds = tf.random.split(px.as_seed(seed), 5)
    shape = _draws(image)
    steps = []
    for i, (name, strength) in enumerate(strengths.items()):
        if strength == 0:
            continue
        if name == "hue":
            level = tf.random.stateless_uniform(shape, seeds[i + 1], -strength, strength)
        else:
            low = max(0.0, 1.0 - strength)
            level = tf.random.stateless_uniform(shape, seeds[i + 1], low, 1.0 + strength) - 1.0
        steps.append(lambda x, op=_JITTER_OPS[name], level=level: op(x, level))
    if len(steps) <= 1:
        return steps[0](image) if steps else image
    order = tf.argsort(tf.random.stateless_uniform([len(steps)], seeds[0]))
    out = image
    for i in range(len(steps)):
        out = tf.switch_case(order[i], [lambda step=step, x=out: step(x) for step in steps])
    return px.done(out, image)


def random_erasing(
    image, seed, probability=0.5, area=(0.02, 1 / 3), ratio=(0.3, 3.3), fill="random"
):
    """Random erasing (Zhong et al. 2020), as timm's `RandomErasing` with one box.

    With `probability`, up to 10 boxes are drawn, each with an area fraction
    uniform in `area` and an aspect ratio (height / width) log-uniform in
    `ratio`, sides rounded to pixels; the first that fits strictly inside the
    image is erased at a uniform position. If none fits nothing is erased.
    In a batch, each image decides and draws for itself.

    Args:
        fill: "random" (per-pixel uniform uint8 noise, timm's mode="pixel") or
            an int / RGB triple.
    """
    probability = checks.check_range(probability, "probability", 0.0, 1.0)
    area_lo, area_hi = (float(v) for v in area)
    if not 0 < area_lo <= area_hi <= 1:
        raise ValueError(f"area must satisfy 0 < low <= high <= 1, got {area!r}.")
    ratio_lo, ratio_hi = (float(v) for v in ratio)
    if not 0 < ratio_lo <= ratio_hi:
        raise ValueError(f"ratio must satisfy 0 < low <= high, got {ratio!r}.")
    random_fill = isinstance(fill, str)
    if random_fill and fill != "random":
        raise ValueError(f'fill must be "random", an int in 0..255 or a 3-tuple, got {fill!r}.')
    if not random_fill:
        fill = tf.constant(checks.check_fill(fill), tf.uint8)
    image = px.as_image(image)
    single = image.shape.rank == 3
    batch = image if not single else image[None]
    gate_seed, area_seed, ratio_seed, place_seed, fill_seed = tf.unstack(
        tf.random.split(px.as_seed(seed), 5)
    )
    shape = tf.shape(batch)
    size = tf.cast(shape[1:3], tf.float32)
    draws = _draws(image, 10)
    target = tf.random.stateless_uniform(draws, area_seed, area_lo, area_hi) * size[0] * size[1]
    aspect = tf.exp(
        tf.random.stateless_uniform(draws, ratio_seed, math.log(ratio_lo), math.log(ratio_hi))
    )
    heights = tf.reshape(tf.floor(tf.sqrt(target * aspect) + 0.5), [-1, 10])
    widths = tf.reshape(tf.floor(tf.sqrt(target / aspect) + 0.5), [-1, 10])
    fits = (heights < size[0]) & (widths < size[1])
    first = tf.argmax(tf.cast(fits, tf.int32), axis=1)  # per image, the first draw that fits
    height = tf.gather(heights, first, batch_dims=1)
    width = tf.gather(widths, first, batch_dims=1)
    place = tf.reshape(tf.random.stateless_uniform(_draws(image, 2), place_seed), [-1, 2])
    top = tf.floor(place[:, 0] * (size[0] - height + 1.0))
    left = tf.floor(place[:, 1] * (size[1] - width + 1.0))
    gate = tf.reshape(tf.random.stateless_uniform(_draws(image), gate_seed), [-1])
    erase = tf.reduce_any(fits, axis=1) & (gate < probability)
    box = [tf.reshape(tf.cast(v, tf.int32), [-1, 1, 1, 1]) for v in (top, left, height, width)]
    mask = px.box_mask(batch, *box) & tf.reshape(erase, [-1, 1, 1, 1])
    if random_fill:
        fill = tf.cast(
            tf.random.stateless_uniform(tf.shape(image), fill_seed, 0, 256, dtype=tf.int32),
            tf.uint8,
        )
    out = px.select(mask[0] if single else mask, fill, image)
    return px.done(out, image)


def random_cutout(image, seed, size, fill=0):
    """Cutout of a `size` x `size` square at a uniform random centre, per image (see `cutout`)."""
    if not isinstance(size, numbers.Real) or size < 0:
        raise ValueError(f"size must be a non-negative number of pixels, got {size!r}.")
    return ops.cutout(px.as_image(image), float(size), seed, fill=fill)
