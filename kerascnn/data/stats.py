"""Dataset statistics: per-channel mean and std, the mean image, the PCA lighting basis.

Each reads a `tf.data.Dataset` once, summing in float64, on the scale of the
data ([0, 255] for uint8 images): `compute_mean_std` for `ImageNormalization`
(and `preprocessing="dataset"`), `compute_mean_image` for AlexNet's
`MeanImageNormalization`, `pca_lighting_basis` for `augment.ops.pca_lighting`.
"""

import numpy as np
import tensorflow as tf

from kerascnn import _checks as checks
from kerascnn.augment import crops


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
    count, total, outer = pixel_moments(ds, max_examples, "compute_mean_std")
    mean = total / count
    # Var = E[x^2] - E[x]^2; float64 sums of values <= 255 keep this exact enough.
    std = np.sqrt(np.maximum(np.diag(outer) / count - mean**2, 0.0))
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def images_only(ds):
    """The images of a dataset of images, (image, label, ...) tuples or dicts with "image"."""
    if isinstance(ds.element_spec, dict):
        return ds.map(lambda element: element["image"])
    if isinstance(ds.element_spec, tuple):
        return ds.map(lambda image, *_: image)
    return ds


def pixel_moments(ds, max_examples=None, caller="pixel_moments"):
    """(count, sum [C], sum of outer products [C, C]) over every pixel of a dataset.

    Sums in float64, as NumPy values, on the scale of the data. The images
    are the elements, or the first entry of (image, label) tuples, or the
    "image" entry of dicts (`images_only`); [H, W, C] or batched. `max_examples` reads only
    the first this many elements; `caller` names the function in errors.
    """
    if max_examples is not None:
        checks.check_int("max_examples", max_examples, minimum=1)
        ds = ds.take(max_examples)
    ds = images_only(ds)
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
    height, width, channels = checks.size_and_channels(image_size)
    ds = images_only(ds)
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
        checks.check_int("max_examples", max_examples, minimum=1)
        ds = ds.take(max_examples)

    def prepare(image):
        image = crops.convert_channels(tf.cast(image, tf.float32), channels)
        image = crops.resize_if_needed(image, (height, width))
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
    count, total, outer = pixel_moments(ds, max_examples, "pca_lighting_basis")
    mean = total / count / 255.0
    covariance = outer / count / 255.0**2 - np.outer(mean, mean)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], eigenvectors[:, order]
