"""Pre-activation ResNets and CIFAR wide ResNets: counts from the papers and
keras.applications, the keras.applications layout weight for weight, structure."""

import numpy as np
import pytest

import keras
import kerascnn
from kerascnn import registry
from kerascnn.models import resnet_v2
from trainable_counts import COUNTS  # tests/models/trainable_counts.py
from conftest import trainable_count  # noqa: E402  (tests/conftest.py)


def weight_shapes(model):
    return {l.name: [tuple(w.shape) for w in l.weights] for l in model.layers if l.weights}


def preact_bottleneck_formula(stage_blocks, stage_filters, stem, classes):
    """Trainable parameters of a paper-layout pre-activation bottleneck ResNet, by hand
    (He et al. 2016b, Fig. 1b; no conv bias, BN gamma and beta, 1x1 projections
    without BN where the channels change, BN-ReLU before the pooling)."""
    if stem == "imagenet":
        total, c_in, first_preact = 7 * 7 * 3 * 64 + 2 * 64, 64, False
    else:
        total, c_in, first_preact = 3 * 3 * 3 * stage_filters[0], stage_filters[0], True
    for i, (n, f) in enumerate(zip(stage_blocks, stage_filters)):
        for j in range(n):
            if first_preact or (i, j) != (0, 0):
                total += 2 * c_in  # the pre-activation BN
            total += c_in * f + 2 * f + 9 * f * f + 2 * f + f * 4 * f
            if c_in != 4 * f:
                total += c_in * 4 * f
            c_in = 4 * f
    return total + 2 * c_in + c_in * classes + classes


# ---- keras.applications' layout ----

KERAS_APPS = {"resnet50_v2": "ResNet50V2", "resnet101_v2": "ResNet101V2",
              "resnet152_v2": "ResNet152V2"}


@pytest.mark.parametrize("name", [
    "resnet50_v2",
    pytest.param("resnet101_v2", marks=pytest.mark.slow),
    pytest.param("resnet152_v2", marks=pytest.mark.slow),
])
def test_keras_layout_has_keras_applications_weights(name):
    """Same layer names, weight shapes and trainable count as keras.applications
    (weights=None), so their weights map by name."""
    theirs = getattr(keras.applications, KERAS_APPS[name])(weights=None, input_shape=(64, 64, 3))
    ours = kerascnn.create_model(name, layout="keras", use_bias=True, input_shape=(64, 64, 3))
    assert weight_shapes(ours) == weight_shapes(theirs)
    assert trainable_count(ours) == trainable_count(theirs)


def test_keras_layout_computes_what_keras_applications_computes():
    theirs = keras.applications.ResNet50V2(weights=None, input_shape=(64, 64, 3), classes=13,
                                           classifier_activation=None)
    ours = kerascnn.create_model("resnet50_v2", layout="keras", use_bias=True,
                                 bn_epsilon=1.001e-5, preprocessing="tf",
                                 input_shape=(64, 64, 3), classes=13)
    rng = np.random.default_rng(0)
    for layer in theirs.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
    for layer in ours.layers:
        if layer.weights:
            layer.set_weights(theirs.get_layer(layer.name).get_weights())
    raw = rng.uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    expected = theirs(keras.applications.resnet_v2.preprocess_input(raw.copy()), training=False)
    np.testing.assert_allclose(np.asarray(ours(raw, training=False)), np.asarray(expected),
                               rtol=1e-4, atol=1e-4)


def test_the_layouts_differ_where_they_stride():
    """Paper (fb.resnet.torch): the first block of conv3..conv5 strides its 3x3;
    keras.applications: the last block of conv2..conv4, with a max-pool shortcut."""
    paper = kerascnn.create_model("resnet50_v2", input_shape=(64, 64, 3))
    keras_layout = kerascnn.create_model("resnet50_v2", layout="keras", input_shape=(64, 64, 3))
    assert paper.get_layer("conv3_block1_2_conv").strides == (2, 2)
    assert paper.get_layer("conv2_block3_2_conv").strides == (1, 1)
    assert keras_layout.get_layer("conv2_block3_2_conv").strides == (2, 2)
    assert keras_layout.get_layer("conv3_block1_2_conv").strides == (1, 1)
    assert isinstance(keras_layout.get_layer("conv2_block3_0_pool"), keras.layers.MaxPooling2D)
    # The paper's stem is conv-BN-ReLU, so the first block has no pre-activation of its own.
    assert "conv2_block1_preact_bn" not in [l.name for l in paper.layers]
    assert "conv1_bn" not in [l.name for l in keras_layout.layers]
    for model in (paper, keras_layout):
        assert model.get_layer("conv5_block3_out").output.shape[1:3] == (2, 2)
        assert model.get_layer("post_relu").input is model.get_layer("post_bn").output


