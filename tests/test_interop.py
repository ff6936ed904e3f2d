"""kerascnn.interop: each keras.applications network it converts computes what the source
computes on its own preprocessing, and anything else is a clear error."""

import inspect
import re

import numpy as np
import pytest

import keras
import kerascnn
from kerascnn import interop

# Each network's keras.applications module, whose preprocess_input our model must hold.
MODULES = {"vgg16": "vgg16", "vgg19": "vgg19", "resnet50": "resnet", "resnet101": "resnet",
           "resnet152": "resnet", "resnet50v2": "resnet_v2", "resnet101v2": "resnet_v2",
           "resnet152v2": "resnet_v2", "densenet121": "densenet", "densenet169": "densenet",
           "densenet201": "densenet", "mobilenet": "mobilenet", "mobilenetv2": "mobilenet_v2",
           "MobileNetV3Small": "mobilenet_v3", "MobileNetV3Large": "mobilenet_v3"}
# MobileNetV3 normalizes inside the model (include_preprocessing=True: a Rescaling
# to x / 127.5 - 1, keras/src/applications/mobilenet_v3.py) and its preprocess_input
# passes images through; without that Rescaling it expects [-1, 1] inputs.
V3 = ("MobileNetV3Small", "MobileNetV3Large")

# How each source is built: small inputs; the top with softmax (VGG16) and with logits
# (ResNet50, fc vs. pooled head), and each pooling without it.
SOURCES = {
    "vgg16": {"include_top": True, "classes": 10},
    "vgg19": {"include_top": False, "pooling": None},
    "resnet50": {"include_top": True, "classes": 13, "classifier_activation": None},
    "resnet101": {"include_top": False, "pooling": "avg"},
    "resnet152": {"include_top": False, "pooling": "avg"},
    "resnet50v2": {"include_top": False, "pooling": "max"},
    "resnet101v2": {"include_top": False, "pooling": "avg"},
    "resnet152v2": {"include_top": False, "pooling": "avg"},
    "densenet121": {"include_top": False, "pooling": "avg"},
    "densenet169": {"include_top": False, "pooling": "max"},
    "densenet201": {"include_top": False, "pooling": "avg"},
    "mobilenet": {"include_top": True, "classes": 10},
    "mobilenetv2": {"include_top": True, "classes": 11, "classifier_activation": None},
    "MobileNetV3Small": {"include_top": True, "classes": 12, "classifier_activation": None},
    "MobileNetV3Large": {"include_top": True, "classes": 10, "include_preprocessing": False},
}
# The MobileNets without the top under each pooling, with the other widths
# (alphas) that from_keras_applications reads from the layers, and V3 with and
# without its own preprocessing.
MORE_SOURCES = [
    ("mobilenet", {"include_top": False, "pooling": "avg", "alpha": 0.5, "depth_multiplier": 2}),
    ("mobilenet", {"include_top": False, "pooling": "max", "alpha": 0.25}),
    ("mobilenetv2", {"include_top": False, "pooling": None, "alpha": 0.35}),
    ("mobilenetv2", {"include_top": False, "pooling": "avg", "alpha": 1.4}),
    ("MobileNetV3Small", {"include_top": False, "pooling": None, "include_preprocessing": False}),
    ("MobileNetV3Large", {"include_top": False, "pooling": "max"}),
]
# A layer under the top with the same name in both (features a softmax cannot hide).
UNDER_TOP = {"mobilenet": "conv_pw_13_relu", "mobilenetv2": "out_relu",
             "MobileNetV3Small": "conv_1_bn", "MobileNetV3Large": "conv_1_bn"}
DEEPEST = ("resnet152", "resnet152v2", "densenet201")
SHAPE = (32, 32, 3)


def build(network, **kwargs):
    cls = getattr(keras.applications, interop.NETWORKS[network].keras_class)
    return cls(weights=None, input_shape=SHAPE, **kwargs)


def randomize(model, seed=0):
    """Random BN statistics, scales and shifts, and random biases (kernels are random
    already), so a weight mapped to the wrong place changes the output."""
    rng = np.random.default_rng(seed)
    draw = {"gamma": lambda s: rng.uniform(0.5, 1.5, s), "beta": lambda s: rng.normal(0, 0.1, s),
            "moving_mean": lambda s: rng.normal(0, 0.1, s),
            "moving_variance": lambda s: rng.uniform(0.5, 2.0, s),
            "bias": lambda s: rng.normal(0, 1.0, s)}
    for layer in model.layers:
        for w in layer.weights:
            if w.name in draw:
                w.assign(draw[w.name](tuple(w.shape)).astype("float32"))


