"""Training under a MirroredStrategy on logical CPU devices (config.runtime): synchronized BN
against one device, and batches that would leave a replica empty.

Logical devices must be configured before TensorFlow starts, so each part runs in a fresh
process (two strategies with different replica counts in one process collide in TensorFlow's
collective groups).
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = r"""
import json, pathlib, sys
import numpy as np
from PIL import Image
import tensorflow as tf
from kerascnn.train import distribute
part = sys.argv[2]
distribute.configure_cpu_devices(2 if part == "bn" else 3)
import keras, kerascnn
from kerascnn.layers import synchronize_batchnorm

out = {}
# 1. Synchronized BN on 2 replicas against the same global batch on one device.
rng = np.random.default_rng(0)
# The replicas' halves differ, so per-replica statistics are far from the global ones.
x = np.concatenate([rng.uniform(0, 80, (8, 8, 8, 3)), rng.uniform(120, 255, (8, 8, 8, 3))])
x = x.astype("float32")
y = np.arange(16) % 10

def trained(strategy, sync):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = kerascnn.create_model("resnet20", input_shape=(8, 8, 3), num_classes=10)
        if sync:
            synchronize_batchnorm(model)
        model.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return [v.numpy() for l in model._flatten_layers()
            if isinstance(l, keras.layers.BatchNormalization)
            for v in (l.moving_mean, l.moving_variance)]

if part == "bn":
    one = trained(tf.distribute.get_strategy(), False)
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    out["bn_layers"] = len(one) // 2
    out["sync_diff"] = max(float(np.abs(a - b).max()) for a, b in zip(one, trained(two, True)))
    out["unsync_diff"] = max(float(np.abs(a - b).max()) for a, b in zip(one, trained(two, False)))
    print("RESULT", json.dumps(out))
    sys.exit(0)

# 2. train_and_evaluate on 3 replicas with the global batch 6: an image folder whose last
# training and test batches leave replicas empty (7 and 5 images), then one smaller than
# a batch (4 training images).
root = pathlib.Path(sys.argv[1])
def folder(name, train, test):
    for split, count in (("train", train), ("test", test)):
        for i in range(count):
            d = root / name / split / ("ab"[i % 2])
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return f"folder:{root / name}"

from kerascnn.train import default_config, train_and_evaluate
for name, train, test in (("uneven", 7, 5), ("tiny", 4, 3)):
    c = default_config()
    c.model.name = "resnet20"
    c.data.name = folder(name, train, test)
    c.data.image_size = 8
    c.train.epochs = 2
    c.train.batch_size = 6
    c.train.learning_rate = 0.01
    c.runtime.strategy = "mirrored"
    c.runtime.cpu_devices = 3
    c.runtime.sync_bn = True
    c.export.tflite = False
    result = train_and_evaluate(c, root / f"run_{name}", verbose=0)
    history = (root / f"run_{name}" / "history.csv").read_text().splitlines()
    out[name] = {"metrics": result.metrics, "history": history}
print("RESULT", json.dumps(out))
"""


def run_part(part, folder):
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(folder), part],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    line = next(l for l in run.stdout.splitlines() if l.startswith("RESULT"))
    return json.loads(line[len("RESULT "):])


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = tmp_path_factory.mktemp("replicas")
    return {**run_part("train", root), "root": root}


def test_synchronized_bn_on_two_replicas_keeps_the_statistics_of_the_global_batch(tmp_path):
    result = run_part("bn", tmp_path)
    # ResNet-20's 19 BN layers after 3 steps of the batch of 16 (8 per replica).
    assert result["bn_layers"] == 19
    assert result["sync_diff"] < 1e-5, result
    assert result["unsync_diff"] > 1e-2, result  # each replica's own half: measurably off


@pytest.mark.parametrize("name, train, test", [("uneven", 7, 5), ("tiny", 4, 3)])
def test_three_replicas_train_and_evaluate_every_example(result, name, train, test):
    run = result[name]
    m = run["metrics"]
    assert m["runtime"] == {"strategy": "mirrored", "replicas": 3, "global_batch_size": 6,
                            "per_replica_batch_size": 2, "learning_rate_scale": 1.0,
                            "learning_rate": 0.01, "sync_bn": True}
    assert m["num_examples"] == test  # every test image once: none dropped or repeated
    assert np.isfinite(m["loss"]) and np.isfinite(m["final_train_loss"])
    # Each epoch validated on the test split through the replica-safe callback.
    header, *rows = [line.split(",") for line in run["history"]]
    assert len(rows) == 2
    for row in rows:
        values = dict(zip(header, row))
        assert np.isfinite(float(values["val_loss"])) and 0 <= float(values["val_top1"]) <= 1
    assert float(dict(zip(header, rows[-1]))["val_loss"]) == pytest.approx(m["loss"], rel=1e-5)


def test_tools_evaluate_on_three_replicas_counts_every_image_once(result):
    # The 5 test images in batches of 6 on 3 replicas; center-crop TTA runs through
    # kerascnn.evaluate.predict. The plain evaluation equals the training run's own.
    out = result["root"] / "evaluate.json"
    run = subprocess.run(
        [sys.executable, "tools/evaluate.py", f"--workdir={result['root'] / 'run_uneven'}",
         "--strategy=mirrored", "--cpu_devices=3", f"--output={out}"],
        cwd=pathlib.Path(__file__).resolve().parents[2], capture_output=True, text=True,
        timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    metrics = result["uneven"]["metrics"]
    assert report["num_examples"] == 5
    assert report["loss"] == pytest.approx(metrics["loss"], rel=1e-5)
    assert report["top1"] == metrics["top1"]
