"""MobileNet v1, v2 and v3: counts, multiply-adds and structure against the papers,
torchvision and keras.applications."""

import numpy as np
import pytest

import keras
import kerascnn
from kerascnn.inspect import costs
from kerascnn.models import _common
from kerascnn.models.mobilenet import MobileNetV1, MobileNetV2
from kerascnn.models.mobilenet_v3 import MobileNetV3
from trainable_counts import COUNTS  # tests/models/trainable_counts.py

# One model per family, registered as is, at any input size.
NAMES = ("mobilenet_v1", "mobilenet_v1_conv", "mobilenet_v2", "mobilenet_v3_large",
         "mobilenet_v3_small")

# Multiply-adds (millions) at the input side given. Sources: Howard et al. 2017,
# Table 4 (Conv MobileNet 4866, MobileNet 569), Table 6 (alpha 0.75: 325, 0.5: 149,
# 0.25: 41, at 224), Table 7 (alpha 1 at 192, 160, 128: 418, 290, 186); Sandler
# et al. 2018, Table 4 (300); Howard et al. 2019, Table 3 (Large 219, Small 56).
PAPER_MMACS = {
    ("mobilenet_v1", 224): 569, ("mobilenet_v1", 192): 418, ("mobilenet_v1", 160): 290,
    ("mobilenet_v1", 128): 186, ("mobilenet_v1_conv", 224): 4866,
    ("mobilenet_v2", 224): 300, ("mobilenet_v3_large", 224): 219,
    ("mobilenet_v3_small", 224): 56,
}
V1_ALPHA_MMACS = {1.0: 569, 0.75: 325, 0.5: 149, 0.25: 41}  # Table 6, at 224
# torchvision's weights meta "_ops" (GFLOPS, counted as multiply-adds).
TORCHVISION_GMACS = {"mobilenet_v2": 0.301, "mobilenet_v3_large": 0.217,
                     "mobilenet_v3_small": 0.057}

# Table 1 of Howard et al. 2017: (pointwise output channels, stride) of the 13 pairs,
# written here again (not imported) so that the test checks the module's table.
V1_TABLE = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [
    (1024, 2), (1024, 1)]


