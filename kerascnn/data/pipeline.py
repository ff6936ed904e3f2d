"""tf.data input pipelines: seeded augmentation for training, fixed resizing for evaluation.

Both take the unbatched (uint8 image, integer label) datasets of
`kerascnn.data.load` and give batches of float32 images in [0, 255]
[B, H, W, C] with float32 one-hot labels [B, num_classes]; the model
normalizes its input itself.

Training randomness is stateless: example i of epoch e gets its own seed,
derived from (seed, e, i), so the same seed gives the same augmented epochs
on any machine, whatever the number of parallel calls, and a resumed run
gets the epochs an uninterrupted one would have had.
"""


import math

import numpy as np
import tensorflow as tf

from kerascnn import _checks as checks
from kerascnn import _compat
from kerascnn.augment import crops, ops, random_ops
from kerascnn.augment import keras_cv as keras_cv_lib
from kerascnn.augment import mix as mix_lib
from kerascnn.augment.layers import make_policy
from kerascnn.data import stats

CROPS = ("pad_crop", "resize", "scale_aug", "random_resized_crop")
EVAL_RESIZES = ("resize", "center_crop")
PCA_BASES = ("imagenet", "dataset")
# Images read to compute a "dataset" PCA lighting basis.
PCA_BASIS_EXAMPLES = 10_000


