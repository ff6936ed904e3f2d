"""RandAugment and TrivialAugment: an op table, sampling apart from applying.

An op table maps a name to `OpSpec(function, max_level, signed)`; the
functions are the uint8 ops of `kerascnn.augment.ops`. A policy's strength
is a **magnitude m, a fraction in [0, 1]**, defined once for every op:

    level = m * max_level * sign        (sign = +-1 at random when `signed`)

so m = 0 is the identity for every op that has a strength. Ops without a
strength in the papers (identity, auto_contrast, equalize, invert,
grayscale) have `max_level=None` and run at full strength whatever m is, as
in torchvision and timm.

How m relates to the other libraries' scales:

- torchvision (`RandAugment(num_magnitude_bins=31, magnitude=b)`,
  `TrivialAugmentWide`): bin b of 0..30 is m = b / 30 on the same ranges
  (RAND_AUGMENT_OPS and TRIVIAL_AUGMENT_WIDE_OPS copy torchvision's maxima),
  so torchvision's default magnitude 9 is m = 0.3.
- timm (`rand-m9-mstd0.5`): M of 0..10 is m = M / 10 (timm's ranges at
  M = 10 are those of RAND_AUGMENT_OPS up to timm's translate 0.45 vs
  torchvision's 150/331 = 0.453), so `rand-m9-mstd0.5` is
  `RandAugment(num_ops=2, magnitude=0.9, magnitude_std=0.05)`.

Sampling (`sample_rand_augment`, `sample_trivial_augment`) turns a stateless
seed into op indices, magnitudes and signs; `apply_ops` runs each op once
per batch on just the images that drew it, so each image pays only for its
own ops, and a test can force any op. Both policies are Keras layers
(`kerascnn.augment.layers`; in-model use on float batches in [0, 255]) and
offer `augment_batch(images, seed)` / `augment(image, seed)` for uint8
images inside `tf.data`.

Ranges: RandAugment (Cubuk et al. 2020) as torchvision implements it;
TrivialAugmentWide (Mueller & Hutter 2021, Table 1 "wide" ranges).
"""

import collections
import functools

import tensorflow as tf

from kerascnn import _compat
from kerascnn.augment import _pixels as px
from kerascnn.augment import ops

OpSpec = collections.namedtuple("OpSpec", ["function", "max_level", "signed"])
Sample = collections.namedtuple("Sample", ["indices", "magnitudes", "signs"])



def _relative_translate(function, axis, fraction):
    """translate_x/y whose level is a fraction of the image width/height."""

    def translate(image, level, seed, **kwargs):
        size = tf.cast(tf.shape(image)[axis], tf.float32)  # axis from the end: works on batches
        return function(image, level * size, seed, **kwargs)

    translate.__name__ = f"{function.__name__}_relative"
    translate.fraction = fraction
    translate.takes_fill = True
    return translate


def _relative_cutout(image, level, seed, **kwargs):
    """cutout whose level is a fraction of the short side."""
    side = tf.cast(tf.reduce_min(tf.shape(image)[-3:-1]), tf.float32)
    return ops.cutout(image, tf.round(level * side), seed, **kwargs)


_relative_cutout.takes_fill = True
_relative_cutout.draws = True


# RandAugment as torchvision 0.15+ implements it (31 bins): its maxima.
RAND_AUGMENT_OPS = {
    "identity": OpSpec(ops.identity, None, False),
    "shear_x": OpSpec(ops.shear_x, 0.3, True),
    "shear_y": OpSpec(ops.shear_y, 0.3, True),
    "translate_x": OpSpec(_relative_translate(ops.translate_x, -2, 150 / 331), 150 / 331, True),
    "translate_y": OpSpec(_relative_translate(ops.translate_y, -3, 150 / 331), 150 / 331, True),
    "rotate": OpSpec(ops.rotate, 30.0, True),
    "brightness": OpSpec(ops.brightness, 0.9, True),
    "color": OpSpec(ops.color, 0.9, True),
    "contrast": OpSpec(ops.contrast, 0.9, True),
    "sharpness": OpSpec(ops.sharpness, 0.9, True),
    "posterize": OpSpec(ops.posterize, 4.0, False),  # bits removed: 8 -> 4 bits kept
    # threshold 256 - level: m = 0 inverts nothing (torchvision's bin 0 uses
    # threshold 255, which inverts pure-white pixels: our one deviation).
    "solarize": OpSpec(ops.solarize, 256.0, False),
    "auto_contrast": OpSpec(ops.auto_contrast, None, False),
    "equalize": OpSpec(ops.equalize, None, False),
}

