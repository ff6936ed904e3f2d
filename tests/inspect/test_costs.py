"""Cost accounting: the lecture's and papers' counts, every rule, the tool."""

import math
import os
import pathlib
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.inspect import CostReport, costs, register_cost

REPO = pathlib.Path(__file__).resolve().parents[2]


def single(layer, shape):
    x = keras.Input(shape)
    return keras.Model(x, layer(x))


def separable_and_standard(m, n, dk, df):
    """The lecture's pair: depthwise DkxDk + pointwise 1x1 vs one DkxDk conv."""
    x = keras.Input((df, df, m))
    y = keras.layers.DepthwiseConv2D(dk, padding="same", use_bias=False)(x)
    y = keras.layers.Conv2D(n, 1, use_bias=False)(y)
    separable = keras.Model(x, y)
    standard = single(keras.layers.Conv2D(n, dk, padding="same", use_bias=False), (df, df, m))
    return costs(separable), costs(standard)


def test_depthwise_separable_vs_standard_lecture_example():
    m = n = 128
    dk, df = 3, 64
    sep, std = separable_and_standard(m, n, dk, df)
    # Lecture notes (Park, CNN 2), MobileNet eqs. 1-5.
    assert sep.trainable_params == dk * dk * m + m * n == 17_536
    assert std.trainable_params == dk * dk * m * n == 147_456
    assert sep.macs == dk * dk * m * df * df + m * n * df * df == 71_827_456
    assert std.macs == dk * dk * m * n * df * df == 603_979_776
    assert abs(sep.macs / std.macs - (1 / n + 1 / dk**2)) < 1e-9
    assert [r.macs for r in sep.rows] == [dk * dk * m * df * df, m * n * df * df]


def test_mobilenet_table3_line():
    # MobileNet (Howard et al. 2017), Table 3: M = N = 512, D_F = 14, D_K = 3.
    sep, std = separable_and_standard(512, 512, 3, 14)
    assert std.macs == 462_422_016
    assert sep.macs == 52_283_392


