"""Export a Keras classifier as SavedModel, `.keras` and float32 TFLite.

One call writes one TF Serving version directory,
`export_root/<name>/<version>/`, which is itself the SavedModel (TF Serving
loads it directly) and also holds `model.keras`, `model_float32.tflite` and
`metadata.json`. The directory appears complete or not at all: everything is
written into a temporary sibling and renamed into place at the end.
"""

import dataclasses
import errno
import os
import re
import secrets
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from kerascnn.export import _metadata, parity
from kerascnn.export import tflite as tflite_lib
from kerascnn.export._metadata import (
    CLASS_NAMES_FILENAME,
    CLASS_NAMES_KEY,
    INPUT_KEY,
    KERAS_FILENAME,
    METADATA_FILENAME,
    OUTPUT_KEY,
    SIGNATURE_KEY,
    TFLITE_FILENAME,
)
from kerascnn.train import precision

PARITY_IMAGES = 64

_VERSION_DIR = re.compile(r"[0-9]+")
_TEMP_DIR = re.compile(r"\.tmp-([0-9]+)-([0-9]+)-[0-9a-f]+")


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """Where `export_model` wrote one version, and its parity report.

    `directory` and `saved_model` are the same path: the version directory is
    the SavedModel. `tflite_path` is None when `tflite=False`. `classes` is the
    model's output size; `class_names` is None when none were given.
    """

    name: str
    version: int
    directory: str
    saved_model: str
    keras_path: str
    tflite_path: str | None
    metadata_path: str
    parity: dict
    classes: int
    class_names: tuple | None
    quantized_paths: dict = dataclasses.field(default_factory=dict)


