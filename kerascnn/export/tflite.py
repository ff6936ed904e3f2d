"""TFLite conversion with quantization: float32, float16, dynamic range and full integer.

    tflite_bytes = kerascnn.export.to_tflite(model, "model_int8.tflite", quantization="int8",
                                             representative_data=calibration_images)

Every file has one `serving_default` signature, image batch in, logits out,
and builtin ops only (no select TF ops, no custom ops). The float32, float16
and dynamic-range files take uint8 images (N, H, W, C), as the SavedModel
does. The full-integer file computes in int8 throughout; its input and
output are `io_dtype`: "uint8" (default; the input's quantization is then
scale 1, zero point 0 when the calibration images span 0-255, i.e. the raw
image), "int8" (raw image - 128), or "float32" (quantize and dequantize
inside the model). `kerascnn.export.tflite_predict` feeds raw uint8 images
to any of them and returns float logits.

The TFLiteConverter's full-integer path (a representative dataset) is what
this uses; docs/export.md says why and how the files compare.
"""

import os
import re
import secrets
import tempfile

import keras
import numpy as np
import tensorflow as tf

from kerascnn.export import parity
from kerascnn.train import precision
from kerascnn.train.config import QUANTIZED_TFLITE, TFLITE_IO_DTYPES

QUANTIZATIONS = ("none", *QUANTIZED_TFLITE)
IO_DTYPES = TFLITE_IO_DTYPES
SIGNATURE_KEY = "serving_default"
# How the converter names a TF op it cannot lower to a TFLite builtin.
_NOT_BUILTIN = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")


class TFLiteConversionError(RuntimeError):
    """The model cannot become a TFLite model made of builtin ops only."""


def check_quantization(quantization, io_dtype=None, representative_data=None):
    """(quantization, io_dtype) checked, io_dtype defaulted; ValueError naming the bad value."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {', '.join(QUANTIZATIONS)}; "
                         f"got {quantization!r}.")
    if io_dtype is None:
        io_dtype = "uint8" if quantization == "int8" else "float32"
    if io_dtype not in IO_DTYPES:
        raise ValueError(f"io_dtype must be one of {', '.join(IO_DTYPES)}; got {io_dtype!r}.")
    if quantization != "int8" and io_dtype != "float32":
        raise ValueError(
            f"io_dtype={io_dtype!r} needs quantization='int8' (full integer); the "
            f"{quantization!r} file takes uint8 images and gives float32 logits.")
    if quantization == "int8" and representative_data is None:
        raise ValueError("quantization='int8' needs representative_data: a few hundred "
                         "uint8 images (N, H, W, C) from the evaluation pipeline.")
    if quantization != "int8" and representative_data is not None:
        raise ValueError(f"representative_data calibrates quantization='int8' only; "
                         f"got it with {quantization!r}.")
    return quantization, io_dtype


def to_tflite(model, path=None, *, quantization="none", representative_data=None,
              io_dtype=None):
    """The TFLite flatbuffer of `model` (written atomically to `path` when given).

    Args:
        model: a built `keras.Model` with one image input of fixed (H, W, C),
            float images in [0, 255], and one output (the logits).
        path: where to write the file; None only returns the bytes.
        quantization: "none" (float32), "float16" (weights in float16,
            computed in float32), "dynamic" (int8 weights, activations
            quantized on the fly) or "int8" (full integer: weights and
            activations int8, calibrated on `representative_data`).
        representative_data: for "int8", uint8 images (N, H, W, C) of the
            model's input size, e.g. a few hundred from its evaluation
            pipeline (no augmentation).
        io_dtype: for "int8", the file's input and output type, "uint8"
            (default), "int8" or "float32".

    Returns:
        The flatbuffer's bytes.

    Raises:
        ValueError: a bad argument, named.
        TFLiteConversionError: the model needs ops outside the TFLite builtins.
    """
    hwc = parity.model_input_shape(model)
    model = precision.with_precision(model, "float32")  # TFLite has no bfloat16 convolutions
    if len(model.outputs) != 1:
        raise ValueError(f"to_tflite needs a model with one output (the logits); model "
                         f"{model.name!r} has {len(model.outputs)}.")
    quantization, io_dtype = check_quantization(quantization, io_dtype, representative_data)
    if representative_data is not None:
        representative_data = parity.check_images(representative_data, hwc,
                                                  "representative_data")
    with tempfile.TemporaryDirectory() as directory:
        _write_signature(model, directory, hwc, tf.float32 if quantization == "int8" else tf.uint8)
        converter = tf.lite.TFLiteConverter.from_saved_model(directory,
                                                             signature_keys=[SIGNATURE_KEY])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantization == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.representative_dataset = _calibration(representative_data)
            converter.inference_input_type = getattr(tf, io_dtype)
            converter.inference_output_type = getattr(tf, io_dtype)
        content = convert(converter)
    if path is not None:
        _write_atomic(os.fspath(path), content)
    return content


def _write_signature(model, directory, hwc, dtype):
    """A SavedModel whose serving signature casts images of `dtype` to float32 and
    returns the logits (the converter reads nothing else)."""
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(images):
        logits = model(tf.cast(images, tf.float32), training=False)
        return {"logits": tf.cast(logits, tf.float32)}

    archive.add_endpoint("serve", serve,
                         input_signature=[tf.TensorSpec([None, *hwc], dtype, name="images")])
    archive.write_out(directory, verbose=False)


def _calibration(images):
    """The converter's representative dataset: one float32 image at a time."""
    def generate():
        for image in images:
            yield [image[None].astype(np.float32)]
    return generate


