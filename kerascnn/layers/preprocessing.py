"""Input normalization that lives inside the model, so exports take raw images."""

import keras
import numpy as np
from keras import ops

# Per-channel mean and standard deviation of each dataset's training images,
# on the [0, 255] scale, in RGB order: the `preprocessing` presets by dataset.
DATASET_STATS = {
    # torchvision's ImageNet statistics (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) x 255.
    "imagenet": ((0.485 * 255, 0.456 * 255, 0.406 * 255), (0.229 * 255, 0.224 * 255, 0.225 * 255)),
    # The 50,000 CIFAR-10 / CIFAR-100 training images, population std (the values
    # of the common CIFAR training scripts: 0.4914, 0.4822, 0.4465 / 0.2470,
    # 0.2435, 0.2616 and 0.5071, 0.4865, 0.4409 / 0.2673, 0.2564, 0.2762 x 255).
    "cifar10": ((125.307, 122.950, 113.865), (62.993, 62.089, 66.705)),
    "cifar100": ((129.304, 124.070, 112.434), (68.170, 65.392, 70.418)),
    # The 1,437 training digits of `kerascnn.data.load("digits")` (32x32, grey as RGB);
    # tests/data/test_stats.py checks them against NumPy.
    "digits": ((77.886,) * 3, (82.507,) * 3),
}
# keras.applications "caffe" mode: BGR order, mean subtracted, no scaling.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

PRESETS = (*DATASET_STATS, "caffe", "tf", "none")


@keras.saving.register_keras_serializable(package="kerascnn")
class ImageNormalization(keras.layers.Layer):
    """y = (x[..., order] - mean) / std, per channel, for images in [0, 255].

    Args:
        mean: per-channel means (after the optional channel reversal).
        std: per-channel standard deviations.
        reverse_channels: RGB -> BGR first (keras.applications "caffe" mode).
    """

    def __init__(self, mean, std, reverse_channels=False, **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != len(self.std):
            raise ValueError(
                f"mean and std need one value per channel; got {len(self.mean)} "
                f"means and {len(self.std)} stds."
            )
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std values must be > 0, got {self.std}.")
        self.reverse_channels = bool(reverse_channels)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels != len(self.mean):
            raise ValueError(
                f"ImageNormalization has {len(self.mean)} channel statistics but "
                f"the input has {channels} channels (shape {tuple(input_shape)})."
            )

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.reverse_channels:
            x = ops.flip(x, axis=-1)
        mean = ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)
        inv_std = ops.convert_to_tensor(
            [1.0 / s for s in self.std], dtype=self.compute_dtype
        )
        return (x - mean) * inv_std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            mean=list(self.mean), std=list(self.std),
            reverse_channels=self.reverse_channels,
        )
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class MeanImageNormalization(keras.layers.Layer):
    """y = (x - mean_image) / std: AlexNet's mean-image subtraction.

    AlexNet (Krizhevsky et al. 2012) subtracts the mean training image pixel
    by pixel (`kerascnn.data.compute_mean_image` computes it), so the input
    must have the mean image's height, width and channels.

    Args:
        mean_image: [H, W, C] on the scale of the input ([0, 255]).
        std: per-channel standard deviations (C values), or None for no
            scaling (AlexNet subtracts the mean only).
    """

    def __init__(self, mean_image, std=None, **kwargs):
        super().__init__(**kwargs)
        mean_image = np.asarray(mean_image, dtype=np.float32)
        if mean_image.ndim != 3 or 0 in mean_image.shape:
            raise ValueError(
                f"mean_image must be an array [H, W, C]; got shape {mean_image.shape}."
            )
        if not np.all(np.isfinite(mean_image)):
            raise ValueError("mean_image holds NaN or infinite values.")
        self.mean_image = mean_image
        channels = mean_image.shape[-1]
        if std is None:
            self.std = None
        else:
            try:
                self.std = tuple(float(s) for s in std)
            except TypeError:
                raise ValueError(
                    f"std must be {channels} per-channel values or None; got {std!r}."
                ) from None
            if len(self.std) != channels:
                raise ValueError(
                    f"std needs one value per channel of the mean image ({channels}); "
                    f"got {len(self.std)}: {self.std}."
                )
            if not all(s > 0 for s in self.std):
                raise ValueError(f"std values must be > 0, got {self.std}.")

    def build(self, input_shape):
        expected = tuple(self.mean_image.shape)
        got = tuple(input_shape[1:])
        # A None height or width would leave the subtraction to broadcast (or
        # fail) at call time; the mean image fixes the input size, so say so now.
        if len(got) != 3 or got != expected:
            raise ValueError(
                f"MeanImageNormalization has a mean image of shape {expected} "
                f"(H, W, C) but the input has shape {tuple(input_shape)}; the "
                f"input must be [batch, {expected[0]}, {expected[1]}, {expected[2]}]."
            )

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        x = x - ops.convert_to_tensor(self.mean_image, dtype=self.compute_dtype)
        if self.std is None:
            return x
        inv_std = ops.convert_to_tensor(
            [1.0 / s for s in self.std], dtype=self.compute_dtype
        )
        return x * inv_std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            mean_image=self.mean_image.tolist(),
            std=None if self.std is None else list(self.std),
        )
        return config


