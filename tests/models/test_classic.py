"""The classic nets: MLP, XOR, LeNet-5, AlexNet, ZFNet against the papers' figures."""

import numpy as np
import pytest

import keras
import kerascnn
from kerascnn.inspect import costs
from kerascnn.layers import GroupedConv2D, LocalResponseNormalization
from kerascnn.models import classic
from conftest import trainable_count  # noqa: E402  (tests/conftest.py)


def output_sizes(model, names):
    return [model.get_layer(n).output.shape[1] for n in names]


# ----------------------------------------------------------------------------- MLP and XOR

XOR_POINTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
XOR_LABELS = np.array([0, 1, 1, 0])


def test_mlp_default_is_lecuns_784_300_10():
    # LeCun et al. 1998, Sec. III.C: the "2-layer NN, 300 HU" on 28x28 digits:
    # 784 * 300 + 300 hidden + 300 * 10 + 10 output parameters.
    model = kerascnn.create_model("mlp", classes=10)
    assert model.input_shape == (None, 28, 28, 1)
    assert trainable_count(model) == 784 * 300 + 300 + 300 * 10 + 10 == 238_510
    assert costs(model).macs == 784 * 300 + 300 * 10


def test_mlp_takes_flat_or_image_input_alike():
    image = kerascnn.create_model("mlp", widths=(16, 8), input_shape=(4, 4, 2), classes=3)
    flat = kerascnn.create_model("mlp", widths=(16, 8), input_shape=(32,), classes=3,
                                 preprocessing=((127.5,) * 32, (127.5,) * 32))
    flat.set_weights(image.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (5, 4, 4, 2)).astype("float32")
    np.testing.assert_allclose(flat(x.reshape(5, 32)), image(x), rtol=1e-5, atol=1e-5)


def test_mlp_options():
    model = kerascnn.create_model("mlp", widths=(20, 10), activation="tanh", dropout_rate=0.5,
                                  input_shape=(8,), classes=4)
    names = [layer.name for layer in model.layers]
    assert names == ["image", "normalize", "flatten", "fc1", "fc1_act", "fc1_dropout",
                     "fc2", "fc2_act", "fc2_dropout", "predictions"]
    assert model.get_layer("fc1_act").activation.__name__ == "tanh"
    # No hidden layer: one layer of perceptrons, a linear classifier.
    linear = kerascnn.create_model("mlp", widths=(), input_shape=(8,), classes=4)
    assert trainable_count(linear) == 8 * 4 + 4
    features = kerascnn.create_model("mlp", widths=(20,), input_shape=(8,), include_top=False)
    assert features.output_shape == (None, 1, 1, 20)  # a 1x1 map, as a 1x1 conv would give
    with pytest.raises(ValueError, match="widths must be positive"):
        classic.MLP(widths=(3, 0))
    with pytest.raises(ValueError, match="every size must be known"):
        classic.MLP(input_shape=(None, 28, 1))
    with pytest.raises(ValueError, match="dropout_rate"):
        classic.MLP(dropout_rate=1.0)


def test_xor_net_is_the_notes_2_2_2():
    model = kerascnn.create_model("xor_mlp", classes=2)
    assert model.input_shape == (None, 2)
    # 2 inputs -> 2 hidden units -> 2 logits: (2 * 2 + 2) + (2 * 2 + 2) parameters.
    assert trainable_count(model) == 12
    assert model.get_layer("fc1").units == 2
    with pytest.raises(ValueError, match=r"fixes widths"):
        kerascnn.create_model("xor_mlp", widths=(3,))


def test_xor_net_represents_xor_as_the_notes_build_it():
    # Seed 002: x XOR y = (x OR y) AND (NOT x OR NOT y). Step units, here sigmoids
    # of 20x the perceptrons' pre-activations: OR = [x + y - 0.5 > 0],
    # NAND = [-x - y + 1.5 > 0], AND of the two = [h1 + h2 - 1.5 > 0].
    model = kerascnn.create_model("xor_mlp", classes=2, activation="sigmoid",
                                  preprocessing="none")
    s = 20.0
    model.get_layer("fc1").set_weights([s * np.array([[1, -1], [1, -1]], "float32"),
                                        s * np.array([-0.5, 1.5], "float32")])
    # logit(true) - logit(false) = s * (h1 + h2 - 1.5)
    model.get_layer("predictions").set_weights([s * np.array([[0, 1], [0, 1]], "float32"),
                                                s * np.array([0, -1.5], "float32")])
    logits = np.asarray(model(XOR_POINTS))
    np.testing.assert_array_equal(logits.argmax(axis=1), XOR_LABELS)


