"""Writes that never leave a half-written file: temporary name, then rename."""

import json
import os
import pathlib
import tempfile


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


def write_png_atomic(path, pixels):
    """Writes a uint8 [H, W, 3] (or [H, W]) array as a PNG through a temporary name."""
    from PIL import Image

    _write_atomic(path, lambda tmp: Image.fromarray(pixels).save(tmp, format="PNG"))
