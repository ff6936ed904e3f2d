"""Test-time views: centre crop, ten-crop and multi-scale testing.

The views are returned (not averaged here) so that evaluation can run the
model on each and average the predicted probabilities (`predict_views`).

- `center_crop`: resize keeping the aspect ratio so the image covers
  size / 0.875, then the central `size` crop (the ImageNet standard
  256 -> 224; the same as the evaluation pipeline's "center_crop").
- `ten_crop`: the four corner crops and the centre crop, then the same five
  of the horizontally flipped image, in torchvision's `TenCrop` order
  (tl, tr, bl, br, centre, flipped tl, ...; the whole image is flipped before
  cropping, so the flipped tl is the mirror image of the tr crop). Used by
  AlexNet, VGG and ResNet for their 10-crop results.
- `multi_scale`: the image resized (aspect kept) to each short side in
  `scales`, e.g. the ResNet paper's {224, 256, 384, 480, 640} (He et al.
  2016, sec. 3.4, after Simonyan & Zisserman 2015), for models with global
  pooling that take any input size.
- "multi_scale_ten_crop" (`make_views`): ten crops of `size` at each scale.
  The ResNet paper runs the network fully convolutionally on the whole
  image at each scale; with a fixed crop size this is approximated by
  ten crops per scale.

Every function takes float images in [0, 255], a single [H, W, C] image or a
batch [B, H, W, C], and returns float32. Resizing is bilinear with
antialiasing, sizes rounded to the nearest integer (ties to even); centre
crops start at (H − h) // 2, (W − w) // 2 (torchvision rounds the half
pixel of an odd difference to even instead; at most a one-pixel shift).
"""

import numpy as np
import tensorflow as tf

from kerascnn import _checks
from kerascnn.augment.crops import CENTER_CROP_FRACTION, resize_to_cover

VIEWS = ("center", "ten_crop", "multi_scale", "multi_scale_ten_crop")
# ResNet multi-scale testing (He et al. 2016, sec. 3.4): short sides.
MULTI_SCALES = (224, 256, 384, 480, 640)
# A model output whose rows sum to 1 within this is taken as probabilities.
PROBABILITY_TOLERANCE = 1e-3


def center_crop(images, size, crop_fraction=CENTER_CROP_FRACTION):
    """Resize (aspect kept) to cover size / crop_fraction, then the central crop.

    Args:
        images: float [H, W, C] or [B, H, W, C], values in [0, 255].
        size: crop size, an int (square) or (height, width).
        crop_fraction: crop size over the resized size, in (0, 1]; 0.875
            gives the ImageNet standard (resize to 256, crop 224).

    Returns:
        float32 [h, w, C] or [B, h, w, C].
    """
    height, width = _checks.image_size(size, "size", channels=False)
    if isinstance(crop_fraction, bool) or not (
        isinstance(crop_fraction, (int, float)) and 0 < crop_fraction <= 1
    ):
        raise ValueError(f"crop_fraction must be a number in (0, 1]; got {crop_fraction!r}.")
    x, single = _as_batch(images)
    x = resize_to_cover(x, height / crop_fraction, width / crop_fraction)
    x = _center(x, height, width, "center_crop")
    return x[0] if single else x


def ten_crop(images, size, resize_to=None):
    """Four corner crops and the centre crop, of the image and of its mirror image.

    Args:
        images: float [H, W, C] or [B, H, W, C], values in [0, 255].
        size: crop size, an int (square) or (height, width); must fit in the
            (resized) image.
        resize_to: if given, first resize keeping the aspect ratio so the short
            side is `resize_to`.

    Returns:
        float32 [10, h, w, C] for one image or [B, 10, h, w, C] for a batch,
        in torchvision's TenCrop order: tl, tr, bl, br, centre of the image,
        then the same five of the horizontally flipped image.
    """
    height, width = _checks.image_size(size, "size", channels=False)
    x, single = _as_batch(images)
    if resize_to is not None:
        _checks.check_int("resize_to", resize_to, minimum=1)
        x = resize_to_cover(x, resize_to, resize_to)
    crops = tf.stack(_ten(x, height, width), axis=1)
    return crops[0] if single else crops