def export_model(model, export_root, *, name=None, version=None, sample_images=None,
                 metadata=None, tflite=True, class_names=None, quantizations=(),
                 representative_images=None, io_dtype=None, sample_labels=None):
    """Writes `export_root/<name>/<version>/` for TF Serving, Keras and TFLite.

    The SavedModel's `serving_default` signature takes a uint8 batch of any
    size, `images: (None, H, W, C)`, refuses a batch of another (H, W, C),
    casts it to float32, runs the model in inference mode and returns
    `{"logits": (None, ...) float32}`. With `class_names`, a second
    signature, `class_names`, takes nothing and returns
    `{"class_names": string (classes,)}`, read from `assets/class_names.txt`.
    The TFLite file is converted from `serving_default` with builtin ops only;
    each of `quantizations` adds `model_<quantization>.tflite`
    (`kerascnn.export.to_tflite`), reported beside it.

    All versions under one name share their interface: if the highest
    existing version's metadata.json names another input or output shape, or
    other class names (when both have them), nothing is written.

    A model trained in mixed precision is exported in float32 (its weights are
    float32 already; `kerascnn.train.precision.with_precision`): TFLite's
    builtins have no bfloat16 / float16 convolutions.

    Args:
        model: a built `keras.Model` taking float images in [0, 255] of a fixed
            shape (N, H, W, C) and giving one output (the logits).
        export_root: the directory holding one subdirectory per model name.
        name: the model directory's name; default `model.name`.
        version: a positive int; default one more than the highest integer
            version directory already under `export_root/<name>` (1 if none).
            An existing version is never overwritten (FileExistsError).
        sample_images: uint8 array (N, H, W, C); the first 64 images are run
            through Keras and each export for the parity report. None skips
            the report (recorded as skipped in metadata.json).
        metadata: a JSON-serializable dict (e.g. `config`, `metrics`) merged
            into metadata.json; its keys must not clash with the ones written
            here.
        tflite: also write `model_float32.tflite`.
        class_names: one str per model output, in output order, written to
            metadata.json, the SavedModel's assets and its `class_names`
            signature; None writes none (metadata "class_names": null).
        quantizations: more TFLite files, any of "float16", "dynamic" and
            "int8" (`kerascnn.export.QUANTIZATIONS`), each as
            `model_<quantization>.tflite`, with its parity report and size.
        representative_images: uint8 images (N, H, W, C) that calibrate the
            "int8" file (a few hundred from the evaluation pipeline).
        io_dtype: the "int8" file's input and output type: "uint8" (default),
            "int8" or "float32".
        sample_labels: the integer labels of `sample_images` (the first 64
            are used): the parity report then has the top-1 accuracy of Keras
            and of each export.

    Returns:
        An `ExportResult` with the written paths and the parity report.

    Raises:
        ValueError: a bad argument (the message names it), or a model whose
            interface differs from the existing versions under `name`.
        FileExistsError: the version directory already exists.
        TFLiteConversionError: the model needs ops outside the TFLite builtins.
    """
    hwc = parity.model_input_shape(model)
    model = precision.with_precision(model, "float32")
    if len(model.outputs) != 1:
        raise ValueError(
            f"Export needs a model with one output (the logits); model "
            f"{model.name!r} has {len(model.outputs)}."
        )
    name = _check_name(model.name if name is None else name)
    if version is not None:
        _check_version(version)
    quantizations = _check_quantizations(quantizations, representative_images, io_dtype)
    if representative_images is not None:
        representative_images = parity.check_images(representative_images, hwc,
                                                     "representative_images")
    if sample_images is not None:
        sample_images = parity.check_images(sample_images, hwc, "sample_images")
        if sample_labels is not None and len(sample_labels) != len(sample_images):
            raise ValueError(f"sample_labels must have one label per sample image "
                             f"({len(sample_images)}); got {len(sample_labels)}.")
        sample_images = sample_images[:PARITY_IMAGES]
        if sample_labels is not None:
            sample_labels = np.asarray(sample_labels)[:PARITY_IMAGES]
    elif sample_labels is not None:
        raise ValueError("sample_labels needs sample_images.")
    caller_metadata = _metadata.check_metadata(metadata)
    class_names = _metadata.check_class_names(class_names, model)

    model_dir = os.path.join(os.fspath(export_root), name)
    existing = _versions(model_dir)
    if existing:
        _metadata.refuse_other_interface(
            os.path.join(model_dir, str(max(existing))), hwc,
            _metadata.output_shape(model), class_names,
        )
    version = next_version(model_dir) if version is None else int(version)
    target = os.path.join(model_dir, str(version))
    _refuse_existing(target)
    os.makedirs(model_dir, exist_ok=True)
    remove_stale_temp_dirs(model_dir)

    temp = os.path.join(
        model_dir, f".tmp-{version}-{os.getpid()}-{secrets.token_hex(4)}"
    )
    os.mkdir(temp)
    try:
        write_saved_model(model, temp, hwc, class_names)
        model.save(os.path.join(temp, KERAS_FILENAME))
        tflite_op_list = None
        if tflite:
            tflite_bytes = convert_to_tflite(temp)
            tflite_op_list = tflite_lib.tflite_ops(tflite_bytes)["builtin"]
            with open(os.path.join(temp, TFLITE_FILENAME), "wb") as f:
                f.write(tflite_bytes)
        quantized = {}
        for quantization in quantizations:
            filename = quantized_filename(quantization)
            content = tflite_lib.to_tflite(
                model, os.path.join(temp, filename), quantization=quantization,
                representative_data=representative_images if quantization == "int8" else None,
                io_dtype=io_dtype if quantization == "int8" else None)
            io = (io_dtype or "uint8") if quantization == "int8" else None
            quantized[quantization] = {
                "path": filename, "bytes": len(content),
                "input_dtype": io or "uint8", "output_dtype": io or "float32",
                "builtin_ops": tflite_lib.tflite_ops(content)["builtin"],
            }
        if sample_images is None:
            report = {"skipped": True, "reason": "no sample_images were given"}
        else:
            report = parity.parity_report(
                model, saved_model_dir=temp,
                tflite_path=os.path.join(temp, TFLITE_FILENAME) if tflite else None,
                images=sample_images, labels=sample_labels,
                tflite_paths={f"tflite_{q}": os.path.join(temp, quantized_filename(q))
                              for q in quantizations},
            )
        info = _metadata.build(
            model, name, version, hwc, temp, tflite_op_list, report, class_names
        )
        if quantized:
            info["files"].update({f"tflite_{q}": v for q, v in quantized.items()})
        info.update(caller_metadata)
        # Last, so that a version directory with metadata.json is complete.
        _metadata.write_json(os.path.join(temp, METADATA_FILENAME), info)
        _fsync_tree(temp)
        _refuse_existing(target)
        try:
            os.rename(temp, target)
        except OSError:
            _refuse_existing(target)  # another export took this version meanwhile
            raise
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    _fsync_dir(model_dir)

    return ExportResult(
        name=name,
        version=version,
        directory=target,
        saved_model=target,
        keras_path=os.path.join(target, KERAS_FILENAME),
        tflite_path=os.path.join(target, TFLITE_FILENAME) if tflite else None,
        metadata_path=os.path.join(target, METADATA_FILENAME),
        parity=report,
        classes=_metadata.output_shape(model)[-1],
        class_names=None if class_names is None else tuple(class_names),
        quantized_paths={q: os.path.join(target, quantized_filename(q)) for q in quantizations},
    )


