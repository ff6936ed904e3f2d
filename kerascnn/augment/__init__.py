"""Augmentation: per-image ops and policies for tf.data, batch mixing, test-time views."""