def multi_scale(images, scales=MULTI_SCALES, size=None):
    """The image resized (aspect kept) to each short side in `scales`.

    Args:
        images: float [H, W, C] or [B, H, W, C], values in [0, 255].
        scales: short sides, positive ints.
        size: if given (an int or (height, width)), the central `size` crop
            of each resized image is taken, so the views can be stacked.

    Returns:
        Without `size`: a list, one image or batch per scale (sizes differ).
        With `size`: float32 [len(scales), h, w, C] for one image or
        [B, len(scales), h, w, C] for a batch.
    """
    scales = check_scales(scales)
    x, single = _as_batch(images)
    views = [resize_to_cover(x, scale, scale) for scale in scales]
    if size is None:
        return [view[0] for view in views] if single else views
    height, width = _checks.image_size(size, "size", channels=False)
    views = tf.stack([_center(view, height, width, "multi_scale") for view in views], axis=1)
    return views[0] if single else views


def make_views(images, mode, size, scales=MULTI_SCALES, resize_to=None, flip=False):
    """The test-time views of a batch, for `predict_views`.

    Args:
        images: float [B, H, W, C] (a single [H, W, C] image becomes a batch
            of one), values in [0, 255].
        mode: one of VIEWS:
            "center": 1 view, `center_crop` (or, with `resize_to`, the
                central crop after resizing the short side to `resize_to`);
            "ten_crop": 10 views, `ten_crop` after resizing to cover
                size / 0.875 (short side round(size / 0.875) for a square
                size, 256 for 224) or to the short side `resize_to`;
            "multi_scale": one view per scale, the whole image resized to
                that short side (sizes differ; for fully convolutional models
                with global pooling); `size` is not used;
            "multi_scale_ten_crop": 10 views per scale, the ten `size` crops
                of the image resized to that short side (approximates the
                ResNet paper's fully convolutional multi-scale testing).
        size: crop size, an int or (height, width).
        scales: short sides for the multi-scale modes.
        resize_to: short side before cropping for "center" and "ten_crop";
            default: cover size / 0.875.
        flip: also the horizontal mirror of each view ("center": 2 views,
            "multi_scale": 2 per scale). The ten-crop modes hold the mirrors
            already (5 crops and the same 5 of the mirrored image), so for
            them `flip` changes nothing.

    Returns:
        A list of float32 batches [B, h_i, w_i, C], one per view.
    """
    views = _views(images, mode, size, scales, resize_to)
    if flip and mode in MIRRORED_BY_FLIP:
        views += [tf.reverse(view, [2]) for view in views]
    return views


# The modes whose views `flip` doubles; the others contain their mirrors.
MIRRORED_BY_FLIP = ("center", "multi_scale")


def _views(images, mode, size, scales, resize_to):
    if mode not in VIEWS:
        raise ValueError(f"Unknown view mode {mode!r}; allowed: {', '.join(VIEWS)}.")
    height, width = _checks.image_size(size, "size", channels=False)
    if resize_to is not None:
        _checks.check_int("resize_to", resize_to, minimum=1)
    x, _ = _as_batch(images)

    def base(x):
        if resize_to is None:
            return resize_to_cover(
                x, height / CENTER_CROP_FRACTION, width / CENTER_CROP_FRACTION
            )
        return resize_to_cover(x, resize_to, resize_to)

    if mode == "center":
        return [_center(base(x), height, width, "center")]
    if mode == "ten_crop":
        return _ten(base(x), height, width)
    scales = check_scales(scales)
    if mode == "multi_scale":
        return [resize_to_cover(x, scale, scale) for scale in scales]
    views = []
    for scale in scales:
        views += _ten(resize_to_cover(x, scale, scale), height, width, f"scale {scale}")
    return views


