"""A validation set held out of a training split, the same examples every run.

    train, validation = hold_out(data.load("digits", "train"), 0.1, num_examples=1437)

The held-out examples are spread evenly through the split: example i (from 0)
is held out when floor((i + 1) f) > floor(i f), so exactly floor(N f) of N
examples are, one in every 1/f, with no shuffle buffer and no pass over the
data first. A split stored sorted by class (an image folder) still gives a
validation set with every class in its share.
"""

import math

import tensorflow as tf

from kerascnn import _checks


def held_out_count(num_examples, fraction):
    """How many of `num_examples` `hold_out` holds out: floor(N f)."""
    return int(math.floor(num_examples * float(fraction)))


def hold_out(ds, fraction, num_examples=None):
    """(kept, held out): `ds` split into two datasets, deterministically.

    Args:
        ds: an unbatched dataset (e.g. `data.load`'s (image, label) examples).
        fraction: the share held out, in [0, 1).
        num_examples: the number of examples of `ds`, when its cardinality is
            unknown (image folders); both outputs then report their sizes.

    Returns:
        (kept, held_out), in the order of `ds`.
    """
    f = _checks.check_range(fraction, "fraction", 0.0, 1.0)
    if f >= 1.0:
        raise ValueError(f"fraction must be a number in [0, 1), got {fraction!r}: "
                         "holding out every example leaves nothing to train on.")
    if num_examples is None and int(ds.cardinality()) >= 0:
        num_examples = int(ds.cardinality())

    def held(i, _):
        i = tf.cast(i, tf.float64)
        return tf.math.floor((i + 1.0) * f) > tf.math.floor(i * f)

    indexed = ds.enumerate()
    kept = indexed.filter(lambda i, x: tf.logical_not(held(i, x))).map(lambda _, x: x)
    out = indexed.filter(held).map(lambda _, x: x)
    if num_examples is not None:
        n_out = held_out_count(num_examples, f)
        kept = kept.apply(tf.data.experimental.assert_cardinality(num_examples - n_out))
        out = out.apply(tf.data.experimental.assert_cardinality(n_out))
    return kept, out