def quantized_filename(quantization):
    """The file name of a quantized TFLite export: model_float16.tflite, ..."""
    return f"model_{quantization}.tflite"


def _check_quantizations(quantizations, representative_images, io_dtype):
    """`quantizations` as a tuple of distinct QUANTIZATIONS other than "none" (the
    float32 file is `tflite=True`), each checked with its arguments."""
    if isinstance(quantizations, str):
        quantizations = (quantizations,)
    quantizations = tuple(quantizations)
    allowed = tuple(q for q in tflite_lib.QUANTIZATIONS if q != "none")
    bad = [q for q in quantizations if q not in allowed]
    if bad or len(set(quantizations)) != len(quantizations):
        raise ValueError(f"quantizations must be distinct values of {allowed} (the float32 "
                         f"file is tflite=True); got {quantizations}.")
    for q in quantizations:
        tflite_lib.check_quantization(q, io_dtype if q == "int8" else None,
                                  representative_images if q == "int8" else None)
    if io_dtype is not None and "int8" not in quantizations:
        raise ValueError(f"io_dtype={io_dtype!r} applies to the 'int8' file; quantizations "
                         f"are {quantizations}.")
    if representative_images is not None and "int8" not in quantizations:
        raise ValueError("representative_images calibrate the 'int8' file; quantizations "
                         f"are {quantizations}.")
    return quantizations


