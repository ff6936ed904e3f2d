"""What the uint8 ops share: argument handling and the few kernels they build on.

Each TF op costs a few microseconds in a tf.data map however small the image,
so these helpers keep the op count low: static shapes become constants, and
levels known at trace time take shortcuts with the same result.
"""

import numpy as np
import tensorflow as tf

from kerascnn import _checks as checks

# PIL's nearest-neighbour affine transform (affine_fixed in libImaging/Geometry.c)
# rounds its matrix to 16.16 fixed point and floors the sampled coordinate; TF's
# kernel rounds half away from zero. Quantizing the matrix the same way and
# sampling at v - 0.5 + 2**-17 makes round() equal floor(v) on PIL's 2**-16 grid,
# and float32 holds that grid exactly for coordinates below 128 pixels.
FIXED_POINT = 65536.0
NEAREST_NUDGE = 2.0**-17
# Pillow's RGB -> L (Convert.c, L24): (19595 R + 38470 G + 7471 B + 2**15) >> 16,
# ITU-R 601-2 luma (299 R + 587 G + 114 B) / 1000 in 16-bit fixed point. These
# weights / 2**16 and every partial sum are exact in float32.
LUMA_WEIGHTS = np.array([19595, 38470, 7471], np.float32) / 65536.0
CHANNEL_OFFSETS = np.array([0, 256, 512], np.int32)  # channel c's values -> c*256 + v
BINS = np.arange(256, dtype=np.int32)


# --- argument handling -------------------------------------------------------------


def as_image(image, batch=True):
    """The image as a uint8 tensor [H, W, 3] (or [B, H, W, 3] when `batch`)."""
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:
        raise TypeError(f"image must be uint8 [H, W, 3], got dtype {image.dtype.name}.")
    ranks = (3, 4) if batch else (3,)
    if image.shape.rank not in ranks or image.shape[-1] not in (None, 3):
        allowed = "[H, W, 3] or [B, H, W, 3]" if batch else "[H, W, 3]"
        raise ValueError(f"image must have shape {allowed}, got {image.shape}.")
    return image


def as_level(level, image):
    """(level as float32, its Python value when a scalar known at trace time, else None).

    A batch [B, H, W, 3] may have one level per image, shape [B].
    """
    level = tf.convert_to_tensor(level)
    if level.dtype != tf.float32:
        level = tf.cast(level, tf.float32)
    rank = level.shape.rank
    if rank == 0:
        static = tf.get_static_value(level)
        return level, (None if static is None else float(static))
    if rank == 1 and image.shape.rank == 4:
        return level, None
    raise ValueError(
        f"level must be a scalar, or of shape [B] for a batch of images; got shape "
        f"{level.shape} for images of shape {image.shape}."
    )


def per_pixel(level):
    """Broadcasts per-image levels [B] over [B, H, W, C] (a scalar stays one)."""
    return tf.reshape(level, [-1, 1, 1, 1]) if level.shape.rank == 1 else level


def per_row(level):
    """Per-image levels [B] as a column [B, 1] (a scalar stays one)."""
    return level[:, None] if level.shape.rank == 1 else level


def as_seed(seed):
    if seed is None:
        return tf.zeros([2], tf.int32)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise TypeError(f"seed must be an integer tensor of shape [2], got {seed.dtype.name}.")
    if seed.dtype not in (tf.int32, tf.int64):
        seed = tf.cast(seed, tf.int64)
    if seed.shape.rank is not None and seed.shape.as_list() not in ([2], [None]):
        raise ValueError(f"seed must have shape [2], got {seed.shape}.")
    return seed








# --- shared pieces -----------------------------------------------------------------
# Each TF op costs a few microseconds in a tf.data map however small the image,
# so the helpers below keep the op count low: static shapes become constants,
# and levels known at trace time take shortcuts with the same result.


def to_uint8(x):
    """Rounds half up and saturates a float image to uint8 (the cast truncates)."""
    return to_uint8_rounded(x + 0.5)


