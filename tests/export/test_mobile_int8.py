"""The five mobile families, trained briefly on the digits, as full-integer int8 TFLite.

For each of MobileNet v1, v2, v3-Small, ShuffleNet v1 and v2: the int8 file
has builtin ops only (no Flex / SELECT_TF_OPS, no custom op), its top-1
agrees with the Keras model on >= 98 % of the digits test split (360), and the
float32 file's logits are within 1e-4 of the Keras model's (`FLOAT32_CHECKED`;
docs/export.md's table gives all five).

The trained weights are a golden file, `data/mobile_digits.npz` (float16),
because training the five in the suite costs minutes on an AVX2-only CPU.
Provenance: written by this module,

    python tests/export/test_mobile_int8.py

which trains each network of `NETWORKS` from seed 0 on the built-in digits'
training split (`kerascnn.data.load("digits", "train")`: 1,437 images,
32x32x3 uint8), Adam from 2e-3 with cosine decay, batch 64, `EPOCHS`
epochs, each image shifted by up to 4 pixels each way (`shifted`), and
prints each model's accuracy on the 360 test digits (written on an AMD EPYC,
oneDNN, in 9 min: mobilenet_v1_025 0.9472, mobilenet_v2_035 0.9861,
mobilenet_v3_small_075 0.9833, shufflenet_v1_x0_5 0.9750, shufflenet_v2_x0_5
0.9583). Rerun it when a builder's weight names or shapes change (the test
then fails naming the weight). Narrow widths keep the file small (4.3 MB);
the layers, and so the ops the converter sees, are the full-width networks'.
"""

import os
import sys

import numpy as np
import pytest

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "mobile_digits.npz")
HWC = (32, 32, 3)
EPOCHS = 60
# name -> (builder module, builder, arguments). The MobileNets' BN momentum is 0.9: at
# keras.applications' 0.99, 700 steps leave the moving statistics half-initialized.
NETWORKS = {
    "mobilenet_v1_025": ("mobilenet", "MobileNetV1", {"alpha": 0.25, "bn_momentum": 0.9}),
    "mobilenet_v2_035": ("mobilenet", "MobileNetV2", {"alpha": 0.35, "bn_momentum": 0.9}),
    "mobilenet_v3_small_075": ("mobilenet_v3", "MobileNetV3",
                               {"config": "small", "alpha": 0.75, "bn_momentum": 0.9}),
    "shufflenet_v1_x0_5": ("shufflenet", "ShuffleNetV1", {"groups": 3, "scale": 0.5}),
    "shufflenet_v2_x0_5": ("shufflenet", "ShuffleNetV2",
                           {"stage_out_channels": (24, 48, 96, 192, 1024)}),
}


# The float32 file of one network per kind of op (a conversion costs seconds): depthwise
# convolutions and ReLU6 (v1), hard-swish and SE (v3), grouped convolutions, shuffle and
# concatenation (ShuffleNet v1); MobileNet v2's ops are v1's and an ADD, ShuffleNet v2's are
# ShuffleNet v1's.
FLOAT32_CHECKED = ("mobilenet_v1_025", "mobilenet_v3_small_075", "shufflenet_v1_x0_5")


def digits(split):
    """The built-in digits split as uint8 (N, 32, 32, 3) images and their labels."""
    from kerascnn import data

    pairs = list(data.load("digits", split).as_numpy_iterator())
    return np.stack([x for x, _ in pairs]), np.array([y for _, y in pairs])


def shifted(images, rng, most=4):
    """Each image moved by its own random (dy, dx) in [-most, most], zeros filling in."""
    n, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (most, most), (most, most), (0, 0)))
    dy, dx = rng.integers(0, 2 * most + 1, (2, n))
    return np.stack([padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def build(key):
    import importlib

    module, builder, kwargs = NETWORKS[key]
    module = importlib.import_module(f"kerascnn.models.{module}")
    return getattr(module, builder)(input_shape=HWC, classes=10, preprocessing="digits",
                                    name=key, **kwargs)


def load(key):
    model = build(key)
    with np.load(GOLDEN) as golden:
        for weight in model.weights:
            name = f"{key}/{weight.path}"
            if name not in golden.files or golden[name].shape != tuple(weight.shape):
                raise AssertionError(f"{GOLDEN} has no weight {name} {tuple(weight.shape)}: "
                                     f"regenerate it (python {__file__}).")
            weight.assign(golden[name].astype(np.float32))
    return model


def keras_logits(model, images):
    return np.asarray(model(images.astype(np.float32), training=False))


@pytest.fixture(scope="module")
def splits():
    return digits("train"), digits("test")


@pytest.mark.parametrize("key", sorted(NETWORKS))
def test_int8_tflite_builtin_ops_and_agreement(key, splits):
    from kerascnn import export

    (train, _), (test, test_labels) = splits
    model = load(key)
    reference = keras_logits(model, test)
    # The weights are trained: 0.95-0.99 (see above; chance is 0.1).
    assert np.mean(reference.argmax(-1) == test_labels) >= 0.9

    if key in FLOAT32_CHECKED:
        float32 = export.to_tflite(model)
        assert np.abs(export.tflite_predict(float32, test) - reference).max() < 1e-4

    int8 = export.to_tflite(model, quantization="int8", representative_data=train[:200])
    ops = export.tflite_ops(int8)
    assert ops["custom"] == [] and not any(op.startswith("Flex") for op in ops["builtin"])
    # Full integer: float only at the file's edges, if at all (uint8 in, uint8 out here).
    assert "DEQUANTIZE" not in ops["builtin"]
    ours = export.tflite_predict(int8, test)
    assert np.mean(ours.argmax(-1) == reference.argmax(-1)) >= 0.98


def regenerate():
    """Trains every network of NETWORKS and writes GOLDEN (atomically)."""
    import keras
    import tqdm

    (images, labels), (test, test_labels) = digits("train"), digits("test")
    arrays = {}
    for key in tqdm.tqdm(sorted(NETWORKS), desc="networks", unit="network"):
        keras.utils.set_random_seed(0)
        model = build(key)
        steps = EPOCHS * -(-len(images) // 64)
        model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        rng = np.random.default_rng(0)
        for _ in range(EPOCHS):
            model.fit(shifted(images, rng).astype(np.float32), labels,
                      batch_size=64, verbose=0)
        for weight in model.weights:
            arrays[f"{key}/{weight.path}"] = np.asarray(weight).astype(np.float16)
        accuracy = np.mean(keras_logits(model, test).argmax(-1) == test_labels)
        tqdm.tqdm.write(f"{key}: {model.count_params():,} weights, top-1 {accuracy:.4f} on the "
                        f"360 held-out digits")
        keras.backend.clear_session()
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    temp = GOLDEN + ".tmp.npz"
    np.savez_compressed(temp, **arrays)
    os.replace(temp, GOLDEN)
    print(f"wrote {GOLDEN} ({os.path.getsize(GOLDEN):,} bytes)")


if __name__ == "__main__":
    sys.exit(regenerate())