def convert(converter):
    """converter.convert() with builtin ops only, or a TFLiteConversionError that says which."""
    try:
        content = converter.convert()
    except Exception as err:  # the converter raises several error types
        missing = sorted(set(re.findall(_NOT_BUILTIN, str(err))))
        if missing:
            raise TFLiteConversionError(
                f"TFLite conversion needs TensorFlow ops that are not TFLite builtins: "
                f"{', '.join(missing)}. kerascnn exports builtin-only TFLite (no select "
                f"TF ops, which need the Flex delegate on device); replace the layers "
                f"that use them, or export with tflite=False."
            ) from err
        raise TFLiteConversionError(f"TFLite conversion failed: {err}") from err
    custom = tflite_ops(content)["custom"]
    if custom:
        raise TFLiteConversionError(
            f"The converted TFLite model contains non-builtin ops {custom}."
        )
    return content


def tflite_ops(tflite_bytes):
    """The operators of a TFLite flatbuffer: {"builtin": [...], "custom": [...]}.

    Builtins by their schema name ("CONV_2D"); custom and select-TF (Flex) ops
    by their custom code ("FlexErfinv"). Both lists are sorted.
    """
    from ai_edge_litert import schema_py_generated as schema

    builtin_names = {
        code: op for op, code in vars(schema.BuiltinOperator).items() if not op.startswith("_")
    }
    flatbuffer = schema.Model.GetRootAs(bytearray(tflite_bytes), 0)
    builtin, custom = set(), set()
    for i in range(flatbuffer.OperatorCodesLength()):
        opcode = flatbuffer.OperatorCodes(i)
        # Codes above 127 live in BuiltinCode, older ones in the deprecated field.
        code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
        if code == schema.BuiltinOperator.CUSTOM:
            custom.add(opcode.CustomCode().decode())
        else:
            builtin.add(builtin_names.get(code, f"BUILTIN_{code}"))
    return {"builtin": sorted(builtin), "custom": sorted(custom)}


def _write_atomic(path, content):
    """`content` at `path`, through a temporary sibling renamed into place."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{secrets.token_hex(4)}")
    try:
        with open(temp, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
