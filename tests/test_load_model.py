"""kerascnn.load_model: loads kerascnn's .keras files, and says what to import when a file
names objects that are not registered (Keras alone cannot load a kerascnn model)."""

import json
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn import _io

UNREGISTERED = "kerascnn_test_unregistered>Doubling"


# Registered in this process only: a fresh process that loads a file naming it
# has nothing under that name, as with a model from another package.
@keras.saving.register_keras_serializable(package="kerascnn_test_unregistered")
class Doubling(keras.layers.Layer):
    def call(self, x):
        return 2 * x


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Three .keras files: a kerascnn ResNet-20 (compiled), a GroupedConv2D model,
    and a GroupedConv2D model holding the Doubling layer; with inputs and the
    outputs the saved models gave for them."""
    folder = tmp_path_factory.mktemp("saved")
    resnet = kerascnn.create_model("resnet20", classes=3, input_shape=(16, 16, 3))
    resnet.compile(optimizer="sgd", loss="categorical_crossentropy")
    inputs = keras.Input((8, 8, 4))
    grouped = keras.Model(inputs, kerascnn.layers.GroupedConv2D(4, 3, groups=2)(inputs))
    mixed = keras.Model(inputs, Doubling()(kerascnn.layers.GroupedConv2D(4, 1, groups=2)(inputs)))
    rng = np.random.default_rng(0)
    paths, inputs, outputs = {}, {}, {}
    for name, model in (("resnet", resnet), ("grouped", grouped), ("mixed", mixed)):
        paths[name] = str(folder / f"{name}.keras")
        model.save(paths[name])
        inputs[name] = rng.uniform(0, 255, (2, *model.input_shape[1:])).astype("float32")
        outputs[name] = np.asarray(model(inputs[name]))
    return {"paths": paths, "inputs": inputs, "outputs": outputs}


FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    import keras

    paths, out = json.loads(sys.argv[1]), {}
    for name in ("resnet", "grouped"):
        try:
            keras.saving.load_model(paths[name])
            out[name] = None
        except Exception as err:
            out[name] = [type(err).__name__, str(err)]
    out["kerascnn_imported"] = "kerascnn" in sys.modules

    import kerascnn

    try:
        kerascnn.load_model(paths["mixed"])
        out["mixed"] = None
    except Exception as err:
        out["mixed"] = [type(err).__name__, str(err), type(err.__cause__).__name__,
                        str(err.__cause__)]
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def fresh_process(saved):
    """What a new Python process sees loading the saved files: with Keras alone,
    then through kerascnn.load_model (where Doubling is not registered)."""
    run = subprocess.run([sys.executable, "-c", FRESH_PROCESS, json.dumps(saved["paths"])],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_keras_alone_cannot_load_a_kerascnn_model(fresh_process):
    # Why the hint matters: without `import kerascnn` Keras does not know its layers.
    assert fresh_process["kerascnn_imported"] is False
    kind, message = fresh_process["resnet"]
    assert kind == "TypeError" and "Could not locate class 'ImageNormalization'" in message
    assert "'registered_name': 'kerascnn>ImageNormalization'" in message
    kind, message = fresh_process["grouped"]
    assert kind == "TypeError" and "Could not locate class 'GroupedConv2D'" in message


def test_unregistered_objects_are_named_with_what_to_import(fresh_process, saved):
    kind, message, cause_kind, cause = fresh_process["mixed"]
    assert kind == cause_kind == "TypeError"
    first, blank, rest = message.split("\n", 2)
    # GroupedConv2D is registered by kerascnn, so only Doubling is named.
    assert first == (
        f"{saved['paths']['mixed']} names objects that are not registered ({UNREGISTERED}); if it was "
        f"saved by kerascnn, `import kerascnn` before loading it (kerascnn.load_model does) "
        f"— import the code that registers {UNREGISTERED} "
        f"(@keras.saving.register_keras_serializable) first, or pass custom_objects=."
    )
    assert blank == "" and rest == cause
    assert "Could not locate class 'Doubling'" in cause


def test_load_model_loads_kerascnn_models_with_the_same_outputs(saved):
    for name in ("resnet", "grouped"):
        loaded = kerascnn.load_model(saved["paths"][name])
        assert type(loaded.get_layer(index=1)).__module__.startswith("kerascnn.layers")
        np.testing.assert_allclose(np.asarray(loaded(saved["inputs"][name])),
                                   saved["outputs"][name], rtol=1e-6, atol=1e-5)
    # Keyword arguments reach keras.saving.load_model.
    assert kerascnn.load_model(saved["paths"]["resnet"]).compiled
    assert not kerascnn.load_model(saved["paths"]["resnet"], compile=False).compiled


def test_a_kerascnn_name_unknown_to_this_version_points_at_the_version(saved, tmp_path):
    """A file naming a kerascnn object this kerascnn lacks: the config of `mixed`
    with Doubling's registered name changed to a kerascnn one."""
    path = tmp_path / "future.keras"
    with zipfile.ZipFile(saved["paths"]["mixed"]) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "config.json":
                content = content.replace(UNREGISTERED.encode(), b"kerascnn>FutureLayer")
            target.writestr(item, content)
    with pytest.raises(TypeError) as error:
        kerascnn.load_model(path)
    assert str(error.value).split("\n")[0] == (
        f"{path} names objects that are not registered (kerascnn>FutureLayer); if it was saved "
        f"by kerascnn, `import kerascnn` before loading it (kerascnn.load_model does) — kerascnn "
        f"{kerascnn.__version__} (imported here) has no kerascnn>FutureLayer, so the file may "
        f"come from another kerascnn version."
    )
    assert isinstance(error.value.__cause__, TypeError)


def test_missing_file_and_other_errors(tmp_path, monkeypatch):
    missing = tmp_path / "nothing.keras"
    with pytest.raises(FileNotFoundError) as error:
        kerascnn.load_model(missing)
    assert str(error.value) == f"Model file {str(missing)!r} does not exist."
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as error:
        kerascnn.load_model("nothing.keras")
    assert str(error.value) == (
        f"Model file 'nothing.keras' does not exist (looked at {tmp_path / 'nothing.keras'}).")
    # An error that is not about registration comes through untouched.
    with pytest.raises(ValueError) as error:
        kerascnn.load_model(tmp_path)
    assert str(error.value).startswith("File format not supported")
    assert error.value.__cause__ is None


def test_load_model_is_kerascnn_load_model():
    assert kerascnn.load_model is _io.load_model and "load_model" in kerascnn.__all__