def calibrate(model, x, seed=1):
    """BatchNormalization statistics near those of the model's activations on the
    images x (16 or so: at 1 x 1 maps a batch's variance is over its images), then
    perturbed (means by 0.1 std, variances times 0.5 ... 2). With random statistics
    alone, a MobileNet's signal dies out within its first blocks at 32x32: its output
    is the same for every image, and a weight or padding mapped wrongly there would
    go unseen. One training-mode pass with momentum 0 sets each layer's statistics."""
    layers = [layer for layer in model.layers
              if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(x, training=True)
    rng = np.random.default_rng(seed)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
        shape = tuple(layer.moving_mean.shape)
        variance = np.asarray(layer.moving_variance)
        layer.moving_mean.assign(np.asarray(layer.moving_mean)
                                 + rng.normal(0, 0.1, shape) * np.sqrt(variance))
        layer.moving_variance.assign(variance * rng.uniform(0.5, 2.0, shape))


def raw_images(seed=3, count=2):
    return np.random.default_rng(seed).uniform(0, 255, (count, *SHAPE)).astype("float32")


def their_input(name, kwargs, x):
    """What the source takes for raw images x: its preprocess_input's, or for V3 the
    raw images (its Rescaling inside) or, without that Rescaling, x / 127.5 - 1."""
    if name in V3:
        return x if kwargs.get("include_preprocessing", True) else x / 127.5 - 1.0
    return getattr(keras.applications, MODULES[name]).preprocess_input(x.copy())


def output(model, x, layer=None):
    if layer is not None:
        model = keras.Model(model.input, model.get_layer(layer).output)
    return np.asarray(model(x, training=False))


def test_networks_are_keras_applications_names_and_our_variants():
    assert set(interop.NETWORKS) == set(MODULES) == set(SOURCES)
    for name, network in interop.NETWORKS.items():
        cls = getattr(keras.applications, network.keras_class)
        # MobileNet and MobileNetV2 name themselves mobilenet[v2]_{alpha}_{rows} (None).
        assert inspect.signature(cls).parameters["name"].default in (name, None)
        assert network.variant.__name__ in kerascnn.list_models()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_preprocessing_is_their_preprocess_input(name):
    """No new preset: caffe (VGG, ResNet), tf (ResNetV2) and torch mode (DenseNet:
    x / 255 then the ImageNet mean / std) are our "caffe", "tf" and "imagenet"."""
    x = raw_images()
    layer = kerascnn.layers.normalization_layer(interop.NETWORKS[name].preprocessing, 3)
    theirs = getattr(keras.applications, MODULES[name]).preprocess_input(x.copy())
    if name in V3:  # the identity: the model's Rescaling(1 / 127.5, offset=-1) does it
        np.testing.assert_array_equal(np.asarray(theirs), x)
        theirs = x / 127.5 - 1.0
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(theirs), rtol=1e-5, atol=1e-4)


def case_id(name, kwargs):
    """e.g. "mobilenet-max-alpha=0.25": the network, the top or pooling, other arguments."""
    head = "top" if kwargs.get("include_top") else str(kwargs.get("pooling")).lower()
    rest = [f"{k}={v}" for k, v in kwargs.items()
            if k in ("alpha", "depth_multiplier", "include_preprocessing",
                     "classifier_activation")]
    return "-".join([name, head, *rest])


@pytest.mark.parametrize("name, kwargs", [
    pytest.param(n, k, id=case_id(n, k), marks=[pytest.mark.slow] if n in DEEPEST else [])
    for n, k in sorted(SOURCES.items()) + MORE_SOURCES])