# ---- The paper's layout ----

def bn_formula(stage_blocks, stage_filters, stem):
    """BatchNorm's trainable gamma and beta in preact_bottleneck_formula's network."""
    total, c_in = (2 * 64, 64) if stem == "imagenet" else (0, stage_filters[0])
    first_preact = stem != "imagenet"
    for i, (n, f) in enumerate(zip(stage_blocks, stage_filters)):
        for j in range(n):
            if first_preact or (i, j) != (0, 0):
                total += 2 * c_in
            total += 2 * f + 2 * f
            c_in = 4 * f
    return total + 2 * c_in


IMAGENET = (64, 128, 256, 512)


@pytest.mark.parametrize("name, stage_blocks", [
    ("resnet50_v2", (3, 4, 6, 3)), ("resnet101_v2", (3, 4, 23, 3)),
    ("resnet152_v2", (3, 8, 36, 3)), ("resnet200_v2", (3, 24, 36, 3))])
def test_imagenet_counts_follow_the_formula(name, stage_blocks):
    """The counts the contract test checks each built model against
    (tests/models/trainable_counts.py) are the formula's; He et al. 2016b,
    Table 5 (the lecture notes' table): pre-ResNet-200, 64.7M."""
    count = preact_bottleneck_formula(stage_blocks, IMAGENET, "imagenet", 1000)
    assert COUNTS[name] == (1000, count)
    assert registry.get_builder(name).fixed_values["stage_blocks"] == stage_blocks
    if name == "resnet200_v2":
        assert round(count / 1e6, 1) == 64.7


@pytest.mark.parametrize("stem", ["imagenet", "cifar"])
def test_the_formulas_count_what_is_built(stem):
    if stem == "imagenet":
        blocks, filters, classes = (1, 2, 1, 1), IMAGENET, 1000
        model = resnet_v2.ResNetV2("bottleneck", blocks, input_shape=(32, 32, 3))
    else:
        blocks, filters, classes = (2, 2, 2), (16, 32, 64), 10
        model = resnet_v2.PreActResNetCIFAR(20, classes=10, input_shape=(8, 8, 3))
    assert trainable_count(model) == preact_bottleneck_formula(blocks, filters, stem, classes)
    bn = sum(int(np.prod(w.shape)) for l in model.layers
             if isinstance(l, keras.layers.BatchNormalization) for w in l.trainable_weights)
    assert bn == bn_formula(blocks, filters, stem)


