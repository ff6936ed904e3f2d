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
    pca_basis=None,
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
        pca_basis: (eigenvalues, eigenvectors) from `augment.ops.
            pca_lighting_basis`; None: the ImageNet basis.
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

    Returns:
        A prefetched `tf.data.Dataset` of (float32 [B, H, W, C] in [0, 255],
        float32 [B, num_classes]).
    """
    from kerascnn.augment import keras_cv as keras_cv_lib
    from kerascnn.augment import mix as mix_lib
    from kerascnn.augment import ops, policies

    height, width, channels = _check_common(ds, batch_size, image_size, num_classes)
    _check_choice("crop", crop, CROPS)
    _check_int("padding", padding, minimum=0)
    _check_int("shuffle_buffer", shuffle_buffer, minimum=0)
    _check_int("seed", seed)
    _check_int("initial_epoch", initial_epoch, minimum=0)
    if epochs is not None:
        _check_int("epochs", epochs, minimum=initial_epoch + 1)
    _check_int("cutout", cutout, minimum=0)
    _check_int("num_ops", num_ops, minimum=0)
    for name, value, high in (
        ("rotation", rotation, 180), ("translation", translation, 1),
        ("brightness", brightness, None), ("contrast", contrast, None),
        ("saturation", saturation, None), ("hue", hue, 0.5),
        ("pca_lighting", pca_lighting, None), ("noise", noise, None),
        ("random_erasing", random_erasing, 1), ("mix_prob", mix_prob, 1),
        ("mix_switch_prob", mix_switch_prob, 1), ("magnitude", magnitude, 1),
        ("magnitude_std", magnitude_std, None),
    ):
        ops._check_range(value, name, 0, high)
    _check_choice("mix", mix, (*mix_lib.MIX_MODES, "fourier_mix"))
    keras_cv = keras_cv_lib.check_names(keras_cv)
    policy = policies.make_policy(policy, num_ops=num_ops, magnitude=magnitude,
                                  magnitude_std=magnitude_std, fill=fill)
    size = (height, width)
    uint8_steps = _uint8_steps(
        rotation=rotation, translation=translation, fill=fill, brightness=brightness,
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
            epoch_ds = _seeded_shuffle(epoch_ds, shuffle_buffer, shuffle_seed)
        epoch_ds = epoch_ds.enumerate().map(
            lambda i, example: augment(*example, _fold_in(example_seed, i)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        epoch_ds = epoch_ds.batch(batch_size, drop_remainder=drop_remainder)
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
    _check_int("num_examples", num_examples, minimum=1)
    _check_int("batch_size", batch_size, minimum=1)
    if drop_remainder:
        if num_examples < batch_size:
            raise ValueError(
                f"drop_remainder with {num_examples} examples and batch_size "
                f"{batch_size} leaves no batch."
            )
        return num_examples // batch_size
    return math.ceil(num_examples / batch_size)


def _seeded_shuffle(ds, buffer_size, seed):
    """`ds.shuffle(buffer_size)` seeded by a tensor [2] (e.g. per epoch).

    `Dataset.shuffle` takes only Python seeds; this calls its kernel with
    tensor seeds, through the public variant round trip.
    """
    specs = tf.nest.flatten(ds.element_spec)
    seed = tf.cast(seed, tf.int64)
    # (0, 0) would mean "nondeterministic" to the kernel.
    seed2 = tf.where(tf.equal(seed[1], 0), tf.constant(1, tf.int64), seed[1])
    variant = tf.raw_ops.ShuffleDatasetV3(
        input_dataset=tf.data.experimental.to_variant(ds),
        buffer_size=tf.constant(buffer_size, tf.int64), seed=seed[0], seed2=seed2,
        seed_generator=tf.raw_ops.DummySeedGenerator(), reshuffle_each_iteration=False,
        output_types=[s.dtype for s in specs], output_shapes=[s.shape for s in specs],
    )
    return tf.data.experimental.from_variant(variant, ds.element_spec)


def _fold_in(seed, value):
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(value, tf.int64))


def _uint8_steps(*, rotation, translation, fill, brightness, contrast, saturation, hue,
                 pca_lighting, pca_basis, noise, policy, cutout, random_erasing):
    """The uint8 transforms asked for, as (images [B, H, W, 3], seed) -> images."""
    from kerascnn.augment import ops

    steps = []
    if rotation:
        steps.append(lambda x, s: ops.random_rotation(x, s, rotation, fill=fill))
    if translation:
        steps.append(lambda x, s: ops.random_translation(x, s, translation, fill=fill))
    if brightness or contrast or saturation or hue:
        steps.append(lambda x, s: ops.color_jitter(
            x, s, brightness=brightness, contrast=contrast, saturation=saturation, hue=hue))
    if pca_lighting:
        basis = {}
        if pca_basis is not None:
            eigenvalues, eigenvectors = pca_basis
            basis = dict(eigenvalues=np.asarray(eigenvalues, np.float32),
                         eigenvectors=np.asarray(eigenvectors, np.float32))
        steps.append(lambda x, s: ops.pca_lighting(x, pca_lighting, s, **basis))
    if noise:
        steps.append(lambda x, s: ops.gaussian_noise(x, noise, s))
    if policy is not None:
        steps.append(policy.augment_batch)
    if cutout:
        steps.append(lambda x, s: ops.random_cutout(x, s, cutout, fill=fill))
    if random_erasing:
        steps.append(lambda x, s: ops.random_erasing(x, s, probability=random_erasing))
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
    count, total, outer = _pixel_moments(ds, max_examples, "compute_mean_std")
    mean = total / count
    # Var = E[x^2] - E[x]^2; float64 sums of values <= 255 keep this exact enough.
    std = np.sqrt(np.maximum(np.diag(outer) / count - mean**2, 0.0))
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def _images_only(ds):
    """The images of a dataset of images, (image, label, ...) tuples or dicts with "image"."""
    if isinstance(ds.element_spec, dict):
        return ds.map(lambda element: element["image"])
    if isinstance(ds.element_spec, tuple):
        return ds.map(lambda image, *_: image)
    return ds


def _pixel_moments(ds, max_examples=None, caller="_pixel_moments"):
    """(count, sum [C], sum of outer products [C, C]) over every pixel of a dataset.

    Sums in float64, as NumPy values, on the scale of the data. The images
    are the elements, or the first entry of (image, label) tuples, or the
    "image" entry of dicts (`_images_only`); [H, W, C] or batched. `max_examples` reads only
    the first this many elements; `caller` names the function in errors.
    """
    if max_examples is not None:
        _check_int("max_examples", max_examples, minimum=1)
        ds = ds.take(max_examples)
    ds = _images_only(ds)
    channels = ds.element_spec.shape[-1]
    if channels is None:
        raise ValueError(f"Images need a known channel count, got {ds.element_spec}.")

    def moments(image):
        x = tf.reshape(tf.cast(image, tf.float64), [-1, channels])
        return tf.cast(tf.shape(x)[0], tf.float64), tf.reduce_sum(x, 0), tf.matmul(
            x, x, transpose_a=True)

    count, total, outer = ds.map(moments, num_parallel_calls=tf.data.AUTOTUNE).reduce(
        (tf.constant(0.0, tf.float64), tf.zeros([channels], tf.float64),
         tf.zeros([channels, channels], tf.float64)),
        lambda acc, m: tuple(a + b for a, b in zip(acc, m)),
    )
    count = float(count)
    if count == 0:
        raise ValueError(f"{caller} got an empty dataset.")
    return count, total.numpy(), outer.numpy()


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


def _resize_to_cover(images, height, width):
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
        return images if new == (in_h, in_w) else _resize(images, new)
    shape = tf.cast(tf.shape(images)[-3:-1], tf.float32)
    scale = tf.maximum(
        tf.cast(height, tf.float32) / shape[0], tf.cast(width, tf.float32) / shape[1]
    )
    return _resize(images, tf.cast(tf.round(shape * scale), tf.int32))


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
    height, width, channels = _size_and_channels(image_size)
    _check_examples(ds, channels)
    return height, width, channels


def _image_size(image_size, name="image_size", channels=True):
    """An int or (H, W) (or (H, W, C) when `channels`) of positive ints, as a tuple."""
    size = (image_size, image_size) if _is_int(image_size) else image_size
    lengths = (2, 3) if channels else (2,)
    if (
        not isinstance(size, (tuple, list))
        or len(size) not in lengths
        or not all(_is_int(s) and s >= 1 for s in size)
    ):
        allowed = "(height, width) or (height, width, channels)" if channels else "(height, width)"
        raise ValueError(f"{name} must be a positive int or {allowed}; got {image_size!r}.")
    return tuple(int(s) for s in size)


def _size_and_channels(image_size):
    """(height, width, channels) of an `image_size` (3 channels unless given; 1 or 3)."""
    size = _image_size(image_size)
    height, width, channels = (*size, 3) if len(size) == 2 else size
    if channels not in (1, 3):
        raise ValueError(f"image_size asks for {channels} channels; allowed: 1 or 3.")
    return height, width, channels


def _check_examples(ds, channels):
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


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"Unknown {name} {value!r}; allowed: {', '.join(allowed)}.")


def _check_int(name, value, minimum=None):
    if not _is_int(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ValueError(f"{name} must be an int{bound}, got {value!r}.")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def compute_mean_image(ds, image_size, max_examples=None):
    """The per-pixel mean image of a dataset, at the evaluation pipeline's size.

    AlexNet's preprocessing (Krizhevsky et al. 2012, sec. 2) subtracts the
    mean training image, pixel by pixel, rather than a per-channel mean. Each
    image is prepared as `eval_pipeline(resize="resize")` prepares it:
    channels converted (1 -> 3 replicates gray, 3 -> 1 takes luma), then
    resized to `image_size` unless it has that size already. The sum is kept
    in float64, so the mean of many images loses nothing to rounding.
    For `layers.MeanImageNormalization`.

    Args:
        ds: unbatched dataset of (image [H, W, C], label) or of images
            [H, W, C] (a batched one [B, H, W, C] is unbatched first); images
            may differ in size.
        image_size: an int (square), (H, W) (3 channels) or (H, W, C).
        max_examples: read only the first this many images.

    Returns:
        float32 numpy array [H, W, C] on the scale of the data ([0, 255] for
        uint8 images).
    """
    height, width, channels = _size_and_channels(image_size)
    ds = _images_only(ds)
    spec = ds.element_spec
    if not isinstance(spec, tf.TensorSpec) or spec.shape.rank not in (3, 4):
        raise ValueError(
            f"compute_mean_image needs images [H, W, C] (or batches of them), "
            f"alone or as (image, label); the dataset's elements are {spec}."
        )
    if spec.shape.rank == 4:
        ds = ds.unbatch()
    if spec.shape[-1] not in (1, 3):
        raise ValueError(
            f"Cannot make {channels}-channel images from images of shape "
            f"{spec.shape}; the channel count must be 1 or 3."
        )
    if max_examples is not None:
        _check_int("max_examples", max_examples, minimum=1)
        ds = ds.take(max_examples)

    def prepare(image):
        image = _convert_channels(tf.cast(image, tf.float32), channels)
        image = _resize_if_needed(image, (height, width))
        image.set_shape([height, width, channels])
        return tf.cast(image, tf.float64)

    count, total = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).reduce(
        (tf.constant(0.0, tf.float64), tf.zeros([height, width, channels], tf.float64)),
        lambda acc, image: (acc[0] + 1.0, acc[1] + image),
    )
    count = float(count)
    if count == 0:
        raise ValueError("compute_mean_image got an empty dataset.")
    return (total.numpy() / count).astype(np.float32)
