"""DenseNet: keras.applications parity, parameter counts and costs from the paper and torchvision."""

import numpy as np
import pytest

import keras
import kerascnn
from kerascnn.inspect import costs
from kerascnn.models import densenet
from trainable_counts import COUNTS  # tests/models/trainable_counts.py
from conftest import trainable_count  # noqa: E402  (tests/conftest.py)

# Trainable parameters with 1000 classes. Source: torchvision.models.densenet121/169/201
# (weights meta "num_params"; the paper's Table 1 networks, k = 32, DenseNet-BC),
# equal to keras.applications.DenseNet121/169/201's trainable weights (their
# count_params(), 8,062,504 for DenseNet121, adds BN's moving statistics).
IMAGENET_COUNTS = {n: COUNTS[n][1] for n in ("densenet121", "densenet169", "densenet201")}
KERAS_APPLICATIONS = {"densenet121": "DenseNet121", "densenet169": "DenseNet169",
                      "densenet201": "DenseNet201"}
# Multiply-adds at 224x224 (1 per multiply-add). Source: torchvision's weights meta
# "_ops" (GFLOPS, counted as multiply-adds): 2.834, 3.36, 4.291.
TORCHVISION_GMACS = {"densenet121": 2.834, "densenet169": 3.36, "densenet201": 4.291}
# CIFAR networks, 10 classes: Huang et al. 2017, Table 2 (DenseNet-BC L=100 k=12:
# 0.8M; DenseNet L=40 k=12: 1.0M); the exact figures follow from Sec. 3
# (`densenet_params` below).
CIFAR_COUNTS = {n: COUNTS[n][1] for n in ("densenet_bc100_k12", "densenet40_k12")}


def densenet_params(blocks, k, bottleneck, theta, stem, stem_filters, classes):
    """Trainable parameters of a DenseNet from the paper's Sec. 3, by hand.

    Convolutions have no bias; every BN has gamma and beta (2 per channel)."""
    c = stem_filters
    total = (7 * 7 * 3 if stem == "imagenet" else 3 * 3 * 3) * c
    if stem == "imagenet":
        total += 2 * c  # conv1_bn
    for i, n in enumerate(blocks):
        if i:  # transition: BN, 1x1 conv to floor(theta * c)
            out = int(c * theta)
            total += 2 * c + c * out
            c = out
        for _ in range(n):
            if bottleneck:  # BN, 1x1 conv to 4k, BN, 3x3 conv to k
                total += 2 * c + c * 4 * k + 2 * 4 * k + 9 * 4 * k * k
            else:  # BN, 3x3 conv to k
                total += 2 * c + 9 * c * k
            c += k
    return total + 2 * c + c * classes + classes  # final BN, classifier


@pytest.fixture(scope="module")
def ours():
    """The three keras.applications networks, built once, at any input size."""
    return {name: kerascnn.create_model(name, input_shape=(None, None, 3))
            for name in IMAGENET_COUNTS}


@pytest.fixture(scope="module")
def theirs():
    return {name: getattr(keras.applications, cls)(weights=None, input_shape=(32, 32, 3),
                                                   classifier_activation=None)
            for name, cls in KERAS_APPLICATIONS.items()}


@pytest.mark.parametrize("name", sorted(IMAGENET_COUNTS))
def test_imagenet_param_counts(name, ours, theirs):
    assert trainable_count(ours[name]) == IMAGENET_COUNTS[name]
    assert trainable_count(theirs[name]) == IMAGENET_COUNTS[name]
    blocks = {"densenet121": (6, 12, 24, 16), "densenet169": (6, 12, 32, 32),
              "densenet201": (6, 12, 48, 32)}[name]
    assert densenet_params(blocks, 32, True, 0.5, "imagenet", 64, 1000) == IMAGENET_COUNTS[name]