def test_preact_resnet164():
    """He et al. 2016b, Table 2: ResNet-164 (pre-activation), 1.7M parameters; 1,703,258 with
    10 classes, as the authors' layout (16-64 / 32-128 / 64-256 bottlenecks, 18 per stage)."""
    model = kerascnn.create_model("preact_resnet164", num_classes=10, input_shape=(8, 8, 3))
    assert trainable_count(model) == COUNTS["preact_resnet164"][1] == 1_703_258
    assert trainable_count(model) == preact_bottleneck_formula((18,) * 3, (16, 32, 64), "cifar", 10)
    weighted = [l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(weighted) - 3 == 164  # minus the three 1x1 projection shortcuts
    assert model.get_layer("conv2_block1_preact_bn").input is model.get_layer("conv1_conv").output


def test_preact_resnet1001():
    """He et al. 2016b, Table 2: ResNet-1001, 10.2M parameters (111 bottlenecks per stage).

    That figure leaves out BatchNorm's gamma and beta (149,216 here): with them the
    network that has the paper's 1.7M for ResNet-164 has 10.33M. The contract test
    checks the built network against the same count (tests/models/trainable_counts.py)."""
    count = preact_bottleneck_formula((111,) * 3, (16, 32, 64), "cifar", 10)
    assert COUNTS["preact_resnet1001"] == (10, count)
    assert registry.get_builder("preact_resnet1001").fixed_values["depth"] == 1001
    bn = bn_formula((111,) * 3, (16, 32, 64), "cifar")
    assert bn == 149_216
    assert round((count - bn) / 1e6, 1) == 10.2


def test_preact_block_order():
    """He et al. 2016b, Fig. 1b: x + conv(ReLU(BN(conv(ReLU(BN(x)))))); a projection
    shortcut reads the pre-activated input, an identity shortcut the raw one."""
    model = kerascnn.create_model("preact_resnet18", num_classes=10, input_shape=(16, 16, 3))
    get = model.get_layer
    assert get("conv5_block2_out").output.shape[1:] == (2, 2, 512)  # 4 x 4 at 32 x 32
    assert get("conv3_block2_1_conv").input is get("conv3_block2_preact_relu").output
    assert get("conv3_block1_0_conv").input is get("conv3_block1_preact_relu").output
    assert get("conv3_block2_preact_bn").input is get("conv3_block1_out").output
    assert get("conv3_block2_out").input == [get("conv3_block1_out").output,
                                            get("conv3_block2_2_conv").output]


# ---- Wide ResNets (Zagoruyko & Komodakis 2016) ----

def wrn_formula(depth, k, classes=10):
    """WRN-d-k by hand: 3x3 stem of 16, n = (d - 4) / 6 pre-activation basic blocks
    of 16k / 32k / 64k, 1x1 projections where the width changes, final BN."""
    n = (depth - 4) // 6
    total, c_in = 3 * 3 * 3 * 16, 16
    for f in (16 * k, 32 * k, 64 * k):
        for _ in range(n):
            total += 2 * c_in + 9 * c_in * f + 2 * f + 9 * f * f
            total += c_in * f if c_in != f else 0
            c_in = f
    return total + 2 * c_in + c_in * classes + classes


@pytest.mark.parametrize("name, depth, k, paper", [
    # Zagoruyko & Komodakis, Table 4: WRN-28-10 36.5M, WRN-16-8 11.0M, WRN-40-4 8.9M.
    ("wrn28_10", 28, 10, 36.5), ("wrn16_8", 16, 8, 11.0), ("wrn40_4", 40, 4, 8.9),
])
def test_wrn_counts(name, depth, k, paper):
    """The contract test checks each built network against these counts."""
    count = wrn_formula(depth, k)
    assert COUNTS[name] == (10, count)
    assert round(count / 1e6, 1) == paper
    if name == "wrn28_10":
        # The exact figure of the authors' PyTorch code (and xternalz/WideResNet-pytorch).
        assert count == 36_479_194


def test_wrn_formula_counts_what_is_built():
    model = resnet_v2.WideResNet(10, 2, classes=10, input_shape=(8, 8, 3))
    assert trainable_count(model) == wrn_formula(10, 2)


def test_wrn_dropout_sits_between_the_convolutions():
    model = resnet_v2.WideResNet(16, 2, dropout_rate=0.3, classes=10)
    drop = model.get_layer("conv3_block2_dropout")
    assert drop.rate == 0.3
    assert drop.input is model.get_layer("conv3_block2_1_relu").output
    assert model.get_layer("conv3_block2_2_conv").input is drop.output
    assert model.name == "wrn16_2"


@pytest.mark.parametrize("call, match", [
    (lambda: resnet_v2.WideResNet(27, 10), "6n \\+ 4"),
    (lambda: resnet_v2.WideResNet(28, 0), "widen_factor must be an integer"),
    (lambda: resnet_v2.PreActResNetCIFAR(165), "3 \\* 3 \\* n \\+ 2"),
    (lambda: kerascnn.create_model("resnet50_v2", layout="tf"), "layout must be one of"),
    (lambda: kerascnn.create_model("resnet50_v2", dropout_rate=0.2), "basic blocks only"),
    (lambda: kerascnn.create_model("wrn16_8", depth=22), "fixes depth"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
