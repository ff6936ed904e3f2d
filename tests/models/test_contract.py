"""The contract every registered model keeps, present and future: run over `list_models()`.

Every model builds at the smallest input it takes, gives finite logits, has
the trainable count of tests/models/trainable_counts.py where that lists it,
takes the keras.applications arguments with their defaults, and refuses an
unknown or fixed argument with a ValueError that names it and the allowed ones.
The costly checks run once per family (its smallest variant, at fewer blocks
where that is deep; tests/conftest.py), with an odd class count: pools or not
without the top, round-trips through `.keras` without custom_objects, gets a
gradient on every trainable weight from one SGD step.
"""

import inspect

import numpy as np
import pytest
import tensorflow as tf

import keras
import kerascnn
from kerascnn import registry
from kerascnn.evaluate.any_size import accepting_any_size
from kerascnn.models import _common
from conftest import (  # noqa: E402  (tests/conftest.py)
    REDUCED, _family, _size, build_model, checked_in_full, representatives, trainable_count)
from trainable_counts import COUNTS  # noqa: E402  (tests/models/trainable_counts.py)

CLASSES = 7

# keras.applications' defaults for the arguments every model takes, except the
# two kerascnn changes on purpose (docs/models.md): nothing is downloaded, so
# weights=None, and models give logits, so classifier_activation=None.
KERAS_APPLICATIONS = inspect.signature(keras.applications.ResNet50).parameters
DELIBERATE = {"weights": (None, "imagenet"), "classifier_activation": (None, "softmax")}


def names():
    return kerascnn.list_models()


def images(shape, n, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, *shape)).astype("float32")


def test_registry_is_not_empty():
    assert len(names()) >= 10


@pytest.mark.parametrize("name", names())
def test_keras_applications_arguments_and_defaults(name):
    params = inspect.signature(registry.get_builder(name)).parameters
    for arg, ours in _common.APPLICATION_DEFAULTS.items():
        assert arg in params, f"{name} lacks {arg}"
        assert params[arg].default == ours, (name, arg)
        theirs = KERAS_APPLICATIONS[arg].default
        if arg in DELIBERATE:
            assert (ours, theirs) == DELIBERATE[arg]
        else:
            assert ours == theirs, (name, arg)
    assert params["name"].default == name  # the model is called by its registered name


@pytest.mark.parametrize("name", names())
def test_unknown_and_fixed_arguments_are_refused_before_building(name, monkeypatch):
    def no_layers(*args, **kwargs):
        raise AssertionError("a layer was built")

    monkeypatch.setattr(keras.layers.Layer, "__init__", no_layers)
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['not_an_argument'\]") as err:
        kerascnn.create_model(name, not_an_argument=1)
    assert "'classes'" in str(err.value) and "'include_top'" in str(err.value)
    builder = registry.get_builder(name)
    for arg in getattr(builder, "fixed", {}):
        with pytest.raises(ValueError, match=rf"fixes {arg}\b.*cannot be passed"):
            kerascnn.create_model(name, **{arg: None})
        # The variant function itself (not only create_model) refuses it too.
        with pytest.raises(ValueError, match=rf"fixes {arg}\b"):
            builder(**{arg: None})
    with pytest.raises(ValueError, match="disagree"):
        kerascnn.create_model(name, classes=5, num_classes=6)


def test_every_family_has_its_smallest_variant_checked_in_full():
    chosen = set(representatives())
    assert {"resnet18", "resnet20", "resnet50"} <= chosen
    assert not {"resnet34", "resnet56", "resnet101", "resnet152"} & chosen
    for name in names():
        covered = [r for r in chosen if _family(r) == _family(name)]
        assert len(covered) == 1, (name, covered)
        assert _size(covered[0]) <= _size(name)
    # A reduced build stands for a family's smallest variant only.
    assert set(REDUCED) <= chosen, sorted(set(REDUCED) - chosen)


