"""kerascnn.export: one name, one interface; export_run names and labels the export.

Exports here skip TFLite (the SavedModel and metadata.json are what these
checks read), so each costs about a second.
"""

import json
import os

import keras
import numpy as np
import pytest

from kerascnn.export import export_model, runs


def _tiny_cnn(hwc=(8, 8, 3), classes=3):
    inputs = keras.Input(hwc)
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x), name="tiny")


def _images(n, hwc=(8, 8, 3)):
    return np.random.default_rng(0).integers(0, 256, (n, *hwc), dtype=np.uint8)


def test_a_name_keeps_its_input_output_and_classes(tmp_path):
    model = _tiny_cnn()
    first = export_model(model, tmp_path, tflite=False, class_names=["a", "b", "c"])
    model_dir = tmp_path / "tiny"
    first_dir = str(model_dir / "1")

    def refused(other, match, **kwargs):
        before = {p: sorted(os.listdir(model_dir / p)) for p in os.listdir(model_dir)}
        with pytest.raises(ValueError, match=match) as err:
            export_model(other, tmp_path, tflite=False, **kwargs)
        assert first_dir in str(err.value) and "--name" in str(err.value)
        after = {p: sorted(os.listdir(model_dir / p)) for p in os.listdir(model_dir)}
        assert after == before  # nothing written, not even a temp dir

    refused(_tiny_cnn(classes=4), r"output shape \[None, 3\] vs \[None, 4\]")
    refused(_tiny_cnn(classes=4), r"output shape \[None, 3\] vs \[None, 4\]", version=9)
    refused(_tiny_cnn(hwc=(9, 8, 3)), r"input shape \[None, 8, 8, 3\] vs \[None, 9, 8, 3\]")
    refused(model, r"class names \['a', 'b', 'c'\] vs \['a', 'c', 'b'\].*index 1: 'b' vs 'c'",
            class_names=["a", "c", "b"])

    # Same shapes and classes: the next version. Class names on one side only
    # are not compared.
    assert export_model(model, tmp_path, tflite=False,
                               class_names=["a", "b", "c"]).version == 2
    assert export_model(model, tmp_path, tflite=False).version == 3
    assert export_model(model, tmp_path, tflite=False, version=7,
                               class_names=("a", "b", "c")).version == 7
    # Another name is free.
    other = export_model(_tiny_cnn(classes=4), tmp_path, name="tiny4", tflite=False)
    assert other.directory == str(tmp_path / "tiny4" / "1")
    # A highest version without metadata.json (not written by export_model) is not compared.
    (model_dir / "8").mkdir()
    assert export_model(_tiny_cnn(classes=4), tmp_path, tflite=False).version == 9
    assert json.load(open(first.metadata_path))["class_names"] == ["a", "b", "c"]


def test_unreadable_metadata_of_the_last_version_is_an_error(tmp_path):
    (tmp_path / "tiny" / "1").mkdir(parents=True)
    (tmp_path / "tiny" / "1" / "metadata.json").write_text('{"input": {}}')
    with pytest.raises(ValueError, match=r"tiny/1/metadata.json.*KeyError.*--name"):
        export_model(_tiny_cnn(), tmp_path, tflite=False)
    assert os.listdir(tmp_path / "tiny") == ["1"]


def test_export_run_passes_the_name_and_class_names_on(tmp_path, monkeypatch):
    from kerascnn.train import export_config, train_lib

    model = _tiny_cnn()
    cfg = {"model": {"name": "tiny"}}
    kwargs = dict(export_root=str(tmp_path / "saved"), name="tiny_digits", tflite=False,
                  sample_images=_images(4, (8, 8, 3)), class_names=("zero", "one", "two"))
    monkeypatch.setattr(train_lib, "load_run", lambda workdir, checkpoint: (cfg, model))
    monkeypatch.setattr(export_config, "export_kwargs", lambda c: dict(kwargs))

    default = runs.export_run(tmp_path)
    assert default.directory == str(tmp_path / "saved" / "tiny_digits" / "1")
    metadata = json.load(open(default.metadata_path))
    assert metadata["class_names"] == ["zero", "one", "two"]
    assert metadata["config"] == cfg and metadata["parity"]["num_images"] == 4
    named = runs.export_run(tmp_path, export_root=tmp_path / "other", name="digits_v2")
    assert named.directory == str(tmp_path / "other" / "digits_v2" / "1")
