"""A subset of a dataset's classes, relabelled 0..len-1 (config.data.classes).

Transfer learning trains a backbone on some classes and its new head on
others (docs/training.md, "Transfer learning").
"""

import dataclasses

import numpy as np
import tensorflow as tf


def check_classes(classes, num_classes, what="classes"):
    """Raises a ValueError unless `classes` lists distinct labels of a dataset of
    `num_classes` classes, at least two of them."""
    if (isinstance(classes, (str, bytes)) or not hasattr(classes, "__len__")
            or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool)
                       for c in classes)):
        raise ValueError(f"{what} must be a tuple of class indices, got {classes!r}.")
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"{what} must list at least 2 distinct class indices, got {classes!r}.")
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise ValueError(f"{what}={tuple(classes)!r} names {bad}, but the dataset's classes "
                         f"are 0..{num_classes - 1}.")


def select_classes(ds, classes):
    """The (image, label) examples of `ds` whose label is in `classes`, in their
    order, the label replaced by its position in `classes`.

    The result's cardinality is known (one pass over the labels counts it),
    so the training spine can size its epochs.
    """
    classes = [int(c) for c in classes]
    table = np.full(max(classes) + 1, -1, np.int32)
    table[classes] = np.arange(len(classes), dtype=np.int32)
    lookup = tf.constant(table)
    size = len(table)

    def new_label(label):
        inside = tf.logical_and(label >= 0, label < size)
        return tf.where(inside, tf.gather(lookup, tf.clip_by_value(label, 0, size - 1)), -1)

    ds = ds.map(lambda image, label: (image, new_label(label)), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.filter(lambda image, label: label >= 0)
    count = int(ds.map(lambda image, label: label).reduce(0, lambda n, _: n + 1))
    return ds.apply(tf.data.experimental.assert_cardinality(count))


def subset_info(info, classes):
    """`info` (a DatasetInfo) of the subset of `classes`: their count and names.
    Its `splits` is empty: a split's size is known once `select_classes` has
    counted it."""
    check_classes(classes, info.num_classes)
    names = tuple(info.class_names[c] for c in classes) if info.class_names else ()
    return dataclasses.replace(info, num_classes=len(classes), class_names=names, splits={})
