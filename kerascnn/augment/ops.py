"""Per-image augmentation ops on uint8 images, in pure TensorFlow.

Every op in `OPS` has the signature `op(image, level, seed=None, **keywords)`:

- `image` is a uint8 tensor [H, W, 3]; H and W may be unknown statically
  (inside `tf.data`) and need not be equal. The result is uint8 of the same
  shape, with the input's static shape set on it.
- `level` is a float32 scalar (tensor or Python number) in the op's natural
  units: degrees for `rotate`, pixels for `translate_*` and `cutout`, the
  enhance factor minus one for `color` / `contrast` / `brightness` /
  `sharpness`, and so on (each docstring says which). **Level 0 is the
  identity, bit for bit.**
- `seed` is a stateless seed, an int32/int64 tensor of shape [2], consumed by
  `tf.random.stateless_*`; deterministic ops ignore it and `None` means (0, 0).

The ops also take a batch [B, H, W, 3] with a scalar level or one level per
image, shape [B] (what a policy that applies each op once to the images that
drew it needs); the ops that draw (`gaussian_noise`, `pca_lighting`,
`cutout`) then draw independently per image from the one seed, and a batch
of one gives the same result as the single image.

The ops are graph-safe (no Python control flow on tensor values), so they run
eagerly, in `tf.function`, in a `tf.data` map and in `tf.switch_case`
branches. They follow PIL (the library AutoAugment, RandAugment and timm use)
and say where they differ: PIL truncates when it blends two images, these
ops round half up.

`auto_contrast`, `equalize`, `invert` and `grayscale` have no strength in the
papers that use them (AutoAugment, Cubuk et al. 2019; RandAugment, Cubuk et
al. 2020): they are on or off. Here their level is a blend weight between the
original (0) and the full effect (1), out = round(x + level * (op(x) - x)),
and the policies apply them at level 1.

The module also has the random transforms of a training pipeline
(`random_rotation`, `random_translation`, `color_jitter`, `random_erasing`,
`random_cutout`), which draw their parameters from a stateless seed, and
`pca_lighting_basis`, which computes the PCA lighting basis of a data set.
"""

import math
import numbers

import numpy as np
import tensorflow as tf

# AlexNet "PCA lighting" basis of ImageNet RGB in [0, 1], as used by
# fb.resnet.torch (datasets/imagenet.lua, `pca`) and gluon-cv
# (data/transforms/experimental/image.py, `random_pca_lighting`).
# Columns of the eigenvector matrix are the eigenvectors.
IMAGENET_PCA_EIGENVALUES = (0.2175, 0.0188, 0.0045)
IMAGENET_PCA_EIGENVECTORS = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)

# PIL's nearest-neighbour affine transform (affine_fixed in libImaging/Geometry.c)
# rounds its matrix to 16.16 fixed point and floors the sampled coordinate; TF's
# kernel rounds half away from zero. Quantizing the matrix the same way and
# sampling at v - 0.5 + 2**-17 makes round() equal floor(v) on PIL's 2**-16 grid,
# and float32 holds that grid exactly for coordinates below 128 pixels.
_FIXED_POINT = 65536.0
_NEAREST_NUDGE = 2.0**-17
_INTERPOLATIONS = ("nearest", "bilinear")
# Pillow's RGB -> L (Convert.c, L24): (19595 R + 38470 G + 7471 B + 2**15) >> 16,
# ITU-R 601-2 luma (299 R + 587 G + 114 B) / 1000 in 16-bit fixed point. These
# weights / 2**16 and every partial sum are exact in float32.
_LUMA_WEIGHTS = np.array([19595, 38470, 7471], np.float32) / 65536.0
_CHANNEL_OFFSETS = np.array([0, 256, 512], np.int32)  # channel c's values -> c*256 + v
_BINS = np.arange(256, dtype=np.int32)
# PIL's ImageFilter.SMOOTH, [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13, per channel
# as a depthwise kernel [3, 3, 3 channels, 1].
_SMOOTH_KERNEL = np.repeat((np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0)[
    :, :, None, None], 3, axis=2)


# --- argument handling -------------------------------------------------------------


def _image(image, batch=True):
    """The image as a uint8 tensor [H, W, 3] (or [B, H, W, 3] when `batch`)."""
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:
        raise TypeError(f"image must be uint8 [H, W, 3], got dtype {image.dtype.name}.")
    ranks = (3, 4) if batch else (3,)
    if image.shape.rank not in ranks or image.shape[-1] not in (None, 3):
        allowed = "[H, W, 3] or [B, H, W, 3]" if batch else "[H, W, 3]"
        raise ValueError(f"image must have shape {allowed}, got {image.shape}.")
    return image