@pytest.mark.parametrize("name", sorted(IMAGENET_COUNTS))
def test_same_layer_names_and_weight_shapes_as_keras_applications(name, ours, theirs):
    """Every weighted layer has keras.applications' name and weight shapes (BN's
    moving statistics included), so their weights map onto ours by name."""
    def shapes(model):
        return {layer.name: [tuple(w.shape) for w in layer.weights]
                for layer in model.layers if layer.weights}

    assert shapes(ours[name]) == shapes(theirs[name])
    for layer in ours[name].layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            assert layer.epsilon == pytest.approx(1.001e-5), layer.name


def test_densenet121_computes_what_keras_applications_computes(ours, theirs):
    """Their weights copied by name: ours(raw images) == theirs(preprocess_input(raw))."""
    rng = np.random.default_rng(0)
    mine, ref = ours["densenet121"], theirs["densenet121"]
    for layer in ref.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
    for layer in mine.layers:
        if layer.weights:
            layer.set_weights(ref.get_layer(layer.name).get_weights())
    raw = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    expected = ref(keras.applications.densenet.preprocess_input(raw.copy()), training=False)
    np.testing.assert_allclose(np.asarray(mine(raw, training=False)), np.asarray(expected),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(TORCHVISION_GMACS))
def test_multiply_adds_at_224(name, ours):
    macs = costs(ours[name], input_shape=(224, 224, 3)).macs
    assert macs / 1e9 == pytest.approx(TORCHVISION_GMACS[name], rel=2e-3)


def test_densenet264_follows_table1():
    """Table 1: blocks (6, 12, 64, 48), k = 32. No reference implementation ships it;
    the count is Sec. 3's by hand (33.3 M, as Fig. 3 plots it)."""
    model = kerascnn.create_model("densenet264", input_shape=(32, 32, 3))
    assert trainable_count(model) == densenet_params(
        (6, 12, 64, 48), 32, True, 0.5, "imagenet", 64, 1000) == 33_337_704
    c = ((64 + 6 * 32) // 2 + 12 * 32) // 2 + 64 * 32  # channels into the last transition
    assert model.get_layer("conv5_block48_concat").output.shape[-1] == c // 2 + 48 * 32 == 2688


def test_stage_shapes_follow_table1(ours):
    """Table 1 at 224x224: dense blocks at 56, 28, 14, 7; transitions halve the channels."""
    model = ours["densenet121"]
    sub = keras.Model(model.input, [model.get_layer(n).output for n in (
        "conv1_relu", "pool1", "conv2_block6_concat", "pool2_pool", "conv3_block12_concat",
        "pool3_pool", "conv4_block24_concat", "pool4_pool", "conv5_block16_concat")])
    x = np.zeros((1, 224, 224, 3), "float32")
    got = [tuple(np.asarray(t).shape[1:]) for t in sub(x)]
    assert got == [(112, 112, 64), (56, 56, 64), (56, 56, 256), (28, 28, 128), (28, 28, 512),
                   (14, 14, 256), (14, 14, 1024), (7, 7, 512), (7, 7, 1024)]


def test_dense_connectivity_and_transition(ours):
    """x_l = H_l([x_0, ..., x_{l-1}]): a block's input passes unchanged into every
    concatenation; a transition average-pools its 1x1 conv 2x2/2."""
    model = ours["densenet121"]
    names = ("pool1", "conv2_block1_concat", "conv2_block6_concat", "pool2_conv", "pool2_pool")
    sub = keras.Model(model.input, [model.get_layer(n).output for n in names])
    x = np.random.default_rng(1).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    pool1, first, last, conv, pooled = (np.asarray(t) for t in sub(x, training=False))
    np.testing.assert_array_equal(first[..., :64], pool1)
    np.testing.assert_array_equal(last[..., :64], pool1)
    np.testing.assert_array_equal(last[..., :96], first)
    ref = conv.reshape(2, 8, 2, 8, 2, -1).mean(axis=(2, 4))
    np.testing.assert_allclose(pooled, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CIFAR_COUNTS))