# TrivialAugmentWide (torchvision `TrivialAugmentWide`, the paper's wide ranges).
TRIVIAL_AUGMENT_WIDE_OPS = {
    "identity": OpSpec(ops.identity, None, False),
    "shear_x": OpSpec(ops.shear_x, 0.99, True),
    "shear_y": OpSpec(ops.shear_y, 0.99, True),
    "translate_x": OpSpec(ops.translate_x, 32.0, True),  # pixels, whatever the size
    "translate_y": OpSpec(ops.translate_y, 32.0, True),
    "rotate": OpSpec(ops.rotate, 135.0, True),
    "brightness": OpSpec(ops.brightness, 0.99, True),
    "color": OpSpec(ops.color, 0.99, True),
    "contrast": OpSpec(ops.contrast, 0.99, True),
    "sharpness": OpSpec(ops.sharpness, 0.99, True),
    "posterize": OpSpec(ops.posterize, 6.0, False),  # 8 -> 2 bits kept
    "solarize": OpSpec(ops.solarize, 256.0, False),
    "auto_contrast": OpSpec(ops.auto_contrast, None, False),
    "equalize": OpSpec(ops.equalize, None, False),
}

# Ops outside both papers' lists, for custom op lists (`ops=(...)`).
EXTRA_OPS = {
    "invert": OpSpec(ops.invert, None, False),
    "grayscale": OpSpec(ops.grayscale, None, False),
    "hue": OpSpec(ops.hue, 0.5, True),  # a half turn of the colour circle
    "gaussian_noise": OpSpec(ops.gaussian_noise, 32.0, False),  # std in grey levels
    "pca_lighting": OpSpec(ops.pca_lighting, 0.5, False),  # std of alpha (AlexNet: 0.1)
    "cutout": OpSpec(_relative_cutout, 0.5, False),  # side: half the short side
}

ALL_OPS = {**RAND_AUGMENT_OPS, **EXTRA_OPS}


def op_table(names, base):
    """The OpSpecs for `names` (None: all of `base`), looked up in base, then ALL_OPS."""
    if names is None:
        return dict(base)
    names = (names,) if isinstance(names, str) else tuple(names)
    if not names:
        raise ValueError("ops must name at least one op.")
    unknown = [n for n in names if n not in base and n not in ALL_OPS]
    if unknown:
        raise ValueError(f"Unknown op(s) {unknown}; allowed: {sorted(set(base) | set(ALL_OPS))}.")
    if len(set(names)) != len(names):
        raise ValueError(f"ops lists an op twice: {list(names)}.")
    return {n: base.get(n, ALL_OPS.get(n)) for n in names}


# ------------------------------------------------------------------ sampling