def test_xor_net_learns_xor():
    # With two hidden units about one random start in ten ends with two points
    # on one hidden code (a local minimum), so up to three seeded starts.
    raw = 255.0 * XOR_POINTS  # raw values: a bit is 0 or 255
    steps = 1000
    for seed in range(3):
        keras.utils.set_random_seed(seed)
        model = kerascnn.create_model("xor_mlp", classes=2)
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        # One epoch of `steps` full batches: fit's per-epoch overhead only once.
        model.fit(np.tile(raw, (steps, 1)), np.tile(XOR_LABELS, steps), batch_size=4,
                  shuffle=False, verbose=0)
        predicted = np.asarray(model(raw)).argmax(axis=1)
        if np.array_equal(predicted, XOR_LABELS):
            break
    np.testing.assert_array_equal(predicted, XOR_LABELS)  # 100 % on the four points


# ----------------------------------------------------------------------------- LeNet-5

def test_lenet5_parameters_and_deviations():
    model = kerascnn.create_model("lenet5", classes=10)
    # LeCun et al. 1998, Sec. II.B: C1 156, S2 12, C3 1,516, S4 32, C5 48,120,
    # F6 10,164: "60,000 trainable free parameters" (the RBF output's are fixed).
    paper = 156 + 12 + 1_516 + 32 + 48_120 + 10_164
    assert paper == 60_000
    # The documented deviations: C3 sees all six maps (5*5*6*16 + 16 = 2,416),
    # S2/S4 have no coefficients, the output is a trainable dense layer (84*10 + 10).
    ours = paper + (2_416 - 1_516) - (12 + 32) + 850
    # 61,706: the LeNet-5 of the common Keras/PyTorch tutorials (10 classes).
    assert trainable_count(model) == ours == 61_706
    assert model.get_layer("c3_conv").kernel.shape == (5, 5, 6, 16)
    assert model.input_shape == (None, 32, 32, 1)
    # Fig. 2: 28x28 C1, 14x14 S2, 10x10 C3, 5x5 S4, 1x1 C5 maps.
    assert output_sizes(model, ["c1_conv", "s2_pool", "c3_conv", "s4_pool", "c5_conv"]) == [
        28, 14, 10, 5, 1]
    # One multiply-add per connection of the conv and dense layers.
    assert costs(model).macs == (28 * 28 * 25 * 6 + 10 * 10 * 25 * 6 * 16 + 25 * 16 * 120
                                 + 120 * 84 + 84 * 10)


def test_lenet5_options():
    relu_max = kerascnn.create_model("lenet5", activation="relu", subsampling="max")
    assert isinstance(relu_max.get_layer("s2_pool"), keras.layers.MaxPooling2D)
    assert relu_max.get_layer("c1_act").activation.__name__ == "relu"
    tanh_avg = kerascnn.create_model("lenet5")
    assert isinstance(tanh_avg.get_layer("s4_pool"), keras.layers.AveragePooling2D)
    assert tanh_avg.get_layer("f6_act").activation.__name__ == "tanh"
    with pytest.raises(ValueError, match="subsampling must be one of"):
        classic.LeNet5(subsampling="sum")
    # The paper's scaling of grey images: background 0 -> -0.1, ink 255 -> 1.175.
    scaled = kerascnn.create_model("lenet5", preprocessing=((20.0,), (200.0,)))
    out = scaled.get_layer("normalize")(np.array([0.0, 255.0]).reshape(1, 1, 2, 1))
    np.testing.assert_allclose(np.ravel(out), [-0.1, 1.175], rtol=1e-6)


# ----------------------------------------------------------------------------- AlexNet, ZFNet

def fc_params(flat, classes=1000):
    return flat * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * classes + classes


def conv_params(k, c_in, c_out, groups=1):
    return k * k * c_in // groups * c_out + c_out


@pytest.fixture(scope="module")
def alexnets():
    return {groups: kerascnn.create_model("alexnet", groups=groups) for groups in (1, 2)}


def test_alexnet_parameter_counts(alexnets):
    # Krizhevsky et al. 2012, Fig. 2 and Sec. 3.5: 96, 256, 384, 384, 256 maps,
    # 4096, 4096, 1000 units, "60 million parameters". Two towers split conv2,
    # conv4 and conv5 in two groups; 60,965,224 is Caffe's bvlc_alexnet count.
    two = (conv_params(11, 3, 96) + conv_params(5, 96, 256, 2) + conv_params(3, 256, 384)
           + conv_params(3, 384, 384, 2) + conv_params(3, 384, 256, 2) + fc_params(6 * 6 * 256))
    assert trainable_count(alexnets[2]) == two == 60_965_224
    one = (conv_params(11, 3, 96) + conv_params(5, 96, 256) + conv_params(3, 256, 384)
           + conv_params(3, 384, 384) + conv_params(3, 384, 256) + fc_params(6 * 6 * 256))
    assert trainable_count(alexnets[1]) == one == 62_378_344