def im2col_macs(x_shape, kernel, strides, dilation, padding, groups, filters):
    """Reference: build the im2col matrix of a 2-D convolution in NumPy.

    Each output pixel multiplies one patch row by the (patch x filters/groups)
    weight block of each group: one multiply-add per (row, patch element,
    filter), zero-padded taps included (they are still multiplied).
    """
    h, w, c = x_shape
    kh, kw = kernel
    eh, ew = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    if padding == "same":
        oh, ow = math.ceil(h / strides), math.ceil(w / strides)
        ph = max((oh - 1) * strides + eh - h, 0)
        pw = max((ow - 1) * strides + ew - w, 0)
        image = np.pad(np.ones((h, w, c)), ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        image = np.ones((h, w, c))
    windows = np.lib.stride_tricks.sliding_window_view(image, (eh, ew), axis=(0, 1))
    patches = windows[::strides, ::strides, :, ::dilation, ::dilation]
    rows = patches.shape[0] * patches.shape[1]
    patch_per_group = patches[..., : c // groups, :, :][0, 0].size
    return rows * groups * patch_per_group * (filters // groups)


@pytest.mark.parametrize(
    "shape, kernel, strides, dilation, padding, groups, filters",
    [
        ((16, 16, 8), (3, 3), 1, 1, "same", 1, 12),
        ((16, 16, 8), (3, 3), 1, 1, "same", 4, 12),
        ((16, 16, 8), (3, 3), 1, 2, "same", 1, 12),
        ((17, 15, 8), (3, 5), 2, 1, "valid", 2, 6),
        ((17, 15, 6), (7, 7), 2, 1, "same", 1, 4),
    ],
)
def test_conv2d_matches_im2col_reference(shape, kernel, strides, dilation, padding, groups, filters):
    layer = keras.layers.Conv2D(filters, kernel, strides=strides, dilation_rate=dilation,
                                padding=padding, groups=groups)
    report = costs(single(layer, shape))
    assert report.macs == im2col_macs(shape, kernel, strides, dilation, padding, groups, filters)
    assert report.trainable_params == math.prod(kernel) * shape[-1] // groups * filters + filters


def test_grouped_dilated_strided_conv():
    def macs(**kwargs):
        return costs(single(keras.layers.Conv2D(32, 3, padding="same", use_bias=False, **kwargs),
                            (16, 16, 32))).macs

    base = macs()
    assert base == 16 * 16 * 32 * 9 * 32
    assert macs(groups=4) * 4 == base
    assert macs(dilation_rate=2) == base
    assert macs(strides=2) * 4 == base


def test_depthwise_separable_transposed_conv1d_and_dense_rules():
    cases = [
        # (layer, input shape, multiply-adds written out)
        (keras.layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2), (11, 11, 4),
         5 * 5 * (4 * 2) * 9),
        (keras.layers.SeparableConv2D(8, 3, depth_multiplier=2), (11, 11, 4),
         9 * 9 * (4 * 2) * 9 + 9 * 9 * (4 * 2) * 8),
        (keras.layers.Conv2DTranspose(8, 3, strides=2), (5, 5, 4), 5 * 5 * 4 * 9 * 8),
        (keras.layers.Conv1D(5, 3, padding="causal"), (9, 6), 9 * 6 * 3 * 5),
        (keras.layers.Conv2D(4, 3, data_format="channels_first"), (6, 10, 10), 8 * 8 * 6 * 9 * 4),
        (keras.layers.Dense(10), (7, 7, 32), 49 * 32 * 10),
        (keras.layers.Dense(10), (32,), 32 * 10),
    ]
    for layer, shape, expected in cases:
        report = costs(single(layer, shape))
        assert report.macs == expected, (type(layer).__name__, report.macs, expected)
        assert report.trainable_params == sum(w.size for w in map(np.asarray, layer.trainable_weights))


def test_agrees_with_tensorflow_profiler_at_two_flops_per_macc():
    import tensorflow as tf
    from tensorflow.python.profiler import model_analyzer, option_builder

    def profiler_flops(model, shape):
        fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
            tf.TensorSpec((1, *shape), tf.float32))
        opts = option_builder.ProfileOptionBuilder.float_operation()
        opts["output"] = "none"
        return model_analyzer.profile(fn.graph, options=opts).total_float_ops

    # Without biases (the profiler counts a bias add as FLOPs; we do not).
    # Transposed convolutions are left out: TF's Conv2DBackpropInput count
    # follows the output grid, not the multiplications performed.
    for layer, shape in [
        (keras.layers.Conv2D(8, 3, strides=2, use_bias=False), (12, 12, 5)),
        (keras.layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False), (9, 9, 4)),
        (keras.layers.SeparableConv2D(8, 3, use_bias=False), (9, 9, 4)),
        (keras.layers.Dense(6, use_bias=False), (7, 7, 5)),
    ]:
        model = single(layer, shape)
        assert profiler_flops(model, shape) == 2 * costs(model).macs, type(layer).__name__


def small_net():
    x = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(8, 3, padding="same", name="conv")(x)
    y = keras.layers.BatchNormalization(name="bn")(y)
    y = keras.layers.ReLU(name="relu")(y)
    y = keras.layers.MaxPooling2D(name="pool")(y)
    frozen = keras.layers.Conv2D(8, 1, name="frozen")
    frozen.trainable = False
    y = keras.layers.Add(name="add")([y, frozen(y)])
    y = keras.layers.GlobalAveragePooling2D(name="gap")(y)
    return keras.Model(x, keras.layers.Dense(5, name="fc")(y))


def test_parameter_totals_match_the_weights():
    model = small_net()
    report = costs(model)
    assert report.trainable_params == sum(math.prod(w.shape) for w in model.trainable_weights)
    assert report.non_trainable_params == sum(math.prod(w.shape) for w in model.non_trainable_weights)
    # Keras' count_params() adds BN's moving statistics: trainable is the paper number.
    assert report.params == model.count_params() == report.trainable_params + 16 + 72
    assert sum(r.trainable_params for r in report.rows) == report.trainable_params
    assert sum(r.non_trainable_params for r in report.rows) == report.non_trainable_params
    by_name = {r.name: r for r in report.rows}
    assert by_name["frozen"].trainable_params == 0 and by_name["frozen"].non_trainable_params == 72
    assert by_name["bn"].macs == by_name["relu"].macs == by_name["add"].macs == 0
    assert by_name["conv"].output_shape == (None, 16, 16, 8)
    assert report.macs == 16 * 16 * 27 * 8 + 8 * 8 * 8 * 8 + 8 * 5
    assert report.unknown == []