def train_pipeline(
    ds,
    *,
    batch_size,
    image_size,
    num_classes,
    seed=0,
    epochs=None,
    initial_epoch=0,
    crop="pad_crop",
    padding=4,
    flip=True,
    vertical_flip=False,
    rotation=0.0,
    translation=0.0,
    brightness=0.0,
    contrast=0.0,
    saturation=0.0,
    hue=0.0,
    pca_lighting=0.0,
    pca_basis="imagenet",
    noise=0.0,
    policy="none",
    num_ops=2,
    magnitude=9 / 30,
    magnitude_std=0.0,
    fill=0,
    cutout=0,
    random_erasing=0.0,
    mix="none",
    mixup_alpha=0.2,
    cutmix_alpha=1.0,
    mix_switch_prob=0.5,
    mix_prob=1.0,
    keras_cv=(),
    shuffle_buffer=10_000,
    drop_remainder=False,
    full_batches=False,
):
    """Shuffles, augments, batches and one-hot encodes a training dataset.

    Per example, in this order: channels converted (1 -> 3 replicates gray,
    3 -> 1 takes luma); the geometric transform chosen by `crop`; flips.
    Then per batch, vectorized, each image drawing its own parameters: on
    the uint8 images, rotation, translation, colour jitter, PCA lighting,
    noise, the policy (RandAugment / TrivialAugment), cutout and random
    erasing; keras-cv layers; mixing (Mixup / CutMix / FourierMix). Every
    strength defaults to off.

    Randomness is stateless: example i of epoch e is cropped and flipped
    from a seed derived from (seed, e, i), and batch j of epoch e is
    augmented from (seed, e, j), so the same seed gives the same epochs,
    eagerly or in tf.data, on any machine and with any parallelism.

    Args:
        ds: unbatched (image [H, W, C], integer label) dataset, e.g. from `load`.
        batch_size: examples per batch, >= 1.
        image_size: output size: an int (square), (H, W), or (H, W, C) to set
            the channel count (default 3).
        num_classes: length of the one-hot labels.
        seed: the shuffle order and every augmentation follow from it.
        epochs: None: each iteration over the returned dataset is a new epoch
            (reshuffled, redrawn), for `fit(ds, epochs=N)`. An int: the dataset
            holds epochs `initial_epoch, ..., epochs - 1` back to back, each a
            function of (seed, epoch) only, so a resumed run sees exactly the
            data an uninterrupted one would; pass `steps_per_epoch=
            steps_per_epoch(n, batch_size)` to `fit`.
        initial_epoch: the first epoch when `epochs` is an int.
        crop: "pad_crop" (resize if needed, zero-pad `padding` pixels each
            side, random crop; the CIFAR recipe), "resize" (no randomness),
            "scale_aug" (ResNet: random short side, random crop) or
            "random_resized_crop" (Inception crop).
        padding: pixels of zero padding for "pad_crop", >= 0.
        flip: random horizontal flip with probability 1/2.
        vertical_flip: random vertical flip with probability 1/2.
        rotation: random rotation, uniform in [-rotation, rotation] degrees.
        translation: random shift, uniform in [-t, t] of the width / height.
        brightness, contrast, saturation, hue: colour jitter (torchvision
            ColorJitter: factors uniform in [1 - s, 1 + s], hue shift in
            [-hue, hue] of a turn, hue <= 0.5), in a random order.
        pca_lighting: AlexNet PCA lighting, the std of alpha (AlexNet: 0.1).
        pca_basis: the PCA lighting basis: "imagenet" (AlexNet's), "dataset"
            (`stats.pca_lighting_basis` of the first 10,000 images of `ds`)
            or an (eigenvalues, eigenvectors) pair.
        noise: Gaussian noise std in grey levels.
        policy: "none", "rand_augment", "trivial_augment", or a policy object
            with `augment(image, seed)` (e.g. `augment.RandAugment(...)`).
        num_ops, magnitude, magnitude_std: RandAugment's N, m (a fraction in
            [0, 1]) and magnitude std.
        fill: grey value for pixels that rotation, translation, the policy's
            geometric ops and cutout uncover.
        cutout: side in pixels of a random square set to `fill` (0: off).
        random_erasing: probability of random erasing (Zhong et al. 2020).
        mix: "none", "mixup", "cutmix", "mixup_cutmix" (timm's switch) or
            "fourier_mix" (keras-cv).
        mixup_alpha, cutmix_alpha: Beta(alpha, alpha) parameters.
        mix_switch_prob: for "mixup_cutmix", the probability of CutMix.
        mix_prob: probability that a batch is mixed at all.
        keras_cv: names from `augment.keras_cv.KERAS_CV_LAYERS`, applied to
            each batch (needs the `kerascnn[keras-cv]` extra).
        shuffle_buffer: size of the shuffle buffer; 0 keeps the input order.
        drop_remainder: drop a last batch smaller than `batch_size`.
        full_batches: every batch has `batch_size` examples and none is
            dropped: an epoch's last batch is filled up with the split's first
            examples (in their stored order, cycled if the split is smaller
            than a batch), augmented afresh. An epoch still has
            ceil(N / batch_size) batches. Under a `tf.distribute` strategy no
            replica then gets an empty or uneven share (the training library
            sets it when there are several replicas).

    Returns:
        A prefetched `tf.data.Dataset` of (float32 [B, H, W, C] in [0, 255],
        float32 [B, num_classes]).
    """
    height, width, channels = _check_common(ds, batch_size, image_size, num_classes)
    checks.check_choice("crop", crop, CROPS)
    checks.check_int("padding", padding, minimum=0)
    checks.check_int("shuffle_buffer", shuffle_buffer, minimum=0)
    checks.check_int("seed", seed)
    checks.check_int("initial_epoch", initial_epoch, minimum=0)
    if epochs is not None:
        checks.check_int("epochs", epochs, minimum=initial_epoch + 1)
    checks.check_int("cutout", cutout, minimum=0)
    checks.check_int("num_ops", num_ops, minimum=0)
    for name, value, high in (
        ("rotation", rotation, 180), ("translation", translation, 1),
        ("brightness", brightness, None), ("contrast", contrast, None),
        ("saturation", saturation, None), ("hue", hue, 0.5),
        ("pca_lighting", pca_lighting, None), ("noise", noise, None),
        ("random_erasing", random_erasing, 1), ("mix_prob", mix_prob, 1),
        ("mix_switch_prob", mix_switch_prob, 1), ("magnitude", magnitude, 1),
        ("magnitude_std", magnitude_std, None),
    ):
        checks.check_range(value, name, 0, high)
    checks.check_choice("mix", mix, (*mix_lib.MIX_MODES, "fourier_mix"))
    keras_cv = keras_cv_lib.check_names(keras_cv)
    if isinstance(pca_basis, str):
        checks.check_choice("pca_basis", pca_basis, PCA_BASES)
    policy = make_policy(policy, num_ops=num_ops, magnitude=magnitude,
                                  magnitude_std=magnitude_std, fill=fill)
    size = (height, width)
    uint8_steps = _uint8_steps(
        ds, rotation=rotation, translation=translation, fill=fill, brightness=brightness,
        contrast=contrast, saturation=saturation, hue=hue, pca_lighting=pca_lighting,
        pca_basis=pca_basis, noise=noise, policy=policy, cutout=cutout,
        random_erasing=random_erasing,
    )
    if mix == "fourier_mix":
        mixer = keras_cv_lib.make_fourier_mix(seed=seed)
    else:
        mixer = mix_lib.make_mixer(mix, mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha,
                                   switch_prob=mix_switch_prob, prob=mix_prob)
    if (keras_cv or mixer is not None) and channels != 3:
        raise ValueError("keras_cv and mix need 3-channel images (image_size channels = 3).")
    batch_layers = [keras_cv_lib.make_layer(n, size, seed=seed) for n in keras_cv]

    def augment(image, label, example_seed):
        crop_seed, flip_seed, vflip_seed = tf.unstack(tf.random.split(example_seed, 3))
        image = crops.convert_channels(tf.cast(image, tf.float32), channels)
        if crop == "pad_crop":
            image = crops.pad_crop(image, size, padding, crop_seed)
        elif crop == "scale_aug":
            image = crops.scale_aug(image, size, crop_seed)
        elif crop == "random_resized_crop":
            image = crops.random_resized_crop(image, size, crop_seed)
        else:
            image = crops.resize_if_needed(image, size)
        if flip:
            image = tf.image.stateless_random_flip_left_right(image, flip_seed)
        if vertical_flip:
            image = tf.image.stateless_random_flip_up_down(image, vflip_seed)
        image.set_shape([height, width, channels])
        return image, _one_hot(label, num_classes)

    base_seed = tf.constant([seed, 0x5EED], tf.int64)
    batch_stage = bool(uint8_steps or batch_layers or mixer is not None)

    def one_epoch(epoch):
        epoch_seed = _fold_in(base_seed, epoch)
        example_seed, shuffle_seed, batch_seed = tf.unstack(tf.random.split(epoch_seed, 3))
        epoch_ds = ds
        if shuffle_buffer:
            epoch_ds = _compat.shuffle_with_tensor_seed(epoch_ds, shuffle_buffer, shuffle_seed)
        if full_batches:
            epoch_ds = epoch_ds.concatenate(ds.repeat().take(batch_size - 1))
        epoch_ds = epoch_ds.enumerate().map(
            lambda i, example: augment(*example, _fold_in(example_seed, i)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        epoch_ds = epoch_ds.batch(batch_size, drop_remainder=drop_remainder or full_batches)
        if batch_stage:
            # Only the seed of batch j here: the batch stage itself is mapped
            # once outside flat_map, so its (large) graph is instantiated once,
            # not once per epoch.
            epoch_ds = epoch_ds.enumerate().map(
                lambda j, batch: (*batch, _fold_in(batch_seed, j)))
        return epoch_ds

    def augment_batch(images, labels, seed):
        steps_seed, mix_seed = tf.unstack(tf.random.split(seed, 2))
        if uint8_steps:
            images = _run_uint8_steps(images, uint8_steps, steps_seed)
        for layer in batch_layers:
            images = layer(images)
        if mixer is not None:
            images, labels = mixer(images, labels, mix_seed)
        return images, labels

    if epochs is None:
        # A fresh key per iteration over the dataset: reshuffled, redrawn epochs.
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    else:
        keys = tf.data.Dataset.range(initial_epoch, epochs)
    out = keys.flat_map(one_epoch)
    if batch_stage:
        out = out.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)
    return out.prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(num_examples, batch_size, drop_remainder=False):
    """Batches in one epoch of `train_pipeline` (for `fit(steps_per_epoch=...)`)."""
    checks.check_int("num_examples", num_examples, minimum=1)
    checks.check_int("batch_size", batch_size, minimum=1)
    if drop_remainder:
        if num_examples < batch_size:
            raise ValueError(
                f"drop_remainder with {num_examples} examples and batch_size "
                f"{batch_size} leaves no batch."
            )
        return num_examples // batch_size
    return math.ceil(num_examples / batch_size)


def _fold_in(seed, value):
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(value, tf.int64))