@pytest.mark.parametrize("name", sorted(set(names()) - set(checked_in_full())))
def test_every_model_builds_and_runs(name, small_input_shape):
    """Every model the costly checks do not build as registered: built at a
    small input (with its paper's class count where tests/models/trainable_counts.py
    has its count, which it must match), a training-mode forward pass gives
    finite outputs of the right shape."""
    shape = small_input_shape(name)
    classes, count = COUNTS.get(name, (CLASSES, None))
    model = kerascnn.create_model(name, input_shape=shape, num_classes=classes)
    assert model.name == name
    if count is not None:
        assert trainable_count(model) == count
    out = np.asarray(model(images(shape, 2), training=True))
    assert out.shape == (2, classes) and np.all(np.isfinite(out))


@pytest.mark.parametrize("name", representatives())
def test_builds_trains_and_round_trips(name, tmp_path, small_input_shape):
    """Each family's smallest variant, or where that is deep, the same builder
    and arguments at fewer blocks (tests/conftest.py, `REDUCED`)."""
    shape = small_input_shape(name)
    model = build_model(name, reduced=True, input_shape=shape, num_classes=CLASSES)
    assert model.name == name
    x = images(shape, 2)
    logits = np.asarray(model(x, training=False))
    assert logits.shape == (2, CLASSES) and np.all(np.isfinite(logits))

    path = tmp_path / f"{name}.keras"
    model.save(path)
    again = keras.saving.load_model(path)  # no custom_objects: import kerascnn is enough
    np.testing.assert_allclose(np.asarray(again(x, training=False)), logits, atol=1e-5)

    # Multi-scale testing (tools/evaluate.py --tta=multi_scale): the same network and
    # weights for any input size, exactly when no layer flattens a feature map; else an
    # error that names the layer and points at the crop modes.
    if any(isinstance(layer, keras.layers.Flatten) for layer in model.layers):
        with pytest.raises(ValueError, match="reads a feature map flattened.*use a crop mode"):
            accepting_any_size(model)
    else:
        free = accepting_any_size(model)
        assert free.input_shape[1:3] == (None, None)
        for mine, theirs in zip(free.weights, model.weights, strict=True):
            assert mine.path.split("/", 1)[1:] == theirs.path.split("/", 1)[1:]
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
        bigger = keras.KerasTensor((1, 2 * shape[0], shape[1] + 16, shape[2]))
        assert tuple(free.compute_output_spec(bigger).shape) == (1, CLASSES)

    # One SGD step: every trainable weight gets a finite, non-zero gradient and moves.
    # Three images, so that BatchNorm on a 1 x 1 map does not pin its outputs to +-1;
    # 32 with stochastic depth, so that no block is dropped for the whole batch
    # (per-sample drops; probability <= 0.5 ** 32).
    dropping = any(isinstance(layer, kerascnn.layers.StochasticDepth) for layer in model.layers)
    n = 32 if dropping else 3
    batch = images(shape, n, seed=1)
    labels = tf.one_hot(np.arange(n) * 3 % CLASSES, CLASSES)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.categorical_crossentropy(
            labels, model(batch, training=True), from_logits=True))
    grads = tape.gradient(loss, model.trainable_weights)
    dead = [w.path for w, g in zip(model.trainable_weights, grads)
            if g is None or not np.any(np.asarray(g))]
    assert not dead, f"no gradient for {dead[:5]}"
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
    before = [w.numpy().copy() for w in model.trainable_weights]
    keras.optimizers.SGD(0.01).apply(grads, model.trainable_weights)
    still = [w.path for w, b in zip(model.trainable_weights, before) if np.array_equal(w.numpy(), b)]
    assert not still, f"unchanged by the SGD step: {still[:5]}"


@pytest.mark.parametrize("name", representatives())
def test_features_without_the_top(name, small_input_shape):
    shape = small_input_shape(name)
    x = images(shape, 2)
    weights = None
    for pooling, rank in ((None, 4), ("avg", 2), ("max", 2)):
        model = build_model(name, reduced=True, include_top=False, pooling=pooling,
                            input_shape=shape)
        assert len(model.output_shape) == rank, (pooling, model.output_shape)
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)  # the same backbone, so the pools can be checked
        out = np.asarray(model(x, training=False))
        assert out.shape[0] == 2 and np.all(np.isfinite(out))
        assert not any(layer.name == "predictions" for layer in model.layers)
        if pooling is None:
            features = out
        else:
            reduce = np.mean if pooling == "avg" else np.max
            np.testing.assert_allclose(out, reduce(features, axis=(1, 2)), rtol=1e-4, atol=1e-4)