def sample_rand_augment(seed, batch_size, num_ops, magnitude, magnitude_std, num_choices):
    """Draws RandAugment's N ops per image (with replacement), magnitudes and signs.

    Args:
        seed: stateless seed, shape [2].
        batch_size: images B (an int or int32 scalar tensor).
        num_ops: N, ops applied in sequence.
        magnitude: m in [0, 1].
        magnitude_std: > 0 draws each op's magnitude from N(m, std), clipped
            to [0, 1] (timm's `mstd`).
        num_choices: the size of the op table.

    Returns:
        Sample(indices int32 [B, N], magnitudes float32 [B, N], signs float32 [B, N]).
    """
    shape = _shape(batch_size, num_ops)
    # One draw gives the op and the sign: u uniform in [0, 2 num_choices),
    # op u mod num_choices, sign +1 if u >= num_choices (fewer kernels per
    # batch than a draw each, which shows at 32 x 32).
    draw = tf.random.stateless_uniform(shape, px.as_seed(seed), 0, 2 * num_choices, dtype=tf.int32)
    indices = draw % num_choices
    signs = tf.cast(2 * (draw // num_choices) - 1, tf.float32)
    magnitudes = tf.fill(shape, tf.constant(magnitude, tf.float32))
    if magnitude_std > 0:
        mag_seed = tf.random.fold_in(px.as_seed(seed), 1)
        noise = tf.random.stateless_normal(shape, mag_seed, stddev=magnitude_std)
        magnitudes = tf.clip_by_value(magnitudes + noise, 0.0, 1.0)
    return Sample(indices, magnitudes, signs)


def sample_trivial_augment(seed, batch_size, num_choices, num_bins):
    """Draws TrivialAugment's one op per image and its strength, uniform over `num_bins` bins.

    The op, the bin and the sign come from one uniform draw u in
    [0, 2 num_choices num_bins): op u mod num_choices, bin
    (u // num_choices) mod num_bins, sign +1 if u >= num_choices num_bins;
    so all three are uniform and independent.

    Returns:
        Sample(indices int32 [B, 1], magnitudes float32 [B, 1] = bin / (num_bins - 1),
        signs float32 [B, 1]).
    """
    shape = _shape(batch_size, 1)
    combos = num_choices * num_bins
    draw = tf.random.stateless_uniform(shape, px.as_seed(seed), 0, 2 * combos, dtype=tf.int32)
    indices = draw % num_choices
    strength = (draw // num_choices) % num_bins
    magnitudes = tf.cast(strength, tf.float32) / float(num_bins - 1)
    signs = tf.cast(2 * (draw // combos) - 1, tf.float32)
    return Sample(indices, magnitudes, signs)


def _shape(batch_size, num_ops):
    """[B, N] of the draws: a Python list when B is a Python int (one op fewer per call)."""
    if isinstance(batch_size, int):
        return [batch_size, num_ops]
    return tf.stack([batch_size, num_ops])


# ------------------------------------------------------------------ applying


def apply_ops(images, sample, table, seed, fill=0):
    """Applies each image's sampled ops in order; each image runs only its own ops.

    Args:
        images: uint8 [B, H, W, 3].
        sample: a `Sample` with [B, N] fields (indices into the table's order).
        table: a dict name -> OpSpec (its order fixes the indices).
        seed: stateless seed, shape [2], for the ops that draw (noise, cutout).
        fill: grey value (or RGB triple) for pixels that geometric ops and
            cutout uncover.

    Returns:
        uint8 [B, H, W, 3].
    """
    specs = list(table.values())
    num_ops = sample.indices.shape[-1]
    if num_ops is None:
        raise ValueError("The sample's number of ops (its last dimension) must be static.")
    seeds = tf.unstack(tf.random.split(px.as_seed(seed), num_ops)) if num_ops else []
    for i in range(num_ops):
        images = apply_op(images, sample.indices[:, i], sample.magnitudes[:, i],
                          sample.signs[:, i], specs, seeds[i], fill)
    return images


def augment_image(image, seed, sample, table, fill=0):
    """`augment_batch` for one uint8 image [H, W, 3]: the same draws, the same result.

    The per-image form (a `tf.data` map before batching, keras-cv's style):
    each of the image's N ops is a switch over the table that calls only the
    drawn op's function (`_compat.switch_case_as_call`), without the batch
    form's partition and stitch. The image gets exactly what it would get
    as a batch of one.
    """
    sample_seed, op_seed = tf.unstack(tf.random.split(px.as_seed(seed), 2))
    drawn = sample(sample_seed, 1)
    specs = list(table.values())
    num_ops = drawn.indices.shape[-1]
    seeds = tf.unstack(tf.random.split(op_seed, num_ops)) if num_ops else []
    shape = image.shape
    for i in range(num_ops):
        branches = [
            (lambda x=image: x) if spec.function is ops.identity else
            functools.partial(_run_drawn_op, spec, k, len(specs), image, drawn, i, seeds[i], fill)
            for k, spec in enumerate(specs)
        ]
        image = _compat.switch_case_as_call(drawn.indices[0, i], branches)
        image.set_shape(shape)
    return image


def _run_drawn_op(spec, k, count, image, drawn, i, seed, fill):
    """Op k of `count` on one image, as `apply_op` runs it (seed: the k-th of its split).

    Everything is computed here, inside the branch, so that only the drawn op's
    ops run (and the seed only for an op that draws).
    """
    draws = getattr(spec.function, "draws", False) or spec.function in ops.DRAWING_OPS
    op_seed = tf.random.split(seed, count)[k] if draws else None
    return _run_op(spec, image, drawn.magnitudes[0, i], drawn.signs[0, i], op_seed, fill)


def augment_batch(images, seed, sample, table, fill=0):
    """Draws each image's ops with `sample(seed, batch_size)` and applies them.

    The policies' tf.data form: one stateless seed [2] for a uint8 batch
    [B, H, W, 3], split into the sampling seed and the ops' seed.
    """
    sample_seed, op_seed = tf.unstack(tf.random.split(px.as_seed(seed), 2))
    return apply_ops(images, sample(sample_seed, tf.shape(images)[0]), table, op_seed, fill)


def apply_op(images, indices, magnitudes, signs, specs, seed, fill=0):
    """Runs specs[indices[b]] on image b, for every b, vectorized per op.

    The batch is partitioned by op (`tf.dynamic_partition`); each op runs once,
    on just the images that drew it (skipped by `tf.cond` when none did), and
    the results are stitched back in order. Evaluating every op on every
    image and masking (Keras's RandAugment) costs the sum of all ops; this
    costs each image one op, and a batch one partition and stitch (for
    single images `augment_image` switches instead). An op with a strength
    drawn at magnitude 0 is the identity (the ops' contract), so it is not
    run at all.
    """
    shape = images.shape
    count = len(specs)
    # An op with a strength is the identity at magnitude 0 (bit for bit), so
    # those images go to an extra, untouched part (TrivialAugment's bin 0).
    has_strength = tf.constant([spec.max_level is not None for spec in specs])
    indices = tf.where(tf.equal(magnitudes, 0.0) & tf.gather(has_strength, indices),
                       count, indices)
    rows = tf.range(tf.shape(images)[0])
    image_parts = tf.dynamic_partition(images, indices, count + 1)
    row_parts = tf.dynamic_partition(rows, indices, count + 1)
    level_parts = tf.dynamic_partition(magnitudes, indices, count + 1)
    sign_parts = tf.dynamic_partition(signs, indices, count + 1)
    seeds = tf.unstack(tf.random.split(px.as_seed(seed), count))
    outputs = []
    for k, spec in enumerate(specs):
        part = image_parts[k]
        if spec.function is ops.identity:
            outputs.append(part)
            continue
        run = functools.partial(_run_op, spec, part, level_parts[k], sign_parts[k], seeds[k], fill)
        outputs.append(tf.cond(tf.shape(part)[0] > 0, run, lambda part=part: part))
    outputs.append(image_parts[count])
    out = tf.dynamic_stitch(row_parts, outputs)
    out.set_shape(shape)
    return out


def op_level(spec, magnitude, sign):
    """level = m * max_level (* sign when signed); 1 for strength-free ops.

    The 1 is a Python float, one level for the whole batch, so the ops see
    full strength at trace time and skip the blend.
    """
    if spec.max_level is None:
        return 1.0
    level = magnitude * spec.max_level
    return level * sign if spec.signed else level


def takes_fill(function):
    """Geometric ops and cutout uncover pixels and take a `fill` keyword."""
    return getattr(function, "takes_fill", False) or function in (
        ops.rotate, ops.shear_x, ops.shear_y, ops.translate_x, ops.translate_y, ops.cutout)


def _run_op(spec, images, magnitudes, signs, seed, fill):
    kwargs = {"fill": fill} if takes_fill(spec.function) else {}
    return spec.function(images, op_level(spec, magnitudes, signs), seed, **kwargs)
