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

The random transforms of a training pipeline, which draw their parameters
from a stateless seed, are in `kerascnn.augment.random_ops`; the shared
argument handling and kernels in `kerascnn.augment._pixels`.
"""


import math

import numpy as np
import tensorflow as tf

from kerascnn import _checks as checks
from kerascnn import _compat
from kerascnn.augment import _pixels as px

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
# PIL's ImageFilter.SMOOTH, [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13, per channel
# as a depthwise kernel [3, 3, 3 channels, 1].
_SMOOTH_KERNEL = np.repeat((np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0)[
    :, :, None, None], 3, axis=2)


# --- the ops -----------------------------------------------------------------------


def identity(image, level=0.0, seed=None):
    """Returns the image unchanged (the "do nothing" choice of a policy)."""
    del level, seed
    return px.as_image(image)


def auto_contrast(image, level, seed=None):
    """PIL `ImageOps.autocontrast` per channel, blended with weight `level`.

    Each channel's [min, max] is stretched to [0, 255]; a constant channel is
    left alone. Computed in float64 as PIL does, int(x * s + (-lo * s)) with
    s = 255 / (hi - lo), so level 1 matches PIL bit for bit.
    """
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    # PIL builds a table of 256 entries per channel; so does this.
    lo = tf.cast(tf.reduce_min(image, axis=[-3, -2]), tf.float64)[..., None]  # [..., 3, 1]
    hi = tf.cast(tf.reduce_max(image, axis=[-3, -2]), tf.float64)[..., None]
    # A constant channel gets scale 1 and offset 0, the identity.
    stretch = hi > lo
    scale = tf.where(stretch, 255.0 / (hi - lo), 1.0)
    offset = tf.where(stretch, -lo * scale, 0.0)
    table = tf.clip_by_value(tf.floor(px.BINS.astype(np.float64) * scale + offset), 0.0, 255.0)
    return px.apply_lut(image, px.lut_index(image), table, level, static)


def equalize(image, level, seed=None):
    """PIL `ImageOps.equalize` per channel, blended with weight `level`.

    PIL's algorithm (ImageOps.equalize): with h the channel's histogram,
    step = (sum(h) - h[last nonzero bin]) // 255; if step is 0 the channel is
    unchanged, else lut[i] = (step // 2 + sum(h[:i])) // step, capped at 255.
    """
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    # One histogram for all channels (and images): channel c of image n counts
    # in bins (3 n + c) * 256 + v.
    index = px.lut_index(image)
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
    table = tf.where(step > 0, table, px.BINS)
    if image.shape.rank == 3:
        table = table[0]
    return px.apply_lut(image, index, table, level, static)


def rotate(image, level, seed=None, *, fill=0, interpolation="nearest"):
    """PIL `Image.rotate(level)`: `level` degrees counter-clockwise about the centre.

    Pixels from outside the image get the grey value (or RGB triple) `fill`.
    """
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    checks.check_fill(fill)
    checks.check_interpolation(interpolation)
    if static == 0.0:
        return image
    # float64 trig: PIL's matrix (and its 16.16 rounding) is computed in double.
    radians = tf.cast(px.per_row(level), tf.float64) * (math.pi / 180.0)
    cos, sin = tf.cos(radians), tf.sin(radians)
    # PIL Image.rotate maps output to input by a rotation of -level about
    # (cx, cy) = (W / 2, H / 2): a = e = cos, b = -sin, d = sin, and pixel
    # (0, 0)'s centre goes to x0 = cx + cos (0.5 - cx) + sin (cy - 0.5),
    # y0 = cy + sin (0.5 - cx) + cos (0.5 - cy).
    static_size = px.static_size(image)
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
    return px.warp(image, coefficients, fill, interpolation)


def solarize(image, level, seed=None):
    """PIL `ImageOps.solarize(threshold=256 - level)`: pixels >= threshold are inverted.

    `level` in [0, 256]: 0 changes nothing, 256 inverts everything.
    """
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    threshold = 256.0 - tf.clip_by_value(px.per_pixel(level), 0.0, 256.0)
    # 255 - x is x XOR 255 for uint8; XOR with a 0/255 mask avoids tf.where,
    # which is several times slower on large uint8 images.
    flip = tf.cast(tf.cast(image, tf.float32) >= threshold, tf.uint8) * np.uint8(255)
    return px.done(tf.bitwise.bitwise_xor(image, flip), image)


def color(image, level, seed=None):
    """PIL `ImageEnhance.Color(image).enhance(1 + level)` (saturation).

    Blends from the grayscale image (PIL's L) with factor 1 + level, so -1 is
    grayscale and positive levels oversaturate.
    """
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    x = tf.cast(image, tf.float32)
    return px.done(px.enhance(x, px.luma(x), level), image)


def posterize(image, level, seed=None):
    """PIL `ImageOps.posterize(image, 8 - level)`: clears the round(level) low bits.

    `level` in [0, 8]; 8 leaves no bits, a black image.
    """
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static is not None:  # a constant mask
        drop = int(math.floor(min(max(static, 0.0), 8.0) + 0.5))
        return px.done(tf.bitwise.bitwise_and(image, np.uint8((0xFF << drop) & 0xFF)), image)
    drop = tf.cast(tf.clip_by_value(px.per_pixel(level), 0.0, 8.0) + 0.5, tf.int32)  # round
    mask = tf.cast(tf.bitwise.bitwise_and(tf.bitwise.left_shift(255, drop), 255), tf.uint8)
    return px.done(tf.bitwise.bitwise_and(image, mask), image)


def contrast(image, level, seed=None):
    """PIL `ImageEnhance.Contrast(image).enhance(1 + level)`.

    Blends from a constant image at the mean of PIL's L image, rounded as PIL
    does (int(mean + 0.5), the mean in double).
    """
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    x = tf.cast(image, tf.float32)
    # the sum of integers is exact in double
    total = tf.reduce_sum(tf.cast(px.luma(x), tf.float64), axis=[-3, -2, -1], keepdims=True)
    size = px.size_of(image, tf.float64)
    mean = tf.floor(total / (size[0] * size[1]) + 0.5)
    return px.done(px.enhance(x, tf.cast(mean, tf.float32), level), image)


def brightness(image, level, seed=None):
    """PIL `ImageEnhance.Brightness(image).enhance(1 + level)`: scales by 1 + level."""
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    return px.done(px.to_uint8(tf.cast(image, tf.float32) * (1.0 + px.per_pixel(level))), image)


def sharpness(image, level, seed=None):
    """PIL `ImageEnhance.Sharpness(image).enhance(1 + level)`.

    Blends from PIL's SMOOTH filter ([[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13,
    rounded), which PIL leaves unfiltered on the 1-pixel border; negative
    levels blur, positive ones sharpen.
    """
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    x = tf.cast(image, tf.float32)
    # oneDNN's depthwise convolution is the fastest SMOOTH on batches; without
    # oneDNN (AVX2-only CPUs) TensorFlow's is 3-4x slower than shifted sums,
    # and on one image the sums win either way (tools/benchmark.py augment_ops).
    depthwise = image.shape.rank == 4 and _compat.onednn_enabled()
    smooth = smooth_filter(x, depthwise=depthwise)
    # PIL leaves the 1-pixel border as it is: level 0 there.
    static_size = px.static_size(image)
    if static_size is not None:
        h, w = static_size
        inside = np.zeros((h, w, 1), np.float32)
        inside[1:-1, 1:-1] = 1.0
    else:
        shape = tf.shape(image)
        inner = tf.ones(tf.maximum(shape[-3:-1] - 2, 0))
        inside = tf.pad(inner, [[1, 1], [1, 1]])[: shape[-3], : shape[-2], None]
    weight = px.per_pixel(level) * inside
    return px.done(px.to_uint8(x + weight * (x - smooth)), image)


def smooth_filter(x, depthwise=False):
    """PIL's SMOOTH filter, rounded: (3x3 neighbourhood sum + 4 x) / 13, per channel.

    `x`: float32 [H, W, 3] or [B, H, W, 3] of whole numbers; the border rows and columns
    see zeros outside (`sharpness` leaves them alone). The sum is 1/13 of a
    whole number, never within 1/26 of a half, so float error cannot change
    the rounding (tf.round's ties-to-even never comes into play).

    Args:
        depthwise: a depthwise convolution with the kernel / 13 (fastest on
            batches with oneDNN), else shifted row and column sums.
    """
    if depthwise:
        batch = x if x.shape.rank == 4 else x[None]
        out = tf.round(tf.nn.depthwise_conv2d(batch, _SMOOTH_KERNEL, [1, 1, 1, 1], "SAME"))
        return out if x.shape.rank == 4 else out[0]
    pad = [[0, 0]] * (x.shape.rank - 3) + [[1, 1], [1, 1], [0, 0]]
    p = tf.pad(x, pad)
    rows = p[..., :-2, :, :] + p[..., 1:-1, :, :] + p[..., 2:, :, :]
    box = rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]
    return tf.round((box + 4.0 * x) * (1.0 / 13.0))


def shear_x(image, level, seed=None, *, fill=0, interpolation="nearest"):
    """Horizontal shear: output (x, y) samples input (x + level * y, y).

    PIL `image.transform(size, AFFINE, (1, level, 0, 0, 1, 0))`, the
    convention of timm's AutoAugment (the top row stays put).
    """
    del seed
    return px.shift_or_shear(image, level, [0, 1, 0.5, 0, 0, 0, 0, 0], fill, interpolation)


def shear_y(image, level, seed=None, *, fill=0, interpolation="nearest"):
    """Vertical shear: output (x, y) samples input (x, y + level * x).

    PIL affine (1, 0, 0, level, 1, 0); the left column stays put.
    """
    del seed
    return px.shift_or_shear(image, level, [0, 0, 0, 1, 0, 0.5, 0, 0], fill, interpolation)


def translate_x(image, level, seed=None, *, fill=0, interpolation="nearest"):
    """Output (x, y) samples input (x + level, y): positive `level` moves content left.

    PIL affine (1, 0, level, 0, 1, 0); `level` in pixels.
    """
    del seed
    return px.shift_or_shear(image, level, px.SLOPE_TRANSLATE_X, fill, interpolation)


def translate_y(image, level, seed=None, *, fill=0, interpolation="nearest"):
    """Output (x, y) samples input (x, y + level): positive `level` moves content up.

    PIL affine (1, 0, 0, 0, 1, level); `level` in pixels.
    """
    del seed
    return px.shift_or_shear(image, level, px.SLOPE_TRANSLATE_Y, fill, interpolation)


def invert(image, level, seed=None):
    """PIL `ImageOps.invert` (255 - x), blended with weight `level`."""
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    return px.done(px.weighted(image, 255 - image, level, static), image)


def hue(image, level, seed=None):
    """Rotates the hue by `level` of the colour circle (`tf.image.adjust_hue` semantics).

    `level` in [-0.5, 0.5]. The HSV round trip may move a pixel by one grey
    level even for a zero shift, so level 0 returns the input itself.
    """
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    x = tf.cast(image, tf.float32)
    # The AdjustHue kernel only uses ratios of the max, mid and min channels,
    # so it works on 0..255 floats as well as on 0..1.
    if level.shape.rank == 0:
        shifted = px.to_uint8(tf.raw_ops.AdjustHue(images=x, delta=level))
    else:
        shifted = px.to_uint8(px.hue_shift(x, tf.reshape(level, [-1, 1, 1])))
    if static is not None:
        return px.done(shifted, image)
    return px.done(px.select(tf.equal(px.per_pixel(level), 0.0), image, shifted), image)


def grayscale(image, level, seed=None):
    """PIL's L (`image.convert("L")`) replicated to 3 channels, blended with weight `level`."""
    del seed
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    gray = px.luma(tf.cast(image, tf.float32))
    return px.done(px.weighted(image, tf.concat([gray, gray, gray], -1), level, static), image)


def gaussian_noise(image, level, seed=None):
    """Adds N(0, level^2) noise per pixel and channel; `level` in grey levels."""
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    if static == 0.0:
        return image
    noise = tf.random.stateless_normal(px.shape_of(image), px.as_seed(seed)) * px.per_pixel(level)
    return px.done(px.to_uint8(tf.cast(image, tf.float32) + noise), image)


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
        eigenvectors: [3, 3], eigenvectors as columns; see `kerascnn.data.pca_lighting_basis`
            to compute both for another data set.
    """
    image = px.as_image(image)
    level, static = px.as_level(level, image)
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
    alpha = tf.random.stateless_normal(shape, px.as_seed(seed)) * px.per_row(level)
    shift = tf.reduce_sum(basis * alpha[..., None, :], axis=-1)  # V (alpha * lambda) * 255
    if image.shape.rank == 4:
        shift = shift[:, None, None, :]
    return px.done(px.to_uint8(tf.cast(image, tf.float32) + shift), image)


def cutout(image, level, seed=None, *, fill=0):
    """Cutout (DeVries & Taylor 2017): fills a `level` x `level` square with `fill`.

    The square's centre is uniform over the image (drawn from `seed`, one per
    image) and the square is clipped at the borders, so near an edge less is
    cut. `level` is rounded to whole pixels.
    """
    image = px.as_image(image)
    level, static = px.as_level(level, image)
    fill = checks.check_fill(fill)
    if static == 0.0:
        return image
    side = tf.cast(tf.maximum(px.per_pixel(level), 0.0) + 0.5, tf.int32)  # round half up
    if image.shape.rank == 3:
        shape = [2]
    else:
        shape = tf.stack([tf.shape(image)[0], 2])
    centre = tf.random.stateless_uniform(shape, px.as_seed(seed)) * px.size_of(image, tf.float32)
    corner = tf.cast(centre, tf.int32)  # the cast floors: a uniform pixel
    top, left = corner[..., 0], corner[..., 1]
    if image.shape.rank == 4:
        top, left = tf.reshape(top, [-1, 1, 1, 1]), tf.reshape(left, [-1, 1, 1, 1])
    mask = px.box_mask(image, top - side // 2, left - side // 2, side, side)
    return px.done(px.select(mask, np.array(fill, np.uint8), image), image)


# The ops whose result depends on `seed` (the others ignore it).
DRAWING_OPS = (gaussian_noise, pca_lighting, cutout)

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
