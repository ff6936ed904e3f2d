"""Dataset statistics against NumPy, and the dataset presets they give."""

import numpy as np
import pytest

from kerascnn import data
from kerascnn.layers import DATASET_STATS, normalization_layer


def test_digits_preset_is_the_training_digits_mean_and_std():
    images = np.stack([x.numpy() for x, _ in data.load("digits", "train")]).astype(np.float64)
    assert images.shape == (1437, 32, 32, 3)
    mean, std = DATASET_STATS["digits"]
    np.testing.assert_allclose(mean, images.mean(axis=(0, 1, 2)), atol=1e-3)
    np.testing.assert_allclose(std, images.std(axis=(0, 1, 2)), atol=1e-3)
    computed = data.compute_mean_std(data.load("digits", "train"))
    np.testing.assert_allclose(computed, (mean, std), atol=1e-3)


@pytest.mark.parametrize("preset", sorted(DATASET_STATS))
def test_presets_normalize_with_their_statistics(preset):
    mean, std = (np.asarray(v) for v in DATASET_STATS[preset])
    assert mean.shape == std.shape == (3,) and np.all(std > 0) and np.all(mean < 255)
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(normalization_layer(preset, 3)(x)), (x - mean) / std,
                               rtol=1e-5, atol=1e-5)
