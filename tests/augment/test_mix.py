"""kerascnn.augment.mix: exact CutMix label weights, Mixup blending, Beta draws, mix rules."""

import numpy as np
import pytest
import tensorflow as tf

from kerascnn.augment import mix as mixing

HEIGHT, WIDTH, CLASSES = 24, 40, 7


def _batch(batch_size, height=HEIGHT, width=WIDTH):
    """Image i filled with the value 10 (i + 1) (distinct per image), one-hot class i."""
    values = 10.0 * (np.arange(batch_size, dtype=np.float32) + 1)
    images = np.broadcast_to(values[:, None, None, None], (batch_size, height, width, 3))
    labels = np.eye(CLASSES, dtype=np.float32)[np.arange(batch_size) % CLASSES]
    return tf.constant(images), tf.constant(labels)


def _seed(i):
    return tf.constant([i, 17 * i + 3], tf.int64)


def _run(fn, images, labels, seed):
    x, y = fn(images, labels, seed)
    return x.numpy(), y.numpy()


# --------------------------------------------------------------------- CutMix


@pytest.mark.parametrize("batch_size", [1, 3, 5])
def test_cutmix_label_weight_is_the_pasted_pixel_fraction(batch_size):
    images, labels = _batch(batch_size)
    x0 = images.numpy()
    cutmix = tf.function(mixing.cutmix)
    fractions = []
    for i in range(40):
        x, y = _run(cutmix, images, labels, _seed(i))
        np.testing.assert_allclose(y.sum(1), 1.0, atol=1e-6)
        for b in range(batch_size):
            partner = batch_size - 1 - b
            # Every pixel comes from the image itself or its partner.
            from_self = x[b] == x0[b]
            from_partner = x[b] == x0[partner]
            assert np.all(from_self | from_partner)
            if partner == b:
                # Middle image of an odd batch (or B = 1): its own partner.
                np.testing.assert_array_equal(x[b], x0[b])
                np.testing.assert_allclose(y[b], labels.numpy()[b], atol=1e-6)
                continue
            fraction = from_partner[..., 0].mean()
            np.testing.assert_allclose(y[b, partner], fraction, atol=1e-6)
            np.testing.assert_allclose(y[b, b], 1.0 - fraction, atol=1e-6)
            # The pasted region is one axis-aligned box, the same in all channels.
            rows, cols = np.nonzero(from_partner[..., 0])
            if rows.size:
                box = from_partner[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
                assert box.all()
            fractions.append(fraction)
    if batch_size > 1:
        # Boxes of many sizes, some clipped, some none.
        assert len(set(np.round(fractions, 6))) > 10
        assert 0.2 < np.mean(fractions) < 0.5


def test_cutmix_box_has_the_image_aspect_and_the_drawn_area():
    # A box centred well inside: its sides are round(H sqrt(1 - lam)), round(W sqrt(1 - lam)).
    images, labels = _batch(2, height=48, width=80)
    seen = 0
    for i in range(60):
        x, y = _run(mixing.cutmix, images, labels, _seed(i))
        pasted = x[0, ..., 0] == images.numpy()[1, 0, 0, 0]
        rows, cols = np.nonzero(pasted)
        if not rows.size or rows.min() == 0 or cols.min() == 0:
            continue
        if rows.max() == 47 or cols.max() == 79:
            continue  # clipped
        box_h, box_w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        cut = np.sqrt(box_h * box_w / (48 * 80))
        assert abs(box_h - 48 * cut) <= 1.0 and abs(box_w - 80 * cut) <= 1.0
        seen += 1
    assert seen >= 5


# ---------------------------------------------------------------------- Mixup


@pytest.mark.parametrize("batch_size", [1, 4, 5])
def test_mixup_blends_with_the_reversed_batch(batch_size):
    images, labels = _batch(batch_size)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 255, images.shape).astype(np.float32))
    x0, y0 = images.numpy(), labels.numpy()
    mixup = tf.function(mixing.mixup)
    lams = []
    for i in range(30):
        x, y = _run(mixup, images, labels, _seed(i))
        np.testing.assert_allclose(y.sum(1), 1.0, atol=1e-6)
        if batch_size == 1:
            np.testing.assert_allclose(x, x0, rtol=1e-5)
            np.testing.assert_allclose(y, y0, atol=1e-6)
            continue
        lam = y[0, 0]  # the weight of image 0's own class
        assert 0.0 <= lam <= 1.0
        np.testing.assert_allclose(x, lam * x0 + (1 - lam) * x0[::-1], rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(y, lam * y0 + (1 - lam) * y0[::-1], atol=1e-6)
        lams.append(lam)
    if batch_size > 1:
        # alpha = 0.2: most draws near 0 or 1, but not all the same.
        assert np.std(lams) > 0.1


@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_sample_beta_moments(alpha):
    lam = mixing.sample_beta(_seed(5), alpha, shape=[200_000]).numpy()
    assert lam.min() >= 0.0 and lam.max() <= 1.0
    assert abs(lam.mean() - 0.5) < 0.005
    np.testing.assert_allclose(lam.var(), 1 / (4 * (2 * alpha + 1)), rtol=0.02)
    scalar = mixing.sample_beta(_seed(5), alpha)
    assert scalar.shape == () and 0.0 <= float(scalar) <= 1.0


# ------------------------------------------------------------------------ mix


def test_mix_prob_zero_is_identity():
    images, labels = _batch(4)
    for i in range(5):
        x, y = _run(
            lambda a, b, s: mixing.mix(a, b, s, mixup_alpha=1.0, cutmix_alpha=1.0, prob=0.0),
            images, labels, _seed(i),
        )
        np.testing.assert_array_equal(x, images.numpy())
        np.testing.assert_array_equal(y, labels.numpy())


def _is_cutmix_like(x, x0):
    """Every output pixel is its own or its partner's pixel (distinct fills)."""
    return np.all((x == x0) | (x == x0[::-1]))


def test_mix_switch_prob_picks_the_operation():
    images, labels = _batch(4)
    x0 = images.numpy()
    kinds = {}
    for switch_prob in (0.0, 1.0, 0.5):
        fn = tf.function(mixing.make_mixer(
            "mixup_cutmix", mixup_alpha=1.0, cutmix_alpha=1.0, switch_prob=switch_prob,
        ))
        kinds[switch_prob] = [_is_cutmix_like(fn(images, labels, _seed(i))[0].numpy(), x0)
                              for i in range(20)]
    # Mixup with alpha = 1 gives values between the fills (cutmix-like only if lam is 0 or 1).
    assert not any(kinds[0.0])
    assert all(kinds[1.0])
    assert 3 <= sum(kinds[0.5]) <= 17


def test_mix_single_mode_mixers():
    images, labels = _batch(4)
    x0 = images.numpy()
    assert mixing.make_mixer("none") is None
    cut = mixing.make_mixer("cutmix", cutmix_alpha=1.0)
    up = mixing.make_mixer("mixup", mixup_alpha=1.0)
    for i in range(5):
        assert _is_cutmix_like(cut(images, labels, _seed(i))[0].numpy(), x0)
        assert not _is_cutmix_like(up(images, labels, _seed(i))[0].numpy(), x0)


def test_mix_is_deterministic_per_seed():
    images, labels = _batch(5)
    fn = mixing.make_mixer("mixup_cutmix", prob=0.8)
    a = _run(fn, images, labels, _seed(1))
    b = _run(fn, images, labels, _seed(1))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    outputs = {_run(fn, images, labels, _seed(i))[1].tobytes() for i in range(2, 8)}
    assert len(outputs) >= 5


def test_mix_eager_equals_dataset_map():
    images, labels = _batch(7)
    fn = mixing.make_mixer("mixup_cutmix", switch_prob=0.5, prob=0.9)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(3)  # 3, 3, 1
    seeds = [_seed(i) for i in range(3)]
    mapped = tf.data.Dataset.zip(ds, tf.data.Dataset.from_tensor_slices(tf.stack(seeds)))
    mapped = mapped.map(lambda batch, seed: fn(*batch, seed))
    assert mapped.element_spec[0].shape.as_list() == [None, HEIGHT, WIDTH, 3]
    got = [(x.numpy(), y.numpy()) for x, y in mapped]
    for (x, y), (bx, by), seed in zip(got, ds, seeds):
        ex, ey = _run(fn, bx, by, seed)
        np.testing.assert_allclose(x, ex, rtol=1e-6)
        np.testing.assert_allclose(y, ey, rtol=1e-6)
    assert [x.shape[0] for x, _ in got] == [3, 3, 1]


def test_mix_dataset_seeds_each_batch():
    images, labels = _batch(6)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    assert mixing.mix_dataset(ds, None, 0) is ds
    fn = mixing.make_mixer("cutmix")
    mixed = mixing.mix_dataset(ds, fn, seed=3)
    first = [y.numpy() for _, y in mixed]
    again = [y.numpy() for _, y in mixing.mix_dataset(ds, fn, seed=3)]
    assert [y.shape for y in first] == [(4, CLASSES), (2, CLASSES)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a.sum(1), 1.0, atol=1e-6)


def test_mix_dynamic_shapes_in_tf_function():
    fn = mixing.make_mixer("mixup_cutmix", prob=1.0)
    traced = tf.function(
        fn,
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32),
            tf.TensorSpec([None, None], tf.float32),
            tf.TensorSpec([2], tf.int64),
        ],
    )
    for batch_size, height, width in [(3, 24, 40), (1, 17, 9), (4, 32, 32)]:
        images, labels = _batch(batch_size, height, width)
        x, y = traced(images, labels, _seed(batch_size))
        assert x.shape == (batch_size, height, width, 3)
        ex, ey = _run(fn, images, labels, _seed(batch_size))
        np.testing.assert_allclose(x.numpy(), ex, rtol=1e-6)
        np.testing.assert_allclose(y.numpy(), ey, rtol=1e-6)