def predict_views(model, views, batch_size=None, predict=None):
    """Average over the views of the model's predicted probabilities.

    The model is expected to output logits, which are softmaxed per view. An
    output that already looks like probabilities (all values >= 0 and every
    row summing to 1 within 1e-3, e.g. a model ending in a softmax) is used
    as it is, not softmaxed again.

    Args:
        model: a Keras model taking each view's size (e.g. global pooling
            for "multi_scale").
        views: a non-empty list of batches [B, h_i, w_i, C], e.g. from
            `make_views`.
        batch_size: batch size for `model.predict` (None: Keras's default).
        predict: a function (model, images, batch_size) -> outputs to call in
            place of `model.predict` (`kerascnn.evaluate.predict` under a
            `tf.distribute` strategy).

    Returns:
        numpy float32 [B, K], the mean of the per-view probabilities.
    """
    if batch_size is not None:
        _checks.check_int("batch_size", batch_size, minimum=1)
    if isinstance(views, (tf.Tensor, np.ndarray)) or not len(views):
        raise ValueError("views must be a non-empty list of batches [B, h, w, C].")
    total = None
    for view in views:
        out = (predict(model, np.asarray(view), batch_size or 32) if predict else
               model.predict(view, verbose=0, batch_size=batch_size))
        out = np.asarray(out, np.float64)
        if out.ndim != 2:
            raise ValueError(f"The model must output [B, K]; got shape {out.shape}.")
        probs = out if _is_probabilities(out) else _softmax(out)
        if total is not None and total.shape != probs.shape:
            raise ValueError(
                f"Views give predictions of different shapes: {total.shape} and {probs.shape}."
            )
        total = probs if total is None else total + probs
    return (total / len(views)).astype(np.float32)


def predict_tta(
    model, images, mode, size, scales=MULTI_SCALES, resize_to=None, batch_size=None, flip=False
):
    """`make_views` then `predict_views`: test-time-augmented probabilities [B, K]."""
    views = make_views(images, mode, size, scales=scales, resize_to=resize_to, flip=flip)
    return predict_views(model, views, batch_size=batch_size)


# ------------------------------------------------------------------- helpers


def _as_batch(images):
    """(float32 [B, H, W, C], whether the input was a single image)."""
    x = tf.convert_to_tensor(images)
    if x.dtype != tf.float32:
        x = tf.cast(x, tf.float32)
    if x.shape.rank == 3:
        return x[None], True
    if x.shape.rank == 4:
        return x, False
    raise ValueError(
        f"images must be one image [H, W, C] or a batch [B, H, W, C]; got shape {x.shape}."
    )


def _hw(x):
    """Height and width of a batch: Python ints where static, else int32 scalars."""
    dynamic = tf.shape(x)
    return tuple(x.shape[i] if x.shape[i] is not None else dynamic[i] for i in (1, 2))


def _crop(x, top, left, height, width):
    crop = x[:, top : top + height, left : left + width, :]
    crop.set_shape([x.shape[0], height, width, x.shape[3]])
    return crop


def _fits(x, height, width, what):
    """Checks the crop fits in the images (statically, or by assertion)."""
    in_h, in_w = _hw(x)
    message = f"The crop size {height}x{width} ({what}) is larger than the image"
    if _checks.is_int(in_h) and _checks.is_int(in_w):
        if height > in_h or width > in_w:
            raise ValueError(f"{message}, {in_h}x{in_w}.")
        return x
    checks = [
        tf.debugging.assert_less_equal(height, in_h, message=message),
        tf.debugging.assert_less_equal(width, in_w, message=message),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(x)


def _center(x, height, width, what):
    x = _fits(x, height, width, what)
    in_h, in_w = _hw(x)
    return _crop(x, (in_h - height) // 2, (in_w - width) // 2, height, width)


def _five(x, height, width):
    in_h, in_w = _hw(x)
    bottom, right = in_h - height, in_w - width
    return [
        _crop(x, 0, 0, height, width),
        _crop(x, 0, right, height, width),
        _crop(x, bottom, 0, height, width),
        _crop(x, bottom, right, height, width),
        _crop(x, bottom // 2, right // 2, height, width),
    ]


def _ten(x, height, width, what="ten_crop"):
    x = _fits(x, height, width, what)
    return _five(x, height, width) + _five(tf.reverse(x, [2]), height, width)


def check_scales(scales):
    if (
        not isinstance(scales, (tuple, list))
        or not scales
        or not all(_checks.is_int(s) and s >= 1 for s in scales)
    ):
        raise ValueError(f"scales must be a non-empty list of positive ints; got {scales!r}.")
    return tuple(int(s) for s in scales)


def _is_probabilities(out):
    return bool(
        np.all(out >= 0) and np.all(np.abs(out.sum(axis=1) - 1) <= PROBABILITY_TOLERANCE)
    )


def _softmax(logits):
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)
