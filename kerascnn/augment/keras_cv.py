"""Augmentations that only keras-cv has, offered as config choices.

keras-cv is frozen upstream (its last release, 0.9.0, predates Keras 3.15),
kerascnn's own RandAugment and CutMix are faster than keras-cv's and its
Mixup is on par (README, "Augmentation speed"; `python tools/benchmark.py
augment`), and keras-cv has no TrivialAugment. keras-cv still holds augmentations Keras core lacks; these four
are reachable from the training config when the optional extra is installed:

    pip install "kerascnn[keras-cv]"

- image level, after batching (`augment.keras_cv = ("grid_mask", ...)`):
  GridMask (Chen et al. 2020), RandomCropAndResize (an Inception crop done on
  the batch), JitteredResize (scale jitter then a crop back to the size);
- batch mixing (`augment.mix = "fourier_mix"`): FourierMix (Harris et al.
  2020), which mixes labels by the mask's mean like CutMix.

They draw from keras-cv's own seeded generators, not from kerascnn's
per-example stateless seeds: a run using them is reproducible in one process
but not resumable to the same augmented epoch.
"""

KERAS_CV_LAYERS = ("grid_mask", "random_crop_and_resize", "jittered_resize")
INSTALL_HINT = 'pip install "kerascnn[keras-cv]"'


def import_keras_cv():
    """keras_cv, or an ImportError saying how to get it."""
    try:
        import keras_cv
    except ImportError as error:
        raise ImportError(
            f"This augmentation comes from keras-cv, an optional dependency: {INSTALL_HINT}"
        ) from error
    return keras_cv


def check_names(names):
    """Validates a tuple of KERAS_CV_LAYERS names (early, without importing keras-cv)."""
    names = (names,) if isinstance(names, str) else tuple(names)
    unknown = [n for n in names if n not in KERAS_CV_LAYERS]
    if unknown:
        raise ValueError(f"Unknown keras_cv augmentation(s) {unknown}; allowed: {KERAS_CV_LAYERS}.")
    return names


def make_layer(name, image_size, seed=None):
    """The keras-cv layer for `name`, for float batches [B, H, W, 3] in [0, 255].

    Args:
        name: one of KERAS_CV_LAYERS.
        image_size: (height, width) of the batches (crops come back to it).
        seed: the layer's seed.
    """
    (name,) = check_names(name)
    keras_cv = import_keras_cv()
    size = tuple(int(s) for s in image_size)
    if name == "grid_mask":
        # keras-cv's defaults (ratio up to 0.5, rotation 0.15 of a turn).
        return keras_cv.layers.GridMask(
            ratio_factor=(0.0, 0.5), rotation_factor=0.15, fill_mode="constant",
            fill_value=0.0, seed=seed,
        )
    if name == "random_crop_and_resize":
        return keras_cv.layers.RandomCropAndResize(
            target_size=size, crop_area_factor=(0.08, 1.0),
            aspect_ratio_factor=(3 / 4, 4 / 3), seed=seed,
        )
    return keras_cv.layers.JitteredResize(target_size=size, scale_factor=(0.8, 1.25), seed=seed)


def make_fourier_mix(alpha=0.5, decay_power=3.0, seed=None):
    """FourierMix as a batch mixer `fn(images, labels, seed) -> (images, labels)`.

    The per-batch `seed` argument is ignored (keras-cv draws from its own
    generator, seeded by `seed` here).
    """
    keras_cv = import_keras_cv()
    layer = keras_cv.layers.FourierMix(alpha=alpha, decay_power=decay_power, seed=seed)

    def mixer(images, labels, _seed=None):
        out = layer({"images": images, "labels": labels})
        return out["images"], out["labels"]

    return mixer
