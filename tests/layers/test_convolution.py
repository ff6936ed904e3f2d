"""Convolution kinds: NumPy references, parameter and MAC formulas, ChannelShuffle, TFLite."""

import math

import numpy as np
import pytest
import tensorflow as tf

import keras
from kerascnn.layers import convolution as conv
from conftest import trainable_count  # noqa: E402  (tests/conftest.py)

RNG = np.random.default_rng(0)


def conv2d_ref(x, kernel, bias=None, strides=1, dilation=1, groups=1, pad=0):
    """Cross-correlation, NHWC, kernel (kh, kw, M / groups, N), zero padding `pad`.

    `pad` is p or ((top, bottom), (left, right)).
    """
    sh, sw = (strides, strides) if isinstance(strides, int) else strides
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    if isinstance(pad, int):
        pad = ((pad, pad), (pad, pad))
    x = np.pad(x.astype(np.float64), ((0, 0), pad[0], pad[1], (0, 0)))
    n, h, w, m = x.shape
    kh, kw, m_g, filters = kernel.shape
    assert m_g * groups == m and filters % groups == 0
    oh = (h - (kh - 1) * dh - 1) // sh + 1
    ow = (w - (kw - 1) * dw - 1) // sw + 1
    n_g = filters // groups
    out = np.zeros((n, oh, ow, filters))
    for a in range(kh):
        for b in range(kw):
            patch = x[:, a * dh: a * dh + (oh - 1) * sh + 1: sh,
                      b * dw: b * dw + (ow - 1) * sw + 1: sw, :]
            for g in range(groups):
                out[..., g * n_g:(g + 1) * n_g] += (
                    patch[..., g * m_g:(g + 1) * m_g] @ kernel[a, b, :, g * n_g:(g + 1) * n_g]
                )
    return out if bias is None else out + bias


def depthwise_ref(x, kernel, bias=None, **kwargs):
    """Depthwise kernel (kh, kw, M, d) as a grouped convolution with M groups."""
    kh, kw, m, d = kernel.shape
    return conv2d_ref(x, kernel.reshape(kh, kw, 1, m * d), bias, groups=m, **kwargs)


def transposed_ref(x, kernel, strides):
    """Scatter-add: out[i*s + a, j*s + b, o] += x[i, j, c] * kernel[a, b, o, c] ("valid")."""
    n, h, w, _ = x.shape
    kh, kw, filters, _ = kernel.shape
    out = np.zeros((n, (h - 1) * strides + kh, (w - 1) * strides + kw, filters))
    for i in range(h):
        for j in range(w):
            out[:, i * strides:i * strides + kh, j * strides:j * strides + kw, :] += (
                np.einsum("nc,aboc->nabo", x[:, i, j, :].astype(np.float64), kernel)
            )
    return out


def randomize(model):
    """Random values for every weight (biases too), so a wrong bias or order shows."""
    for w in model.weights:
        if "seed_generator" in w.path:
            continue
        w.assign(RNG.standard_normal(w.shape).astype("float32"))


def build(builder, input_shape, **kwargs):
    inp = keras.Input(input_shape)
    model = keras.Model(inp, builder(inp, **kwargs))
    randomize(model)
    return model


def weights(model, layer_name):
    return [np.asarray(w) for w in model.get_layer(layer_name).weights]