def test_nested_model_is_counted_once_per_use():
    inner_in = keras.Input((None, None, 4))
    backbone = keras.Model(
        inner_in, keras.layers.Conv2D(6, 3, padding="same", use_bias=False, name="conv")(inner_in),
        name="backbone",
    )
    a, b = keras.Input((8, 8, 4)), keras.Input((4, 4, 4))
    pooled = [keras.layers.GlobalAveragePooling2D()(backbone(t)) for t in (a, b)]
    model = keras.Model([a, b], keras.layers.Concatenate()(pooled))
    report = costs(model)
    conv = 9 * 4 * 6
    assert report.macs == (8 * 8 + 4 * 4) * conv
    assert report.trainable_params == conv  # shared weights count once
    rows = [r for r in report.rows if r.name == "backbone/conv"]
    rows.sort(key=lambda r: -r.macs)  # the two calls sit at one graph depth, in either order
    assert [r.macs for r in rows] == [8 * 8 * conv, 4 * 4 * conv]
    assert [r.output_shape for r in rows] == [(None, 8, 8, 6), (None, 4, 4, 6)]
    assert sorted(r.trainable_params for r in rows) == [0, conv]


def test_none_spatial_dims_need_input_shape():
    model = kerascnn.create_model("resnet20", input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="input_shape"):
        costs(model)
    with pytest.raises(ValueError, match="contradicts"):
        costs(model, input_shape=(32, 32, 1))
    fixed = costs(kerascnn.create_model("resnet20", input_shape=(32, 32, 3)))
    report = costs(model, input_shape=(32, 32, 3))
    assert report.macs == fixed.macs > 0
    assert report.trainable_params == fixed.trainable_params
    assert report.input_shape == (32, 32, 3)
    assert costs(model, input_shape=(64, 64, 3)).macs > 3.9 * fixed.macs


class Excite(keras.layers.Layer):
    """A squeeze-excite block whose sub-layers are Dense layers; no cost rule."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.reduce = keras.layers.Dense(channels // 4, activation="relu", name="reduce")
        self.expand = keras.layers.Dense(channels, activation="sigmoid", name="expand")

    def call(self, x):
        s = self.expand(self.reduce(keras.ops.mean(x, axis=(1, 2))))
        return x * s[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape


class Scale(keras.layers.Layer):
    """A weighted leaf with no rule: its parameters count, its MACs are unknown."""

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.gamma


class Mixer(keras.layers.Layer):
    """A layer with a rule: the rule replaces the recursion into its Dense."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3, use_bias=False)

    def call(self, x):
        return self.dense(x)


@register_cost(Mixer)
def _mixer_macs(layer, input_shapes, output_shapes):
    return 1000 + math.prod(input_shapes[0][1:])


def test_custom_layers_recurse_rule_or_report_unknown():
    x = keras.Input((6, 6, 16))
    y = Excite(16, name="se")(x)
    y = Scale(name="scale")(y)
    y = Mixer(name="mixer")(y)
    model = keras.Model(x, y)
    with pytest.warns(UserWarning, match="no multiply-add rule.*scale"):
        report = costs(model)
    by_name = {r.name: r for r in report.rows}
    assert by_name["se/reduce"].macs == 16 * 4 and by_name["se/expand"].macs == 4 * 16
    assert by_name["se/reduce"].output_shape == (None, 4)
    assert by_name["scale"].macs == 0 and by_name["scale"].trainable_params == 16
    assert by_name["mixer"].macs == 1000 + 6 * 6 * 16
    assert by_name["mixer"].trainable_params == 16 * 3 and "mixer/dense" not in by_name
    assert report.unknown == ["scale"]
    assert report.macs == 16 * 4 + 4 * 16 + 1000 + 6 * 6 * 16
    assert report.trainable_params == sum(math.prod(w.shape) for w in model.trainable_weights)
    assert "scale" in report.table()
    with pytest.raises(ValueError, match="already has a cost rule"):
        register_cost(Mixer)(_mixer_macs)
    # The trace leaves no wrapper behind.
    assert all("call" not in vars(layer) for layer in model._flatten_layers())


