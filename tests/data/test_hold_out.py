"""data.hold_out: a validation share of a training split, the same every run."""

import numpy as np
import pytest
import tensorflow as tf

from kerascnn import data


def _indices(ds):
    return [int(x) for x in ds.as_numpy_iterator()]


@pytest.mark.parametrize("n, fraction", [(1437, 0.1), (1437, 0.2), (100, 0.25), (7, 0.5), (10, 0.0),
                                         (1000, 1 / 3)])
def test_exactly_floor_n_f_held_out_evenly_and_disjoint(n, fraction):
    kept, out = data.hold_out(tf.data.Dataset.range(n), fraction)
    kept, out = _indices(kept), _indices(out)
    assert len(out) == int(np.floor(n * fraction))
    assert sorted(kept + out) == list(range(n))  # a partition, each side in order
    assert kept == sorted(kept) and out == sorted(out)
    if len(out) > 1:
        # Evenly spread: consecutive held-out indices are 1/f apart, up to rounding.
        gaps = np.diff(out)
        assert gaps.min() >= np.floor(1 / fraction) and gaps.max() <= np.ceil(1 / fraction)


def test_cardinality_is_known_on_both_sides():
    kept, out = data.hold_out(data.load("digits", "train"), 0.2)
    assert (int(kept.cardinality()), int(out.cardinality())) == (1150, 287)
    # An unknown-size dataset (an image folder's) gets its sizes from num_examples.
    unknown = tf.data.Dataset.range(50).filter(lambda x: True)
    kept, out = data.hold_out(unknown, 0.1, num_examples=50)
    assert (int(kept.cardinality()), int(out.cardinality())) == (45, 5)


def test_every_digit_class_is_in_the_held_out_share():
    _, out = data.hold_out(data.load("digits", "train"), 0.2)
    counts = np.bincount([int(label) for _, label in out.as_numpy_iterator()], minlength=10)
    assert counts.min() >= 15, counts  # 287 held out: ~29 of each of the 10 classes


@pytest.mark.parametrize("fraction", [1.0, -0.1, "0.1", True])
def test_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction must be a number in"):
        data.hold_out(tf.data.Dataset.range(10), fraction)
