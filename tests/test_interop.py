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
           "densenet201": "densenet"}

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
}
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


def raw_images(seed=3):
    return np.random.default_rng(seed).uniform(0, 255, (2, *SHAPE)).astype("float32")


def output(model, x, layer=None):
    if layer is not None:
        model = keras.Model(model.input, model.get_layer(layer).output)
    return np.asarray(model(x, training=False))


def test_networks_are_keras_applications_names_and_our_variants():
    assert set(interop.NETWORKS) == set(MODULES) == set(SOURCES)
    for name, network in interop.NETWORKS.items():
        cls = getattr(keras.applications, network.keras_class)
        assert inspect.signature(cls).parameters["name"].default == name
        assert network.variant.__name__ in kerascnn.list_models()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_preprocessing_is_their_preprocess_input(name):
    """No new preset: caffe (VGG, ResNet), tf (ResNetV2) and torch mode (DenseNet:
    x / 255 then the ImageNet mean / std) are our "caffe", "tf" and "imagenet"."""
    x = raw_images()
    layer = kerascnn.layers.normalization_layer(interop.NETWORKS[name].preprocessing, 3)
    theirs = getattr(keras.applications, MODULES[name]).preprocess_input(x.copy())
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(theirs), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in DEEPEST else n for n in sorted(SOURCES)])
def test_ours_on_raw_images_equals_theirs_on_preprocess_input(name):
    theirs = build(name, **SOURCES[name])
    randomize(theirs)
    ours = interop.from_keras_applications(theirs)
    assert ours.name == theirs.name
    assert ours.count_params() == theirs.count_params()
    assert type(ours.layers[-1]) is type(theirs.layers[-1])
    assert ours.output_shape == theirs.output_shape
    for layer in ours.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            assert layer.momentum == theirs.get_layer(layer.name).momentum
    x = raw_images()
    preprocessed = getattr(keras.applications, MODULES[name]).preprocess_input(x.copy())
    expected = output(theirs, preprocessed)
    assert np.std(expected) > 1e-3  # not a vacuous comparison of near-constant outputs
    np.testing.assert_allclose(output(ours, x), expected, rtol=1e-4, atol=1e-4)
    if SOURCES[name].get("include_top"):
        # The features under the head too, so a softmax cannot hide a difference.
        last = "block5_pool" if name.startswith("vgg") else "conv5_block3_out"
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
    other = keras.applications.MobileNet(weights=None, include_top=False, input_shape=SHAPE)
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