def test_subclassed_and_sequential_models():
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.conv = keras.layers.Conv2D(4, 3, use_bias=False, name="conv")
            self.se = Excite(4, name="se")
            self.fc = keras.layers.Dense(2, use_bias=False, name="fc")

        def call(self, x):
            x = self.se(self.conv(x))
            return self.fc(keras.ops.mean(x, axis=(1, 2)))

    net = Net()
    with pytest.raises(ValueError, match="input_shape"):
        costs(net)  # not built: no shape to count at
    net(np.zeros((2, 10, 10, 3), "float32"))
    conv, se, fc = 8 * 8 * 27 * 4, 4 * 1 + 1 * 4, 4 * 2
    for report in costs(net), costs(net, input_shape=(10, 10, 3)):  # the built shape, or given
        assert report.macs == conv + se + fc
        assert [(r.name, r.macs) for r in report.rows] == [
            ("conv", conv), ("se/reduce", 4), ("se/expand", 4), ("fc", fc)]
        assert report.trainable_params == sum(math.prod(w.shape) for w in net.trainable_weights)
    assert costs(net, input_shape=(12, 12, 3)).macs == 10 * 10 * 27 * 4 + se + fc

    seq = keras.Sequential([keras.Input((10, 10, 3)), keras.layers.Conv2D(4, 3, use_bias=False),
                            keras.layers.Flatten(), keras.layers.Dense(2, use_bias=False)])
    assert costs(seq).macs == conv + 8 * 8 * 4 * 2


def test_table_and_summary():
    report = costs(small_net())
    assert isinstance(report, CostReport)
    text = report.table()
    lines = text.splitlines()
    assert any(line.startswith("conv ") and "Conv2D" in line and "(None, 16, 16, 8)" in line
               for line in lines)
    total = next(line for line in lines if line.startswith("Total "))
    assert f"{report.macs:,}" in total and f"{report.trainable_params:,}" in total
    assert "Total multiply-adds" in text and f"{2 * report.macs / 1e3:.2f} K FLOPs" in text
    top = report.table(top=2).splitlines()
    assert sum(line.startswith(("conv ", "frozen ", "fc ", "bn ")) for line in top) == 2
    assert "more rows" in report.table(top=2)
    widths = {len(line) for line in lines if line.startswith("-")}
    assert len(widths) == 1


def resnet50_macs():
    return costs(keras.applications.ResNet50(weights=None)).macs


def test_kerascnn_resnet50_equals_keras_applications():
    # Same layers; biases (which keras.applications has and we do not) are
    # not multiply-adds, and our in-model normalization costs nothing.
    ours = costs(kerascnn.create_model("resnet50"))
    assert ours.macs == resnet50_macs() == 3_857_973_248
    assert ours.unknown == []


def test_tool_prints_the_library_total():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "costs.py"), "--model=resnet50", "--top=3"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = costs(kerascnn.create_model("resnet50"))
    lines = proc.stdout.splitlines()
    row = [line for line in lines if line.startswith("Total  ")]  # the table's totals row
    summary = [line for line in lines if line.startswith("Total multiply-adds:")]
    assert len(row) == len(summary) == 1, proc.stdout[-2000:]
    for line in row + summary:
        assert f"{report.macs:,}" in line and f"{report.trainable_params:,}" in line
    assert "conv1_conv" in proc.stdout and "more rows" in proc.stdout


@pytest.mark.parametrize(  # about 1 s each, VGG16 6 s: not `slow`
    "name, expected",
    [
        # He et al. 2016, Table 1: 3.8 x 10^9 FLOPs (their FLOPs are
        # multiply-adds); 3.86 G is the usual count including the 2048x1000 FC.
        ("ResNet50", 3.86e9),
        # Simonyan & Zisserman 2015 give no count; 15.47 G is the common one
        # (15.35 G in the convolutions + 0.12 G in the three FC layers).
        ("VGG16", 15.47e9),
        # Howard et al. 2017, Table 8: 569 million mult-adds (FC included).
        ("MobileNet", 569e6),
        # Sandler et al. 2018, Table 4 says 300M; keras.applications' network
        # counts 300.77 M with the 1280x1000 FC (1.28 M), inside the 0.5 %.
        ("MobileNetV2", 301e6),
    ],
)
def test_keras_applications_match_the_papers(name, expected):
    model = getattr(keras.applications, name)(weights=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every weighted layer has a rule
        report = costs(model)
    assert abs(report.macs / expected - 1) < 0.005, report.macs
    assert report.trainable_params == sum(math.prod(w.shape) for w in model.trainable_weights)


def test_squeeze_excite_costs_two_fully_connected_layers():
    """Hu et al. 2018: the SE block adds 2C^2/r multiply-adds, whatever H and W."""
    import kerascnn

    inputs = keras.Input((7, 9, 64))
    model = keras.Model(inputs, kerascnn.layers.SqueezeExcite(ratio=16)(inputs))
    report = costs(model)
    assert report.macs == 2 * 64 * 64 // 16
    assert not report.unknown
