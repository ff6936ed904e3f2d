"""kerascnn.evaluate.predict: any number of images, also under a MirroredStrategy whose replicas a
batch would leave empty (kerascnn/evaluate/distributed.py)."""

import subprocess
import sys

import numpy as np
import pytest

from kerascnn.evaluate import distributed as predict_lib

# Logical CPU devices must be configured before TensorFlow initializes: a fresh process.
SCRIPT = r"""
import sys
import tensorflow as tf
replicas = int(sys.argv[1])
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
import keras, numpy as np, kerascnn
from kerascnn.evaluate import predict
x = np.random.default_rng(0).uniform(0, 255, (40, 16, 16, 3)).astype("float32")
keras.utils.set_random_seed(0)
single = kerascnn.create_model("resnet20", input_shape=(16, 16, 3), num_classes=10)
reference = single.predict(x, verbose=0)
strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)])
with strategy.scope():
    model = kerascnn.create_model("resnet20", input_shape=(16, 16, 3), num_classes=10)
    model.set_weights(single.get_weights())
for n in (1, 3, 33):
    out = predict(model, x[:n], batch_size=4, strategy=strategy)
    print("ROWS", n, out.shape[0], float(np.abs(out - reference[:n]).max()))
# evaluate (predict_logits) on batched datasets whose last batch leaves replicas empty.
from kerascnn.evaluate import evaluate
labels = np.arange(40) % 10
for n in (1, 3, 33):
    ds = tf.data.Dataset.from_tensor_slices((x[:n], labels[:n])).batch(4)
    got = evaluate(model, ds, flip=n == 33)
    ref = evaluate(single, ds, flip=n == 33)
    print("EVAL", n, got["num_examples"], abs(got["loss"] - ref["loss"]), got["top1"] == ref["top1"])
"""


@pytest.mark.parametrize("replicas", [2, 3])
def test_predict_and_evaluate_any_count_under_a_mirrored_strategy_equal_one_device(replicas):
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(replicas)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith("ROWS")]
    assert [(int(n), int(got)) for _, n, got, _ in rows] == [(1, 1), (3, 3), (33, 33)]
    assert all(float(diff) < 1e-5 for *_, diff in rows), rows
    evals = [line.split() for line in run.stdout.splitlines() if line.startswith("EVAL")]
    assert [(int(n), int(got)) for _, n, got, *_ in evals] == [(1, 1), (3, 3), (33, 33)]
    assert all(float(diff) < 1e-5 and same == "True" for *_, diff, same in evals), evals


def test_padding_fills_the_last_batch_with_the_last_image():
    images = np.arange(5 * 2).reshape(5, 2)
    padded, n = predict_lib.pad_to_batches(images, 4)
    assert n == 5 and padded.shape == (8, 2)
    np.testing.assert_array_equal(padded[:5], images)
    np.testing.assert_array_equal(padded[5:], np.repeat(images[-1:], 3, axis=0))
    assert predict_lib.pad_to_batches(images, 5)[0].shape == (5, 2)
    assert [predict_lib.padded_batch_size(b, 3) for b in (1, 3, 4, 32)] == [3, 3, 6, 33]
    with pytest.raises(ValueError, match="at least one image"):
        predict_lib.pad_to_batches(images[:0], 4)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        predict_lib.padded_batch_size(0, 2)


def test_without_a_strategy_it_is_model_predict():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.random.default_rng(1).normal(size=(7, 3)).astype("float32")
    np.testing.assert_allclose(predict_lib.predict(model, x, batch_size=4),
                               model.predict(x, verbose=0), rtol=1e-6)
    assert predict_lib.replicas() == 1
