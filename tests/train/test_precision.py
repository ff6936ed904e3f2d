"""config.runtime.precision and jit_compile: mixed policies, float32 outputs, loss scaling,
XLA, and a mixed-precision run that loads, evaluates and exports."""

import math

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn import export, train
from kerascnn.export import parity
from kerascnn.models import backbone
from kerascnn.train import optimizers, precision, train_lib

# What each policy computes in (its variables stay float32).
LOW = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def tiny_config(precision_name, **runtime):
    """ResNet-20 at 8x8 on three digits for one epoch (7 steps of 64)."""
    config = train.default_config()
    config.model.name = "resnet20"
    config.model.kwargs.preprocessing = "digits"
    config.data.image_size = 8
    config.data.classes = (0, 1, 2)
    config.augment.padding = 1
    config.augment.flip = False
    config.train.epochs = 1
    config.train.batch_size = 64
    config.train.learning_rate = 0.05
    config.train.eval_every_epoch = False
    cfg = train_lib.config_to_dict(config)
    cfg["runtime"].update(precision=precision_name, **runtime)
    return cfg


@pytest.fixture(scope="module", params=sorted(LOW))
def run(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(request.param)
    result = train.train_and_evaluate(tiny_config(request.param), workdir, verbose=0)
    return request.param, result


def test_a_mixed_run_trains_in_the_low_dtype_with_float32_outputs(run):
    name, result = run
    assert keras.config.dtype_policy().name == "float32"  # not left to later models
    model = result.model
    assert math.isfinite(result.metrics["final_train_loss"])
    assert abs(result.metrics["initial_loss"] - math.log(3)) < 2 * math.log(3)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 19  # ResNet-20: 1 + 3 stages x 3 blocks x 2
    for layer in convs:
        assert (layer.variable_dtype, layer.compute_dtype) == ("float32", LOW[name])
        assert layer.kernel.dtype == "float32"
    head = model.get_layer("predictions")
    assert (head.variable_dtype, head.compute_dtype) == ("float32", "float32")
    assert model.outputs[0].dtype == "float32"
    logits = model(np.zeros((2, 8, 8, 3), "float32"))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    # float16's loss is scaled (Keras's dynamic loss scaling), bfloat16's is not.
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (
        name == "mixed_float16")
    if name == "mixed_float16":
        assert isinstance(model.optimizer.inner_optimizer, optimizers.SGD)  # not wrapped twice


def test_a_mixed_run_loads_evaluates_and_exports_in_float32(run):
    name, result = run
    cfg, loaded = train_lib.load_run(result.workdir)
    assert loaded.get_layer("conv1_conv").compute_dtype == LOW[name]  # as it was trained
    assert loaded.outputs[0].dtype == "float32"
    evaluated = train_lib.evaluate_run(result.workdir)
    assert evaluated["top1"] == pytest.approx(result.metrics["top1"])
    labels = np.array([int(label) for _, label in kerascnn.data.load("digits", "test")])
    assert evaluated["num_examples"] == np.isin(labels, (0, 1, 2)).sum()  # of the 360
    if name != "mixed_bfloat16":
        return  # one TFLite conversion is enough
    # TFLite has no bfloat16 convolutions: the export computes in float32 with the
    # same (float32) weights, so it agrees with the model rebuilt in float32.
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    tflite = parity.tflite_predict(export.to_tflite(loaded), images)
    float32 = precision.with_precision(loaded, "float32")
    want = keras.ops.convert_to_numpy(float32(images.astype("float32")))
    np.testing.assert_allclose(tflite, want, atol=1e-4)
    low = keras.ops.convert_to_numpy(loaded(images.astype("float32")))
    assert np.abs(low - want).max() < 0.1 * (1 + np.abs(want).max())  # bfloat16: 8 bits


def test_with_precision_keeps_weights_names_and_trainable_flags():
    """A float32 model taken to mixed_bfloat16 and back computes what it did, bit for bit:
    the same weights and layers; a frozen backbone stays frozen (transfer learning)."""
    keras.utils.set_random_seed(0)
    base = kerascnn.create_model("resnet20", input_shape=(8, 8, 3), classes=4)
    model = backbone.replace_head(base, 3, "fine_tune", fine_tune_stages=1)
    x = np.random.default_rng(1).uniform(0, 255, (3, 8, 8, 3)).astype("float32")
    want = keras.ops.convert_to_numpy(model(x))
    assert precision.with_precision(model, "float32") is model  # nothing to change

    mixed = precision.with_precision(model, "mixed_bfloat16")
    assert keras.config.dtype_policy().name == "float32"
    assert [layer.name for layer in mixed.layers] == [layer.name for layer in model.layers]
    assert [layer.trainable for layer in mixed.layers] == [layer.trainable for layer in model.layers]
    assert mixed.get_layer("conv1_conv").compute_dtype == "bfloat16"
    assert mixed.get_layer("predictions").compute_dtype == "float32"
    back = precision.with_precision(mixed, "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(back(x)), want)


def test_every_output_of_a_multi_head_model_is_float32():
    """GoogLeNet's auxiliary classifiers are outputs too (kerascnn.train.aux_heads)."""
    with precision.policy_scope("mixed_float16"):
        model = kerascnn.create_model("mlp", input_shape=(4, 4, 1), classes=3)
    model = precision.with_precision(model, "mixed_float16")
    assert model.outputs[0].dtype == "float32"
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(5, name="hidden")(inputs)
    two = keras.Model(inputs, [keras.layers.Dense(3, name="main")(hidden),
                               keras.layers.Dense(3, name="aux")(hidden)])
    mixed = precision.with_precision(two, "mixed_float16")
    assert [t.dtype for t in mixed.outputs] == ["float32", "float32"]
    assert mixed.get_layer("hidden").compute_dtype == "float16"


def test_the_policy_is_restored_after_a_failed_build():
    def failing():
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        raise ValueError("bad model")

    with pytest.raises(ValueError, match="bad model"):
        precision.build("mixed_bfloat16", failing)
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match=r"precision must be one of .*'mixed_float16'.*got 'fp16'"):
        precision.build("fp16", failing)


def test_loss_scaling_wraps_our_optimizers_once():
    two = optimizers.TwoRateOptimizer(optimizers.make_optimizer("sgd", 0.1),
                                      optimizers.make_optimizer("sgd", 0.01))
    scaled = precision.loss_scaled(two, "mixed_float16")
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)
    assert scaled.inner_optimizer is two
    assert precision.loss_scaled(scaled, "mixed_float16") is scaled
    for name in ("float32", "mixed_bfloat16"):
        assert precision.loss_scaled(two, name) is two


@pytest.mark.parametrize("jit", [False, True])
def test_jit_compile_reaches_compile(jit):
    """Passed as it is: True stays True on a CPU (Keras's "auto" would turn it off)."""
    cfg = tiny_config("float32", jit_compile=jit)
    model = kerascnn.create_model("mlp", input_shape=(4, 4, 1), classes=3)
    train_lib.compile_model(model, cfg, steps_per_epoch=2, num_classes=3)
    assert model.jit_compile is jit
