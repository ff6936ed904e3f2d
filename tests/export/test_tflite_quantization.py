"""`kerascnn.export.to_tflite`: float32, float16, dynamic-range and full-integer int8 files
of a CNN trained briefly on the digits, builtin ops only, against the Keras model."""

import os

import numpy as np
import pytest
from sklearn.datasets import load_digits

import keras
from kerascnn import export

HWC = (16, 16, 3)


def digits():
    """The 1,797 real 8x8 digits as uint8 16x16x3 images (each pixel 2x2), labels."""
    d = load_digits()
    images = np.round(d.images * (255 / 16)).astype(np.uint8)
    images = np.kron(images, np.ones((2, 2), np.uint8))[..., None].repeat(3, axis=-1)
    return images, d.target


@pytest.fixture(scope="module")
def trained():
    """A small CNN (conv-BN-ReLU x 2, depthwise, dense) after 6 epochs on 1,437 digits."""
    keras.utils.set_random_seed(0)
    images, labels = digits()
    x = inputs = keras.Input(HWC, name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(x)
    for filters, stride in ((16, 1), (32, 2)):
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x), name="digits_cnn")
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images[:1437].astype("float32"), labels[:1437], epochs=6, batch_size=64, verbose=0)
    return model, images[:1437], images[1437:], labels[1437:]


def keras_logits(model, images):
    return np.asarray(model(images.astype("float32"), training=False))


@pytest.fixture(scope="module")
def files(trained, tmp_path_factory):
    model, train, _, _ = trained
    root = tmp_path_factory.mktemp("tflite")
    out = {}
    for q, io in (("none", None), ("float16", None), ("dynamic", None), ("int8", "uint8"),
                  ("int8", "int8"), ("int8", "float32")):
        path = root / f"model_{q}_{io}.tflite"
        calibration = train[:300] if q == "int8" else None
        content = export.to_tflite(model, path, quantization=q, representative_data=calibration,
                                   io_dtype=io)
        assert path.read_bytes() == content
        out[q, io] = content
    assert sorted(os.listdir(root)) == sorted(f"model_{q}_{io}.tflite" for q, io in out)
    return out


def test_the_keras_model_learned(trained):
    model, _, test, labels = trained
    assert np.mean(keras_logits(model, test).argmax(-1) == labels) >= 0.9


def test_float32_equals_keras(trained, files):
    model, _, test, _ = trained
    diff = np.abs(export.tflite_predict(files["none", None], test) - keras_logits(model, test))
    assert diff.max() < 1e-4


@pytest.mark.parametrize("key", [("float16", None), ("dynamic", None), ("int8", "uint8"),
                                 ("int8", "int8"), ("int8", "float32")])
def test_quantized_files_agree_with_keras_on_held_out_digits(trained, files, key):
    model, _, test, labels = trained
    ours = export.tflite_predict(files[key], test)
    reference = keras_logits(model, test)
    assert np.mean(ours.argmax(-1) == reference.argmax(-1)) >= 0.98
    assert np.mean(ours.argmax(-1) == labels) >= np.mean(reference.argmax(-1) == labels) - 0.02


def test_builtin_ops_only_and_full_integer_io(files):
    from ai_edge_litert.interpreter import Interpreter

    for content in files.values():
        assert export.tflite_ops(content)["custom"] == []
    for io in ("uint8", "int8", "float32"):
        ops = export.tflite_ops(files["int8", io])["builtin"]
        runner = Interpreter(model_content=files["int8", io]).get_signature_runner()
        (inp,), (out,) = runner.get_input_details().values(), runner.get_output_details().values()
        assert np.dtype(inp["dtype"]) == np.dtype(io) and np.dtype(out["dtype"]) == np.dtype(io)
        if io == "float32":
            assert "QUANTIZE" in ops and "DEQUANTIZE" in ops
        else:
            scale = float(inp["quantization_parameters"]["scales"][0])
            zero_point = int(inp["quantization_parameters"]["zero_points"][0])
            # Calibrated on digits spanning 0-255: the input is the raw image (uint8) or
            # the raw image - 128 (int8), scale 1.
            assert scale == pytest.approx(1.0, abs=0.01)
            assert zero_point == (0 if io == "uint8" else -128)
    # Float inputs take the uint8 image, as the SavedModel does.
    for key in (("none", None), ("float16", None), ("dynamic", None)):
        runner = Interpreter(model_content=files[key]).get_signature_runner()
        (inp,) = runner.get_input_details().values()
        assert np.dtype(inp["dtype"]) == np.uint8


def test_sizes_shrink_with_the_weights(files):
    """The weights (about 26,000 here) go from 4 bytes to 2 (float16) or 1 (int8); the
    graph around them is the same size in each file."""
    weights = 16 * 27 + 32 * 144 + 32 * 9 + 32 + 8 * 8 * 32 * 10 + 10
    size = {k: len(v) for k, v in files.items()}
    assert size["none", None] - size["float16", None] >= 0.8 * 2 * weights
    assert size["none", None] - size["int8", "uint8"] >= 0.8 * 3 * weights


@pytest.mark.parametrize("kwargs, match", [
    ({"quantization": "int4"}, r"quantization must be one of none, float16, dynamic, int8; got 'int4'"),
    ({"quantization": "int8"}, "needs representative_data"),
    ({"quantization": "dynamic", "io_dtype": "uint8"}, r"io_dtype='uint8' needs quantization='int8'"),
    ({"quantization": "int8", "io_dtype": "int16", "representative_data": "x"}, "io_dtype must be one of"),
    ({"quantization": "none", "representative_data": np.zeros((2, *HWC), np.uint8)},
     "calibrates quantization='int8' only"),
    ({"quantization": "int8", "representative_data": np.zeros((2, 8, 8, 3), np.uint8)},
     r"representative_data must have shape \(N, 16, 16, 3\)"),
])
def test_bad_arguments_before_converting(trained, tmp_path, kwargs, match):
    model = trained[0]
    with pytest.raises(ValueError, match=match):
        export.to_tflite(model, tmp_path / "m.tflite", **kwargs)
    assert not os.listdir(tmp_path)


