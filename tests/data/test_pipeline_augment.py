"""train_pipeline's augmentation options: epochs from (seed, epoch), policies, mixing, keras-cv."""

import numpy as np
import pytest
import tensorflow as tf

from kerascnn import data
from kerascnn.data import pipeline


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 24, 40, 3), dtype=np.uint8)
    labels = np.arange(10) % 4
    return images, labels


def _ds(small):
    return tf.data.Dataset.from_tensor_slices(small)


def _run(small, n_batches=None, **kwargs):
    args = dict(batch_size=4, image_size=(24, 40), num_classes=4, seed=3)
    args.update(kwargs)
    ds = data.train_pipeline(_ds(small), **args)
    if n_batches:
        ds = ds.take(n_batches)
    return [(x.numpy(), y.numpy()) for x, y in ds]


def _same(a, b):
    return all(np.array_equal(xa, xb) and np.array_equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))


AUGMENTED = dict(policy="trivial_augment", mix="mixup_cutmix", rotation=10.0, cutout=6)


def test_an_epoch_depends_on_seed_and_epoch_only(small):
    steps = data.steps_per_epoch(10, 4)
    assert steps == 3
    whole = _run(small, epochs=4, **AUGMENTED)
    assert len(whole) == 4 * steps
    resumed = _run(small, epochs=4, initial_epoch=2, **AUGMENTED)
    assert _same(whole[2 * steps:], resumed)  # a resumed run sees the same epochs 2 and 3
    assert not _same(whole[:steps], whole[steps : 2 * steps])  # epochs differ
    assert not _same(whole, _run(small, epochs=4, seed=4, **AUGMENTED))
    assert _same(whole, _run(small, epochs=4, **AUGMENTED))


def test_per_iteration_mode_redraws_each_epoch(small):
    ds = data.train_pipeline(_ds(small), batch_size=5, image_size=(24, 40), num_classes=4,
                             seed=1, policy="rand_augment", magnitude=0.5)
    first = np.concatenate([x for x, _ in ds])
    second = np.concatenate([x for x, _ in ds])
    assert first.shape == (10, 24, 40, 3) and not np.array_equal(first, second)


def test_policy_changes_images_and_keeps_labels(small):
    plain = _run(small, epochs=1, shuffle_buffer=0, crop="resize", flip=False)
    augmented = _run(small, epochs=1, shuffle_buffer=0, crop="resize", flip=False,
                     policy="rand_augment", num_ops=2, magnitude=0.8)
    x0 = np.concatenate([x for x, _ in plain])
    x1 = np.concatenate([x for x, _ in augmented])
    np.testing.assert_array_equal(x0, small[0].astype(np.float32))
    assert x1.dtype == np.float32 and x1.shape == x0.shape
    assert np.mean([not np.array_equal(a, b) for a, b in zip(x0, x1)]) > 0.5
    np.testing.assert_array_equal(np.concatenate([y for _, y in augmented]),
                                  np.concatenate([y for _, y in plain]))


def test_mixing_gives_soft_labels_that_sum_to_one(small):
    batches = _run(small, epochs=2, mix="mixup", mixup_alpha=1.0)
    labels = np.concatenate([y for _, y in batches])
    np.testing.assert_allclose(labels.sum(1), 1.0, atol=1e-6)
    assert ((labels > 0) & (labels < 1)).any()


@pytest.mark.parametrize("option", [
    dict(vertical_flip=True), dict(translation=0.2), dict(brightness=0.4, contrast=0.4),
    dict(saturation=0.4, hue=0.1), dict(pca_lighting=0.1), dict(noise=8.0),
    dict(random_erasing=1.0), dict(cutout=8), dict(mix="cutmix"),
    dict(pca_lighting=0.5, pca_basis=(np.array([0.3, 0.02, 0.01]), np.eye(3))),
])
def test_each_option_runs_and_changes_the_images(small, option):
    plain = _run(small, epochs=1, shuffle_buffer=0, crop="resize", flip=False)
    changed = _run(small, epochs=1, shuffle_buffer=0, crop="resize", flip=False, **option)
    x0 = np.concatenate([x for x, _ in plain])
    x1 = np.concatenate([x for x, _ in changed])
    assert x1.shape == x0.shape and x1.min() >= 0 and x1.max() <= 255
    assert not np.array_equal(x0, x1)


def test_grayscale_output_with_a_policy():
    images = np.random.default_rng(1).integers(0, 256, (6, 16, 16, 1), dtype=np.uint8)
    ds = tf.data.Dataset.from_tensor_slices((images, np.zeros(6, np.int64)))
    out = data.train_pipeline(ds, batch_size=6, image_size=(16, 16, 1), num_classes=2,
                              epochs=1, policy="trivial_augment")
    x, _ = next(iter(out))
    assert x.shape == (6, 16, 16, 1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(rotation=-5), "rotation"), (dict(hue=0.7), "hue"), (dict(random_erasing=2.0), "random_erasing"),
    (dict(mix="mixmatch"), "mix"), (dict(policy="autoaugment"), "policy"),
    (dict(keras_cv=("grid_mix",)), "grid_mix"), (dict(epochs=0), "epochs"),
    (dict(cutout=-1), "cutout"), (dict(magnitude=3.0), "magnitude"),
])
def test_bad_options_fail_at_build_time(small, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.train_pipeline(_ds(small), batch_size=4, image_size=(24, 40), num_classes=4, **kwargs)


@pytest.mark.parametrize("name", ["grid_mask", "random_crop_and_resize", "jittered_resize"])
def test_keras_cv_layers_run_inside_the_pipeline(small, name):
    pytest.importorskip("keras_cv")
    batches = _run(small, epochs=1, keras_cv=(name,), shuffle_buffer=0, crop="resize", flip=False)
    x = np.concatenate([b[0] for b in batches])
    assert x.shape == (10, 24, 40, 3) and np.isfinite(x).all()
    assert not np.array_equal(x, small[0].astype(np.float32))


def test_keras_cv_fourier_mix_inside_the_pipeline(small):
    pytest.importorskip("keras_cv")
    batches = _run(small, epochs=1, mix="fourier_mix")
    labels = np.concatenate([y for _, y in batches])
    np.testing.assert_allclose(labels.sum(1), 1.0, atol=1e-5)
    assert ((labels > 0) & (labels < 1)).any()


def test_steps_per_epoch():
    assert data.steps_per_epoch(10, 4) == 3
    assert data.steps_per_epoch(10, 4, drop_remainder=True) == 2
    with pytest.raises(ValueError, match="no batch"):
        pipeline.steps_per_epoch(3, 4, drop_remainder=True)
