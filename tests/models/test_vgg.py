"""VGG: parameter counts and multiply-adds from the papers, keras.applications parity."""

import numpy as np
import pytest

import keras
import kerascnn
from kerascnn.inspect import costs
from kerascnn.models import vgg
from conftest import trainable_count  # noqa: E402  (tests/conftest.py)


def weighted_shapes(model):
    return {layer.name: [tuple(w.shape) for w in layer.weights]
            for layer in model.layers if layer.weights}


# Trainable parameters at 224x224 with 1000 classes. Source: torchvision.models
# vgg11 ... vgg19_bn (sum of p.numel() for p in model.parameters()); vgg16 and
# vgg19 are also keras.applications VGG16 / VGG19's (checked below) and the
# paper's 138M and 144M (Simonyan & Zisserman 2015, Table 2: 133, 133, 138, 144).
TORCHVISION_COUNTS = {
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
}


@pytest.mark.parametrize("name", sorted(TORCHVISION_COUNTS))
def test_param_counts(name):
    # Built at 32x32, where the last block leaves a 1x1 (not 7x7) x 512 map,
    # so fc1 has (49 - 1) x 512 x 4096 weights fewer than at 224x224.
    model = kerascnn.create_model(name, input_shape=(32, 32, 3))
    assert trainable_count(model) == TORCHVISION_COUNTS[name] - 48 * 512 * 4096


@pytest.fixture(scope="module")
def at_224():
    """Our vgg16 / vgg19 and keras.applications' VGG16 / VGG19, at 224x224."""
    models = {
        "vgg16": (kerascnn.create_model("vgg16"), keras.applications.VGG16(weights=None)),
        "vgg19": (kerascnn.create_model("vgg19"), keras.applications.VGG19(weights=None)),
    }
    yield models
    keras.backend.clear_session()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_matches_keras_applications(name, at_224):
    ours, theirs = at_224[name]
    assert trainable_count(ours) == trainable_count(theirs) == TORCHVISION_COUNTS[name]
    # Same weighted layers, by name and shape: block1_conv1 ... fc1, fc2, predictions.
    assert weighted_shapes(ours) == weighted_shapes(theirs)


@pytest.mark.slow
def test_multiply_adds(at_224):
    # One multiply-add counts 1. VGG-16: 15.5G (Sze et al. 2017, arXiv:1703.09039,
    # Table 4: 15.3G in the convolutions + 124M in the FC layers); VGG-19:
    # 19.6G (He et al. 2016, Sec. 3.3, "VGG-19 (19.6 billion FLOPs)").
    conv = lambda side, c_in, c_out: side * side * 9 * c_in * c_out  # noqa: E731
    fc = 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000
    vgg16 = (conv(224, 3, 64) + conv(224, 64, 64) + conv(112, 64, 128) + conv(112, 128, 128)
             + conv(56, 128, 256) + 2 * conv(56, 256, 256) + conv(28, 256, 512)
             + 2 * conv(28, 512, 512) + 3 * conv(14, 512, 512) + fc)
    vgg19 = vgg16 + conv(56, 256, 256) + conv(28, 512, 512) + conv(14, 512, 512)
    for name, exact, paper in [("vgg16", vgg16, 15.5e9), ("vgg19", vgg19, 19.6e9)]:
        ours, theirs = at_224[name]
        macs = costs(ours).macs
        assert macs == exact == costs(theirs).macs
        assert abs(macs - paper) / paper < 0.02, (name, macs)


def test_keras_applications_weights_carry_over_by_name():
    shape = (32, 32, 3)
    theirs = keras.applications.VGG16(weights=None, include_top=False, input_shape=shape)
    ours = kerascnn.create_model("vgg16", include_top=False, input_shape=shape,
                                 preprocessing="caffe")
    by_name = {layer.name: layer for layer in theirs.layers}
    for layer in ours.layers:
        if layer.weights:
            layer.set_weights(by_name[layer.name].get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (2, *shape)).astype("float32")
    expected = theirs(keras.applications.vgg16.preprocess_input(x.copy()))
    np.testing.assert_allclose(ours(x), expected, rtol=1e-4, atol=1e-4)


def test_layout():
    model = kerascnn.create_model("vgg11_bn", input_shape=(32, 32, 3))
    names = [layer.name for layer in model.layers]
    # Configuration A: 1, 1, 2, 2, 2 convolutions per block.
    assert [n for n in names if n.endswith("_pool")] == [f"block{i}_pool" for i in range(1, 6)]
    assert [n for n in names if n.startswith("block4_conv")] == [
        "block4_conv1", "block4_conv1_bn", "block4_conv1_relu",
        "block4_conv2", "block4_conv2_bn", "block4_conv2_relu"]
    assert names[-8:] == ["flatten", "fc1", "fc1_relu", "fc1_dropout",
                          "fc2", "fc2_relu", "fc2_dropout", "predictions"]
    assert model.get_layer("fc1_dropout").rate == 0.5
    plain = kerascnn.create_model("vgg11", input_shape=(32, 32, 3))
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in plain.layers)


def test_bias_and_batchnorm_parameters():
    # BN adds gamma and beta per conv channel; no bias removes one per channel.
    channels = 64 * 2 + 128 * 2 + 256 * 3 + 512 * 6  # VGG-16's 13 convolutions
    plain = kerascnn.create_model("vgg16", input_shape=(32, 32, 3))
    bn = kerascnn.create_model("vgg16_bn", input_shape=(32, 32, 3))
    no_bias = kerascnn.create_model("vgg16_bn", input_shape=(32, 32, 3), use_bias=False)
    assert trainable_count(bn) - trainable_count(plain) == 2 * channels
    assert trainable_count(bn) - trainable_count(no_bias) == channels


def test_arguments():
    with pytest.raises(ValueError, match="fixes batch_norm"):
        kerascnn.create_model("vgg16", batch_norm=True)
    with pytest.raises(ValueError, match="needs one count"):
        vgg.VGG(stage_convs=(2, 2, 3))
    with pytest.raises(ValueError, match="input size must be fixed"):
        vgg.vgg16(input_shape=(None, None, 3))
    features = vgg.vgg16(input_shape=(None, None, 3), include_top=False)
    assert features.output_shape == (None, None, None, 512)