def to_uint8_rounded(x):
    """`to_uint8(x - 0.5)`: saturates and truncates `x`, which already holds the + 0.5."""
    clipped = tf.raw_ops.ClipByValue(t=x, clip_value_min=0.0, clip_value_max=255.0)
    return tf.cast(clipped, tf.uint8)


def select(mask, a, b):
    """uint8 `tf.where(mask, a, b)` by bit operations, b ^ ((a ^ b) & mask).

    `mask` is bool and broadcasts against `b`; `tf.where` on large uint8
    images is about six times slower than these three element-wise ops.
    """
    bits = tf.cast(mask, tf.uint8) * np.uint8(255)
    return tf.bitwise.bitwise_xor(b, tf.bitwise.bitwise_and(tf.bitwise.bitwise_xor(a, b), bits))


def enhance(x, degenerate, level):
    """PIL `ImageEnhance` at factor 1 + level: blend(degenerate, x, 1 + level).

    PIL's Image.blend computes d + f (x - d) and truncates; this computes the
    same line as (1 + level) x - level d and rounds it, so level 0 is exactly
    x (two full-size ops where x + level (x - d) takes four: d is often one
    value per image or channel).
    """
    level = per_pixel(level)
    return to_uint8_rounded(x * (1.0 + level) - (level * degenerate - 0.5))


def weighted(image, result, level, static):
    """Blend weight `level` from `image` (0) to the float `result` (1), as uint8."""
    if static == 1.0:
        return tf.cast(result, tf.uint8)
    x = tf.cast(image, tf.float32)
    return to_uint8(x + per_pixel(level) * (tf.cast(result, tf.float32) - x))


def lut_index(image):
    """int32 [..., H, W, 3]: where each value sits in the flattened per-(image, channel)
    tables of 256 entries that `apply_lut` takes (channel c of image n: row 3 n + c)."""
    index = tf.cast(image, tf.int32)
    if image.shape.rank == 4:
        rows = tf.reshape(tf.range(tf.shape(image)[0]) * 768, [-1, 1, 1, 1])
        return index + (rows + CHANNEL_OFFSETS)
    return index + CHANNEL_OFFSETS


def apply_lut(image, index, table, level, static):
    """Maps every value through its channel's table, blended with weight `level`.

    `table` is [..., 3, 256] (one per channel, and per image of a batch),
    the op's full effect as whole numbers; the blend x + level (table - x)
    is taken on the 256 entries instead of on every pixel. `gather_nd` is the
    fastest gather here (about 1.7x `tf.gather` on 224 x 224 images).
    """
    if static == 1.0:
        table = tf.cast(table, tf.uint8)
    else:
        bins = tf.constant(BINS, tf.float32)
        weight = tf.reshape(level, [-1, 1, 1]) if level.shape.rank == 1 else level
        table = to_uint8(bins + weight * (tf.cast(table, tf.float32) - bins))
    out = tf.gather_nd(tf.reshape(table, [-1]), index[..., None])
    return done(out, image)


def done(out, image):
    out.set_shape(image.shape)
    return out


def luma(x):
    """Pillow's L of a float32 RGB image, as float32 [..., H, W, 1] integers.

    A matmul with the [3, 1] weights (several times faster than a reduction
    over the channel axis); every product and partial sum is exact in
    float32, so the order of the sum does not matter.
    """
    weights = LUMA_WEIGHTS[:, None]
    if x.shape[:-1].is_fully_defined():
        shape = x.shape[:-1].as_list() + [1]
    else:
        shape = tf.concat([tf.shape(x)[:-1], [1]], 0)
    luma = tf.reshape(tf.matmul(tf.reshape(x, [-1, 3]), weights), shape)
    return tf.floor(luma + 0.5)


def static_size(image):
    """(H, W) as Python ints when both are known statically, else None."""
    h, w = image.shape[-3], image.shape[-2]
    return None if h is None or w is None else (int(h), int(w))


def size_of(image, dtype):
    """(H, W) of the image as a [2] tensor (a constant when the shape is static)."""
    static = static_size(image)
    if static is not None:
        return tf.constant(static, dtype)
    return tf.cast(tf.shape(image)[-3:-1], dtype)