def _uint8_steps(ds, *, rotation, translation, fill, brightness, contrast, saturation, hue,
                 pca_lighting, pca_basis, noise, policy, cutout, random_erasing):
    """The uint8 transforms asked for, as (images [B, H, W, 3], seed) -> images.

    `ds` (the training examples) is read only for a "dataset" PCA basis.
    """
    steps = []
    if rotation:
        steps.append(lambda x, s: random_ops.random_rotation(x, s, rotation, fill=fill))
    if translation:
        steps.append(lambda x, s: random_ops.random_translation(x, s, translation, fill=fill))
    if brightness or contrast or saturation or hue:
        steps.append(lambda x, s: random_ops.color_jitter(
            x, s, brightness=brightness, contrast=contrast, saturation=saturation, hue=hue))
    if pca_lighting:
        basis = {}
        if pca_basis == "dataset":
            pca_basis = stats.pca_lighting_basis(ds, max_examples=PCA_BASIS_EXAMPLES)
        if not isinstance(pca_basis, str):
            eigenvalues, eigenvectors = pca_basis
            basis = dict(eigenvalues=np.asarray(eigenvalues, np.float32),
                         eigenvectors=np.asarray(eigenvectors, np.float32))
        steps.append(lambda x, s: ops.pca_lighting(x, pca_lighting, s, **basis))
    if noise:
        steps.append(lambda x, s: ops.gaussian_noise(x, noise, s))
    if policy is not None:
        steps.append(policy.augment_batch)
    if cutout:
        steps.append(lambda x, s: random_ops.random_cutout(x, s, cutout, fill=fill))
    if random_erasing:
        steps.append(lambda x, s: random_ops.random_erasing(x, s, probability=random_erasing))
    return steps


