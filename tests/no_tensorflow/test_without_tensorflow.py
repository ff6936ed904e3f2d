"""Models, layers and cost accounting under KERAS_BACKEND=jax, with no TensorFlow installed.

The GPU machines run kerascnn models under JAX without TensorFlow. This file
runs in such an environment (tests/no_tensorflow/requirements.txt, then kerascnn with
--no-deps; the README's test command builds it); in the TensorFlow test
environment it is skipped, as it can prove nothing there.
"""

import importlib
import importlib.util
import inspect
import os
import sys

import numpy as np
import pytest

if importlib.util.find_spec("tensorflow") is not None or os.environ.get("KERAS_BACKEND") != "jax":
    pytest.skip("needs KERAS_BACKEND=jax in an environment without TensorFlow (tests/no_tensorflow/"
                "requirements.txt)", allow_module_level=True)

# XLA compiles every new shape of an op, initializers included (a DenseNet has a
# new one per layer: 0.8 s each at the default optimization level, 6x less
# without it). These tests check shapes, finiteness and costs, not speed.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 "
                                   "--xla_llvm_disable_expensive_passes=true")

import jax  # noqa: E402
import keras  # noqa: E402

import kerascnn  # noqa: E402  (an import that needed TensorFlow would fail here)
from kerascnn import _compat  # noqa: E402
from kerascnn import inspect as kinspect  # noqa: E402
from kerascnn.tools.backend_parity import layer_zoo  # noqa: E402
from conftest import build_model, representatives  # noqa: E402  (tests/conftest.py)

CLASSES = 7


def test_the_environment_is_jax_without_tensorflow():
    assert keras.backend.backend() == "jax"
    assert "tensorflow" not in sys.modules
    assert importlib.util.find_spec("tensorflow") is None


@pytest.mark.parametrize("name", representatives())
def test_every_family_builds_and_runs(name, small_input_shape):
    """Each family's smallest variant, at fewer blocks where that is deep
    (tests/conftest.py; under TensorFlow the contract test builds every model):
    the family's code runs under JAX."""
    shape = small_input_shape(name)
    model = build_model(name, reduced=True, input_shape=shape, num_classes=CLASSES)
    x = np.random.default_rng(0).uniform(0, 255, (2, *shape)).astype("float32")
    # Training mode: batch statistics, so that a fresh very deep net (preact_resnet1001,
    # whose 333 identity sums grow with BN's initial moving statistics) stays finite.
    # One jit-compiled stateless call, as JAX users run it: eagerly, every op of every
    # new shape would compile on its own (5-8 s for a MobileNet, under 1 s jitted).
    forward = jax.jit(lambda trainable, other, images: model.stateless_call(
        trainable, other, images, training=True)[0])
    logits = np.asarray(forward([v.value for v in model.trainable_variables],
                                [v.value for v in model.non_trainable_variables], x))
    assert logits.shape == (2, CLASSES) and np.all(np.isfinite(logits))
    report = kinspect.costs(model)
    assert report.trainable_params == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert report.macs > 0 and not report.unknown
    assert "tensorflow" not in sys.modules


def test_cifar_resnet_costs_follow_the_formula(tmp_path):
    """ResNet-20 at 32 x 32: 3x3 convolutions, 16 / 32 / 64 filters at 32 / 16 / 8 pixels."""
    model = kerascnn.create_model("resnet20", num_classes=CLASSES)
    conv = lambda side, c_in, c_out: side * side * 9 * c_in * c_out  # noqa: E731
    macs = (conv(32, 3, 16) + 6 * conv(32, 16, 16)
            + conv(16, 16, 32) + 5 * conv(16, 32, 32)
            + conv(8, 32, 64) + 5 * conv(8, 64, 64) + 64 * CLASSES)
    assert kinspect.costs(model).macs == macs
    path = tmp_path / "resnet20.keras"
    model.save(path)
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-5)


def test_every_layer_runs():
    model = layer_zoo()
    used = {type(layer) for layer in _compat.sublayers(model, recursive=True)}
    exported = {obj for obj in (getattr(kerascnn.layers, n) for n in kerascnn.layers.__all__)
                if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer)}
    assert exported - used == set(), "add these layers to tools/backend_parity.layer_zoo"
    x = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    out = np.asarray(model([x, np.full((2, 3), 1 / 3, "float32")]))
    assert out.shape == (2, 8) and np.all(np.isfinite(out))
    assert kinspect.costs(model).macs > 0


@pytest.mark.parametrize("use", [
    lambda: importlib.import_module("kerascnn.data"),
    lambda: importlib.import_module("kerascnn.export"),
    lambda: kerascnn.train.train_and_evaluate,
    lambda: kerascnn.evaluate.evaluate_tta,
    lambda: kerascnn.augment.RandAugment(),
    lambda: kerascnn.augment.ops,
], ids=["data", "export", "train", "evaluate_tta", "RandAugment", "augment.ops"])
def test_tensorflow_parts_say_they_need_it(use):
    import kerascnn.evaluate  # noqa: F401
    import kerascnn.train  # noqa: F401

    with pytest.raises(ImportError, match="needs TensorFlow"):
        use()