def test_cifar_param_counts(name):
    """The formula gives the counts the built networks have (test_cifar_layout and
    the contract test check those)."""
    assert round(CIFAR_COUNTS[name] / 1e6, 1) == {"densenet_bc100_k12": 0.8, "densenet40_k12": 1.0}[name]
    bc = name.startswith("densenet_bc")
    blocks = (16,) * 3 if bc else (12,) * 3
    assert densenet_params(blocks, 12, bc, 0.5 if bc else 1.0, "cifar", 24 if bc else 16,
                           10) == CIFAR_COUNTS[name]


@pytest.mark.parametrize("name, depth, stem, widths", [
    # DenseNet-BC: 2k = 24 stem filters, 16 bottleneck layers per block, theta = 0.5
    ("densenet_bc100_k12", 100, 24, (24 + 16 * 12, 108 + 16 * 12, 150 + 16 * 12)),
    # DenseNet: 16 stem filters, 12 layers per block, no compression
    ("densenet40_k12", 40, 16, (16 + 12 * 12, 160 + 12 * 12, 304 + 12 * 12)),
])
def test_cifar_layout(name, depth, stem, widths):
    """Sec. 3: 3x3 stem conv, three dense blocks at 32, 16 and 8 pixels; L counts
    the convolutions and the classifier."""
    model = kerascnn.create_model(name, num_classes=10)
    assert trainable_count(model) == CIFAR_COUNTS[name]
    assert model.get_layer("conv1_conv").output.shape[1:] == (32, 32, stem)
    assert model.get_layer("conv1_conv").kernel_size == (3, 3)
    n = len([layer for layer in model.layers if layer.name.startswith("conv2_block")
             and layer.name.endswith("_concat")])
    for i, (side, width) in enumerate(zip((32, 16, 8), widths)):
        assert model.get_layer(f"conv{i + 2}_block{n}_concat").output.shape[1:] == (
            side, side, width)
    weighted = [layer for layer in model.layers
                if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(weighted) == depth
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)


def test_dropout_after_each_conv_but_the_first():
    """Sec. 4.2: dropout 0.2 after each convolution (but the first) without augmentation."""
    model = kerascnn.create_model("densenet40_k12", num_classes=10, dropout_rate=0.2)
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(drops) == 36 + 2 and all(d.rate == 0.2 for d in drops)
    plain = kerascnn.create_model("densenet40_k12", num_classes=10)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in plain.layers)


def test_cifar_builder_any_depth():
    model = densenet.DenseNetCIFAR(190, growth_rate=40, classes=10, input_shape=(8, 8, 3))
    assert model.name == "densenet_bc190_k40"
    assert trainable_count(model) == densenet_params((31,) * 3, 40, True, 0.5, "cifar", 80, 10)
    assert trainable_count(model) / 1e6 == pytest.approx(25.6, abs=0.05)  # Table 2: 25.6M
    assert densenet.DenseNetCIFAR(40, bottleneck=False, compression=1.0, classes=10,
                                  input_shape=(8, 8, 3)).name == "densenet40_k12"


@pytest.mark.parametrize("call, match", [
    (lambda: densenet.DenseNetCIFAR(42), r"6n \+ 4"),
    (lambda: densenet.DenseNetCIFAR(41, bottleneck=False), r"3n \+ 4"),
    (lambda: densenet.DenseNetCIFAR(100, stem="imagenet"), "fixes stem"),
    (lambda: kerascnn.create_model("densenet121", compression=0), r"compression .* \(0, 1\]"),
    (lambda: kerascnn.create_model("densenet121", compression=1.5), r"\(0, 1\]"),
    (lambda: kerascnn.create_model("densenet121", growth_rate=0), "growth_rate"),
    (lambda: kerascnn.create_model("densenet121", stem="tiny"), "stem must be one of"),
    (lambda: kerascnn.create_model("densenet121", blocks=(1,)), "fixes blocks"),
    (lambda: kerascnn.create_model("densenet121", input_shape=(16, 16, 3)), ">= 32"),
    (lambda: kerascnn.create_model("densenet_bc100_k12", input_shape=(2, 2, 3)), ">= 4"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