def test_argument_errors():
    images, labels = _batch(2)
    with pytest.raises(ValueError, match="alpha.*-1"):
        mixing.sample_beta(_seed(0), -1.0)
    with pytest.raises(ValueError, match="alpha.*0"):
        mixing.mixup(images, labels, _seed(0), alpha=0)
    with pytest.raises(ValueError, match="both 0"):
        mixing.mix(images, labels, _seed(0))
    with pytest.raises(ValueError, match=r"switch_prob.*\[0, 1\].*1.5"):
        mixing.mix(images, labels, _seed(0), mixup_alpha=0.2, switch_prob=1.5)
    with pytest.raises(ValueError, match=r"prob.*-0.1"):
        mixing.make_mixer("mixup", prob=-0.1)
    with pytest.raises(ValueError, match="'mixcut'.*none, mixup, cutmix, mixup_cutmix"):
        mixing.make_mixer("mixcut")
    with pytest.raises(ValueError, match="cutmix_alpha.*0"):
        mixing.make_mixer("cutmix", cutmix_alpha=0.0)
    with pytest.raises(ValueError, match=r"\[B, K\]"):
        mixing.mixup(images, tf.constant([0, 1]), _seed(0))
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        mixing.cutmix(images[0], labels, _seed(0))
    # mixup_alpha is not used by "cutmix", so it is not checked there.
    assert mixing.make_mixer("cutmix", mixup_alpha=0.0) is not None