def write_saved_model(model, directory, hwc, class_names=None):
    """A SavedModel of `model` whose serving signature takes uint8 images.

    With `class_names`, also the asset `class_names.txt` and the signature
    `class_names` that returns its lines.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(images):
        logits = model(tf.cast(_checked_images(images, hwc), tf.float32), training=False)
        return {OUTPUT_KEY: tf.cast(logits, tf.float32)}

    archive.add_endpoint(
        "serve", serve,
        input_signature=[tf.TensorSpec([None, *hwc], tf.uint8, name=INPUT_KEY)],
    )
    with tempfile.TemporaryDirectory() as source:
        if class_names is not None:
            _add_class_names(archive, class_names, source)
        # write_out also registers the first endpoint as "serving_default";
        # it copies the class names file into the SavedModel's assets/.
        archive.write_out(directory, verbose=False)


def _checked_images(images, hwc):
    """`images`, once a runtime check says it is a (N >= 1, H, W, C) batch.

    A signature's input spec fixes only the dtype: a batch of another size
    would run (or crash the process, for a wrong rank). The Assert gives the
    readable message; EnsureShape also catches a wrong rank that graph
    optimizations hide from the Assert. The TFLite converter drops both.
    """
    got = tf.shape(images)
    padded = tf.concat([got, tf.fill([4], -1)], 0)  # keeps the slice valid at rank < 4
    ok = tf.logical_and(
        tf.logical_and(tf.equal(tf.size(got), 4), padded[0] >= 1),
        tf.reduce_all(tf.equal(padded[1:4], hwc)),
    )
    h, w, c = hwc
    check = tf.debugging.Assert(ok, [
        f"{SIGNATURE_KEY} expects uint8 images of shape (N, {h}, {w}, {c}) with N >= 1; "
        f"got shape", got,
    ], summarize=8)
    with tf.control_dependencies([check]):  # before the model reads the batch
        return tf.ensure_shape(images, [None, *hwc])


def _add_class_names(archive, class_names, source):
    """The asset `class_names.txt` and the `class_names` signature reading it.

    The table's TextFileInitializer tracks the file as a
    `tf.saved_model.Asset`, so tf.saved_model.save copies it into assets/ and
    loading reads it from there; and `archive.track` is how ExportArchive
    saves a lookup table. The signature returns what the file says.
    """
    path = os.path.join(source, CLASS_NAMES_FILENAME)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(f"{n}\n" for n in class_names))
    table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            path, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
            tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, vocab_size=len(class_names),
        ),
        default_value="",
    )
    archive.track(table)
    classes = len(class_names)

    def names():
        return {CLASS_NAMES_KEY: table.lookup(tf.range(classes, dtype=tf.int64))}

    archive.add_endpoint(CLASS_NAMES_KEY, names, input_signature=[])


def convert_to_tflite(saved_model_dir):
    """float32 TFLite flatbuffer of the SavedModel's serving signature, builtin ops only."""
    converter = tf.lite.TFLiteConverter.from_saved_model(
        os.fspath(saved_model_dir), signature_keys=[SIGNATURE_KEY]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return tflite_lib.convert(converter)


def next_version(model_dir):
    """1 + the highest integer-named directory in `model_dir` (1 if none)."""
    return max(_versions(model_dir), default=0) + 1


def _versions(model_dir):
    """The integer-named directories in `model_dir`, as ints."""
    if not os.path.isdir(model_dir):
        return []
    return [
        int(entry) for entry in os.listdir(model_dir)
        if _VERSION_DIR.fullmatch(entry) and os.path.isdir(os.path.join(model_dir, entry))
    ]


def remove_stale_temp_dirs(model_dir):
    """Deletes `.tmp-<version>-<pid>-*` directories whose process has ended.

    Only processes of this machine are visible, so exporting into one model
    directory from several machines at once (a shared filesystem) is not
    supported.
    """
    if os.name != "posix":  # os.kill(pid, 0) is only a liveness probe on POSIX
        return
    for entry in os.listdir(model_dir):
        match = _TEMP_DIR.fullmatch(entry)
        if match and not _process_alive(int(match.group(2))):
            shutil.rmtree(os.path.join(model_dir, entry), ignore_errors=True)


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists but belongs to someone else
        return True
    return True


def _refuse_existing(target):
    if os.path.lexists(target):
        raise FileExistsError(
            errno.EEXIST,
            f"Export version directory {target!r} already exists; versions are "
            f"never overwritten. Pass another version, or none for the next one",
            target,
        )


def _check_name(name):
    if (not isinstance(name, str) or not name or name.startswith(".")
            or "/" in name or (os.sep in name) or (os.altsep and os.altsep in name)):
        raise ValueError(
            f"name must be a non-empty directory name without path separators "
            f"that does not start with '.', got {name!r}."
        )
    return name


def _check_version(version):
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ValueError(f"version must be a positive int, got {version!r}.")


def _fsync_tree(directory):
    """Flushes every file, so a crash after the rename cannot leave it empty."""
    for root, _, names in os.walk(directory):
        for n in names:
            fd = os.open(os.path.join(root, n), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _fsync_dir(directory):
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