def normalization_layer(preprocessing, channels, name="normalize"):
    """The normalization layer for a builder's `preprocessing` argument, or None.

    Args:
        preprocessing: a dataset's per-channel mean/std (`DATASET_STATS`:
            "imagenet" (torchvision's), "cifar10", "cifar100", "digits"), "caffe"
            (keras.applications caffe mode: BGR, mean subtracted), "tf"
            (scale to [-1, 1]), "none"/None (identity), a pair (mean, std)
            of per-channel values on the [0, 255] scale (an
            `ImageNormalization`), or a dict {"mean_image": [H, W, C] array,
            "std": per-channel values or None} (a `MeanImageNormalization`;
            the model input must be H x W x C).
        channels: the number of input channels.
    """
    if preprocessing is None or preprocessing == "none":
        return None
    if isinstance(preprocessing, dict):
        return _mean_image_layer(preprocessing, channels, name)
    if isinstance(preprocessing, str):
        if preprocessing not in PRESETS:
            raise ValueError(
                f"Unknown preprocessing {preprocessing!r}; allowed: {PRESETS} "
                "or a (mean, std) pair of per-channel values in [0, 255]."
            )
        if preprocessing == "tf":
            return ImageNormalization([127.5] * channels, [127.5] * channels, name=name)
        if channels != 3:
            raise ValueError(
                f"preprocessing={preprocessing!r} is defined for 3-channel RGB "
                f"input, but the model input has {channels} channels; pass a "
                "(mean, std) pair instead."
            )
        if preprocessing == "caffe":
            return ImageNormalization(
                CAFFE_MEAN_BGR, (1.0, 1.0, 1.0), reverse_channels=True, name=name
            )
        return ImageNormalization(*DATASET_STATS[preprocessing], name=name)
    try:
        mean, std = preprocessing
        mean, std = [float(m) for m in mean], [float(s) for s in std]
    except (TypeError, ValueError):
        raise ValueError(
            f"preprocessing must be one of {PRESETS} or a (mean, std) pair; "
            f"got {preprocessing!r}."
        ) from None
    return ImageNormalization(mean, std, name=name)


def _mean_image_layer(preprocessing, channels, name):
    allowed = ("mean_image", "std")
    unknown = sorted(set(preprocessing) - set(allowed))
    if unknown or "mean_image" not in preprocessing:
        raise ValueError(
            f"A preprocessing dict takes the keys {allowed} (mean_image required); "
            f"got {sorted(preprocessing)}."
        )
    mean_image = np.asarray(preprocessing["mean_image"], dtype=np.float32)
    if mean_image.ndim == 3 and mean_image.shape[-1] != channels:
        raise ValueError(
            f"The mean image has shape {mean_image.shape} ({mean_image.shape[-1]} "
            f"channels) but the model input has {channels} channels."
        )
    return MeanImageNormalization(mean_image, preprocessing.get("std"), name=name)
