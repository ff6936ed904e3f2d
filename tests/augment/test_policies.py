"""RandAugment / TrivialAugment: op tables, sampling apart from applying, determinism."""

import numpy as np
import pytest
import tensorflow as tf

from kerascnn.augment import layers, ops, policies


def _images(n=8, height=20, width=28, seed=0):
    rng = np.random.default_rng(seed)
    # Smooth-ish content so every op changes something.
    base = rng.integers(0, 256, (n, height // 4 + 1, width // 4 + 1, 3)).astype(np.uint8)
    return tf.constant(base.repeat(4, 1).repeat(4, 2)[:, :height, :width])


SEED = tf.constant([3, 4], tf.int64)


@pytest.mark.parametrize("table", [policies.RAND_AUGMENT_OPS, policies.TRIVIAL_AUGMENT_WIDE_OPS,
                                   policies.EXTRA_OPS], ids=["rand", "trivial", "extra"])
def test_forcing_each_index_runs_exactly_that_op(table):
    images = _images(4)
    names = list(table)
    for k, name in enumerate(names):
        spec = table[name]
        sample = policies.Sample(
            indices=tf.fill([4, 1], k), magnitudes=tf.fill([4, 1], 0.7), signs=tf.fill([4, 1], -1.0))
        got = policies.apply_ops(images, sample, table, SEED).numpy()
        level = 1.0 if spec.max_level is None else -0.7 * spec.max_level if spec.signed \
            else 0.7 * spec.max_level
        if name in ("gaussian_noise", "pca_lighting", "cutout"):  # they draw: changed, kept shape
            assert got.shape == images.shape and not np.array_equal(got, images.numpy()), name
        else:
            direct = spec.function(images, level, None).numpy()
            np.testing.assert_array_equal(got, direct, err_msg=name)


def test_each_image_gets_its_own_op():
    table = policies.RAND_AUGMENT_OPS
    images = _images(len(table))
    indices = tf.range(len(table))[::-1][:, None]  # image b runs op (13 - b)
    sample = policies.Sample(indices, tf.fill([len(table), 1], 0.5), tf.ones([len(table), 1]))
    got = policies.apply_ops(images, sample, table, SEED).numpy()
    for b, k in enumerate(indices[:, 0].numpy()):
        spec = list(table.values())[k]
        level = 1.0 if spec.max_level is None else 0.5 * spec.max_level
        want = spec.function(images[b : b + 1], level, None).numpy()
        np.testing.assert_array_equal(got[b : b + 1], want, err_msg=list(table)[k])


def test_same_seed_same_output_other_seed_other_output():
    images = _images(16)
    for policy in (layers.RandAugment(num_ops=2, magnitude=0.5), layers.TrivialAugmentWide()):
        a = policy.augment_batch(images, [1, 2]).numpy()
        b = policy.augment_batch(images, [1, 2]).numpy()
        c = policy.augment_batch(images, [1, 3]).numpy()
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
        assert a.dtype == np.uint8 and a.shape == images.shape


def test_eager_equals_tf_data():
    images = _images(6)
    for policy in (layers.RandAugment(num_ops=3, magnitude=0.4, magnitude_std=0.2),
                   layers.TrivialAugmentWide()):
        eager = policy.augment_batch(images, SEED).numpy()
        ds = tf.data.Dataset.from_tensors(images).map(lambda x: policy.augment_batch(x, SEED))
        np.testing.assert_array_equal(next(iter(ds)).numpy(), eager)
        single = tf.data.Dataset.from_tensor_slices(images).map(
            lambda x: policy.augment(x, SEED))
        for i, out in enumerate(single):
            np.testing.assert_array_equal(out.numpy(), policy.augment(images[i], SEED).numpy())


def test_per_image_form_equals_a_batch_of_one():
    """`augment` (a switch per op, run as a call of the drawn op) gives what
    `augment_batch` gives the image alone, in tf.data and eagerly, for every op."""
    images = _images(12)
    for policy in (layers.RandAugment(num_ops=3, magnitude=0.7, magnitude_std=0.3,
                                      ops=list(policies.ALL_OPS)),
                   layers.TrivialAugmentWide()):
        seeds = tf.stack([tf.range(12, dtype=tf.int64), tf.fill([12], tf.constant(5, tf.int64))], 1)
        per_image = tf.data.Dataset.from_tensor_slices((images, seeds)).map(policy.augment)
        for i, out in enumerate(per_image):
            alone = policy.augment_batch(images[i:i + 1], seeds[i])[0].numpy()
            np.testing.assert_array_equal(out.numpy(), alone)
            np.testing.assert_array_equal(policy.augment(images[i], seeds[i]).numpy(), alone)


def test_dynamic_shapes_in_a_graph():
    policy = layers.TrivialAugmentWide()
    fn = tf.function(policy.augment_batch, input_signature=[
        tf.TensorSpec([None, None, None, 3], tf.uint8), tf.TensorSpec([2], tf.int64)])
    images = _images(5, 17, 23)
    np.testing.assert_array_equal(fn(images, SEED).numpy(), policy.augment_batch(images, SEED).numpy())


def test_rand_augment_with_no_ops_is_the_identity():
    images = _images(4)
    out = layers.RandAugment(num_ops=0).augment_batch(images, SEED)
    np.testing.assert_array_equal(out.numpy(), images.numpy())


def test_magnitude_zero_is_the_identity_for_every_op_with_a_strength():
    with_strength = [n for n, s in policies.ALL_OPS.items() if s.max_level is not None]
    policy = layers.RandAugment(num_ops=4, magnitude=0.0, ops=with_strength)
    images = _images(32)
    np.testing.assert_array_equal(policy.augment_batch(images, SEED).numpy(), images.numpy())


def test_levels_follow_the_tables():
    m = tf.constant([0.0, 0.5, 1.0])
    s = tf.constant([1.0, -1.0, -1.0])
    rotate = policies.RAND_AUGMENT_OPS["rotate"]
    np.testing.assert_allclose(policies.op_level(rotate, m, s).numpy(), [0, -15, -30])
    posterize = policies.TRIVIAL_AUGMENT_WIDE_OPS["posterize"]  # unsigned: sign ignored
    np.testing.assert_allclose(policies.op_level(posterize, m, s).numpy(), [0, 3, 6])
    np.testing.assert_allclose(policies.op_level(policies.RAND_AUGMENT_OPS["equalize"], m, s), 1)
    # torchvision's maxima (RandAugment at 31 bins; TrivialAugmentWide).
    assert policies.RAND_AUGMENT_OPS["shear_x"].max_level == 0.3
    assert policies.RAND_AUGMENT_OPS["translate_x"].max_level == pytest.approx(150 / 331)
    assert policies.TRIVIAL_AUGMENT_WIDE_OPS["rotate"].max_level == 135.0
    assert policies.TRIVIAL_AUGMENT_WIDE_OPS["translate_y"].max_level == 32.0
    assert policies.TRIVIAL_AUGMENT_WIDE_OPS["color"].max_level == 0.99


def test_relative_translate_is_a_fraction_of_the_width():
    images = _images(2, 16, 40)
    spec = policies.RAND_AUGMENT_OPS["translate_x"]
    got = spec.function(images, 0.25, None)
    want = ops.translate_x(images, 10.0, None)  # 0.25 * 40 pixels
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def _chi_square(counts):
    counts = np.asarray(counts, np.float64)
    expected = counts.sum() / len(counts)
    return ((counts - expected) ** 2 / expected).sum()


def test_trivial_augment_ops_and_strengths_are_uniform():
    n = 10_000
    sample = policies.sample_trivial_augment(tf.constant([7, 7]), n, 14, layers.TRIVIAL_AUGMENT_BINS)
    ops_drawn = sample.indices.numpy().ravel()
    bins = np.round(sample.magnitudes.numpy().ravel() * 30).astype(int)
    # chi-square critical values at p = 0.001: df 13 -> 34.53, df 30 -> 59.70.
    assert _chi_square(np.bincount(ops_drawn, minlength=14)) < 34.53
    assert _chi_square(np.bincount(bins, minlength=31)) < 59.70
    signs = sample.signs.numpy().ravel()
    assert set(np.unique(signs)) == {-1.0, 1.0} and abs(signs.mean()) < 0.05


def test_trivial_augment_op_bin_and_sign_are_jointly_uniform():
    # One draw gives all three: every (op, bin, sign) cell equally likely.
    from scipy import stats

    n, ops_, bins = 60_000, 14, 31
    sample = policies.sample_trivial_augment(tf.constant([3, 9]), n, ops_, bins)
    cell = (
        sample.indices.numpy().ravel() * bins * 2
        + np.round(sample.magnitudes.numpy().ravel() * (bins - 1)).astype(int) * 2
        + (sample.signs.numpy().ravel() > 0)
    )
    cells = ops_ * bins * 2
    assert _chi_square(np.bincount(cell, minlength=cells)) < stats.chi2.ppf(0.999, cells - 1)


def test_rand_augment_ops_and_signs_are_jointly_uniform():
    from scipy import stats

    sample = policies.sample_rand_augment(tf.constant([4, 1]), 20_000, 2, 0.3, 0.0, 14)
    cell = sample.indices.numpy().ravel() * 2 + (sample.signs.numpy().ravel() > 0)
    assert _chi_square(np.bincount(cell, minlength=28)) < stats.chi2.ppf(0.999, 27)
    np.testing.assert_array_equal(sample.magnitudes.numpy(), np.float32(0.3))


def test_magnitude_zero_skips_the_op():
    # An op with a strength is never run at magnitude 0 (the ops' contract
    # makes it the identity there): a spec that inverts at any level shows it.
    inverting = policies.OpSpec(lambda x, level, seed: 255 - x, 1.0, False)
    images = _images(6)
    magnitudes = tf.constant([0.0, 0.5, 0.0, 1.0, 0.0, 0.2])
    out = policies.apply_op(images, tf.zeros([6], tf.int32), magnitudes, tf.ones([6]),
                            [inverting], SEED).numpy()
    moved = magnitudes.numpy() > 0
    np.testing.assert_array_equal(out[~moved], images.numpy()[~moved])
    np.testing.assert_array_equal(out[moved], 255 - images.numpy()[moved])


def test_trivial_augment_applies_its_drawn_op_uniformly():
    # Through the policy itself, with strength-free ops that each leave a
    # signature on a constant image.
    policy = layers.TrivialAugmentWide(ops=["identity", "invert", "grayscale"])
    images = tf.constant(np.tile(np.array([[[[10, 200, 90]]]], np.uint8), (3000, 2, 2, 1)))
    out = policy.augment_batch(images, SEED).numpy()[:, 0, 0]
    gray = (10 * 19595 + 200 * 38470 + 90 * 7471 + 2**15) >> 16  # Pillow's L
    kinds = {(10, 200, 90): 0, (245, 55, 165): 1, (gray, gray, gray): 2}
    counts = np.bincount([kinds[tuple(int(v) for v in p)] for p in out], minlength=3)
    assert _chi_square(counts) < 13.82  # df 2, p = 0.001


def test_rand_augment_magnitude_std_is_clipped_noise():
    sample = policies.sample_rand_augment(SEED, 5000, 2, 0.5, 0.1, 14)
    m = sample.magnitudes.numpy()
    assert m.shape == (5000, 2) and m.min() >= 0 and m.max() <= 1
    assert abs(m.mean() - 0.5) < 0.01 and abs(m.std() - 0.1) < 0.01
    clipped = policies.sample_rand_augment(SEED, 5000, 2, 1.0, 0.3, 14).magnitudes.numpy()
    assert clipped.max() == 1.0 and (clipped == 1.0).mean() > 0.4


def test_keras_layer_in_a_model_and_round_trip(tmp_path):
    import keras

    layer = layers.RandAugment(num_ops=2, magnitude=0.6, seed=5)
    inputs = keras.Input((20, 28, 3))
    model = keras.Model(inputs, layer(inputs))
    images = tf.cast(_images(4), tf.float32)
    np.testing.assert_array_equal(model(images, training=False).numpy(), images.numpy())
    trained = model(images, training=True).numpy()
    assert trained.dtype == np.float32 and not np.array_equal(trained, images.numpy())
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    restored = loaded.layers[-1]
    assert isinstance(restored, layers.RandAugment)
    assert (restored.num_ops, restored.magnitude) == (2, 0.6)
    trivial = layers.TrivialAugmentWide(ops=["rotate", "cutout"], fill=128)
    again = layers.TrivialAugmentWide.from_config(trivial.get_config())
    assert again.op_names == ("rotate", "cutout") and again.fill == 128


def test_layer_on_one_image_and_in_tf_data():
    layer = layers.TrivialAugmentWide(seed=1)
    image = tf.cast(_images(1)[0], tf.float32)
    assert layer(image).shape == image.shape
    ds = tf.data.Dataset.from_tensors(tf.cast(_images(4), tf.float32)).map(layer)
    assert next(iter(ds)).shape == (4, 20, 28, 3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_ops=-1), "num_ops"),
    (dict(magnitude=1.5), "magnitude"),
    (dict(magnitude_std=-0.1), "magnitude_std"),
    (dict(ops=["rotate", "spin"]), "spin"),
    (dict(ops=["rotate", "rotate"]), "twice"),
    (dict(fill=300), "fill"),
])
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layers.RandAugment(**kwargs)


def test_make_policy():
    assert layers.make_policy("none") is None
    assert isinstance(layers.make_policy("rand_augment", num_ops=1), layers.RandAugment)
    assert isinstance(layers.make_policy("trivial_augment"), layers.TrivialAugmentWide)
    with pytest.raises(ValueError, match="auto_augment.*allowed"):
        layers.make_policy("auto_augment")
