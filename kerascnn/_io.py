"""Writes that never leave a half-written file (temporary name, then rename), and
`load_model`, which says what to import when a `.keras` file names unknown objects."""

import json
import os
import pathlib
import re
import tempfile
import zipfile

import keras

from kerascnn._version import __version__


def _write_atomic(path, write):
    """Calls `write(tmp)` for a temporary file beside `path`, then renames it to `path`."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text_atomic(path, text):
    """Writes `text` to `path` through a temporary file in the same folder."""

    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    _write_atomic(path, write)


def write_json_atomic(path, obj):
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_model_atomic(model, path):
    """`model.save(path)` (a .keras file) through a temporary name."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_weights_atomic(model, path):
    """`model.save_weights(path)` (a .weights.h5 file) through a temporary name."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name[:-len('.weights.h5')]}.{os.getpid()}.tmp.weights.h5")
    try:
        model.save_weights(tmp, overwrite=True)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_figure_atomic(path, figure, dpi=110):
    """A matplotlib figure saved as PNG at `path` through a temporary file."""
    _write_atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=dpi))


def write_png_atomic(path, pixels):
    """Writes a uint8 [H, W, 3] (or [H, W]) array as a PNG through a temporary name."""
    from PIL import Image

    _write_atomic(path, lambda tmp: Image.fromarray(pixels).save(tmp, format="PNG"))


# What Keras says when a saved file names a class or function it cannot find:
# .keras files (saving_lib) and legacy .h5 files (the "Unknown layer: 'X'" family).
_UNRESOLVED = (
    re.compile(r"Could not locate (?:class|function) '([^']+)'"),
    re.compile(r"Unknown [a-z ]+: '([^']+)'"),
)
_PACKAGE = "kerascnn"


def load_model(path, **kwargs):
    """`keras.saving.load_model(path, **kwargs)` with kerascnn's objects registered.

    Loading through here (or after `import kerascnn`) is what a `.keras` file
    of a kerascnn model needs; Keras alone cannot rebuild its layers.

    Raises:
        FileNotFoundError: nothing at `path`.
        TypeError, ValueError: as `keras.saving.load_model`. When the file names
            classes or functions that are not registered, the same type is
            raised with a first line naming them and what to import, then
            Keras's message.
    """
    shown = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
    if isinstance(path, (str, os.PathLike)) and "://" not in shown and not os.path.exists(path):
        where = "" if os.path.isabs(shown) else f" (looked at {os.path.abspath(shown)})"
        raise FileNotFoundError(f"Model file {shown!r} does not exist{where}.")
    try:
        return keras.saving.load_model(path, **kwargs)
    except (TypeError, ValueError) as err:
        names = _unregistered_names(path, err, kwargs.get("custom_objects") or {})
        if not names:
            raise
        message = f"{_hint(shown, names)}\n\n{err}"
        try:
            hinted = type(err)(message)
        except Exception:  # noqa: BLE001  (a subclass with another constructor)
            hinted = (TypeError if isinstance(err, TypeError) else ValueError)(message)
        raise hinted from err


def _hint(shown, names):
    ours = [n for n in names if n.startswith(_PACKAGE + ">")]
    others = [n for n in names if n not in ours]
    advice = []
    if ours:
        advice.append(f"kerascnn {__version__} (imported here) has no {', '.join(ours)}, so the "
                      f"file may come from another kerascnn version")
    if others:
        advice.append(f"import the code that registers {', '.join(others)} "
                      f"(@keras.saving.register_keras_serializable) first, or pass custom_objects=")
    return (f"{shown} names objects that are not registered ({', '.join(names)}); if it was "
            f"saved by kerascnn, `import kerascnn` before loading it (kerascnn.load_model "
            f"does) — {'; '.join(advice)}.")


def _unregistered_names(path, err, custom_objects):
    """The objects Keras could not find, by registered name ("package>Name") where the file has it."""
    text, seen = [], set()
    while err is not None and id(err) not in seen:  # the message and its causes
        seen.add(id(err))
        text.append(str(err))
        err = err.__cause__ or err.__context__
    failed = [m for pattern in _UNRESOLVED for m in pattern.findall("\n".join(text))]
    if not failed:
        return []
    missing = [(registered, short) for registered, short in _registered_names(path)
               if keras.saving.get_registered_object(registered, custom_objects) is None
               and short not in custom_objects]
    # Keras names a class by its class name, a function by its registered name.
    covered = {name for pair in missing for name in pair}
    names = [registered for registered, _ in missing] + [n for n in failed if n not in covered]
    return list(dict.fromkeys(names))


def _registered_names(path):
    """(registered name, short name) of each custom object a .keras file names, in order."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, TypeError):
        return []
    found = []

    def walk(node):
        if isinstance(node, dict):
            inner, registered = node.get("config"), node.get("registered_name")
            if node.get("class_name") == "function" and isinstance(inner, str) and ">" in inner:
                found.append((inner, inner.rpartition(">")[2]))
            elif isinstance(registered, str) and ">" in registered:
                found.append((registered, node.get("class_name")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return list(dict.fromkeys(found))