def trainable_count(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def v1_macs(alpha, size, separable=True, classes=1000):
    """MobileNet v1's multiply-adds from Table 1 and Eq. 5 (D_K^2 M D_F^2 + M N D_F^2)."""
    side = -(-size // 2)
    m = int(32 * alpha)
    total = side * side * 27 * m
    for filters, stride in V1_TABLE:
        side = -(-side // stride)
        n = int(filters * alpha)
        total += side * side * (9 * m + m * n if separable else 9 * m * n)
        m = n
    return total + m * classes


def v1_params(alpha, separable=True, classes=1000):
    """Trainable parameters: kernels (no bias), BN's gamma and beta, the classifier."""
    m = int(32 * alpha)
    total = 27 * m + 2 * m
    for filters, _ in V1_TABLE:
        n = int(filters * alpha)
        total += (9 * m + 2 * m + m * n + 2 * n) if separable else (9 * m * n + 2 * n)
        m = n
    return total + m * classes + classes


@pytest.fixture(scope="module")
def models():
    return {name: kerascnn.create_model(name, input_shape=(None, None, 3)) for name in NAMES}


@pytest.fixture(scope="module")
def reports(models):
    """Per-layer costs at 224 x 224."""
    return {name: costs(model, input_shape=(224, 224, 3)) for name, model in models.items()}


def shapes(report):
    return {row.name: tuple(row.output_shape[1:]) for row in report.rows}


@pytest.mark.parametrize("name", NAMES)
def test_trainable_counts(name, models):
    """torchvision (v2: 3,504,872; v3: 5,483,032 and 2,542,856) and keras.applications
    (v1: 4,231,976 trainable), through tests/models/trainable_counts.py."""
    assert trainable_count(models[name]) == COUNTS[name][1]


def test_v1_count_formula_matches_keras_applications_and_table_4():
    keras_counts = {1.0: 4_231_976, 0.75: 2_585_560, 0.5: 1_331_592, 0.25: 470_072}
    for alpha, count in keras_counts.items():
        assert v1_params(alpha) == count
        assert COUNTS[{1.0: "mobilenet_v1", 0.75: "mobilenet_v1_075", 0.5: "mobilenet_v1_050",
                       0.25: "mobilenet_v1_025"}[alpha]][1] == count
    # Table 4 / 6: 29.3 M (Conv MobileNet), 4.2, 2.6, 1.3, 0.5 M.
    assert round(v1_params(1.0, separable=False) / 1e6, 1) == 29.3
    assert v1_params(1.0, separable=False) == COUNTS["mobilenet_v1_conv"][1]
    assert [round(v1_params(a) / 1e6, 1) for a in (1.0, 0.75, 0.5, 0.25)] == [4.2, 2.6, 1.3, 0.5]


@pytest.mark.parametrize("name,size", sorted(PAPER_MMACS))
def test_macs_match_the_papers(name, size, models):
    macs = costs(models[name], input_shape=(size, size, 3)).macs
    assert macs == pytest.approx(PAPER_MMACS[name, size] * 1e6, rel=0.03)
    if name.startswith("mobilenet_v1"):
        assert macs == v1_macs(1.0, size, separable=name == "mobilenet_v1")
    if size == 224 and name in TORCHVISION_GMACS:
        assert macs == pytest.approx(TORCHVISION_GMACS[name] * 1e9, rel=0.01)


def test_v1_width_multiplier_macs_table_6():
    for alpha, mmacs in V1_ALPHA_MMACS.items():
        assert v1_macs(alpha, 224) == pytest.approx(mmacs * 1e6, rel=0.03)


def test_v1_layout_table_1(reports):
    """Feature maps 112, 56, 28, 14, 7 at 224; depthwise then pointwise; Table 1's widths."""
    got = shapes(reports["mobilenet_v1"])
    assert got["conv1"] == (112, 112, 32)
    side, m = 112, 32
    for i, (filters, stride) in enumerate(V1_TABLE, 1):
        side //= stride
        assert got[f"conv_dw_{i}"] == (side, side, m), i
        assert got[f"conv_pw_{i}"] == (side, side, filters), i
        m = filters
    assert sorted({got[f"conv_pw_{i}"][0] for i in range(1, 14)}) == [7, 14, 28, 56, 112]
    conv = shapes(reports["mobilenet_v1_conv"])
    assert not any(name.startswith("conv_dw") for name in conv)
    assert [conv[f"conv_{i}"] for i in (1, 2, 4, 6, 12, 13)] == [
        (112, 112, 64), (56, 56, 128), (28, 28, 256), (14, 14, 512), (7, 7, 1024), (7, 7, 1024)]


def test_v1_is_relu6_with_bn_after_every_conv_and_no_bias(models):
    model = models["mobilenet_v1"]
    convs = [layer for layer in model.layers
             if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    assert len(convs) == 27
    names = {layer.name for layer in model.layers}
    for conv in convs:
        assert not conv.use_bias and conv.name + "_bn" in names
    relus = [layer for layer in model.layers if layer.name.endswith("_relu")]
    assert len(relus) == 27
    y = np.asarray(relus[0](np.array([[-1.0, 3.0, 7.0]], "float32")))
    np.testing.assert_allclose(y, [[0.0, 3.0, 6.0]])


def test_v2_blocks_follow_table_2(models, reports):
    """Per block: expansion t (expand width / input width), stride, output c, shortcut."""
    rows = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1)]
    layers = {layer.name: layer for layer in models["mobilenet_v2"].layers}
    got = shapes(reports["mobilenet_v2"])
    assert got["Conv1"] == (112, 112, 32)
    block, side, width, adds = 0, 112, 32, 0
    for t, c, n, s in rows:
        for j in range(n):
            prefix = f"block_{block}_" if block else "expanded_conv_"
            stride = s if j == 0 else 1
            side //= stride
            if t == 1:
                assert prefix + "expand" not in layers
            else:
                assert layers[prefix + "expand"].filters == t * width
            assert layers[prefix + "depthwise"].strides == (stride, stride)
            assert got[prefix + "project"] == (side, side, c)
            assert prefix + "project_relu" not in layers  # linear bottleneck
            residual = stride == 1 and width == c
            assert (prefix + "add" in layers) == residual, prefix
            adds += residual
            width = c
            block += 1
    assert block == 17 and adds == 10
    assert got["Conv_1"] == (7, 7, 1280)


# torchvision's mobilenet_v3 configs (Howard et al. 2019, Tables 1 and 2):
# (kernel, expanded, out, SE, nonlinearity, stride); squeeze widths
# make_divisible(expanded / 4, 8) as in torchvision's SqueezeExcitation.
V3_TABLES = {
    "mobilenet_v3_large": [
        (3, 16, 16, 0, "relu", 1), (3, 64, 24, 0, "relu", 2), (3, 72, 24, 0, "relu", 1),
        (5, 72, 40, 24, "relu", 2), (5, 120, 40, 32, "relu", 1), (5, 120, 40, 32, "relu", 1),
        (3, 240, 80, 0, "hard_swish", 2), (3, 200, 80, 0, "hard_swish", 1),
        (3, 184, 80, 0, "hard_swish", 1), (3, 184, 80, 0, "hard_swish", 1),
        (3, 480, 112, 120, "hard_swish", 1), (3, 672, 112, 168, "hard_swish", 1),
        (5, 672, 160, 168, "hard_swish", 2), (5, 960, 160, 240, "hard_swish", 1),
        (5, 960, 160, 240, "hard_swish", 1)],
    "mobilenet_v3_small": [
        (3, 16, 16, 8, "relu", 2), (3, 72, 24, 0, "relu", 2), (3, 88, 24, 0, "relu", 1),
        (5, 96, 40, 24, "hard_swish", 2), (5, 240, 40, 64, "hard_swish", 1),
        (5, 240, 40, 64, "hard_swish", 1), (5, 120, 48, 32, "hard_swish", 1),
        (5, 144, 48, 40, "hard_swish", 1), (5, 288, 96, 72, "hard_swish", 2),
        (5, 576, 96, 144, "hard_swish", 1), (5, 576, 96, 144, "hard_swish", 1)],
}


@pytest.mark.parametrize("name", sorted(V3_TABLES))
def test_v3_rows_se_and_activations_follow_the_tables(name, models, reports):
    layers = {layer.name: layer for layer in models[name].layers}
    got = shapes(reports[name])
    assert got["conv"] == (112, 112, 16) and "conv_hard_swish" in layers
    side, width = 112, 16
    for i, (k, expanded, out, squeeze, act, stride) in enumerate(V3_TABLES[name]):
        prefix = f"expanded_conv_{i}_" if i else "expanded_conv_"
        side //= stride
        depthwise = layers[prefix + "depthwise"]
        assert depthwise.kernel_size == (k, k) and depthwise.strides == (stride, stride)
        assert got[prefix + "depthwise"] == (side, side, expanded)
        assert (prefix + "expand" in layers) == (expanded != width)
        assert prefix + f"depthwise_{act}" in layers
        if squeeze:
            assert layers[prefix + "squeeze_excite_conv"].filters == squeeze
            assert layers[prefix + "squeeze_excite_conv"].use_bias
            assert prefix + "squeeze_excite_hard_sigmoid" in layers
        else:
            assert prefix + "squeeze_excite_conv" not in layers
        assert got[prefix + "project"] == (side, side, out)
        assert (prefix + "add" in layers) == (stride == 1 and width == out)
        width = out
    assert side == 7
    last, head = {"mobilenet_v3_large": (960, 1280), "mobilenet_v3_small": (576, 1024)}[name]
    assert got["conv_1"] == (7, 7, last)
    assert layers["conv_2"].units == head and layers["conv_2"].use_bias
    assert layers["top_dropout"].rate == 0.2


def test_v3_gate_and_swish_are_relu6_formulas(models):
    layers = {layer.name: layer for layer in models["mobilenet_v3_large"].layers}
    x = np.linspace(-5, 5, 11, dtype="float32").reshape(1, 11)
    gate = np.asarray(layers["expanded_conv_3_squeeze_excite_hard_sigmoid"](x))
    swish = np.asarray(layers["conv_hard_swish"](x))
    np.testing.assert_allclose(gate, np.clip(x + 3, 0, 6) / 6, atol=1e-6)
    np.testing.assert_allclose(swish, x * np.clip(x + 3, 0, 6) / 6, atol=1e-6)


def test_make_divisible_known_widths():
    """Widths of the authors' code: v2 alpha 0.35 stem 16, v2 alpha 1.4 last conv 1792,
    v3's SE widths."""
    assert _common.make_divisible(32 * 0.35) == 16
    assert _common.make_divisible(1280 * 1.4) == 1792
    assert [_common.make_divisible(c / 4) for c in (16, 72, 120, 480)] == [8, 24, 32, 120]


KERAS_APPLICATIONS = {
    "mobilenet_v1": lambda: keras.applications.MobileNet(
        include_top=False, weights=None, input_shape=(32, 32, 3)),
    "mobilenet_v2": lambda: keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(32, 32, 3)),
    "mobilenet_v3_large": lambda: keras.applications.MobileNetV3Large(
        include_top=False, weights=None, input_shape=(32, 32, 3), include_preprocessing=False),
    "mobilenet_v3_small": lambda: keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3), include_preprocessing=False),
}


