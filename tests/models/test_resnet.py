"""ResNet v1: parameter counts from the papers, structure (keras.applications parity: tests/test_interop.py)."""

import numpy as np
import pytest

import keras
import kerascnn
from kerascnn.inspect import costs
from kerascnn.models import resnet, resnet_v2, resnext, senet
from trainable_counts import COUNTS  # tests/models/trainable_counts.py
from conftest import trainable_count  # noqa: E402  (tests/conftest.py)


# The trainable counts (torchvision's for ImageNet, the paper's and the reference
# implementation's for CIFAR) are in tests/models/trainable_counts.py; the contract
# test checks each registered model against them.


def cifar_formula(depth, classes=10):
    """Trainable parameters of a CIFAR ResNet with option-A shortcuts, by hand."""
    n = (depth - 2) // 6
    total = 3 * 3 * 3 * 16 + 2 * 16  # stem conv + BN (gamma, beta)
    c_in = 16
    for f in (16, 32, 64):
        for _ in range(n):
            total += 3 * 3 * c_in * f + 2 * f + 3 * 3 * f * f + 2 * f
            c_in = f
    return total + 64 * classes + classes


@pytest.mark.parametrize("depth, paper", [
    # He et al. 2016, Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M parameters.
    (20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_counts_follow_formula(depth, paper):
    count = cifar_formula(depth)
    assert COUNTS[f"resnet{depth}"] == (10, count)
    assert round(count / 1e6, 2 if depth < 100 else 1) == paper


@pytest.mark.parametrize("depth", [20, 32])
def test_cifar_depth_counts_weighted_layers(depth):
    model = resnet.ResNetCIFAR(depth, classes=10, input_shape=(8, 8, 3))
    assert trainable_count(model) == cifar_formula(depth)
    # 6n + 2 weighted layers: convs + the classifier
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    assert len(convs) + len(dense) == depth


def test_bias_option_adds_one_bias_per_conv_channel():
    plain = kerascnn.create_model("resnet18", input_shape=(64, 64, 3))
    biased = kerascnn.create_model("resnet18", input_shape=(64, 64, 3), use_bias=True)
    conv_channels = sum(
        l.filters for l in plain.layers if isinstance(l, keras.layers.Conv2D)
    )
    assert trainable_count(biased) - trainable_count(plain) == conv_channels


def test_stride_position_in_bottleneck():
    paper = kerascnn.create_model("resnet50", input_shape=(64, 64, 3))
    v15 = kerascnn.create_model("resnet50", input_shape=(64, 64, 3), stride_in_1x1=False)
    assert paper.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert paper.get_layer("conv3_block1_2_conv").strides == (1, 1)
    assert v15.get_layer("conv3_block1_1_conv").strides == (1, 1)
    assert v15.get_layer("conv3_block1_2_conv").strides == (2, 2)
    assert trainable_count(paper) == trainable_count(v15)
    # Same output resolution: 64 / 32 = 2 at conv5.
    assert paper.get_layer("conv5_block3_out").output.shape[1:3] == (2, 2)
    assert v15.get_layer("conv5_block3_out").output.shape[1:3] == (2, 2)


def test_stage_shapes_follow_table1():
    """He et al. 2016, Table 1: conv2_x 56x56, conv3_x 28, conv4_x 14, conv5_x 7."""
    model = kerascnn.create_model("resnet34")
    expect = {"conv1_relu": 112, "conv2_block3_out": 56, "conv3_block4_out": 28,
              "conv4_block6_out": 14, "conv5_block3_out": 7}
    for name, size in expect.items():
        assert model.get_layer(name).output.shape[1:3] == (size, size), name


def test_strided_conv_pads_symmetrically():
    """Our 3x3/2 conv equals a NumPy convolution with one pixel of zeros on every side."""
    model = kerascnn.create_model("resnet20", num_classes=10, input_shape=(8, 8, 3),
                                  preprocessing="none")
    sub = keras.Model(model.input, model.get_layer("conv3_block1_1_conv").output)
    feat = keras.Model(model.input, model.get_layer("conv2_block3_out").output)
    x = np.random.default_rng(0).uniform(0, 255, (1, 8, 8, 3)).astype("float32")
    f = np.asarray(feat(x))[0]
    kernel = model.get_layer("conv3_block1_1_conv").kernel.numpy()
    padded = np.pad(f, ((1, 1), (1, 1), (0, 0)))
    ref = np.zeros((4, 4, kernel.shape[-1]), np.float32)
    for i in range(4):
        for j in range(4):
            patch = padded[2 * i:2 * i + 3, 2 * j:2 * j + 3, :]
            ref[i, j] = np.tensordot(patch, kernel, axes=([0, 1, 2], [0, 1, 2]))
    # float32 sums of 144 products of magnitude ~1e3: agree to ~1e-4 relative
    np.testing.assert_allclose(np.asarray(sub(x))[0], ref, rtol=1e-4, atol=1e-3)


def test_option_a_shortcut_matches_numpy():
    layer = kerascnn.layers.ZeroPadShortcut(32, 2)
    x = np.random.default_rng(1).normal(size=(2, 7, 6, 16)).astype("float32")
    ref = np.zeros((2, 4, 3, 32), np.float32)
    ref[..., 8:24] = x[:, ::2, ::2, :]
    np.testing.assert_array_equal(np.asarray(layer(x)), ref)
    model = kerascnn.create_model("resnet20", num_classes=10)
    assert "conv3_block1_0_pad" in [l.name for l in model.layers]
    assert not any(l.name.endswith("_0_conv") for l in model.layers)


def test_normalization_inside_model():
    layer = kerascnn.layers.normalization_layer("imagenet", 3)
    x = np.random.default_rng(2).uniform(0, 255, (2, 5, 5, 3)).astype("float32")
    mean = np.array([0.485, 0.456, 0.406]) * 255
    std = np.array([0.229, 0.224, 0.225]) * 255
    np.testing.assert_allclose(np.asarray(layer(x)), (x - mean) / std, rtol=1e-5, atol=1e-5)
    caffe = kerascnn.layers.normalization_layer("caffe", 3)
    np.testing.assert_allclose(
        np.asarray(caffe(x)), x[..., ::-1] - np.array([103.939, 116.779, 123.68]),
        rtol=1e-5, atol=1e-4,
    )


def test_local_weights_file(tmp_path):
    model = kerascnn.create_model("resnet20", num_classes=10)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    again = kerascnn.create_model("resnet20", num_classes=10, weights=str(path))
    x = np.random.default_rng(4).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-6)


def test_include_top_false_and_pooling():
    feats = kerascnn.create_model("resnet18", include_top=False, input_shape=(64, 64, 3))
    assert feats.output.shape == (None, 2, 2, 512)
    pooled = kerascnn.create_model("resnet50", include_top=False, pooling="max",
                                   input_shape=(64, 64, 3))
    assert pooled.output.shape == (None, 2048)


def test_input_tensor():
    inp = keras.Input((40, 40, 3))
    model = kerascnn.create_model("resnet20", num_classes=4, input_tensor=inp)
    assert model.input_shape == (None, 40, 40, 3)
    assert model.output_shape == (None, 4)


@pytest.mark.parametrize("kwargs, match", [
    ({"classes": 1}, "classes must be an integer >= 2"),
    ({"num_classes": 0}, "classes must be an integer >= 2"),
    ({"weights": "imagenet"}, "ships no pretrained"),
    ({"pooling": "mean"}, "pooling must be one of"),
    ({"input_shape": (16, 16, 3)}, "height and width >= 32"),
    ({"input_shape": (64, 64)}, r"\(height, width, channels\)"),
    ({"preprocessing": "torch"}, "Unknown preprocessing"),
    ({"block": "bottleneck"}, r"fixes block='basic'; it cannot be passed"),
    ({"stride_in_1x1": False}, "applies to bottleneck blocks only"),
    ({"n_classes": 10}, r"unknown argument\(s\) \['n_classes'\]"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kerascnn.create_model("resnet18", **kwargs)


def test_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        kerascnn.create_model("resnet20", num_classes=10, weights=str(tmp_path / "nope.weights.h5"))


def test_bad_cifar_depth():
    with pytest.raises(ValueError, match="6n \\+ 2"):
        resnet.ResNetCIFAR(21)


def test_activation_and_initializer_by_name(tmp_path):
    model = kerascnn.create_model("resnet20", num_classes=10, activation="gelu_approx",
                                  kernel_initializer="xavier_normal")
    x = np.random.default_rng(5).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    # conv1_relu now computes x * sigmoid(1.702 x) of the stem's BN output.
    bn_out = keras.Model(model.input, model.get_layer("conv1_bn").output)(x)
    act_out = keras.Model(model.input, model.get_layer("conv1_relu").output)(x)
    b = np.asarray(bn_out)
    np.testing.assert_allclose(np.asarray(act_out), b / (1 + np.exp(-1.702 * b)), atol=1e-5)
    # Xavier as in the notes: Var = 1 / n_in, n_in = 3 * 3 * 16 for conv2_block1_1.
    kernel = model.get_layer("conv2_block1_1_conv").kernel.numpy()
    assert kernel.var() == pytest.approx(1 / (3 * 3 * 16), rel=0.15)
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-5)
    leaky = kerascnn.create_model("resnet20", num_classes=10, activation="leaky_relu")
    assert leaky.get_layer("conv1_relu").negative_slope == pytest.approx(0.01)


def test_unknown_activation_and_initializer():
    with pytest.raises(ValueError, match="Unknown activation 'gelu_aprox'.*gelu_approx"):
        kerascnn.create_model("resnet20", num_classes=10, activation="gelu_aprox")
    with pytest.raises(ValueError, match="Unknown initializer 'kaiming'.*kaiming_normal"):
        kerascnn.create_model("resnet20", num_classes=10, kernel_initializer="kaiming")


# ---- Plain twins (He et al. 2016, Sec. 4.1 and Fig. 4, 6) ----

def weighted_layers(model):
    return [l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))]


@pytest.mark.parametrize("plain, depth", [("plain18", 18), ("plain34", 34)])
def test_plain_twins_have_option_a_resnets_parameters(plain, depth):
    """"The residual networks have no extra parameter compared to their plain
    counterparts" (Fig. 4, with option-A shortcuts); depth = convs + classifier."""
    twin = kerascnn.create_model(plain, input_shape=(64, 64, 3))
    residual = kerascnn.create_model(f"resnet{depth}", input_shape=(64, 64, 3), shortcut="zero_pad")
    assert trainable_count(twin) == trainable_count(residual)
    assert len(weighted_layers(twin)) == depth
    assert not any(isinstance(l, (keras.layers.Add, kerascnn.layers.ZeroPadShortcut))
                   for l in twin.layers)


@pytest.mark.parametrize("plain, depth", [("plain20", 20), ("plain56", 56)])
def test_cifar_plain_twins(plain, depth):
    model = kerascnn.create_model(plain, num_classes=10)
    assert trainable_count(model) == cifar_formula(depth)  # option A adds no parameter
    assert len(weighted_layers(model)) == depth
    assert not any(isinstance(l, keras.layers.Add) for l in model.layers)


def test_plain_block_is_conv_bn_relu_twice():
    model = kerascnn.create_model("plain20", num_classes=10, input_shape=(8, 8, 3))
    out = model.get_layer("conv3_block1_out")
    assert out.input is model.get_layer("conv3_block1_2_bn").output


def test_plain_nets_refuse_stochastic_depth():
    with pytest.raises(ValueError, match="drop_path_rate needs shortcuts"):
        kerascnn.create_model("plain20", drop_path_rate=0.2)


# ---- Costs (He et al. 2016, Table 1: 1.8 and 3.6 x 10^9 FLOPs = multiply-adds) ----

@pytest.mark.parametrize("name, paper", [("resnet18", 1.8e9), ("resnet34", 3.6e9)])
def test_macs_at_224_within_2_percent_of_table1(name, paper):
    model = kerascnn.create_model(name)
    assert costs(model).macs == pytest.approx(paper, rel=0.02)


# ---- Stochastic depth (Huang et al. 2016) ----

def test_resnet110_sd_survival_follows_the_linear_decay():
    """p_l = 1 - l / L * (1 - p_L), L = 54 blocks, p_L = 0.5 (Huang et al., Eq. 4, Sec. 4)."""
    model = kerascnn.create_model("resnet110_sd", num_classes=10)
    drops = {l.name: l.survival_probability for l in model.layers
             if isinstance(l, kerascnn.layers.StochasticDepth)}
    L = 54
    expected = {f"conv{2 + (l - 1) // 18}_block{(l - 1) % 18 + 1}_drop_path": 1 - l / L * 0.5
                for l in range(1, L + 1)}
    assert drops.keys() == expected.keys()
    for name, p in expected.items():
        assert drops[name] == pytest.approx(p, abs=1e-12), name
    assert drops["conv4_block18_drop_path"] == pytest.approx(0.5)
    assert trainable_count(model) == COUNTS["resnet110"][1]  # no parameters


@pytest.mark.parametrize("builder, kwargs, blocks", [
    (resnet.ResNet, {"block": "basic", "stage_blocks": (2, 1, 1, 1)}, 5),
    (resnext.ResNeXt, {"stage_blocks": (1, 2, 1, 1), "se_ratio": 16}, 5),
    (resnext.ResNeXtCIFAR, {"depth": 29}, 9),
    (senet.SENet, {"stage_blocks": (1, 1, 2, 1)}, 5),
    (resnet_v2.ResNetV2, {"block": "bottleneck", "stage_blocks": (1, 1, 1, 2)}, 5),
    (resnet_v2.PreActResNetCIFAR, {"depth": 20, "block": "basic"}, 9),
    (resnet_v2.WideResNet, {"depth": 16, "widen_factor": 1}, 6),
])
def test_every_residual_family_takes_drop_path_rate(builder, kwargs, blocks):
    model = builder(drop_path_rate=0.2, input_shape=(32, 32, 3), **kwargs)
    p = sorted((l.survival_probability for l in model.layers
                if isinstance(l, kerascnn.layers.StochasticDepth)), reverse=True)
    np.testing.assert_allclose(p, [1 - l / blocks * 0.2 for l in range(1, blocks + 1)])


def test_stochastic_depth_at_training_and_inference():
    """Training: each sample's branch is dropped or kept and divided by p_l, so
    E[branch] is unchanged; inference: the branch is used whole. Huang et al.
    instead keep it unscaled and multiply it by p_l at test time, which is the
    same in expectation (kerascnn.layers.StochasticDepth)."""
    plain = kerascnn.create_model("resnet20", num_classes=10, input_shape=(8, 8, 3))
    model = kerascnn.create_model("resnet20", num_classes=10, input_shape=(8, 8, 3),
                                  drop_path_rate=0.5)
    model.set_weights(plain.get_weights())  # StochasticDepth holds no weights
    x = np.random.default_rng(6).uniform(0, 255, (64, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(plain(x)), rtol=1e-5, atol=1e-5)

    layer = model.get_layer("conv4_block3_drop_path")
    assert layer.survival_probability == pytest.approx(0.5)  # the last block: p_L
    probe = keras.Model(model.input, [layer.input, layer.output])
    branch, dropped = (np.asarray(t) for t in probe(x, training=True))
    kept = np.array([np.allclose(d, b / 0.5, rtol=1e-5, atol=1e-5) for d, b in zip(dropped, branch)])
    zeroed = np.all(dropped == 0, axis=(1, 2, 3))
    assert np.all(kept | zeroed) and kept.any() and zeroed.any()
    branch, used = (np.asarray(t) for t in probe(x, training=False))
    np.testing.assert_array_equal(used, branch)