def shape_of(image):
    """The full shape, as a Python tuple when static, else a tensor."""
    return tuple(image.shape) if image.shape.is_fully_defined() else tf.shape(image)


def box_mask(image, top, left, height, width):
    """bool [..., H, W, 1]: rows [top, top + height) x columns [left, left + width).

    The bounds are scalars, or [B, 1, 1, 1] for one box per image of a batch.
    """
    static = static_size(image)
    if static is not None:
        rows = np.arange(static[0], dtype=np.int32)[:, None, None]
        cols = np.arange(static[1], dtype=np.int32)[None, :, None]
    else:
        shape = tf.shape(image)
        rows = tf.range(shape[-3])[:, None, None]
        cols = tf.range(shape[-2])[None, :, None]
    return (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)


def warp(image, coefficients, fill, interpolation):
    """Resamples the image by an affine map given in PIL's convention.

    `coefficients` is [1, 8] (or [B, 8], one map per image), (a, b, x0, d, e,
    y0, 0, 0): output pixel (i, j) (column, row) samples the input at
    (x0 + a i + b j, y0 + d i + e j), where (x0, y0) is where PIL's
    `Image.transform(size, AFFINE, (a, b, c, d, e, f))` sends the centre of
    pixel (0, 0): x0 = c + (a + b) / 2, y0 = f + (d + e) / 2. PIL puts pixel
    (i, j)'s centre at (i + 0.5, j + 0.5) and, for nearest, takes input pixel
    (floor(x), floor(y)); TF puts it at (i, j), hence the -0.5.
    """
    fill = checks.check_fill(fill)
    interpolation = checks.check_interpolation(interpolation)
    if interpolation == "nearest":
        offsets = np.array([[0, 0, 1, 0, 0, 1, 0, 0]], np.float32) * (NEAREST_NUDGE - 0.5)
        coefficients = tf.floor(coefficients * FIXED_POINT + 0.5) * (1.0 / FIXED_POINT) + offsets
    else:
        coefficients = coefficients + np.array([[0, 0, -0.5, 0, 0, -0.5, 0, 0]], np.float32)
    transform = tf.cast(coefficients, tf.float32)
    mode = interpolation.upper()
    static = static_size(image)
    size = tf.constant(static, tf.int32) if static else tf.shape(image)[-3:-1]
    single = image.shape.rank == 3

    def run(images, fill_value):
        out = tf.raw_ops.ImageProjectiveTransformV3(
            images=images[None] if single else images,
            transforms=transform,
            output_shape=size,
            fill_value=fill_value,
            interpolation=mode,
            fill_mode="CONSTANT",
        )
        return out[0] if single else out

    if fill[0] == fill[1] == fill[2]:
        if mode == "NEAREST":  # copies pixels, so it can stay in uint8
            return done(run(image, float(fill[0])), image)
        return done(to_uint8(run(tf.cast(image, tf.float32), float(fill[0]))), image)
    # The kernel takes one scalar fill: warp a ones channel along with the image
    # (0 outside) and mix the colour in by how much of each pixel fell outside.
    x = tf.concat([tf.cast(image, tf.float32), tf.ones_like(image[..., :1], tf.float32)], -1)
    out = run(x, 0.0)
    colour = tf.constant(fill, tf.float32)
    return done(to_uint8(out[..., :3] + (1.0 - out[..., 3:]) * colour), image)


def shift_or_shear(image, level, slope, fill, interpolation):
    """The op for PIL matrices (1, 0, 0, 0, 1, 0) + level * slope (shears, translations)."""
    image = as_image(image)
    level, static = as_level(level, image)
    checks.check_fill(fill)
    interpolation = checks.check_interpolation(interpolation)
    if static == 0.0:
        return image
    # Coefficients of the identity, (a, b, x0, d, e, y0) = (1, 0, 0.5, 0, 1, 0.5),
    # plus the level's share. Both terms sit on the 2**-16 grid (level * slope is
    # an exact power-of-two multiple), so float32 is exact here.
    identity = np.array([[1, 0, 0.5, 0, 1, 0.5, 0, 0]], np.float32)
    coefficients = identity + per_row(level) * np.asarray(slope, np.float32)[None]
    if interpolation == "nearest" and slope in (SLOPE_TRANSLATE_X, SLOPE_TRANSLATE_Y):
        # A translation moves whole pixels: the same pixels as `warp` picks
        # (its 16.16 quantized offset, floored), copied by a gather of rows.
        column = 2 if slope == SLOPE_TRANSLATE_X else 5
        offset = tf.floor(coefficients[:, column] * FIXED_POINT + 0.5) * (1.0 / FIXED_POINT)
        shift = tf.cast(tf.clip_by_value(tf.floor(offset), -2.0**24, 2.0**24), tf.int32)
        if level.shape.rank == 0:
            shift = shift[0]
        return integer_shift(image, shift, -2 if column == 2 else -3, fill)
    return warp(image, coefficients, fill, interpolation)