def _level(level, image):
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


def _per_pixel(level):
    """Broadcasts per-image levels [B] over [B, H, W, C] (a scalar stays one)."""
    return tf.reshape(level, [-1, 1, 1, 1]) if level.shape.rank == 1 else level


def _per_row(level):
    """Per-image levels [B] as a column [B, 1] (a scalar stays one)."""
    return level[:, None] if level.shape.rank == 1 else level


def _seed(seed):
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


def _check_fill(fill):
    """Returns `fill` as a tuple of 3 ints in 0..255 (int or 3-tuple accepted)."""
    try:
        values = (fill,) * 3 if isinstance(fill, numbers.Number) else tuple(fill)
    except TypeError:
        values = ()
    if len(values) != 3 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v <= 255
        for v in values
    ):
        raise ValueError(f"fill must be an int in 0..255 or a 3-tuple of them, got {fill!r}.")
    return tuple(int(v) for v in values)


def _check_interpolation(interpolation):
    if str(interpolation).lower() not in _INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}.")
    return str(interpolation).lower()


def _check_range(value, name, low, high=None):
    """`value` as a float, if it is a number in [low, high] (high None: no upper bound)."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not number or value < low or (high is not None and value > high):
        allowed = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be a number in {allowed}, got {value!r}.")
    return float(value)


# --- shared pieces -----------------------------------------------------------------
# Each TF op costs a few microseconds in a tf.data map however small the image,
# so the helpers below keep the op count low: static shapes become constants,
# and levels known at trace time take shortcuts with the same result.


def _to_uint8(x):
    """Rounds half up and saturates a float image to uint8 (the cast truncates)."""
    return _to_uint8_rounded(x + 0.5)


def _to_uint8_rounded(x):
    """`_to_uint8(x - 0.5)`: saturates and truncates `x`, which already holds the + 0.5."""
    clipped = tf.raw_ops.ClipByValue(t=x, clip_value_min=0.0, clip_value_max=255.0)
    return tf.cast(clipped, tf.uint8)


def _select(mask, a, b):
    """uint8 `tf.where(mask, a, b)` by bit operations, b ^ ((a ^ b) & mask).

    `mask` is bool and broadcasts against `b`; `tf.where` on large uint8
    images is about six times slower than these three element-wise ops.
    """
    bits = tf.cast(mask, tf.uint8) * np.uint8(255)
    return tf.bitwise.bitwise_xor(b, tf.bitwise.bitwise_and(tf.bitwise.bitwise_xor(a, b), bits))


def _enhance(x, degenerate, level):
    """PIL `ImageEnhance` at factor 1 + level: blend(degenerate, x, 1 + level).

    PIL's Image.blend computes d + f (x - d) and truncates; this computes the
    same line as (1 + level) x - level d and rounds it, so level 0 is exactly
    x (two full-size ops where x + level (x - d) takes four: d is often one
    value per image or channel).
    """
    level = _per_pixel(level)
    return _to_uint8_rounded(x * (1.0 + level) - (level * degenerate - 0.5))


def _weighted(image, result, level, static):
    """Blend weight `level` from `image` (0) to the float `result` (1), as uint8."""
    if static == 1.0:
        return tf.cast(result, tf.uint8)
    x = tf.cast(image, tf.float32)
    return _to_uint8(x + _per_pixel(level) * (tf.cast(result, tf.float32) - x))


def _lut_index(image):
    """int32 [..., H, W, 3]: where each value sits in the flattened per-(image, channel)
    tables of 256 entries that `_apply_lut` takes (channel c of image n: row 3 n + c)."""
    index = tf.cast(image, tf.int32)
    if image.shape.rank == 4:
        rows = tf.reshape(tf.range(tf.shape(image)[0]) * 768, [-1, 1, 1, 1])
        return index + (rows + _CHANNEL_OFFSETS)
    return index + _CHANNEL_OFFSETS


def _apply_lut(image, index, table, level, static):
    """Maps every value through its channel's table, blended with weight `level`.

    `table` is [..., 3, 256] (one per channel, and per image of a batch),
    the op's full effect as whole numbers; the blend x + level (table - x)
    is taken on the 256 entries instead of on every pixel. `gather_nd` is the
    fastest gather here (about 1.7x `tf.gather` on 224 x 224 images).
    """
    if static == 1.0:
        table = tf.cast(table, tf.uint8)
    else:
        bins = tf.constant(_BINS, tf.float32)
        weight = tf.reshape(level, [-1, 1, 1]) if level.shape.rank == 1 else level
        table = _to_uint8(bins + weight * (tf.cast(table, tf.float32) - bins))
    out = tf.gather_nd(tf.reshape(table, [-1]), index[..., None])
    return _done(out, image)


def _done(out, image):
    out.set_shape(image.shape)
    return out


def _luma(x):
    """Pillow's L of a float32 RGB image, as float32 [..., H, W, 1] integers.

    A matmul with the [3, 1] weights (several times faster than a reduction
    over the channel axis); every product and partial sum is exact in
    float32, so the order of the sum does not matter.
    """
    weights = _LUMA_WEIGHTS[:, None]
    if x.shape[:-1].is_fully_defined():
        shape = x.shape[:-1].as_list() + [1]
    else:
        shape = tf.concat([tf.shape(x)[:-1], [1]], 0)
    luma = tf.reshape(tf.matmul(tf.reshape(x, [-1, 3]), weights), shape)
    return tf.floor(luma + 0.5)


def _static_size(image):
    """(H, W) as Python ints when both are known statically, else None."""
    h, w = image.shape[-3], image.shape[-2]
    return None if h is None or w is None else (int(h), int(w))


def _size(image, dtype):
    """(H, W) of the image as a [2] tensor (a constant when the shape is static)."""
    static = _static_size(image)
    if static is not None:
        return tf.constant(static, dtype)
    return tf.cast(tf.shape(image)[-3:-1], dtype)


def _shape(image):
    """The full shape, as a Python tuple when static, else a tensor."""
    return tuple(image.shape) if image.shape.is_fully_defined() else tf.shape(image)


def _box_mask(image, top, left, height, width):
    """bool [..., H, W, 1]: rows [top, top + height) x columns [left, left + width).

    The bounds are scalars, or [B, 1, 1, 1] for one box per image of a batch.
    """
    static = _static_size(image)
    if static is not None:
        rows = np.arange(static[0], dtype=np.int32)[:, None, None]
        cols = np.arange(static[1], dtype=np.int32)[None, :, None]
    else:
        shape = tf.shape(image)
        rows = tf.range(shape[-3])[:, None, None]
        cols = tf.range(shape[-2])[None, :, None]
    return (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)


def _warp(image, coefficients, fill, interpolation):
    """Resamples the image by an affine map given in PIL's convention.

    `coefficients` is [1, 8] (or [B, 8], one map per image), (a, b, x0, d, e,
    y0, 0, 0): output pixel (i, j) (column, row) samples the input at
    (x0 + a i + b j, y0 + d i + e j), where (x0, y0) is where PIL's
    `Image.transform(size, AFFINE, (a, b, c, d, e, f))` sends the centre of
    pixel (0, 0): x0 = c + (a + b) / 2, y0 = f + (d + e) / 2. PIL puts pixel
    (i, j)'s centre at (i + 0.5, j + 0.5) and, for nearest, takes input pixel
    (floor(x), floor(y)); TF puts it at (i, j), hence the -0.5.
    """
    fill = _check_fill(fill)
    interpolation = _check_interpolation(interpolation)
    if interpolation == "nearest":
        offsets = np.array([[0, 0, 1, 0, 0, 1, 0, 0]], np.float32) * (_NEAREST_NUDGE - 0.5)
        coefficients = tf.floor(coefficients * _FIXED_POINT + 0.5) * (1.0 / _FIXED_POINT) + offsets
    else:
        coefficients = coefficients + np.array([[0, 0, -0.5, 0, 0, -0.5, 0, 0]], np.float32)
    transform = tf.cast(coefficients, tf.float32)
    mode = interpolation.upper()
    static = _static_size(image)
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
            return _done(run(image, float(fill[0])), image)
        return _done(_to_uint8(run(tf.cast(image, tf.float32), float(fill[0]))), image)
    # The kernel takes one scalar fill: warp a ones channel along with the image
    # (0 outside) and mix the colour in by how much of each pixel fell outside.
    x = tf.concat([tf.cast(image, tf.float32), tf.ones_like(image[..., :1], tf.float32)], -1)
    out = run(x, 0.0)
    colour = tf.constant(fill, tf.float32)
    return _done(_to_uint8(out[..., :3] + (1.0 - out[..., 3:]) * colour), image)


def _shift_or_shear(image, level, slope, fill, interpolation):
    """The op for PIL matrices (1, 0, 0, 0, 1, 0) + level * slope (shears, translations)."""
    image = _image(image)
    level, static = _level(level, image)
    _check_fill(fill)
    interpolation = _check_interpolation(interpolation)
    if static == 0.0:
        return image
    # Coefficients of the identity, (a, b, x0, d, e, y0) = (1, 0, 0.5, 0, 1, 0.5),
    # plus the level's share. Both terms sit on the 2**-16 grid (level * slope is
    # an exact power-of-two multiple), so float32 is exact here.
    identity = np.array([[1, 0, 0.5, 0, 1, 0.5, 0, 0]], np.float32)
    coefficients = identity + _per_row(level) * np.asarray(slope, np.float32)[None]
    if interpolation == "nearest" and slope in (_SLOPE_TRANSLATE_X, _SLOPE_TRANSLATE_Y):
        # A translation moves whole pixels: the same pixels as `_warp` picks
        # (its 16.16 quantized offset, floored), copied by a gather of rows.
        column = 2 if slope == _SLOPE_TRANSLATE_X else 5
        offset = tf.floor(coefficients[:, column] * _FIXED_POINT + 0.5) * (1.0 / _FIXED_POINT)
        shift = tf.cast(tf.clip_by_value(tf.floor(offset), -2.0**24, 2.0**24), tf.int32)
        if level.shape.rank == 0:
            shift = shift[0]
        return _integer_shift(image, shift, -2 if column == 2 else -3, fill)
    return _warp(image, coefficients, fill, interpolation)


_SLOPE_TRANSLATE_X = [0, 0, 1, 0, 0, 0, 0, 0]
_SLOPE_TRANSLATE_Y = [0, 0, 0, 0, 0, 1, 0, 0]


def _integer_shift(image, shift, axis, fill):
    """Output index i along `axis` (-3: rows, -2: columns) takes input index i + shift.

    Indices that fall outside get `fill`. `shift` is an int32 scalar, or [B]
    (one per image of a batch). Rows are gathered whole (`tf.gather` with
    `batch_dims`), several times faster than the resampling kernel; a
    column shift is a row shift of the transposed image.
    """
    fill = _check_fill(fill)
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
        out = _select(~inside, np.array(fill, np.uint8), out)
    if axis == -2:
        out = tf.transpose(out, [0, 2, 1, 3])
    return _done(out[0] if single else out, image)


def _hue_shift(x, delta):
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


# --- the ops -----------------------------------------------------------------------


def identity(image, level=0.0, seed=None):
    """Returns the image unchanged (the "do nothing" choice of a policy)."""
    del level, seed
    return _image(image)


def auto_contrast(image, level, seed=None):
    """PIL `ImageOps.autocontrast` per channel, blended with weight `level`.

    Each channel's [min, max] is stretched to [0, 255]; a constant channel is
    left alone. Computed in float64 as PIL does, int(x * s + (-lo * s)) with
    s = 255 / (hi - lo), so level 1 matches PIL bit for bit.
    """
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    # PIL builds a table of 256 entries per channel; so does this.
    lo = tf.cast(tf.reduce_min(image, axis=[-3, -2]), tf.float64)[..., None]  # [..., 3, 1]
    hi = tf.cast(tf.reduce_max(image, axis=[-3, -2]), tf.float64)[..., None]
    # A constant channel gets scale 1 and offset 0, the identity.
    stretch = hi > lo
    scale = tf.where(stretch, 255.0 / (hi - lo), 1.0)
    offset = tf.where(stretch, -lo * scale, 0.0)
    table = tf.clip_by_value(tf.floor(_BINS.astype(np.float64) * scale + offset), 0.0, 255.0)
    return _apply_lut(image, _lut_index(image), table, level, static)


def equalize(image, level, seed=None):
    """PIL `ImageOps.equalize` per channel, blended with weight `level`.

    PIL's algorithm (ImageOps.equalize): with h the channel's histogram,
    step = (sum(h) - h[last nonzero bin]) // 255; if step is 0 the channel is
    unchanged, else lut[i] = (step // 2 + sum(h[:i])) // step, capped at 255.
    """
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    # One histogram for all channels (and images): channel c of image n counts
    # in bins (3 n + c) * 256 + v.
    index = _lut_index(image)
    bins = 768 * (tf.shape(image)[0] if image.shape.rank == 4 else 1)
    hist = tf.raw_ops.Bincount(
        arr=tf.reshape(index, [-1]), size=bins, weights=tf.zeros([0], tf.int32)
    )
    hist = tf.reshape(hist, [-1, 3, 256])
    before = tf.cumsum(hist, axis=-1, exclusive=True)  # sum(h[:i])
    # sum(h) - h[last nonzero] is what lies before the last nonzero bin: the
    # largest `before` among the nonzero bins.
    step = tf.reduce_max(tf.where(hist > 0, before, 0), axis=-1, keepdims=True) // 255
    table = tf.minimum((step // 2 + before) // tf.maximum(step, 1), 255)
    table = tf.where(step > 0, table, _BINS)
    if image.shape.rank == 3:
        table = table[0]
    return _apply_lut(image, index, table, level, static)


def rotate(image, level, seed=None, *, fill=0, interpolation="nearest"):
    """PIL `Image.rotate(level)`: `level` degrees counter-clockwise about the centre.

    Pixels from outside the image get the grey value (or RGB triple) `fill`.
    """
    del seed
    image = _image(image)
    level, static = _level(level, image)
    _check_fill(fill)
    _check_interpolation(interpolation)
    if static == 0.0:
        return image
    # float64 trig: PIL's matrix (and its 16.16 rounding) is computed in double.
    radians = tf.cast(_per_row(level), tf.float64) * (math.pi / 180.0)
    cos, sin = tf.cos(radians), tf.sin(radians)
    # PIL Image.rotate maps output to input by a rotation of -level about
    # (cx, cy) = (W / 2, H / 2): a = e = cos, b = -sin, d = sin, and pixel
    # (0, 0)'s centre goes to x0 = cx + cos (0.5 - cx) + sin (cy - 0.5),
    # y0 = cy + sin (0.5 - cx) + cos (0.5 - cy).
    static_size = _static_size(image)
    if static_size is not None:
        cy, cx = static_size[0] / 2.0, static_size[1] / 2.0
        base = np.array([[0, 0, cx, 0, 0, cy, 0, 0]])
        cos_part = np.array([[1, 0, 0.5 - cx, 0, 1, 0.5 - cy, 0, 0]])
        sin_part = np.array([[0, -1, cy - 0.5, 1, 0, 0.5 - cx, 0, 0]])
    else:
        cy, cx = tf.unstack(tf.cast(tf.shape(image)[-3:-1], tf.float64) / 2.0)
        zero, one = tf.constant(0.0, tf.float64), tf.constant(1.0, tf.float64)
        base = tf.stack([[zero, zero, cx, zero, zero, cy, zero, zero]])
        cos_part = tf.stack([[one, zero, 0.5 - cx, zero, one, 0.5 - cy, zero, zero]])
        sin_part = tf.stack([[zero, -one, cy - 0.5, one, zero, 0.5 - cx, zero, zero]])
    coefficients = base + cos * cos_part + sin * sin_part
    return _warp(image, coefficients, fill, interpolation)


def solarize(image, level, seed=None):
    """PIL `ImageOps.solarize(threshold=256 - level)`: pixels >= threshold are inverted.

    `level` in [0, 256]: 0 changes nothing, 256 inverts everything.
    """
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    threshold = 256.0 - tf.clip_by_value(_per_pixel(level), 0.0, 256.0)
    # 255 - x is x XOR 255 for uint8; XOR with a 0/255 mask avoids tf.where,
    # which is several times slower on large uint8 images.
    flip = tf.cast(tf.cast(image, tf.float32) >= threshold, tf.uint8) * np.uint8(255)
    return _done(tf.bitwise.bitwise_xor(image, flip), image)


def color(image, level, seed=None):
    """PIL `ImageEnhance.Color(image).enhance(1 + level)` (saturation).

    Blends from the grayscale image (PIL's L) with factor 1 + level, so -1 is
    grayscale and positive levels oversaturate.
    """
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    x = tf.cast(image, tf.float32)
    return _done(_enhance(x, _luma(x), level), image)


def posterize(image, level, seed=None):
    """PIL `ImageOps.posterize(image, 8 - level)`: clears the round(level) low bits.

    `level` in [0, 8]; 8 leaves no bits, a black image.
    """
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static is not None:  # a constant mask
        drop = int(math.floor(min(max(static, 0.0), 8.0) + 0.5))
        return _done(tf.bitwise.bitwise_and(image, np.uint8((0xFF << drop) & 0xFF)), image)
    drop = tf.cast(tf.clip_by_value(_per_pixel(level), 0.0, 8.0) + 0.5, tf.int32)  # round
    mask = tf.cast(tf.bitwise.bitwise_and(tf.bitwise.left_shift(255, drop), 255), tf.uint8)
    return _done(tf.bitwise.bitwise_and(image, mask), image)


def contrast(image, level, seed=None):
    """PIL `ImageEnhance.Contrast(image).enhance(1 + level)`.

    Blends from a constant image at the mean of PIL's L image, rounded as PIL
    does (int(mean + 0.5), the mean in double).
    """
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    x = tf.cast(image, tf.float32)
    # the sum of integers is exact in double
    total = tf.reduce_sum(tf.cast(_luma(x), tf.float64), axis=[-3, -2, -1], keepdims=True)
    size = _size(image, tf.float64)
    mean = tf.floor(total / (size[0] * size[1]) + 0.5)
    return _done(_enhance(x, tf.cast(mean, tf.float32), level), image)


def brightness(image, level, seed=None):
    """PIL `ImageEnhance.Brightness(image).enhance(1 + level)`: scales by 1 + level."""
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    return _done(_to_uint8(tf.cast(image, tf.float32) * (1.0 + _per_pixel(level))), image)


def sharpness(image, level, seed=None):
    """PIL `ImageEnhance.Sharpness(image).enhance(1 + level)`.

    Blends from PIL's SMOOTH filter ([[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13,
    rounded), which PIL leaves unfiltered on the 1-pixel border; negative
    levels blur, positive ones sharpen.
    """
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    x = tf.cast(image, tf.float32)
    batch = x if image.shape.rank == 4 else x[None]
    # SMOOTH as a depthwise convolution with the kernel / 13. The sum is 1/13
    # of a whole number, never within 1/26 of a half, so float error cannot
    # change the rounding (tf.round's ties-to-even never comes into play).
    smooth = tf.round(tf.nn.depthwise_conv2d(batch, _SMOOTH_KERNEL, [1, 1, 1, 1], "SAME"))
    if image.shape.rank == 3:
        smooth = smooth[0]
    # PIL leaves the 1-pixel border as it is: level 0 there.
    static_size = _static_size(image)
    if static_size is not None:
        h, w = static_size
        inside = np.zeros((h, w, 1), np.float32)
        inside[1:-1, 1:-1] = 1.0
    else:
        shape = tf.shape(image)
        inner = tf.ones(tf.maximum(shape[-3:-1] - 2, 0))
        inside = tf.pad(inner, [[1, 1], [1, 1]])[: shape[-3], : shape[-2], None]
    weight = _per_pixel(level) * inside
    return _done(_to_uint8(x + weight * (x - smooth)), image)


def shear_x(image, level, seed=None, *, fill=0, interpolation="nearest"):
    """Horizontal shear: output (x, y) samples input (x + level * y, y).

    PIL `image.transform(size, AFFINE, (1, level, 0, 0, 1, 0))`, the
    convention of timm's AutoAugment (the top row stays put).
    """
    del seed
    return _shift_or_shear(image, level, [0, 1, 0.5, 0, 0, 0, 0, 0], fill, interpolation)


def shear_y(image, level, seed=None, *, fill=0, interpolation="nearest"):
    """Vertical shear: output (x, y) samples input (x, y + level * x).

    PIL affine (1, 0, 0, level, 1, 0); the left column stays put.
    """
    del seed
    return _shift_or_shear(image, level, [0, 0, 0, 1, 0, 0.5, 0, 0], fill, interpolation)


def translate_x(image, level, seed=None, *, fill=0, interpolation="nearest"):
    """Output (x, y) samples input (x + level, y): positive `level` moves content left.

    PIL affine (1, 0, level, 0, 1, 0); `level` in pixels.
    """
    del seed
    return _shift_or_shear(image, level, _SLOPE_TRANSLATE_X, fill, interpolation)


def translate_y(image, level, seed=None, *, fill=0, interpolation="nearest"):
    """Output (x, y) samples input (x, y + level): positive `level` moves content up.

    PIL affine (1, 0, 0, 0, 1, level); `level` in pixels.
    """
    del seed
    return _shift_or_shear(image, level, _SLOPE_TRANSLATE_Y, fill, interpolation)


def invert(image, level, seed=None):
    """PIL `ImageOps.invert` (255 - x), blended with weight `level`."""
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    return _done(_weighted(image, 255 - image, level, static), image)


def hue(image, level, seed=None):
    """Rotates the hue by `level` of the colour circle (`tf.image.adjust_hue` semantics).

    `level` in [-0.5, 0.5]. The HSV round trip may move a pixel by one grey
    level even for a zero shift, so level 0 returns the input itself.
    """
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    x = tf.cast(image, tf.float32)
    # The AdjustHue kernel only uses ratios of the max, mid and min channels,
    # so it works on 0..255 floats as well as on 0..1.
    if level.shape.rank == 0:
        shifted = _to_uint8(tf.raw_ops.AdjustHue(images=x, delta=level))
    else:
        shifted = _to_uint8(_hue_shift(x, tf.reshape(level, [-1, 1, 1])))
    if static is not None:
        return _done(shifted, image)
    return _done(_select(tf.equal(_per_pixel(level), 0.0), image, shifted), image)


def grayscale(image, level, seed=None):
    """PIL's L (`image.convert("L")`) replicated to 3 channels, blended with weight `level`."""
    del seed
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    gray = _luma(tf.cast(image, tf.float32))
    return _done(_weighted(image, tf.concat([gray, gray, gray], -1), level, static), image)


def gaussian_noise(image, level, seed=None):
    """Adds N(0, level^2) noise per pixel and channel; `level` in grey levels."""
    image = _image(image)
    level, static = _level(level, image)
    if static == 0.0:
        return image
    noise = tf.random.stateless_normal(_shape(image), _seed(seed)) * _per_pixel(level)
    return _done(_to_uint8(tf.cast(image, tf.float32) + noise), image)


def pca_lighting(
    image,
    level,
    seed=None,
    *,
    eigenvalues=IMAGENET_PCA_EIGENVALUES,
    eigenvectors=IMAGENET_PCA_EIGENVECTORS,
):
    """AlexNet PCA lighting noise (Krizhevsky et al. 2012, Sec. 4.1).

    Adds the same RGB shift to every pixel: shift = V (alpha * lambda), with
    alpha ~ N(0, level^2) per component (AlexNet: level 0.1), lambda the
    eigenvalues and V the eigenvectors (as columns) of the RGB covariance in
    [0, 1] units; the shift is scaled by 255 before it is added.

    Args:
        eigenvalues: [3]; default the ImageNet values (`IMAGENET_PCA_EIGENVALUES`).
        eigenvectors: [3, 3], eigenvectors as columns; see `pca_lighting_basis`
            to compute both for another data set.
    """
    image = _image(image)
    level, static = _level(level, image)
    if tf.is_tensor(eigenvalues) or tf.is_tensor(eigenvectors):
        eigenvalues = tf.cast(eigenvalues, tf.float32)
        eigenvectors = tf.cast(eigenvectors, tf.float32)
    else:
        eigenvalues = np.asarray(eigenvalues, np.float32)
        eigenvectors = np.asarray(eigenvectors, np.float32)
    if tuple(eigenvalues.shape) != (3,) or tuple(eigenvectors.shape) != (3, 3):
        raise ValueError(
            f"eigenvalues must have shape (3,) and eigenvectors (3, 3), got "
            f"{tuple(eigenvalues.shape)} and {tuple(eigenvectors.shape)}."
        )
    if static == 0.0:
        return image
    basis = eigenvectors * eigenvalues * 255.0  # column k: 255 lambda_k v_k
    # one alpha per image: [3], or [B, 3] for a batch
    shape = [3] if image.shape.rank == 3 else tf.stack([tf.shape(image)[0], 3])
    alpha = tf.random.stateless_normal(shape, _seed(seed)) * _per_row(level)
    shift = tf.reduce_sum(basis * alpha[..., None, :], axis=-1)  # V (alpha * lambda) * 255
    if image.shape.rank == 4:
        shift = shift[:, None, None, :]
    return _done(_to_uint8(tf.cast(image, tf.float32) + shift), image)


def cutout(image, level, seed=None, *, fill=0):
    """Cutout (DeVries & Taylor 2017): fills a `level` x `level` square with `fill`.

    The square's centre is uniform over the image (drawn from `seed`, one per
    image) and the square is clipped at the borders, so near an edge less is
    cut. `level` is rounded to whole pixels.
    """
    image = _image(image)
    level, static = _level(level, image)
    fill = _check_fill(fill)
    if static == 0.0:
        return image
    side = tf.cast(tf.maximum(_per_pixel(level), 0.0) + 0.5, tf.int32)  # round half up
    if image.shape.rank == 3:
        shape = [2]
    else:
        shape = tf.stack([tf.shape(image)[0], 2])
    centre = tf.random.stateless_uniform(shape, _seed(seed)) * _size(image, tf.float32)
    corner = tf.cast(centre, tf.int32)  # the cast floors: a uniform pixel
    top, left = corner[..., 0], corner[..., 1]
    if image.shape.rank == 4:
        top, left = tf.reshape(top, [-1, 1, 1, 1]), tf.reshape(left, [-1, 1, 1, 1])
    mask = _box_mask(image, top - side // 2, left - side // 2, side, side)
    return _done(_select(mask, np.array(fill, np.uint8), image), image)


OPS = {
    "identity": identity,
    "auto_contrast": auto_contrast,
    "equalize": equalize,
    "rotate": rotate,
    "solarize": solarize,
    "color": color,
    "posterize": posterize,
    "contrast": contrast,
    "brightness": brightness,
    "sharpness": sharpness,
    "shear_x": shear_x,
    "shear_y": shear_y,
    "translate_x": translate_x,
    "translate_y": translate_y,
    "invert": invert,
    "hue": hue,
    "grayscale": grayscale,
    "gaussian_noise": gaussian_noise,
    "pca_lighting": pca_lighting,
    "cutout": cutout,
}


# --- PCA lighting basis ------------------------------------------------------------


def pca_lighting_basis(ds, max_examples=None):
    """Eigen-decomposition of the RGB covariance of a data set, for `pca_lighting`.

    Every pixel counts once, with values scaled to [0, 1]; the sums are
    accumulated in float64 with `ds.reduce`.

    Args:
        ds: a `tf.data.Dataset` of uint8 images [H, W, 3] (or batches of them),
            of (image, label) pairs, or of dicts with an "image" key.
        max_examples: use only the first this many elements of `ds`.

    Returns:
        (eigenvalues [3], eigenvectors [3, 3]) as numpy float64 arrays, by
        decreasing eigenvalue, eigenvectors as columns (their signs are
        arbitrary; `pca_lighting` draws symmetric alphas, so they do not matter).
    """
    from kerascnn.data.pipeline import _pixel_moments

    count, total, outer = _pixel_moments(ds, max_examples, "pca_lighting_basis")
    mean = total / count / 255.0
    covariance = outer / count / 255.0**2 - np.outer(mean, mean)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], eigenvectors[:, order]


# --- random transforms of the training pipeline ------------------------------------
# One image [H, W, 3], or a batch [B, H, W, 3] whose images each draw their own
# parameters (a batch of one draws what the single image draws).


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
    _check_fill(fill)
    _check_interpolation(interpolation)
    image = _image(image)
    angle = tf.random.stateless_uniform(_draws(image), _seed(seed), -max_degrees, max_degrees)
    return rotate(image, angle, fill=fill, interpolation=interpolation)


def random_translation(image, seed, max_fraction, fill=0):
    """Shifts by whole pixels, dx uniform in +-max_fraction * W and dy in +-max_fraction * H.

    Output (x, y) samples input (x + dx, y + dy), as `translate_x` / `translate_y`.
    """
    max_fraction = _check_range(max_fraction, "max_fraction", 0.0, 1.0)
    _check_fill(fill)
    image = _image(image)
    shift = tf.random.stateless_uniform(_draws(image, 2), _seed(seed), -max_fraction, max_fraction)
    shift = tf.reshape(tf.floor(shift * _size(image, tf.float32) + 0.5), [-1, 2])
    dy, dx = tf.unstack(shift, axis=1)
    one, zero = tf.ones_like(dx), tf.zeros_like(dx)
    coefficients = tf.stack([one, zero, 0.5 + dx, zero, one, 0.5 + dy, zero, zero], axis=1)
    return _warp(image, coefficients, fill, "nearest")


# color_jitter's keywords shadow the op names.
_JITTER_OPS = {"brightness": brightness, "contrast": contrast, "saturation": color, "hue": hue}


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
        "brightness": _check_range(brightness, "brightness", 0.0),
        "contrast": _check_range(contrast, "contrast", 0.0),
        "saturation": _check_range(saturation, "saturation", 0.0),
        "hue": _check_range(hue, "hue", 0.0, 0.5),
    }
    image = _image(image)
    seeds = tf.random.split(_seed(seed), 5)
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
    return _done(out, image)


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
    probability = _check_range(probability, "probability", 0.0, 1.0)
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
        fill = tf.constant(_check_fill(fill), tf.uint8)
    image = _image(image)
    single = image.shape.rank == 3
    batch = image if not single else image[None]
    gate_seed, area_seed, ratio_seed, place_seed, fill_seed = tf.unstack(
        tf.random.split(_seed(seed), 5)
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
    mask = _box_mask(batch, *box) & tf.reshape(erase, [-1, 1, 1, 1])
    if random_fill:
        fill = tf.cast(
            tf.random.stateless_uniform(tf.shape(image), fill_seed, 0, 256, dtype=tf.int32),
            tf.uint8,
        )
    out = _select(mask[0] if single else mask, fill, image)
    return _done(out, image)


def random_cutout(image, seed, size, fill=0):
    """Cutout of a `size` x `size` square at a uniform random centre, per image (see `cutout`)."""
    if not isinstance(size, numbers.Real) or size < 0:
        raise ValueError(f"size must be a non-negative number of pixels, got {size!r}.")
    return cutout(_image(image), float(size), seed, fill=fill)
