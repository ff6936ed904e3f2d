"""config.data.classes: a subset of the classes, relabelled in the given order."""

import numpy as np
import pytest
import tensorflow as tf

from kerascnn import data


def test_select_classes_matches_a_numpy_mask_and_relabelling():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 200).astype(np.int32)
    images = np.arange(200, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 1), np.uint8)
    ds = data.select_classes(tf.data.Dataset.from_tensor_slices((images, labels)), (7, 2, 5))
    got = list(ds.as_numpy_iterator())
    keep = np.isin(labels, [7, 2, 5])
    expected_labels = np.select([labels == 7, labels == 2, labels == 5], [0, 1, 2])[keep]
    assert int(ds.cardinality()) == keep.sum() == len(got)
    np.testing.assert_array_equal([g[1] for g in got], expected_labels)
    np.testing.assert_array_equal([g[0][0, 0, 0] for g in got], np.flatnonzero(keep))


def test_subset_info_renames_and_checks_the_classes():
    info = data.info("digits")
    sub = data.subset_info(info, (5, 6, 7, 8, 9))
    assert (sub.num_classes, sub.class_names) == (5, ("5", "6", "7", "8", "9"))
    with pytest.raises(ValueError, match=r"names \[10\], but the dataset's classes are 0..9"):
        data.subset_info(info, (9, 10))
    with pytest.raises(ValueError, match="at least 2 distinct"):
        data.subset_info(info, (3, 3))