SLOPE_TRANSLATE_X = [0, 0, 1, 0, 0, 0, 0, 0]
SLOPE_TRANSLATE_Y = [0, 0, 0, 0, 0, 1, 0, 0]


def integer_shift(image, shift, axis, fill):
    """Output index i along `axis` (-3: rows, -2: columns) takes input index i + shift.

    Indices that fall outside get `fill`. `shift` is an int32 scalar, or [B]
    (one per image of a batch). Rows are gathered whole (`tf.gather` with
    `batch_dims`), several times faster than the resampling kernel; a
    column shift is a row shift of the transposed image.
    """
    fill = checks.check_fill(fill)
    single = image.shape.rank == 3
    x = image[None] if single else image
    if axis == -2:
        x = tf.transpose(x, [0, 2, 1, 3])
    count = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
    per_image = shift.shape.rank == 1
    source = tf.range(count)[None, :] + tf.reshape(shift, [-1, 1])  # [B or 1, count]
    inside = (source >= 0) & (source < count)
    source = tf.clip_by_value(source, 0, count - 1)
    if per_image:
        out = tf.gather(x, source, axis=1, batch_dims=1)
    else:
        out = tf.gather(x, source[0], axis=1)
    inside = inside[:, :, None, None]
    if fill == (0, 0, 0):
        out = out * tf.cast(inside, tf.uint8)
    else:
        out = select(~inside, np.array(fill, np.uint8), out)
    if axis == -2:
        out = tf.transpose(out, [0, 2, 1, 3])
    return done(out[0] if single else out, image)


def hue_shift(x, delta):
    """TF's AdjustHue kernel (adjust_hue_op.cc) written out, for one delta per image.

    The kernel takes a single delta for the whole tensor; this mirrors its
    arithmetic step by step (hexcone hue in [0, 6), shifted by 6 delta,
    fmod 6), so both give the same floats.
    """
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v_max = tf.maximum(tf.maximum(r, g), b)
    v_min = tf.minimum(tf.minimum(r, g), b)
    v_mid = r + g + b - v_max - v_min  # integers: exact
    category = tf.where(
        r < g,
        tf.where(b < r, 1.0, tf.where(b > g, 3.0, 2.0)),
        tf.where(b < g, 0.0, tf.where(b > r, 4.0, 5.0)),
    )
    even = tf.equal(tf.math.floormod(category, 2.0), 0.0)
    ratio = (v_mid - v_min) / (v_max - v_min)
    h = tf.where(v_max == v_min, 0.0, category + tf.where(even, ratio, 1.0 - ratio))
    h = tf.math.floormod(h + delta * 6.0, 6.0)
    category = tf.floor(h)
    ratio = h - category
    ratio = tf.where(tf.equal(tf.math.floormod(category, 2.0), 0.0), ratio, 1.0 - ratio)
    v_mid = v_min + ratio * (v_max - v_min)
    c = category
    red = tf.where((c == 0) | (c >= 5), v_max, tf.where((c == 1) | (c == 4), v_mid, v_min))
    green = tf.where((c == 1) | (c == 2), v_max, tf.where((c == 0) | (c == 3), v_mid, v_min))
    blue = tf.where((c == 3) | (c == 4), v_max, tf.where((c == 2) | (c >= 5), v_mid, v_min))
    return tf.stack([red, green, blue], axis=-1)