def test_ours_on_raw_images_equals_theirs_on_preprocess_input(name, kwargs):
    theirs = build(name, **kwargs)
    randomize(theirs)
    x = raw_images()
    preprocessed = their_input(name, kwargs, x)
    if name in UNDER_TOP:  # the MobileNets
        calibrate(theirs, their_input(name, kwargs, raw_images(seed=4, count=16)))
    ours = interop.from_keras_applications(theirs)
    assert ours.name == theirs.name
    assert ours.count_params() == theirs.count_params()
    if kwargs.get("include_top") and isinstance(theirs.layers[-1], keras.layers.Activation):
        # MobileNet v1 / V3: a 1 x 1 conv, reshape and Activation top; ours a Dense.
        assert isinstance(ours.layers[-1], keras.layers.Dense)
        assert ours.layers[-1].name == theirs.layers[-1].name == "predictions"
    elif kwargs.get("include_top") or kwargs.get("pooling") or name not in UNDER_TOP:
        # (The MobileNets' features end in an activation layer, ReLU or Activation.)
        assert type(ours.layers[-1]) is type(theirs.layers[-1])
    assert ours.output_shape == theirs.output_shape
    for layer in ours.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            assert layer.momentum == theirs.get_layer(layer.name).momentum
    expected = output(theirs, preprocessed)
    assert np.std(expected) > 1e-3  # not a vacuous comparison of near-constant outputs
    if name in UNDER_TOP:  # the output depends on the image (calibrate)
        assert np.abs(expected[0] - expected[1]).max() > 1e-2
    np.testing.assert_allclose(output(ours, x), expected, rtol=1e-4, atol=1e-4)
    if kwargs.get("include_top"):
        # The features under the head too, so a softmax cannot hide a difference.
        last = UNDER_TOP.get(name, "block5_pool" if name.startswith("vgg") else "conv5_block3_out")
        np.testing.assert_allclose(output(ours, x, last), output(theirs, preprocessed, last),
                                   rtol=1e-4, atol=1e-4)


def test_a_renamed_model_is_recognized_by_its_layers():
    theirs = build("vgg19", include_top=False, pooling="avg", name="backbone")
    ours = interop.from_keras_applications(theirs)
    assert ours.name == "backbone"
    convs = [layer for layer in ours.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 16  # VGG-19, configuration E
    x = raw_images()
    expected = output(theirs, keras.applications.vgg19.preprocess_input(x.copy()))
    np.testing.assert_allclose(output(ours, x), expected, rtol=1e-4, atol=1e-4)


def test_a_name_that_contradicts_the_layers_is_an_error():
    theirs = build("vgg16", include_top=False, name="vgg19")
    with pytest.raises(ValueError, match=r"'vgg19'.*VGG19.*VGG16"):
        interop.from_keras_applications(theirs)


def test_another_network_is_an_error_that_lists_the_supported_ones():
    other = keras.applications.EfficientNetB0(weights=None, include_top=False, input_shape=SHAPE)
    with pytest.raises(ValueError, match=re.escape(f"Model {other.name!r} is none of")) as error:
        interop.from_keras_applications(other)
    for network in interop.NETWORKS.values():
        assert f"keras.applications.{network.keras_class} " in str(error.value)


def test_a_weighted_layer_without_counterpart_is_an_error_naming_it():
    base = build("vgg16", include_top=False, pooling="avg")
    extended = keras.Model(base.input, keras.layers.Dense(3, name="extra")(base.output),
                           name="vgg16")
    with pytest.raises(ValueError, match="'extra' of the source 'vgg16' has no counterpart"):
        interop.from_keras_applications(extended)
    # And the other way: a layer of the target that the source lacks.
    ours = kerascnn.create_model("vgg16", input_shape=SHAPE, dropout_rate=0.0)
    with pytest.raises(ValueError, match="'fc1' of the target 'vgg16' has no counterpart"):
        interop.copy_weights(base, ours)


def test_weights_imagenet_error_points_here():
    with pytest.raises(ValueError, match=r"kerascnn\.interop\.from_keras_applications"):
        kerascnn.create_model("resnet50", weights="imagenet")


@pytest.mark.parametrize("name, kwargs, match", [
    ("mobilenet", {"alpha": 0.6}, r"none of the alphas .*\(1, 0\.75, 0\.5, 0\.25\)"),
    ("mobilenetv2", {"alpha": 0.6}, r"none of the alphas .*\(0\.35, 0\.5, 0\.75, 1, 1\.3, 1\.4\)"),
    # keras.applications' V3 keeps the stem at 16 and rounds expansions after
    # alpha (expansion * _depth(c * alpha)); our builder scales each width of the table.
    ("MobileNetV3Small", {"alpha": 0.75}, r"none of the alphas .*\(1\)"),
    ("MobileNetV3Large", {"minimalistic": True}, "minimalistic.*no kerascnn counterpart"),
], ids=["mobilenet-alpha", "mobilenetv2-alpha", "MobileNetV3Small-alpha",
        "MobileNetV3Large-minimalistic"])
def test_a_mobilenet_we_cannot_lay_out_is_a_clear_error(name, kwargs, match):
    theirs = build(name, include_top=False, **kwargs)
    with pytest.raises(ValueError, match=match):
        interop.from_keras_applications(theirs)
