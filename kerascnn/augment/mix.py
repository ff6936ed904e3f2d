"""Batch-level mixing: Mixup and CutMix, applied to batches after batching.

Both take a batch of float32 images [B, H, W, C] (values in [0, 255]) with
float32 one-hot (or already soft) labels [B, K] and a stateless seed (an int
tensor of shape [2]); B, H and W may be dynamic, H != W and any B >= 1 work.

- Mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"):
  one λ ~ Beta(α, α) per batch;
  x = λ x + (1 − λ) x_partner,  y = λ y + (1 − λ) y_partner.
- CutMix (Yun et al. 2019, "CutMix: Regularization Strategy to Train Strong
  Classifiers with Localizable Features"): λ ~ Beta(α, α); a box of
  round(H √(1 − λ)) x round(W √(1 − λ)) pixels (the image's aspect ratio,
  area fraction 1 − λ) centred at a uniform integer (cy, cx) in [0, H) x [0, W),
  clipped to the image, is replaced in every image by the same box of its
  partner. λ is then recomputed from the clipped box, so that the label weight
  equals the pasted pixel fraction exactly:
  λ = 1 − box_h · box_w / (H · W),  y = λ y + (1 − λ) y_partner.
- `mix` follows timm's `Mixup` (Wightman, pytorch-image-models): the batch
  is mixed with probability `prob`; with both α > 0, CutMix is used with
  probability `switch_prob`, Mixup otherwise.

The partner of image i is image B − 1 − i (the batch reversed, timm's
`x.flip(0)`); in an odd batch the middle image is its own partner and comes
out unchanged. The batch is shuffled upstream, so this pairing is random.

Labels are only mixed, never smoothed: one-hot labels stay exact convex
combinations of two one-hot vectors (timm folds label smoothing into its
mixed targets; here smoothing, if wanted, belongs to the loss).

λ ~ Beta(α, α) is drawn as G1 / (G1 + G2) with G1, G2 ~ Gamma(α, 1).
"""

import math

import numpy as np
import tensorflow as tf

MIX_MODES = ("none", "mixup", "cutmix", "mixup_cutmix")


def sample_beta(seed, alpha, shape=()):
    """Draws λ ~ Beta(alpha, alpha) as G1 / (G1 + G2), G1, G2 ~ Gamma(alpha, 1).

    Args:
        seed: stateless seed, int tensor of shape [2].
        alpha: concentration, a Python number > 0.
        shape: shape of the sample (default: a scalar).

    Returns:
        float32 tensor of `shape` with values in [0, 1].
    """
    _check_alpha("alpha", alpha)
    seed_1, seed_2 = tf.unstack(tf.random.split(seed, 2))
    g1 = tf.random.stateless_gamma(shape, seed_1, alpha, dtype=tf.float32)
    g2 = tf.random.stateless_gamma(shape, seed_2, alpha, dtype=tf.float32)
    total = g1 + g2
    # For tiny alpha both draws can underflow to 0; call that a draw of 1/2.
    return tf.where(total > 0, g1 / tf.where(total > 0, total, 1.0), 0.5)


def mixup(images, labels, seed, alpha=0.2):
    """Mixup: x = λ x + (1 − λ) x[::-1], y likewise, one λ ~ Beta(α, α) per batch.

    Args:
        images: float [B, H, W, C].
        labels: float one-hot or soft labels [B, K].
        seed: stateless seed, int tensor of shape [2].
        alpha: Beta concentration, > 0 (0.2 in the paper's ImageNet runs).

    Returns:
        (images, labels), mixed, same shapes and dtypes.
    """
    images, labels = _check_batch(images, labels)
    lam = sample_beta(seed, alpha)
    return _blend(images, lam), _blend(labels, lam)