def _run_uint8_steps(images, steps, seed):
    """float [0, 255] batch -> uint8 (3 channels) -> steps -> float, channels kept."""
    channels = images.shape[-1]
    pixels = tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)
    if channels == 1:
        pixels = tf.tile(pixels, [1, 1, 1, 3])
    for step, step_seed in zip(steps, tf.unstack(tf.random.split(seed, len(steps)))):
        pixels = step(pixels, step_seed)
    if channels == 1:
        pixels = pixels[..., :1]
    return tf.cast(pixels, tf.float32)


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
    checks.check_choice("resize", resize, EVAL_RESIZES)
    size = (height, width)

    def prepare(image, label):
        image = crops.convert_channels(tf.cast(image, tf.float32), channels)
        if resize == "center_crop":
            image = crops.center_crop(image, size)
        else:
            image = crops.resize_if_needed(image, size)
        image.set_shape([height, width, channels])
        return image, _one_hot(label, num_classes)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

def _one_hot(label, num_classes):
    # An out-of-range label would silently become an all-zero target.
    label = tf.cast(label, tf.int32)
    check = tf.debugging.assert_less(
        label, num_classes, message=f"label >= num_classes ({num_classes})"
    )
    with tf.control_dependencies([check, tf.debugging.assert_non_negative(label)]):
        return tf.one_hot(label, num_classes, dtype=tf.float32)


# ------------------------------------------------------------------ arguments


# ------------------------------------------------------------------ arguments


def _check_common(ds, batch_size, image_size, num_classes):
    """Checks the arguments both pipelines take; returns (height, width, channels)."""
    checks.check_int("batch_size", batch_size, minimum=1)
    checks.check_int("num_classes", num_classes, minimum=1)
    height, width, channels = checks.size_and_channels(image_size)
    check_examples(ds, channels)
    return height, width, channels



def check_examples(ds, channels):
    """Raises unless `ds` holds unbatched (image [H, W, 1 or 3], integer label) pairs."""
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

