"""kerascnn.export: the exported files serve what the Keras model computes.

Every check runs the written artifacts with their own runtime
(tf.saved_model.load, ai_edge_litert, keras.saving.load_model) and compares
with the Keras model called on the same images as float32.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import kerascnn
from kerascnn import export
from kerascnn.export import exporter, runs

HWC = (16, 16, 3)
# CIFAR-10's classes, one of them non-ASCII and one with a space: the asset is UTF-8.
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "Pferd ü",
           "ship", "fire truck")
# ResNet-20 for CIFAR-10 (option A shortcuts): 269,722 parameters without BN
# moving statistics (He et al. 2016 Table 6 "0.27M"; akamaster/pytorch_resnet_cifar10
# prints "Total number of params 269722").
RESNET20_TRAINABLE = 269_722


def _images(n, hwc=HWC, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *hwc), dtype=np.uint8)


def _make_bn_nontrivial(model, seed=0):
    """Moves BN statistics away from (0, 1) and gamma/beta away from (1, 0).

    A few forward passes in training mode update the moving statistics with
    momentum, so they differ both from the initial values and from the
    statistics of any single batch: serving in training mode would show.
    """
    rng = np.random.default_rng(seed)
    for i in range(3):
        model(_images(16, tuple(model.inputs[0].shape[1:]), seed=100 + i).astype("float32"),
              training=True)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                rng.normal(0.0, 0.1, beta.shape).astype("float32"),
                mean, var,
            ])


def _tiny_cnn(hwc=(8, 8, 3), name="tiny", classes=3):
    inputs = keras.Input(hwc, name="image")
    x = kerascnn.layers.ImageNormalization([127.5] * hwc[-1], [127.5] * hwc[-1])(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x), name=name)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """resnet20 at 16x16 with non-trivial BN, exported once with 70 sample images and class names."""
    keras.utils.set_random_seed(1)
    model = kerascnn.create_model("resnet20", classes=10, input_shape=HWC)
    _make_bn_nontrivial(model)
    samples = _images(70, seed=1)
    root = tmp_path_factory.mktemp("saved_models")
    result = export.export_model(
        model, root, sample_images=samples,
        metadata={"config": {"depth": 20, "lr": np.float32(0.1)}, "metrics": {"top1": 0.5}},
        class_names=list(CLASSES),
    )
    return model, samples, root, result


def test_bn_is_not_identity(exported):
    model, samples, _, _ = exported
    x = samples[:8].astype("float32")
    moving_var = model.get_layer("conv1_bn").moving_variance.numpy()
    assert np.abs(moving_var - 1.0).max() > 1e-2
    # Inference and training mode differ, so a serving signature in training
    # mode could not pass the parity checks below. (On a copy: a training-mode
    # call updates the moving statistics.)
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    gap = np.abs(twin(x, training=True).numpy() - model(x, training=False).numpy()).max()
    assert gap > 1e-3


def test_layout(exported):
    _, _, root, result = exported
    version_dir = os.path.join(root, "resnet20", "1")
    assert result.version == 1 and result.name == "resnet20"
    assert result.directory == result.saved_model == version_dir
    for path in (result.keras_path, result.tflite_path, result.metadata_path):
        assert os.path.dirname(path) == version_dir
    assert {"saved_model.pb", "variables", "model.keras", "model_float32.tflite",
            "metadata.json"} <= set(os.listdir(version_dir))
    assert os.listdir(os.path.join(root, "resnet20")) == ["1"]  # no temp dir left


def test_saved_model_serves_uint8_batches_of_any_size(exported):
    model, _, _, result = exported
    serve = tf.saved_model.load(result.saved_model).signatures["serving_default"]
    (spec,) = serve.structured_input_signature[1].values()
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, *HWC]
    assert list(serve.structured_outputs) == ["logits"]
    for n in (1, 5):
        images = _images(n, seed=10 + n)
        got = serve(images=tf.constant(images))["logits"].numpy()
        want = model(images.astype("float32"), training=False).numpy()
        assert got.shape == (n, 10)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="uint8"):  # uint8 only
        serve(images=tf.constant(_images(1).astype("float32")))


@pytest.mark.parametrize("shape", [
    (2, 16, 16, 1), (2, 16, 16, 4), (2, 8, 16, 3), (2, 16, 32, 3), (1, 28, 28, 3),
    (16, 16, 3), (0, 16, 16, 3),
])
def test_saved_model_refuses_other_image_sizes(serving_default, shape):
    # The model alone would serve all of these (global pooling, 1x1 shortcuts) or
    # crash the process (rank 3); the signature must refuse them first.
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        serving_default(images=tf.zeros(shape, tf.uint8))
    message = str(err.value)
    assert "expects uint8 images of shape (N, 16, 16, 3) with N >= 1" in message
    assert f"got shape] [{' '.join(map(str, shape))}]" in message


def test_saved_model_refuses_other_rank_and_dtype(serving_default):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[2,16,16,3,1\].*\[\?,16,16,3\]"):
        serving_default(images=tf.zeros((2, 16, 16, 3, 1), tf.uint8))
    for dtype, said in ((tf.float32, "float"), (tf.uint16, "uint16"), (tf.int8, "int8")):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=f"expected to be a uint8 tensor but is a {said} tensor"):
            serving_default(images=tf.zeros((2, *HWC), dtype))
    # The right batch still serves, after the refused ones.
    assert serving_default(images=tf.zeros((2, *HWC), tf.uint8))["logits"].shape == (2, 10)


@pytest.fixture(scope="module")
def serving_default(exported):
    return tf.saved_model.load(exported[3].saved_model).signatures["serving_default"]


def test_class_names_round_trip(exported, tmp_path):
    _, _, _, result = exported
    assert result.class_names == CLASSES and result.classes == 10
    assert json.load(open(result.metadata_path))["class_names"] == list(CLASSES)
    asset = os.path.join(result.saved_model, "assets", "class_names.txt")
    with open(asset, encoding="utf-8") as f:
        assert f.read() == "".join(f"{n}\n" for n in CLASSES)

    loaded = tf.saved_model.load(result.saved_model)
    assert set(loaded.signatures) == {"serve", "serving_default", "class_names"}
    class_names = loaded.signatures["class_names"]
    assert class_names.structured_input_signature == ((), {})
    names = class_names()["class_names"]
    assert names.dtype == tf.string and names.shape == (10,)
    assert [n.decode("utf-8") for n in names.numpy()] == list(CLASSES)

    # The signature reads the asset of the directory it is loaded from, so the
    # names travel with a copied SavedModel (edited here to tell them apart).
    copy = tmp_path / "copy"
    shutil.copytree(result.saved_model, copy)
    edited = ["renamed"] + list(CLASSES[1:])
    (copy / "assets" / "class_names.txt").write_text("".join(f"{n}\n" for n in edited),
                                                      encoding="utf-8")
    got = tf.saved_model.load(str(copy)).signatures["class_names"]()["class_names"]
    assert [n.decode("utf-8") for n in got.numpy()] == edited


def test_describe_names_the_export_and_its_classes(exported):
    _, _, _, result = exported
    text = runs.describe(result)
    assert f"name:       {result.name}" in text
    assert "classes:    10  (airplane, automobile, bird, cat, deer, ... 5 more)" in text
    assert "; class_names)" in text


def test_tflite_runs_in_litert_and_matches(exported):
    model, _, _, result = exported
    images = _images(3, seed=20)
    interpreter = Interpreter(model_path=result.tflite_path)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert inp["dtype"] == np.uint8 and list(inp["shape_signature"]) == [-1, *HWC]
    interpreter.resize_tensor_input(inp["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], images)
    interpreter.invoke()
    got = interpreter.get_tensor(out["index"])
    want = model(images.astype("float32"), training=False).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_tflite_has_only_builtin_ops(exported):
    _, _, _, result = exported
    # Without the default (XNNPACK) delegate, the nodes are the model's own ops.
    interpreter = Interpreter(
        model_path=result.tflite_path,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    ops = {d["op_name"] for d in interpreter._get_ops_details()}
    assert "CONV_2D" in ops and "FULLY_CONNECTED" in ops and "CAST" in ops
    assert not [op for op in ops if op.startswith("Flex") or not op.isupper()]
    metadata = json.load(open(result.metadata_path))
    assert set(metadata["tflite_ops"]) == ops
    with open(result.tflite_path, "rb") as f:
        assert export.tflite_ops(f.read()) == {"builtin": sorted(ops), "custom": []}


def test_tflite_predict_matches_and_refuses_other_input(exported):
    model, _, _, result = exported
    images = _images(70, seed=21)  # two chunks
    want = model(images.astype("float32"), training=False).numpy()
    with open(result.tflite_path, "rb") as f:
        content = f.read()
    for source in (result.tflite_path, content):
        np.testing.assert_allclose(export.tflite_predict(source, images), want,
                                   rtol=0, atol=1e-4)

    for bad in (_images(2, (16, 16, 1)), _images(2, (8, 8, 3)), _images(2, (32, 16, 3)),
                _images(1)[0], _images(0)):
        expected = (r"input 'images' takes uint8 images of shape \(N, 16, 16, 3\) with "
                    r"N >= 1; got uint8 of shape " + re.escape(str(bad.shape)))
        with pytest.raises(ValueError, match=expected):
            export.tflite_predict(content, bad)
        with pytest.raises(ValueError, match=expected):
            export.parity.tflite_logits(result.tflite_path, bad)
    with pytest.raises(ValueError, match=r"\(N, 16, 16, 3\).*got float32 of shape \(2, 16, 16, 3\)"):
        export.tflite_predict(content, _images(2).astype("float32"))


def test_litert_recipe_in_the_docs_is_strict(exported):
    # docs/export.md: the signature runner resizes any input; the tensor API
    # with resize_tensor_input(strict=True) and set_tensor refuses it.
    _, _, _, result = exported
    interpreter = Interpreter(model_path=result.tflite_path)
    runner = interpreter.get_signature_runner("serving_default")
    assert runner(images=_images(2, (8, 8, 3)))["logits"].shape == (2, 10)  # not refused

    interpreter = Interpreter(model_path=result.tflite_path)
    inp = interpreter.get_input_details()[0]
    with pytest.raises(RuntimeError, match="only allows mutating unknown dimensions"):
        interpreter.resize_tensor_input(inp["index"], (2, 8, 8, 3), strict=True)
    interpreter.resize_tensor_input(inp["index"], (2, *HWC), strict=True)
    interpreter.allocate_tensors()
    with pytest.raises(ValueError, match="Dimension mismatch"):
        interpreter.set_tensor(inp["index"], _images(2, (16, 16, 1)))
    with pytest.raises(ValueError, match="expected type UINT8"):
        interpreter.set_tensor(inp["index"], _images(2).astype("float32"))


def test_keras_file_reloads_without_custom_objects(exported):
    model, samples, _, result = exported
    reloaded = keras.saving.load_model(result.keras_path)
    x = samples[:4].astype("float32")
    np.testing.assert_allclose(
        reloaded(x, training=False).numpy(), model(x, training=False).numpy(),
        rtol=0, atol=1e-6,
    )


def test_metadata(exported):
    model, samples, _, result = exported
    metadata = json.load(open(result.metadata_path))
    assert metadata["name"] == "resnet20" and metadata["version"] == 1
    assert metadata["keras_version"] == keras.__version__
    assert metadata["tensorflow_version"] == tf.__version__
    created = datetime.datetime.fromisoformat(metadata["created"])
    assert created.utcoffset() == datetime.timedelta(0)
    assert abs(datetime.datetime.now(datetime.timezone.utc) - created).total_seconds() < 3600
    assert metadata["input"] == {"name": "images", "shape": [None, *HWC], "dtype": "uint8",
                                 "range": [0, 255]}
    assert metadata["output"]["shape"] == [None, 10]
    assert metadata["config"] == {"depth": 20, "lr": pytest.approx(0.1)}
    assert metadata["metrics"] == {"top1": 0.5}

    trainable = sum(int(np.size(w.numpy())) for w in model.trainable_weights)
    bn_stats = sum(2 * layer.moving_mean.shape[0] for layer in model.layers
                   if isinstance(layer, keras.layers.BatchNormalization))
    assert metadata["parameters"] == {
        "trainable": trainable, "non_trainable": bn_stats, "total": trainable + bn_stats,
    }
    assert trainable == RESNET20_TRAINABLE
    assert metadata["parameters"]["total"] == model.count_params()

    files = metadata["files"]
    assert files["keras"]["bytes"] == os.path.getsize(result.keras_path)
    assert files["tflite"]["bytes"] == os.path.getsize(result.tflite_path)
    assert files["saved_model"]["bytes"] > os.path.getsize(
        os.path.join(result.saved_model, "saved_model.pb"))

    report = metadata["parity"]
    assert report == result.parity
    assert report["num_images"] == 64  # the first 64 of the 70 samples
    for key in ("saved_model", "tflite"):
        assert report[key]["num_images"] == 64
        assert report[key]["max_abs_diff"] < 1e-4
        assert 0 <= report[key]["mean_abs_diff"] <= report[key]["max_abs_diff"]
        assert report[key]["top1_agreement"] == 1.0
    # The reported SavedModel numbers are those of the files on disk.
    serve = tf.saved_model.load(result.saved_model).signatures["serving_default"]
    first = samples[:64]
    diff = np.abs(serve(images=tf.constant(first))["logits"].numpy().astype("float64")
                  - model(first.astype("float32"), training=False).numpy())
    assert report["saved_model"]["max_abs_diff"] == pytest.approx(diff.max(), abs=1e-7)
    assert report["saved_model"]["mean_abs_diff"] == pytest.approx(diff.mean(), abs=1e-8)


def test_parity_report_detects_a_different_model(exported):
    _, samples, _, result = exported
    keras.utils.set_random_seed(7)
    other = kerascnn.create_model("resnet20", classes=10, input_shape=HWC)
    _make_bn_nontrivial(other, seed=7)
    report = export.parity_report(
        other, saved_model_dir=result.saved_model, tflite_path=result.tflite_path,
        images=samples[:16],
    )
    assert report["num_images"] == 16
    for key in ("saved_model", "tflite"):
        assert report[key]["max_abs_diff"] > 1e-2
        assert report[key]["top1_agreement"] < 1.0


def test_parity_compare_against_numpy():
    a = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]], np.float32)
    b = np.array([[0.0, 1.5, 2.0], [0.0, 3.5, 0.0]], np.float32)
    assert export.parity.compare(a, b) == {
        "max_abs_diff": 3.5, "mean_abs_diff": pytest.approx(7.0 / 6), "top1_agreement": 0.5,
        "num_images": 2,
    }


def test_versions_count_up_and_are_never_overwritten(tmp_path):
    model = _tiny_cnn()
    first = export.export_model(model, tmp_path, tflite=False)
    second = export.export_model(model, tmp_path, tflite=False)
    assert (first.version, second.version) == (1, 2)
    assert second.directory == os.path.join(tmp_path, "tiny", "2")
    assert second.tflite_path is None
    assert not os.path.exists(os.path.join(second.directory, "model_float32.tflite"))
    metadata = json.load(open(second.metadata_path))
    assert metadata["parity"]["skipped"] is True and "tflite" not in metadata["files"]
    # Without class_names: null in the metadata, no asset, no signature.
    assert metadata["class_names"] is None
    assert (second.classes, second.class_names) == (3, None)
    assert not os.path.exists(os.path.join(second.directory, "assets", "class_names.txt"))
    assert set(tf.saved_model.load(second.saved_model).signatures) == {"serve",
                                                                        "serving_default"}

    before = sorted(os.listdir(first.directory))
    meta_before = open(first.metadata_path).read()
    with pytest.raises(FileExistsError, match=os.path.join("tiny", "1")):
        export.export_model(model, tmp_path, version=1, tflite=False)
    assert sorted(os.listdir(first.directory)) == before
    assert open(first.metadata_path).read() == meta_before
    assert sorted(os.listdir(tmp_path / "tiny")) == ["1", "2"]

    # Non-integer entries (TF Serving ignores them too) do not count.
    (tmp_path / "tiny" / "notes").mkdir()
    (tmp_path / "tiny" / "99.txt").write_text("")
    assert export.export_model(model, tmp_path, version=7, tflite=False).version == 7
    assert export.next_version(tmp_path / "tiny") == 8


@pytest.mark.parametrize("module, failing", [
    (exporter, "convert_to_tflite"), (exporter._metadata, "write_json"),
], ids=["tflite", "metadata"])
def test_failure_midway_leaves_no_version_and_no_temp_dir(tmp_path, monkeypatch, module,
                                                          failing):
    calls = []

    def boom(*args, **kwargs):
        calls.append(args)
        # The partial export exists in the temp dir while we fail.
        assert [e for e in os.listdir(tmp_path / "tiny") if e.startswith(".tmp-1-")]
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(module, failing, boom)
    with pytest.raises(RuntimeError, match="simulated failure"):
        export.export_model(_tiny_cnn(), tmp_path, sample_images=_images(2, (8, 8, 3)))
    assert calls
    assert os.listdir(tmp_path / "tiny") == []


def test_ops_outside_tflite_builtins_fail_clearly(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1 / 256)(inputs)
    x = keras.layers.Lambda(keras.ops.erfinv)(x)  # tf.Erfinv has no TFLite builtin
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)), name="erf")
    with pytest.raises(export.TFLiteConversionError, match="Erfinv"):
        export.export_model(model, tmp_path)
    assert os.listdir(tmp_path / "erf") == []


def test_stale_temp_dirs_of_dead_processes_are_removed(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(done.stdout)
    model_dir = tmp_path / "tiny"
    stale = model_dir / f".tmp-1-{dead_pid}-0badc0de"
    live = model_dir / f".tmp-1-{os.getpid()}-0badc0de"
    for d in (stale, live):
        (d / "variables").mkdir(parents=True)
    result = export.export_model(_tiny_cnn(), tmp_path, tflite=False)
    assert result.version == 1  # temp dirs are not versions
    assert not stale.exists() and live.exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"sample_images": _images(2, (9, 8, 3))}, r"\(2, 9, 8, 3\)"),
    ({"sample_images": _images(2, (8, 8, 3))[0]}, r"\(8, 8, 3\)"),
    ({"sample_images": _images(2, (8, 8, 3)).astype("float32")}, "float32"),
    ({"sample_images": [[0]]}, "list"),
    ({"version": 0}, "version.*0"),
    ({"version": "2"}, "version.*'2'"),
    ({"version": True}, "version.*True"),
    ({"name": "a/b"}, "'a/b'"),
    ({"name": ".hidden"}, "'.hidden'"),
    ({"metadata": {"parity": 1}}, "parity"),
    ({"metadata": {"config": object()}}, "config"),
    ({"metadata": {"class_names": ["a", "b", "c"]}}, "class_names"),
    ({"class_names": ["a", "b"]}, r"class_names has 2 names.*3 outputs"),
    ({"class_names": ["a", "b", "c", "d"]}, r"class_names has 4 names.*3 outputs"),
    ({"class_names": "abc"}, "sequence of str.*'abc'"),
    ({"class_names": ["a", 1, "c"]}, r"class_names\[1\].*1"),
    ({"class_names": ["a", "b\nc", "d"]}, r"class_names\[1\].*line breaks"),
    ({"class_names": ["a", "", "d"]}, r"class_names\[1\].*non-empty"),
    ({"class_names": ["a", "b", "a"]}, r"distinct.*\['a'\]"),
])
def test_bad_arguments_raise_before_writing(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        export.export_model(_tiny_cnn(), tmp_path / "root", **kwargs)
    assert not (tmp_path / "root").exists()


def test_variable_input_shape_is_refused(tmp_path):
    model = kerascnn.create_model("resnet20", classes=10, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match=r"\(None, None, None, 3\).*input_shape=\(H, W, C\)"):
        export.export_model(model, tmp_path)
    with pytest.raises(ValueError, match="input shape"):
        export.parity_report(model, saved_model_dir=str(tmp_path), images=_images(1))
    assert not os.listdir(tmp_path)