def measured_macs(model):
    """Sum over the convolutions of (positions) x (kernel weights).

    A convolution's output position uses every kernel weight once, so the
    MACs are out_h * out_w * kernel.size; a transposed convolution's input
    position scatters every weight once: in_h * in_w * kernel.size.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            positions = math.prod(layer.input.shape[1:3])
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            positions = math.prod(layer.output.shape[1:3])
        else:
            continue
        total += positions * math.prod(layer.kernel.shape)
    return total


def sample(shape):
    return RNG.standard_normal(shape).astype("float32")


def run(model, x):
    return np.asarray(model(x, training=False))


# --- each kind: NumPy reference, parameters, MACs ------------------------------------


def test_pointwise_conv():
    x = sample((2, 5, 5, 6))
    model = build(conv.pointwise_conv, (5, 5, 6), filters=4, use_bias=True, name="pw")
    kernel, bias = weights(model, "pw_conv")
    np.testing.assert_allclose(run(model, x), conv2d_ref(x, kernel, bias), atol=1e-4)
    assert trainable_count(model) == 6 * 4 + 4  # M N + N
    assert measured_macs(model) == 5 * 5 * 6 * 4  # H' W' M N


def test_spatial_separable_conv():
    x = sample((2, 7, 7, 3))
    model = build(conv.spatial_separable_conv, (7, 7, 3), filters=4, kernel_size=3,
                  strides=2, name="ss")
    (k1,), (k2,) = weights(model, "ss_kx1_conv"), weights(model, "ss_1xk_conv")
    assert k1.shape == (3, 1, 3, 4) and k2.shape == (1, 3, 4, 4)
    y = conv2d_ref(x, k1, strides=(2, 1), pad=((1, 1), (0, 0)))
    y = conv2d_ref(y, k2, strides=(1, 2), pad=((0, 0), (1, 1)))
    np.testing.assert_allclose(run(model, x), y, atol=1e-4)
    assert run(model, x).shape == (2, 4, 4, 4)
    assert trainable_count(model) == 3 * 3 * 4 + 3 * 4 * 4  # k M N + k N N
    # H' W k M N + H' W' k N N with H' = W' = 4, W = 7.
    assert measured_macs(model) == 4 * 7 * 3 * 3 * 4 + 4 * 4 * 3 * 4 * 4


def test_spatial_separable_is_a_rank_one_kernel():
    # The notes' Sobel example: [1, 2, 1]^T x [-1, 0, 1] is the 3x3 Sobel kernel.
    x = sample((1, 6, 6, 1))
    model = build(conv.spatial_separable_conv, (6, 6, 1), filters=1, name="ss")
    model.get_layer("ss_kx1_conv").kernel.assign(np.reshape([1.0, 2.0, 1.0], (3, 1, 1, 1)))
    model.get_layer("ss_1xk_conv").kernel.assign(np.reshape([-1.0, 0.0, 1.0], (1, 3, 1, 1)))
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], "float64").reshape(3, 3, 1, 1)
    np.testing.assert_allclose(run(model, x), conv2d_ref(x, sobel, pad=1), atol=1e-4)


def test_flattened_conv():
    x = sample((2, 7, 7, 3))
    model = build(conv.flattened_conv, (7, 7, 3), filters=4, kernel_size=3, strides=2,
                  use_bias=True, name="fl")
    lateral, b1 = weights(model, "fl_lateral_conv")
    vertical, b2 = weights(model, "fl_vertical_conv")
    horizontal, b3 = weights(model, "fl_horizontal_conv")
    assert vertical.shape == (3, 1, 4, 1) and horizontal.shape == (1, 3, 4, 1)
    y = conv2d_ref(x, lateral, b1)
    y = depthwise_ref(y, vertical, b2, strides=(2, 1), pad=((1, 1), (0, 0)))
    y = depthwise_ref(y, horizontal, b3, strides=(1, 2), pad=((0, 0), (1, 1)))
    np.testing.assert_allclose(run(model, x), y, atol=1e-4)
    assert trainable_count(model) == 3 * 4 + 2 * 3 * 4 + 3 * 4  # M N + 2 k N + 3 N
    # H W M N + H' W k N + H' W' k N with H = W = 7, H' = W' = 4.
    assert measured_macs(model) == 7 * 7 * 3 * 4 + 4 * 7 * 3 * 4 + 4 * 4 * 3 * 4


@pytest.mark.parametrize("strides", [(2, 1), (1, 2), (4, 2), (3, 2), (2, 2)])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_any_stride_depthwise_matches_numpy(strides, padding):
    """Unequal strides (which TF's non-oneDNN CPU kernel rejects) equal the NumPy reference."""
    x = sample((2, 11, 9, 3))
    layer = conv.AnyStrideDepthwiseConv2D((3, 2), strides=strides, padding=padding,
                                          depth_multiplier=2, use_bias=True,
                                          bias_initializer="random_normal")
    y = np.asarray(layer(x))
    pad = 0
    if padding == "same":  # Keras "same": ceil(n / s) outputs, the odd pixel after
        totals = [max((-(-n // s) - 1) * s + k - n, 0)
                  for n, s, k in zip((11, 9), strides, (3, 2))]
        pad = tuple((t // 2, t - t // 2) for t in totals)
    ref = depthwise_ref(x, layer.kernel.numpy(), layer.bias.numpy(), strides=strides, pad=pad)
    np.testing.assert_allclose(y, ref, atol=1e-4)
    assert y.shape == tuple(layer.compute_output_shape(x.shape))


def test_flattened_conv_is_a_rank_one_3d_filter():
    # Jin et al. 2014: the three 1-D filters compose into K[a, b, c, n] = v[a, n] h[b, n] l[c, n].
    x = sample((2, 6, 6, 3))
    model = build(conv.flattened_conv, (6, 6, 3), filters=2, kernel_size=3, name="fl")
    (lateral,), (vertical,), (horizontal,) = (
        weights(model, f"fl_{d}_conv") for d in ("lateral", "vertical", "horizontal")
    )
    full = np.einsum("an,bn,cn->abcn", vertical[:, 0, :, 0], horizontal[0, :, :, 0],
                     lateral[0, 0])
    np.testing.assert_allclose(run(model, x), conv2d_ref(x, full, pad=1), atol=1e-4)


def test_depthwise_conv():
    x = sample((2, 6, 6, 3))
    model = build(conv.depthwise_conv, (6, 6, 3), kernel_size=3, strides=2,
                  depth_multiplier=2, use_bias=True, name="dw")
    kernel, bias = weights(model, "dw_conv")
    np.testing.assert_allclose(
        run(model, x), depthwise_ref(x, kernel, bias, strides=2, pad=1), atol=1e-4
    )
    assert trainable_count(model) == 3 * 3 * 3 * 2 + 3 * 2  # k^2 M d + M d
    assert measured_macs(model) == 3 * 3 * (3 * 3 * 3 * 2)  # H' W' k^2 M d


def test_depthwise_separable_conv():
    x = sample((2, 6, 6, 4))
    model = build(conv.depthwise_separable_conv, (6, 6, 4), filters=5, strides=2,
                  name="block1")
    assert [l.name for l in model.layers[1:]] == [
        "block1_dw_pad", "block1_dw_conv", "block1_dw_bn", "block1_dw_relu",
        "block1_pw_conv", "block1_pw_bn", "block1_pw_relu",
    ]
    for bn in ("block1_dw_bn", "block1_pw_bn"):
        var = model.get_layer(bn).moving_variance
        var.assign(np.abs(np.asarray(var)) + 0.5)

    def bn_relu(y, layer):
        gamma, beta, mean, var = weights(model, layer)
        eps = model.get_layer(layer).epsilon
        return np.maximum(gamma * (y - mean) / np.sqrt(var + eps) + beta, 0.0)

    (dw,), (pw,) = weights(model, "block1_dw_conv"), weights(model, "block1_pw_conv")
    y = bn_relu(depthwise_ref(x, dw, strides=2, pad=1), "block1_dw_bn")
    y = bn_relu(conv2d_ref(y, pw), "block1_pw_bn")
    np.testing.assert_allclose(run(model, x), y, atol=1e-4)
    # k^2 M + M N convolution weights, 2M + 2N BN scales and offsets.
    assert trainable_count(model) == 9 * 4 + 4 * 5 + 2 * 4 + 2 * 5
    assert measured_macs(model) == 3 * 3 * (9 * 4 + 4 * 5)  # H' W' (k^2 M + M N)


def test_depthwise_separable_vs_standard_notes_numbers():
    # The notes: M = N = 128, D_K = 3, D_F = 64, no bias.
    inp = keras.Input((64, 64, 128))
    separable = keras.Model(inp, conv.depthwise_separable_conv(inp, 128, name="sep"))
    standard = keras.Model(
        inp, keras.layers.Conv2D(128, 3, padding="same", use_bias=False)(inp)
    )
    sep_params = sum(
        math.prod(w.shape) for name in ("sep_dw_conv", "sep_pw_conv")
        for w in separable.get_layer(name).weights
    )
    assert sep_params == 17_536  # D_K^2 M + M N
    assert trainable_count(standard) == 147_456  # D_K^2 M N
    assert measured_macs(separable) == 71_827_456  # D_K^2 M D_F^2 + M N D_F^2
    assert measured_macs(standard) == 603_979_776  # D_K^2 M N D_F^2
    assert measured_macs(separable) / measured_macs(standard) == pytest.approx(1 / 128 + 1 / 9)


@pytest.mark.parametrize("groups, strides, dilation", [(2, 2, 1), (3, 1, 2), (6, 1, 1)])
def test_grouped_conv(groups, strides, dilation):
    x = sample((2, 7, 7, 6))
    model = build(conv.grouped_conv, (7, 7, 6), filters=12, kernel_size=3, groups=groups,
                  strides=strides, dilation_rate=dilation, use_bias=True, name="g")
    assert isinstance(model.get_layer("g_conv"), conv.GroupedConv2D)
    kernel, bias = weights(model, "g_conv")
    assert kernel.shape == (3, 3, 6 // groups, 12)
    expected = conv2d_ref(x, kernel, bias, strides=strides, dilation=dilation,
                          groups=groups, pad=dilation)
    np.testing.assert_allclose(run(model, x), expected, atol=1e-4)
    assert trainable_count(model) == 9 * (6 // groups) * 12 + 12  # k^2 (M / g) N + N
    out = expected.shape[1]
    assert measured_macs(model) == out * out * 9 * (6 // groups) * 12  # H' W' k^2 (M/g) N


def test_grouped_conv_is_block_diagonal():
    # Group j of the output must not see group i != j of the input (AlexNet's towers).
    model = build(conv.grouped_conv, (5, 5, 4), filters=4, kernel_size=3, groups=2)
    x = sample((1, 5, 5, 4))
    x_changed = x.copy()
    x_changed[..., 2:] += 1.0  # second input group only
    diff = run(model, x_changed) - run(model, x)
    assert np.all(diff[..., :2] == 0) and np.all(np.abs(diff[..., 2:]).max(axis=(1, 2)) > 0)


def test_grouped_conv_groups_1_equals_plain_conv():
    x = sample((2, 6, 6, 3))
    model = build(conv.grouped_conv, (6, 6, 3), filters=4, kernel_size=3, groups=1,
                  use_bias=True, name="g")
    plain = keras.layers.Conv2D(4, 3, padding="same")
    plain.build((None, 6, 6, 3))
    plain.set_weights(model.get_layer("g_conv").get_weights())
    np.testing.assert_allclose(run(model, x), np.asarray(plain(x)), atol=1e-5)
    np.testing.assert_allclose(run(model, x), conv2d_ref(x, *weights(model, "g_conv"), pad=1),
                               atol=1e-4)


@pytest.mark.parametrize("strides, dilation, padding", [(1, 1, "same"), (2, 1, "valid"),
                                                         (1, 2, "same")])
def test_grouped_conv2d_equals_conv2d_groups(strides, dilation, padding):
    # Same kernel layout as Conv2D(groups=g): weights move over unchanged, and
    # the split computation gives the native one's outputs and gradients.
    x = tf.constant(sample((2, 7, 7, 8)))
    kwargs = dict(strides=strides, dilation_rate=dilation, padding=padding)
    split = conv.GroupedConv2D(6, 3, groups=2, **kwargs)
    native = conv.GroupedConv2D(6, 3, groups=2, implementation="native", **kwargs)
    keras_conv = keras.layers.Conv2D(6, 3, groups=2, **kwargs)
    for layer in (split, native, keras_conv):
        layer.build(x.shape)
    split.set_weights([sample((3, 3, 4, 6)), sample((6,))])
    native.set_weights(split.get_weights())
    keras_conv.set_weights(split.get_weights())
    kernel, bias = split.get_weights()
    pad = dilation if padding == "same" else 0
    expected = conv2d_ref(x.numpy(), kernel, bias, strides=strides, dilation=dilation,
                          groups=2, pad=pad)
    grads = []
    for layer in (split, native, keras_conv):
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(tf.sin(y))
        np.testing.assert_allclose(np.asarray(y), expected, atol=1e-4)
        grads.append(tape.gradient(loss, layer.kernel))
    np.testing.assert_allclose(np.asarray(grads[0]), np.asarray(grads[1]), atol=1e-3)
    np.testing.assert_allclose(np.asarray(grads[0]), np.asarray(grads[2]), atol=1e-3)


def test_grouped_conv2d_arguments():
    layer = conv.GroupedConv2D(6, 3, groups=3, implementation="native")
    assert layer.get_config()["implementation"] == "native"
    assert layer.get_config()["groups"] == 3
    with pytest.raises(ValueError, match="implementation"):
        conv.GroupedConv2D(6, 3, groups=3, implementation="fused")
    with pytest.raises(ValueError, match=r"input channels \(4\).*groups \(3\)"):
        conv.GroupedConv2D(6, 3, groups=3)(keras.Input((5, 5, 4)))


def test_grouped_conv_rejects_indivisible_channels():
    inp = keras.Input((5, 5, 6))
    with pytest.raises(ValueError, match=r"input channels \(6\).*groups \(4\)"):
        conv.grouped_conv(inp, 8, 3, groups=4)
    with pytest.raises(ValueError, match=r"filters \(5\).*groups \(3\)"):
        conv.grouped_conv(inp, 5, 3, groups=3)


def test_dilated_conv():
    x = sample((2, 9, 9, 3))
    for padding, pad in (("same", 2), ("valid", 0)):
        model = build(conv.dilated_conv, (9, 9, 3), filters=2, kernel_size=3,
                      dilation_rate=2, padding=padding, name="d")
        (kernel,) = weights(model, "d_conv")
        expected = conv2d_ref(x, kernel, dilation=2, pad=pad)
        np.testing.assert_allclose(run(model, x), expected, atol=1e-4)
        out = 9 if padding == "same" else 9 - 2 * 2  # n - (k - 1) l
        assert expected.shape[1] == out
        assert trainable_count(model) == 9 * 3 * 2  # k^2 M N, as without dilation
        assert measured_macs(model) == out * out * 9 * 3 * 2


def test_transposed_conv():
    x = sample((2, 4, 5, 3))
    model = build(conv.transposed_conv, (4, 5, 3), filters=2, kernel_size=3, strides=2,
                  use_bias=True, name="t")
    kernel, bias = weights(model, "t_conv")
    assert kernel.shape == (3, 3, 2, 3)
    y = run(model, x)
    assert y.shape == (2, (4 - 1) * 2 + 3, (5 - 1) * 2 + 3, 2)  # (n - 1) s + k
    np.testing.assert_allclose(y, transposed_ref(x, kernel, 2) + bias, atol=1e-4)
    assert trainable_count(model) == 9 * 3 * 2 + 2  # k^2 M N + N
    assert measured_macs(model) == 4 * 5 * 9 * 3 * 2  # H W k^2 M N (input positions)


def test_stride_two_padding_is_symmetric():
    # Even input at stride 2: TF "same" pads bottom/right only; ours pads 1 on each side.
    x = sample((1, 6, 6, 2))
    model = build(conv.grouped_conv, (6, 6, 2), filters=2, kernel_size=3, strides=2,
                  name="g")
    (kernel,) = weights(model, "g_conv")
    np.testing.assert_allclose(run(model, x), conv2d_ref(x, kernel, strides=2, pad=1),
                               atol=1e-4)
    assert run(model, x).shape == (1, 3, 3, 2)  # ceil(6 / 2)


# --- receptive field ---------------------------------------------------------------


def test_receptive_field_of_dilated_stack():
    # The notes: F1 = DilatedConv(F0, l=1), F2 (l=2), F3 (l=4), 3x3 kernels.
    assert conv.receptive_field([3, 3, 3], [1, 2, 4]) == [3, 7, 15]
    assert conv.receptive_field([3, 3, 3]) == [3, 5, 7]


def test_receptive_field_with_strides():
    # VGG: conv3, conv3, 2x2/2 pool, conv3. By hand: 3; 3 + 2 = 5; 5 + 1 = 6;
    # 6 + 2 * 2 (the pool's stride doubles each later step) = 10.
    assert conv.receptive_field([3, 3, 2, 3], strides=[1, 1, 2, 1]) == [3, 5, 6, 10]
    # A 3x3/2 conv then a dilated 3x3 (l = 2): 3 + 2 * 2 * 2 = 11.
    assert conv.receptive_field([3, 3], [1, 2], [2, 1]) == [3, 11]
    with pytest.raises(ValueError, match="one value per layer"):
        conv.receptive_field([3, 3], [1])


@pytest.mark.parametrize("kernels, dilations, strides, size", [
    ([3, 3, 3], [1, 2, 4], [1, 1, 1], 21),
    ([3, 3, 2, 3], [1, 1, 1, 1], [1, 1, 2, 1], 16),
    ([3, 3], [1, 2], [2, 1], 15),
])
def test_receptive_field_matches_gradient_support(kernels, dilations, strides, size):
    # All-ones kernels: an output pixel depends on exactly the inputs where its
    # gradient is non-zero, and that square's side is the receptive field.
    layers = [
        keras.layers.Conv2D(1, k, strides=s, dilation_rate=l, use_bias=False,
                            kernel_initializer="ones")
        for k, l, s in zip(kernels, dilations, strides)
    ]
    x = tf.constant(np.ones((1, size, size, 1), "float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x
        for layer in layers:
            y = layer(y)
        center = y[0, y.shape[1] // 2, y.shape[2] // 2, 0]
    support = np.argwhere(np.asarray(tape.gradient(center, x))[0, :, :, 0] > 0)
    side = support.max(axis=0) - support.min(axis=0) + 1
    expected = conv.receptive_field(kernels, dilations, strides)[-1]
    assert list(side) == [expected, expected]


# --- channel shuffle ---------------------------------------------------------------


def shuffle_ref(x, groups):
    return x.reshape(*x.shape[:-1], groups, x.shape[-1] // groups).swapaxes(-1, -2).reshape(x.shape)


def test_channel_shuffle_matches_numpy():
    x = sample((2, 3, 4, 12))
    inp = keras.Input((None, None, 12))  # unknown H, W
    model = keras.Model(inp, conv.ChannelShuffle(3)(inp))
    np.testing.assert_array_equal(run(model, x), shuffle_ref(x, 3))
    # output[..., i g + j] = input[..., j C / g + i]
    np.testing.assert_array_equal(run(model, x)[..., 1 * 3 + 2], x[..., 2 * 4 + 1])
    flat = sample((5, 6))
    np.testing.assert_array_equal(np.asarray(conv.ChannelShuffle(2)(flat)), shuffle_ref(flat, 2))


def test_channel_shuffle_inverse_is_identity():
    x = sample((2, 3, 3, 12))
    for g in (2, 3, 4, 6):
        back = conv.ChannelShuffle(12 // g)(conv.ChannelShuffle(g)(x))
        np.testing.assert_array_equal(np.asarray(back), x)
    assert not np.array_equal(np.asarray(conv.ChannelShuffle(3)(x)), x)


def test_channel_shuffle_rejects_indivisible_channels():
    with pytest.raises(ValueError, match=r"channels \(10\).*groups \(4\)"):
        conv.ChannelShuffle(4)(keras.Input((3, 3, 10)))
    with pytest.raises(ValueError, match="groups must be >= 1"):
        conv.ChannelShuffle(0)


# --- round trip, gradients, TFLite -------------------------------------------------

BUILDERS = {
    "pointwise": lambda x: conv.pointwise_conv(x, 6, use_bias=True),
    "spatial_separable": lambda x: conv.spatial_separable_conv(x, 6, strides=2),
    "flattened": lambda x: conv.flattened_conv(x, 6, use_bias=True),
    "flattened_strided": lambda x: conv.flattened_conv(x, 6, strides=2),
    "depthwise": lambda x: conv.depthwise_conv(x, depth_multiplier=2, strides=2),
    "depthwise_separable": lambda x: conv.depthwise_separable_conv(x, 6, strides=2),
    "grouped": lambda x: conv.grouped_conv(x, 6, 3, groups=2, use_bias=True),
    "grouped_native": lambda x: conv.grouped_conv(x, 6, 3, groups=2, implementation="native"),
    "dilated": lambda x: conv.dilated_conv(x, 6, dilation_rate=2),
    "transposed": lambda x: conv.transposed_conv(x, 6, 3, use_bias=True),
    "channel_shuffle": lambda x: conv.ChannelShuffle(2)(conv.pointwise_conv(x, 6)),
}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_round_trip_and_gradients(kind, tmp_path):
    inp = keras.Input((6, 6, 4))
    model = keras.Model(inp, BUILDERS[kind](inp))
    x = sample((2, 6, 6, 4))
    y = run(model, x)
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)  # no custom_objects
    np.testing.assert_allclose(run(again, x), y, atol=1e-6)

    probe = tf.constant(sample(y.shape))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) * probe)
    grads = tape.gradient(loss, model.trainable_weights)
    assert model.trainable_weights
    for w, g in zip(model.trainable_weights, grads):
        assert g is not None, w.path
        assert np.any(np.asarray(g)), w.path


def test_grouped_conv_and_shuffle_convert_to_builtin_tflite(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from kerascnn.export import exporter, tflite

    inp = keras.Input((8, 8, 3))
    x = conv.grouped_conv(inp, 6, 3, groups=3, strides=2, name="g1")
    x = conv.ChannelShuffle(3)(x)
    x = conv.depthwise_separable_conv(x, 12, name="dws")
    x = conv.grouped_conv(x, 12, 1, groups=4, name="g2")
    x = conv.flattened_conv(x, 12, strides=2, name="fl")  # unequal depthwise strides
    model = keras.Model(inp, x)
    exporter.write_saved_model(model, tmp_path, (8, 8, 3))
    flatbuffer = exporter.convert_to_tflite(tmp_path)  # raises on non-builtin ops
    ops = tflite.tflite_ops(flatbuffer)
    assert not ops["custom"] and "CONV_2D" in ops["builtin"] and "TRANSPOSE" in ops["builtin"]
    assert "DEPTHWISE_CONV_2D" in ops["builtin"]

    images = RNG.integers(0, 256, (2, 8, 8, 3)).astype("uint8")
    runner = Interpreter(model_content=flatbuffer).get_signature_runner(exporter.SIGNATURE_KEY)
    out = runner(**{exporter.INPUT_KEY: images})[exporter.OUTPUT_KEY]
    np.testing.assert_allclose(out, run(model, images.astype("float32")), rtol=1e-4, atol=1e-3)
