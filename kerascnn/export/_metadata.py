"""What an export says about itself: metadata.json, class names, and the
interface that all versions under one name share."""

import datetime
import json
import os

import keras
import numpy as np
import tensorflow as tf

from kerascnn._version import __version__

INPUT_KEY = "images"
OUTPUT_KEY = "logits"
SIGNATURE_KEY = "serving_default"
CLASS_NAMES_KEY = "class_names"  # the signature, its output and the metadata key
CLASS_NAMES_FILENAME = "class_names.txt"  # in the SavedModel's assets/
KERAS_FILENAME = "model.keras"
TFLITE_FILENAME = "model_float32.tflite"
METADATA_FILENAME = "metadata.json"
# The files tf.saved_model.save writes; the SavedModel's size is theirs.
SAVED_MODEL_ENTRIES = ("saved_model.pb", "fingerprint.pb", "variables", "assets")
# The top-level keys of metadata.json that export_model owns.
RESERVED_KEYS = frozenset({
    "name", "version", "created", "kerascnn_version", "keras_version",
    "tensorflow_version", "signature", "input", "output", CLASS_NAMES_KEY, "parameters",
    "files", "tflite_ops", "parity",
})
# How many class names an error message shows before it abbreviates.
_SHOWN_NAMES = 10


def output_shape(model):
    return [None if d is None else int(d) for d in model.outputs[0].shape]


def check_class_names(class_names, model):
    """`class_names` as a list of str, one per output of `model`, or a ValueError."""
    if class_names is None:
        return None
    if isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__len__"):
        raise ValueError(
            f"class_names must be a sequence of str (one per class), got "
            f"{type(class_names).__name__} {class_names!r}."
        )
    names = list(class_names)
    for i, n in enumerate(names):
        # One name per line in assets/class_names.txt, so no line breaks.
        if not isinstance(n, str) or not n or n.splitlines() != [n]:
            raise ValueError(
                f"class_names[{i}] must be a non-empty str without line breaks, got {n!r}."
            )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"class_names must be distinct; repeated: {repeated}.")
    classes = output_shape(model)[-1]
    if len(names) != classes:
        raise ValueError(
            f"class_names has {len(names)} names but model {model.name!r} has "
            f"{classes} outputs (output shape {tuple(output_shape(model))}); give one "
            f"name per class."
        )
    return [str(n) for n in names]


def check_metadata(metadata):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}.")
    clash = sorted(set(metadata) & RESERVED_KEYS)
    if clash:
        raise ValueError(
            f"metadata keys {clash} clash with the keys export_model writes "
            f"({sorted(RESERVED_KEYS)}); nest them, e.g. under 'config'."
        )
    for key, value in metadata.items():
        try:
            json.dumps(value, default=_json_default)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"metadata[{key!r}] is not JSON-serializable: {err}"
            ) from None
    return dict(metadata)


def refuse_other_interface(previous_dir, hwc, out_shape, class_names):
    """Raises if the version in `previous_dir` takes or gives something else.

    Clients of `<name>` (TF Serving's model name, a label file) expect every
    version to share the input shape, the output shape and the class list, so
    another interface belongs under another name. A version without
    metadata.json (not written by export_model) is not compared.
    """
    path = os.path.join(previous_dir, METADATA_FILENAME)
    if not os.path.isfile(path):
        return
    try:
        with open(path) as f:
            before = json.load(f)
        before_in, before_out = before["input"]["shape"], before["output"]["shape"]
        before_names = before.get(CLASS_NAMES_KEY)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"Cannot read the input and output shapes of the existing version from "
            f"{path!r} ({type(err).__name__}: {err}); fix or remove that file, or "
            f"export under another name (name= / --name)."
        ) from None
    differences = []
    if before_in != [None, *hwc]:
        differences.append(f"input shape {before_in} vs {[None, *hwc]}")
    if before_out != out_shape:
        differences.append(f"output shape {before_out} vs {out_shape}")
    if before_names is not None and class_names is not None and before_names != class_names:
        differences.append(
            f"class names {_show(before_names)} vs {_show(class_names)}"
            f"{_first_difference(before_names, class_names)}"
        )
    if differences:
        raise ValueError(
            f"The existing version {previous_dir!r} differs from the model being "
            f"exported (existing vs new): {'; '.join(differences)}. All versions under "
            f"one name must share their input, output and classes, because clients "
            f"address them by that name; pick another name (name= / --name)."
        )


def _show(names):
    if len(names) <= _SHOWN_NAMES:
        return repr(list(names))
    return f"{list(names[:_SHOWN_NAMES])!r} and {len(names) - _SHOWN_NAMES} more"


def _first_difference(a, b):
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    if i is None:
        return f" ({len(a)} vs {len(b)} names)"
    return f" (first difference at index {i}: {a[i]!r} vs {b[i]!r})"


def build(model, name, version, hwc, directory, op_names, report, class_names):
    """The metadata.json content of the export in `directory`."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    files = {
        "saved_model": {
            "path": ".",
            "bytes": sum(_size(os.path.join(directory, e)) for e in SAVED_MODEL_ENTRIES),
        },
        "keras": {"path": KERAS_FILENAME, "bytes": _size(os.path.join(directory, KERAS_FILENAME))},
    }
    if op_names is not None:
        files["tflite"] = {
            "path": TFLITE_FILENAME,
            "bytes": _size(os.path.join(directory, TFLITE_FILENAME)),
        }
    info = {
        "name": name,
        "version": int(version),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "kerascnn_version": __version__,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "signature": SIGNATURE_KEY,
        "input": {"name": INPUT_KEY, "shape": [None, *hwc], "dtype": "uint8", "range": [0, 255]},
        "output": {"name": OUTPUT_KEY, "shape": output_shape(model), "dtype": "float32"},
        CLASS_NAMES_KEY: None if class_names is None else list(class_names),
        # Keras' count_params() also counts BN moving statistics (non-trainable).
        "parameters": {
            "trainable": trainable,
            "non_trainable": non_trainable,
            "total": trainable + non_trainable,
        },
        "files": files,
        "parity": report,
    }
    if op_names is not None:
        info["tflite_ops"] = op_names
    return info


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, names in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, n)) for n in names)
    return total


def _json_default(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "to_dict"):  # ml_collections.ConfigDict
        return value.to_dict()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} {value!r} cannot be written as JSON")


def write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=_json_default)
        f.write("\n")