def cutmix(images, labels, seed, alpha=1.0):
    """CutMix: paste a random box of the reversed batch, labels weighted by area.

    See the module docstring for the box. The returned label weight of each
    image's own label is exactly the fraction of its pixels left in place.

    Args:
        images: float [B, H, W, C].
        labels: float one-hot or soft labels [B, K].
        seed: stateless seed, int tensor of shape [2].
        alpha: Beta concentration, > 0 (1.0 in the paper, a uniform λ).

    Returns:
        (images, labels), mixed, same shapes and dtypes.
    """
    images, labels = _check_batch(images, labels)
    _check_alpha("alpha", alpha)
    beta_seed, y_seed, x_seed = tf.unstack(tf.random.split(seed, 3))
    lam = sample_beta(beta_seed, alpha)
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    cut = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(tf.round(tf.cast(height, tf.float32) * cut), tf.int32)
    cut_w = tf.cast(tf.round(tf.cast(width, tf.float32) * cut), tf.int32)
    cy = tf.random.stateless_uniform([], y_seed, 0, height, dtype=tf.int32)
    cx = tf.random.stateless_uniform([], x_seed, 0, width, dtype=tf.int32)
    top = tf.clip_by_value(cy - cut_h // 2, 0, height)
    bottom = tf.clip_by_value(cy - cut_h // 2 + cut_h, 0, height)
    left = tf.clip_by_value(cx - cut_w // 2, 0, width)
    right = tf.clip_by_value(cx - cut_w // 2 + cut_w, 0, width)

    # One box for the whole batch: paste it by slicing and concatenating
    # (copies), not by a masked select over every pixel (measured 2x at 224x224).
    band = images[:, top:bottom]
    pasted_band = tf.reverse(band, [0])
    band = tf.concat([band[:, :, :left], pasted_band[:, :, left:right], band[:, :, right:]], 2)
    static_shape = images.shape
    images = tf.concat([images[:, :top], band, images[:, bottom:]], 1)
    images.set_shape(static_shape)

    # The weight from the integer box: the exact pasted fraction.
    pasted = tf.cast((bottom - top) * (right - left), tf.float64)
    lam = 1.0 - pasted / tf.cast(height * width, tf.float64)
    return images, _blend(labels, lam)


def mix(images, labels, seed, *, mixup_alpha=0.0, cutmix_alpha=0.0, switch_prob=0.5, prob=1.0):
    """Mixup or CutMix of a batch, timm's `Mixup` choice rule.

    With probability `prob` the batch is mixed, otherwise returned unchanged.
    If both alphas are > 0, CutMix is applied with probability `switch_prob`
    and Mixup otherwise; if only one is > 0, that one. Only the chosen
    branch runs (tf.cond).

    Args:
        images: float [B, H, W, C].
        labels: float one-hot or soft labels [B, K].
        seed: stateless seed, int tensor of shape [2].
        mixup_alpha: Mixup's Beta concentration; 0 disables Mixup.
        cutmix_alpha: CutMix's Beta concentration; 0 disables CutMix.
        switch_prob: probability of CutMix when both are enabled, in [0, 1].
        prob: probability of mixing the batch at all, in [0, 1].

    Returns:
        (images, labels).
    """
    _check_mix_args(mixup_alpha, cutmix_alpha, switch_prob, prob)
    images, labels = _check_batch(images, labels)
    apply_seed, switch_seed, op_seed = tf.unstack(tf.random.split(seed, 3))

    def do_mixup():
        return mixup(images, labels, op_seed, mixup_alpha)

    def do_cutmix():
        return cutmix(images, labels, op_seed, cutmix_alpha)

    def mixed():
        if mixup_alpha > 0 and cutmix_alpha > 0:
            use_cutmix = tf.random.stateless_uniform([], switch_seed) < switch_prob
            return tf.cond(use_cutmix, do_cutmix, do_mixup)
        return do_cutmix() if cutmix_alpha > 0 else do_mixup()

    if prob >= 1:
        return mixed()
    apply = tf.random.stateless_uniform([], apply_seed) < prob
    return tf.cond(apply, mixed, lambda: (tf.identity(images), tf.identity(labels)))


def make_mixer(mode, *, mixup_alpha=0.2, cutmix_alpha=1.0, switch_prob=0.5, prob=1.0):
    """A batch mixing function for a training pipeline, or None.

    Args:
        mode: one of MIX_MODES: "none" (returns None), "mixup", "cutmix" or
            "mixup_cutmix" (CutMix with probability `switch_prob`, else Mixup).
        mixup_alpha: Mixup's Beta concentration, > 0 when Mixup is used.
        cutmix_alpha: CutMix's Beta concentration, > 0 when CutMix is used.
        switch_prob: for "mixup_cutmix", the probability of CutMix, in [0, 1].
        prob: probability of mixing a batch at all, in [0, 1].

    Returns:
        None for "none", else `fn(images, labels, seed) -> (images, labels)`
        (see `mix`); usable in a tf.data map with a dynamic batch size, e.g.
        through `mix_dataset`.
    """
    if mode not in MIX_MODES:
        raise ValueError(f"Unknown mix mode {mode!r}; allowed: {', '.join(MIX_MODES)}.")
    if mode == "none":
        return None
    use_mixup = mode in ("mixup", "mixup_cutmix")
    use_cutmix = mode in ("cutmix", "mixup_cutmix")
    if use_mixup:
        _check_alpha("mixup_alpha", mixup_alpha)
    if use_cutmix:
        _check_alpha("cutmix_alpha", cutmix_alpha)
    kwargs = dict(
        mixup_alpha=mixup_alpha if use_mixup else 0.0,
        cutmix_alpha=cutmix_alpha if use_cutmix else 0.0,
        switch_prob=switch_prob,
        prob=prob,
    )
    _check_mix_args(**kwargs)

    def mixer(images, labels, seed):
        return mix(images, labels, seed, **kwargs)

    mixer.__name__ = f"mix_{mode}"
    mixer.__doc__ = f"`mix` with {mode}: {kwargs}."
    return mixer


def mix_dataset(ds, mixer, seed):
    """Applies `mixer` to each batch of a batched (images, labels) dataset.

    Each batch gets its own [2] int64 seed from `tf.data.Dataset.random(seed)`
    (redrawn each epoch, reproducibly). `mixer` None returns `ds` unchanged.
    """
    if mixer is None:
        return ds
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip(ds, seeds).map(
        lambda batch, batch_seed: mixer(*batch, batch_seed),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


# ------------------------------------------------------------------- helpers


def _blend(x, lam):
    """λ x + (1 − λ) x[::-1] along the batch axis."""
    lam = tf.cast(lam, x.dtype)
    return lam * x + (1 - lam) * tf.reverse(x, [0])


def _check_batch(images, labels):
    images = tf.convert_to_tensor(images)
    labels = tf.convert_to_tensor(labels)
    if images.shape.rank not in (None, 4):
        raise ValueError(f"images must be a batch [B, H, W, C]; got shape {images.shape}.")
    if labels.shape.rank not in (None, 2):
        raise ValueError(
            f"labels must be one-hot or soft labels [B, K]; got shape {labels.shape}."
        )
    if not (images.dtype.is_floating and labels.dtype.is_floating):
        raise ValueError(
            f"images and labels must be floating point (one-hot labels); "
            f"got {images.dtype.name} and {labels.dtype.name}."
        )
    return images, labels


def _check_mix_args(mixup_alpha, cutmix_alpha, switch_prob, prob):
    for name, value in (("mixup_alpha", mixup_alpha), ("cutmix_alpha", cutmix_alpha)):
        if not _is_number(value) or not value >= 0:
            raise ValueError(f"{name} must be a number >= 0 (0 disables it); got {value!r}.")
    if mixup_alpha == 0 and cutmix_alpha == 0:
        raise ValueError("mixup_alpha and cutmix_alpha are both 0; enable at least one.")
    for name, value in (("switch_prob", switch_prob), ("prob", prob)):
        if not _is_number(value) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a probability in [0, 1]; got {value!r}.")


def _check_alpha(name, value):
    if not _is_number(value) or not value > 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")


def _is_number(value):
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