@pytest.fixture(scope="module")
def theirs():
    return {name: build() for name, build in KERAS_APPLICATIONS.items()}


def weighted(model):
    return {layer.name: [tuple(w.shape) for w in layer.weights]
            for layer in model.layers if layer.weights}


@pytest.mark.parametrize("name", sorted(KERAS_APPLICATIONS))
def test_same_weight_names_and_shapes_as_keras_applications(name, models, theirs):
    """Every weighted layer below the top has keras.applications' name and weight
    shapes (BN's moving statistics included), so that its weights map by name."""
    ours = weighted(models[name])
    for top in ("predictions", "conv_2"):
        ours.pop(top, None)
    assert ours == weighted(theirs[name])


# padding="keras" reproducing keras.applications' outputs from its weights is
# tests/test_interop.py's (with calibrated BN statistics, so that a wrong padding shows).


@pytest.mark.parametrize("builder,kwargs,match", [
    (MobileNetV1, {"alpha": 0}, "alpha"),
    (MobileNetV1, {"alpha": -0.5}, "alpha"),
    (MobileNetV1, {"alpha": True}, "alpha"),
    (MobileNetV1, {"alpha": 0.01}, "at least one filter"),
    (MobileNetV1, {"depth_multiplier": 0}, "depth_multiplier"),
    (MobileNetV1, {"separable": "yes"}, "separable"),
    (MobileNetV1, {"dropout_rate": 1.0}, "dropout_rate"),
    (MobileNetV2, {"alpha": "1.0"}, "alpha"),
    (MobileNetV2, {"input_shape": (16, 16, 3)}, "needs height and width >= 32"),
    (MobileNetV3, {"config": "medium"}, r"config must be one of \['large', 'small'\]"),
    (MobileNetV3, {"config": "large", "alpha": 0.0}, "alpha"),
    (MobileNetV3, {"config": "small", "pooling": "sum"}, "pooling"),
    (MobileNetV3, {"config": "small", "padding": "same"}, r"padding must be one of"),
    (MobileNetV2, {"padding": "valid"}, r"\('symmetric', 'keras'\)"),
])
def test_bad_arguments_fail_before_any_layer(builder, kwargs, match, monkeypatch):
    def no_layers(*args, **kw):
        raise AssertionError("a layer was built")

    monkeypatch.setattr(keras.layers.Layer, "__init__", no_layers)
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)