def test_export_model_writes_each_quantized_file_with_its_parity(trained, tmp_path):
    import json

    from kerascnn.export import runs

    model, train, test, labels = trained
    result = export.export_model(
        model, tmp_path, name="digits_cnn", sample_images=test[:64], sample_labels=labels[:64],
        quantizations=("float16", "dynamic", "int8"), representative_images=train[:200],
        io_dtype="int8", class_names=[str(d) for d in range(10)])
    metadata = json.loads(open(result.metadata_path).read())
    parity, files = metadata["parity"], metadata["files"]
    reference = keras_logits(model, test[:64]).argmax(-1)
    assert parity["keras_top1"] == pytest.approx(np.mean(reference == labels[:64]))
    for q in ("float16", "dynamic", "int8"):
        path = result.quantized_paths[q]
        assert os.path.basename(path) == f"model_{q}.tflite" and os.path.exists(path)
        report = parity[f"tflite_{q}"]
        assert report["bytes"] == files[f"tflite_{q}"]["bytes"] == os.path.getsize(path)
        ours = export.tflite_predict(path, test[:64]).argmax(-1)
        assert report["top1"] == pytest.approx(np.mean(ours == labels[:64]))
        assert report["top1_agreement"] == pytest.approx(np.mean(ours == reference))
        assert files[f"tflite_{q}"]["builtin_ops"] == export.tflite_ops(open(path, "rb").read())["builtin"]
    assert (files["tflite_int8"]["input_dtype"], files["tflite_int8"]["output_dtype"]) == ("int8", "int8")
    assert (files["tflite_float16"]["input_dtype"], files["tflite_float16"]["output_dtype"]) == (
        "uint8", "float32")
    assert parity["tflite"]["top1"] == pytest.approx(parity["keras_top1"])  # float32: the same
    text = runs.describe(result)
    assert "TFLite int8:" in text and "parity tflite_int8 vs Keras on 64 test images" in text


@pytest.mark.parametrize("kwargs, match", [
    ({"quantizations": ("int4",)}, r"quantizations must be distinct values of \('float16', 'dynamic', 'int8'\)"),
    ({"quantizations": ("int8",)}, "needs representative_data"),
    ({"quantizations": ("float16",), "io_dtype": "int8"}, "applies to the 'int8' file"),
    ({"quantizations": ("dynamic", "dynamic")}, "distinct"),
    ({"sample_labels": [1, 2]}, "sample_labels needs sample_images"),
])
def test_export_model_refuses_bad_quantization_arguments_before_writing(trained, tmp_path, kwargs,
                                                                        match):
    with pytest.raises(ValueError, match=match):
        export.export_model(trained[0], tmp_path, **kwargs)
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("key, value, match", [
    ("quantization", ("int4",), r"config.export.quantization must list distinct values"),
    ("io_dtype", "int16", r"config.export.io_dtype must be one of"),
    ("num_calibration_images", 0, r"config.export.num_calibration_images must be an integer >= 1"),
])
def test_the_config_checks_the_export_keys_before_training(key, value, match):
    from kerascnn.train import default_config, train_lib

    cfg = train_lib.config_to_dict(default_config())
    cfg["export"][key] = value
    with pytest.raises(ValueError, match=match):
        train_lib.check_config(cfg)


def test_a_file_xnnpack_cannot_prepare_runs_on_the_builtin_kernels(tmp_path):
    """A depthwise channel whose weights are 1e6 but whose input is always 0 (as after a
    dead ReLU and a folded BatchNormalization): the int8 requantization scale is outside
    XNNPACK's range, LiteRT's default delegate fails to prepare the file, and the parity
    path runs it on LiteRT's builtin kernels and says so."""
    from ai_edge_litert.interpreter import Interpreter

    from kerascnn.export import parity

    inp = keras.Input((8, 8, 2), name="image")
    dw = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)
    model = keras.Model(inp, keras.layers.Flatten()(dw(keras.layers.Rescaling(1 / 255)(inp))))
    kernel = np.full((3, 3, 2, 1), 1 / 9, np.float32)
    kernel[..., 1, 0] = 1e6
    dw.set_weights([kernel])
    images = np.random.default_rng(0).integers(0, 256, (16, 8, 8, 2), dtype=np.uint8)
    images[..., 1] = 0
    content = export.to_tflite(model, quantization="int8", representative_data=images)
    with pytest.raises(RuntimeError, match="XNNPACK"):
        Interpreter(model_content=content).allocate_tensors()
    assert not parity.runs_on_xnnpack(content)
    ours = export.tflite_predict(content, images)
    want = keras_logits(model, images)
    assert np.abs(ours - want).max() < 2 / 255  # the 3x3 means of channel 0, in int8
    path = tmp_path / "m.tflite"
    path.write_bytes(content)
    report = parity.parity_report(model, tflite_paths={"tflite_int8": path}, images=images)
    assert report["tflite_int8"]["xnnpack"] is False
    assert report["tflite_int8"]["top1_agreement"] >= 0.9
    assert parity.runs_on_xnnpack(export.to_tflite(model))  # the float32 file: yes