def test_alexnet_layout(alexnets):
    model = alexnets[2]
    assert model.input_shape == (None, 227, 227, 3)
    # Fig. 2: 55x55 conv1 maps, 27x27 after pool1, 13x13 conv3-5, 6x6 after pool5.
    assert output_sizes(model, ["conv1_conv", "pool1", "conv2_conv", "pool2", "conv5_conv",
                                "pool5"]) == [55, 27, 27, 13, 13, 6]
    for name, kernel in [("conv2_conv", (5, 5, 48, 256)), ("conv4_conv", (3, 3, 192, 384)),
                         ("conv5_conv", (3, 3, 192, 256))]:
        assert isinstance(model.get_layer(name), GroupedConv2D)
        assert model.get_layer(name).kernel.shape == kernel
    assert not isinstance(model.get_layer("conv3_conv"), GroupedConv2D)  # conv3 sees both towers
    assert model.get_layer("conv3_conv").kernel.shape == (3, 3, 256, 384)
    names = [layer.name for layer in model.layers]
    # LRN after conv1's and conv2's ReLU, before pooling (Sec. 3.3, 3.5).
    assert names[names.index("conv1_relu") + 1: names.index("pool1") + 1] == ["norm1", "pool1"]
    assert names[names.index("conv2_relu") + 1: names.index("pool2") + 1] == ["norm2", "pool2"]
    norm = model.get_layer("norm1")
    assert isinstance(norm, LocalResponseNormalization)
    assert (norm.size, norm.k, norm.alpha, norm.beta) == (5, 2.0, 1e-4, 0.75)
    assert [model.get_layer(n).rate for n in ("fc1_dropout", "fc2_dropout")] == [0.5, 0.5]


def test_alexnet_multiply_adds(alexnets):
    # Sze et al. 2017 (arXiv:1703.09039), Table 4: AlexNet 724M MACs (666M in
    # the convolutions, 58.6M in the FC layers) for the two-tower network.
    conv = (55 * 55 * 121 * 3 * 96 + 27 * 27 * 25 * 48 * 256 + 13 * 13 * 9 * 256 * 384
            + 13 * 13 * 9 * 192 * 384 + 13 * 13 * 9 * 192 * 256)
    fc = 9216 * 4096 + 4096 * 4096 + 4096 * 1000
    macs = costs(alexnets[2]).macs
    assert macs == conv + fc
    assert abs(macs - 724e6) / 724e6 < 0.01


def test_alexnet_options():
    plain = kerascnn.create_model("alexnet", lrn=False, input_shape=(67, 67, 3))
    assert not any(isinstance(layer, LocalResponseNormalization) for layer in plain.layers)
    with pytest.raises(ValueError, match="groups must be 1"):
        classic.AlexNet(groups=4)
    with pytest.raises(ValueError, match=">= 67"):
        classic.AlexNet(input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="input size must be fixed"):
        classic.AlexNet(input_shape=(None, None, 3))
    features = classic.AlexNet(input_shape=(None, None, 3), include_top=False, pooling="avg")
    assert features.output_shape == (None, 256)


def test_zfnet_layout_and_counts():
    model = kerascnn.create_model("zfnet")
    # Zeiler & Fergus 2014, Fig. 3 at 224x224: 110x110x96 conv1 maps, 55 after
    # pool1, 26 conv2, 13 after pool2, 13x13 conv3-5, 6x6x256 after pool5.
    assert output_sizes(model, ["conv1_conv", "pool1", "conv2_conv", "pool2", "conv3_conv",
                                "conv4_conv", "conv5_conv", "pool5"]) == [
        110, 55, 26, 13, 13, 13, 13, 6]
    assert model.get_layer("conv1_conv").kernel.shape == (7, 7, 3, 96)
    assert model.get_layer("conv1_conv").strides == (2, 2)
    # Dense connections in layers 3-5 (Sec. 5): AlexNet's single-tower widths.
    count = (conv_params(7, 3, 96) + conv_params(5, 96, 256) + conv_params(3, 256, 384)
             + conv_params(3, 384, 384) + conv_params(3, 384, 256) + fc_params(6 * 6 * 256))
    assert trainable_count(model) == count == 62_357_608
    names = [layer.name for layer in model.layers]
    # Relu, then max pool, then contrast normalization (Sec. 2).
    assert names[names.index("conv1_relu") + 1: names.index("norm1") + 1] == ["pool1", "norm1"]
    conv = (110 * 110 * 49 * 3 * 96 + 26 * 26 * 25 * 96 * 256 + 13 * 13 * 9 * 256 * 384
            + 13 * 13 * 9 * 384 * 384 + 13 * 13 * 9 * 384 * 256)
    assert costs(model).macs == conv + 9216 * 4096 + 4096 * 4096 + 4096 * 1000
