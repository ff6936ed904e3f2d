"""Predictions for any number of images, also under a `tf.distribute` strategy.

    logits = predict(model, images, batch_size=64)    # [N, classes], N any count

Under a strategy with R replicas, Keras splits each batch across the
replicas, and a batch that leaves some replica empty fails: measured on this
CPU (TF 2.21, Keras 3.15), 1 or 33 images in batches of 4 on 2 replicas give
a wrongly shaped oneDNN convolution output (and, with synchronized BN,
poison the collectives for the rest of the process); a first batch that does
not split evenly gives an AddN shape error. Padding the count to a multiple
of R is not enough. So every batch here has the same size, a multiple of R:
the last one is filled up with copies of the last image, and the outputs of
the copies are dropped. Without a strategy (R = 1) it is `model.predict`.
"""

import math

import keras
import numpy as np

from kerascnn import _checks


def replicas(strategy=None, model=None):
    """The replicas of `strategy`, else of the strategy `model` was built under, else of
    the current `tf.distribute` strategy (TensorFlow backend); 1 under other backends."""
    if strategy is None and keras.backend.backend() != "tensorflow":
        return 1
    if strategy is None and model is not None:
        strategy = getattr(model, "distribute_strategy", None)
    if strategy is None:
        import tensorflow as tf

        strategy = tf.distribute.get_strategy()
    return int(strategy.num_replicas_in_sync)


def padded_batch_size(batch_size, num_replicas):
    """`batch_size` rounded up to a multiple of `num_replicas` (at least one each)."""
    _checks.check_int("batch_size", batch_size, minimum=1)
    _checks.check_int("num_replicas", num_replicas, minimum=1)
    return math.ceil(batch_size / num_replicas) * num_replicas


def pad_to_batches(images, batch_size):
    """(`images` with copies of the last one appended so that their count is a multiple
    of `batch_size`, the original count)."""
    images = np.asarray(images)
    n = len(images)
    if n == 0:
        raise ValueError("predict needs at least one image; got an empty array.")
    extra = -n % batch_size
    if extra:
        images = np.concatenate([images, np.repeat(images[-1:], extra, axis=0)])
    return images, n


def predict(model, images, batch_size=32, strategy=None):
    """`model`'s outputs for every one of `images`, in order, whatever their count.

    Args:
        model: a Keras model with one output (built under `strategy`'s scope when
            there is one).
        images: an array [N, ...] of inputs, N >= 1.
        batch_size: images per step before rounding up to a multiple of the
            replicas.
        strategy: a `tf.distribute` strategy (default: the current one).

    Returns:
        NumPy [N, ...]: the same rows as a single-device `model.predict(images)`.
    """
    num_replicas = replicas(strategy, model)
    if num_replicas == 1:
        _checks.check_int("batch_size", batch_size, minimum=1)
        return np.asarray(model.predict(images, batch_size=batch_size, verbose=0))
    step = padded_batch_size(batch_size, num_replicas)
    padded, n = pad_to_batches(images, step)
    if strategy is not None:
        with strategy.scope():
            out = model.predict(padded, batch_size=step, verbose=0)
    else:
        out = model.predict(padded, batch_size=step, verbose=0)
    return np.asarray(out)[:n]
