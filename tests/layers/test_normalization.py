"""Normalization layers against NumPy versions of the notes' formulas."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras
from kerascnn.layers import normalization as norm

SHAPE = (3, 5, 7, 6)  # N, H, W, C: odd sizes so no axis can be confused with another
EPS = 1e-3
TOL = dict(rtol=1e-5, atol=1e-5)


def rand(*shape, seed=0, loc=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(loc, scale, shape).astype("float32")


def standardize(x, axes, eps):
    """(x - mu) / sqrt(sigma^2 + eps), sigma^2 the biased (1/m) variance."""
    x = x.astype("float64")
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def np_group_norm(x, groups, gamma, beta, eps=EPS):
    # GN (Wu & He 2018): statistics over (H, W) and the C/G channels of a group.
    n, h, w, c = x.shape
    x_hat = standardize(x.reshape(n, h, w, groups, c // groups), (1, 2, 4), eps)
    return x_hat.reshape(x.shape) * gamma + beta


def np_adain(x, y, eps=1e-5):
    # AdaIN: sigma(y) * (x - mu(x)) / sigma(x) + mu(y), stats over (H, W).
    x, y = x.astype("float64"), y.astype("float64")
    mu_x, mu_y = x.mean((1, 2), keepdims=True), y.mean((1, 2), keepdims=True)
    sd_x = np.sqrt(x.var((1, 2), keepdims=True) + eps)
    sd_y = np.sqrt(y.var((1, 2), keepdims=True) + eps)
    return sd_y * (x - mu_x) / sd_x + mu_y


def np_lrn(a, size=5, alpha=1e-4, beta=0.75, k=2.0):
    # AlexNet (Sec. 3.3): b_i = a_i / (k + alpha sum_{j=max(0,i-n/2)}^{min(N-1,i+n/2)} a_j^2)^beta
    a = a.astype("float64")
    channels = a.shape[-1]
    b = np.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - size // 2), min(channels - 1, i + size // 2)
        b[..., i] = a[..., i] / (k + alpha * (a[..., lo : hi + 1] ** 2).sum(-1)) ** beta
    return b


def with_affine(layer, shape=SHAPE, seed=1):
    """Builds `layer` and gives it random gamma/beta, so the affine step is tested."""
    layer.build(shape)
    c = layer.gamma.shape[0]
    layer.gamma.assign(rand(c, seed=seed, loc=1.0, scale=0.5))
    layer.beta.assign(rand(c, seed=seed + 1))
    return layer, layer.gamma.numpy(), layer.beta.numpy()


def test_batch_norm_training_uses_batch_statistics_biased_variance():
    x = rand(*SHAPE, loc=3.0, scale=2.0)
    layer, gamma, beta = with_affine(norm.BatchNormalization())
    y = layer(x, training=True)
    expected = standardize(x, (0, 1, 2), layer.epsilon) * gamma + beta
    np.testing.assert_allclose(y, expected, **TOL)


def test_batch_norm_inference_is_the_folded_affine_map():
    x = rand(*SHAPE)
    layer, gamma, beta = with_affine(norm.BatchNormalization())
    mean, var = rand(6, seed=3), np.abs(rand(6, seed=4)) + 0.1
    layer.moving_mean.assign(mean)
    layer.moving_variance.assign(var)
    # y = a x + b, a = gamma / sqrt(var_moving + eps), b = beta - a mu_moving (the notes)
    a = gamma / np.sqrt(var.astype("float64") + layer.epsilon)
    b = beta - a * mean
    np.testing.assert_allclose(layer(x, training=False), a * x + b, **TOL)


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_group_norm_matches_formula(groups):
    x = rand(*SHAPE, loc=1.0, scale=3.0)
    layer, gamma, beta = with_affine(norm.GroupNormalization(groups))
    np.testing.assert_allclose(layer(x), np_group_norm(x, groups, gamma, beta), **TOL)


def test_group_norm_with_unknown_spatial_size():
    layer, gamma, beta = with_affine(norm.GroupNormalization(2))
    inp = keras.Input((None, None, 6))
    model = keras.Model(inp, layer(inp))
    for shape in [SHAPE, (2, 4, 3, 6)]:
        x = rand(*shape, loc=2.0)
        np.testing.assert_allclose(model(x), np_group_norm(x, 2, gamma, beta), **TOL)


def test_group_norm_channels_first_and_rank_2_use_keras_call():
    x = rand(*SHAPE, loc=1.0)
    layer, gamma, beta = with_affine(norm.GroupNormalization(3, axis=1), (3, 6, 5, 7))
    y = layer(np.transpose(x, (0, 3, 1, 2)))
    expected = np_group_norm(x, 3, gamma, beta)
    np.testing.assert_allclose(np.transpose(y, (0, 2, 3, 1)), expected, **TOL)
    flat = rand(4, 6)
    layer, gamma, beta = with_affine(norm.GroupNormalization(2), (4, 6))
    expected = np_group_norm(flat.reshape(4, 1, 1, 6), 2, gamma, beta).reshape(4, 6)
    np.testing.assert_allclose(layer(flat), expected, **TOL)


def test_group_norm_mixed_precision_computes_statistics_in_float32():
    x = rand(*SHAPE, loc=100.0, scale=0.5)  # float16 sums of squares would overflow
    layer, gamma, beta = with_affine(norm.GroupNormalization(3, dtype="mixed_float16"))
    y = layer(x.astype("float16"))
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    expected = np_group_norm(x.astype("float16"), 3, gamma, beta)
    np.testing.assert_allclose(np.asarray(y, "float32"), expected, atol=2e-2)


def test_layer_norm_matches_formula_with_per_channel_affine():
    x = rand(*SHAPE, loc=-2.0, scale=0.5)
    layer, gamma, beta = with_affine(norm.LayerNormalization())
    assert layer.gamma.shape == (6,)
    expected = standardize(x, (1, 2, 3), EPS) * gamma + beta
    np.testing.assert_allclose(layer(x), expected, **TOL)


def test_instance_norm_matches_formula():
    x = rand(*SHAPE, scale=4.0)
    layer, gamma, beta = with_affine(norm.InstanceNormalization())
    expected = standardize(x, (1, 2), EPS) * gamma + beta
    np.testing.assert_allclose(layer(x), expected, **TOL)


def test_group_norm_extremes_are_layer_and_instance_norm():
    x = rand(*SHAPE, loc=1.0)
    pairs = [(norm.GroupNormalization(1), norm.LayerNormalization()),
             (norm.GroupNormalization(6), norm.InstanceNormalization()),
             (norm.GroupNormalization(-1), norm.InstanceNormalization())]
    for group_norm, other in pairs:
        with_affine(group_norm)
        with_affine(other)
        np.testing.assert_allclose(group_norm(x), other(x), **TOL)


def test_adain_matches_formula():
    x = rand(*SHAPE, loc=1.0, scale=2.0)
    style = rand(3, 9, 4, 6, seed=5, loc=-3.0, scale=0.3)  # other spatial size
    y = norm.AdaIN()([x, style])
    np.testing.assert_allclose(y, np_adain(x, style), **TOL)
    # The output carries the style's per-channel statistics.
    np.testing.assert_allclose(
        np.mean(y, axis=(1, 2)), style.mean((1, 2)), rtol=1e-4, atol=1e-4
    )


def test_adain_broadcasts_a_single_style():
    x, style = rand(*SHAPE), rand(1, 4, 4, 6, seed=2)
    y = norm.AdaIN()([x, style])
    np.testing.assert_allclose(y, np_adain(x, np.repeat(style, 3, axis=0)), **TOL)


def test_conditional_instance_norm_selects_and_mixes_style_rows():
    x = rand(*SHAPE, loc=2.0)
    layer = norm.ConditionalInstanceNormalization(num_styles=4)
    layer.build([SHAPE, (3, 4)])
    gammas, betas = rand(4, 6, seed=1, loc=1.0), rand(4, 6, seed=2)
    layer.gamma.assign(gammas)
    layer.beta.assign(betas)
    x_hat = standardize(x, (1, 2), 1e-5)
    ids = np.array([2, 0, 3])
    y = layer([x, keras.ops.one_hot(ids, 4)])
    expected = x_hat * gammas[ids][:, None, None] + betas[ids][:, None, None]
    np.testing.assert_allclose(y, expected, **TOL)
    w = np.array([[0.5, 0.5, 0, 0], [0, 0.25, 0, 0.75], [1, 0, 0, 0]], "float32")
    expected = x_hat * (w @ gammas)[:, None, None] + (w @ betas)[:, None, None]
    np.testing.assert_allclose(layer([x, w]), expected, **TOL)


def test_lrn_matches_alexnet_formula_and_tf():
    import tensorflow as tf

    a = rand(*SHAPE[:3], 11, scale=30.0)  # large enough that the sum matters
    b = norm.LocalResponseNormalization()(a)
    np.testing.assert_allclose(b, np_lrn(a), **TOL)
    assert np.abs(np_lrn(a) - a / 2.0**0.75).max() > 1e-2
    tf_b = tf.nn.local_response_normalization(a, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    np.testing.assert_allclose(b, tf_b, **TOL)
    pytorch_style = norm.LocalResponseNormalization(size=3, alpha_over_size=True)(a)
    np.testing.assert_allclose(pytorch_style, np_lrn(a, size=3, alpha=1e-4 / 3), **TOL)


# name -> (layer factory, model input shapes, input arrays)
STYLE_W = np.array([[0.2, 0.8], [1.0, 0.0], [0.5, 0.5]], "float32")
CASES = {
    "batch": (lambda: norm.BatchNormalization(), [SHAPE], [rand(*SHAPE)]),
    "group": (lambda: norm.GroupNormalization(3), [SHAPE], [rand(*SHAPE)]),
    "layer": (lambda: norm.LayerNormalization(), [SHAPE], [rand(*SHAPE)]),
    "instance": (lambda: norm.InstanceNormalization(), [SHAPE], [rand(*SHAPE)]),
    "adain": (lambda: norm.AdaIN(), [SHAPE, SHAPE], [rand(*SHAPE), rand(*SHAPE, seed=1)]),
    "cin": (lambda: norm.ConditionalInstanceNormalization(2),
            [SHAPE, (3, 2)], [rand(*SHAPE), STYLE_W]),
    "lrn": (lambda: norm.LocalResponseNormalization(), [SHAPE], [rand(*SHAPE, scale=20.0)]),
}


def case_model(name):
    make, shapes, arrays = CASES[name]
    inputs = [keras.Input(s[1:]) for s in shapes]
    layer = make()
    outputs = layer(inputs if len(inputs) > 1 else inputs[0])
    return keras.Model(inputs, outputs), layer, arrays


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_round_trip(name, tmp_path):
    model, layer, arrays = case_model(name)
    for w in model.weights:  # non-default values, so a lost weight shows
        w.assign(np.abs(rand(*w.shape, seed=7)) + 0.5)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[-1]) is type(layer)
    assert loaded.layers[-1].get_config() == layer.get_config()
    np.testing.assert_allclose(loaded(arrays), model(arrays), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_reach_every_trainable_weight_and_the_inputs(name):
    import tensorflow as tf

    model, layer, arrays = case_model(name)
    inputs = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        y = model(inputs, training=True)
        # A random projection: sum(y) alone has zero gradient w.r.t. gamma.
        loss = tf.reduce_sum(y * rand(*y.shape, seed=9))
    grads = tape.gradient(loss, [inputs[0]] + layer.trainable_weights)
    assert len(layer.trainable_weights) == (0 if name in ("adain", "lrn") else 2)
    for g in grads:
        assert g is not None and np.abs(g).max() > 0


@pytest.mark.parametrize(
    "make, shapes, match",
    [
        (lambda: norm.GroupNormalization(4), [SHAPE], r"groups=4 .*6 channels.*\[1, 2, 3, 6\]"),
        (lambda: norm.GroupNormalization(0), None, r"groups must be an integer >= 1.*got 0"),
        (lambda: norm.ConditionalInstanceNormalization(0), None, r"num_styles .*got 0"),
        (lambda: norm.ConditionalInstanceNormalization(3), [SHAPE, (3, 2)],
         r"num_styles=3\), got \(None, 2\)"),
        (lambda: norm.AdaIN(), [SHAPE, (3, 5, 7, 4)], "same channel count"),
        (lambda: norm.LocalResponseNormalization(size=4), None, "size must be odd.*got 4"),
    ],
    ids=["groups_not_dividing", "groups_zero", "num_styles_zero", "style_width",
         "adain_channels", "lrn_even_size"],
)
def test_bad_arguments_raise_value_error(make, shapes, match):
    with pytest.raises(ValueError, match=match):
        layer = make()
        inputs = [keras.Input(s[1:]) for s in shapes]
        layer(inputs if len(inputs) > 1 else inputs[0])


def small_bn_model():
    inner = keras.Sequential(
        [keras.layers.Conv2D(4, 1), keras.layers.BatchNormalization()], name="inner"
    )
    x = inp = keras.Input((5, 7, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9)(x)
    x = inner(keras.layers.ReLU()(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(3)(x))
    for w in model.weights:  # random moving statistics, gamma and beta too
        w.assign(np.abs(rand(*w.shape, seed=w.shape[-1])) + 0.5)
    return model


def bn_layers(model):
    return [l for l in model._flatten_layers() if isinstance(l, keras.layers.BatchNormalization)]


def test_sync_batchnorm_flips_flags_and_keeps_weights():
    model = small_bn_model()
    synced = norm.sync_batchnorm(model)
    assert len(bn_layers(synced)) == 2
    assert all(l.synchronized for l in bn_layers(synced))
    assert not any(l.synchronized for l in bn_layers(model))
    assert [l.epsilon for l in bn_layers(synced)] == [1e-5, 1e-3]
    for a, b in zip(model.weights, synced.weights):
        np.testing.assert_array_equal(a, b)
    x = rand(2, 5, 7, 3)
    np.testing.assert_array_equal(synced(x, training=False), model(x, training=False))


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from kerascnn.layers.normalization import sync_batchnorm

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    rng = np.random.default_rng(0)
    # The two replicas' halves differ, so the per-replica variances are far
    # from the global one.
    x = np.concatenate([rng.normal(0, 1, (4, 3, 3, 2)),
                        rng.normal(5, 3, (4, 3, 3, 2))]).astype("float32")
    y = np.array([0, 1] * 4)
    with strategy.scope():
        inp = keras.Input((3, 3, 2))
        h = keras.layers.BatchNormalization(momentum=0.0)(inp)
        h = keras.layers.GlobalAveragePooling2D()(h)
        model = sync_batchnorm(keras.Model(inp, keras.layers.Dense(2)(h)))
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.numpy() for w in model.trainable_weights]
    loss = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"][0]
    assert np.isfinite(loss)
    assert all((b != w.numpy()).any() for b, w in zip(before, model.trainable_weights))
    bn = model.layers[1]
    assert bn.synchronized
    # momentum 0: the moving statistics are those of the global batch of 8.
    np.testing.assert_allclose(bn.moving_mean, x.mean((0, 1, 2)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.moving_variance, x.var((0, 1, 2)), rtol=1e-4, atol=1e-4)
    print("SYNC_OK", loss)
    """
)


def test_sync_batchnorm_trains_under_mirrored_strategy_with_two_cpus():
    # Logical devices must be configured before TF initializes: a fresh process.
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "SYNC_OK" in result.stdout, result.stderr[-3000:]
