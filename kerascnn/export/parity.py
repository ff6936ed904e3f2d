"""Parity between a Keras model and its exports (SavedModel, TFLite).

Each export is run on the same uint8 images as the Keras model (which gets
them as float32), and the logits are compared: the largest and the mean
absolute difference, and how often the top-1 class agrees.
"""

import os

import keras
import numpy as np
import tensorflow as tf

# One call of the model / SavedModel / interpreter sees at most this many
# images, so a large `images` array does not need one huge activation buffer.
CHUNK = 64


def parity_report(model, saved_model_dir=None, tflite_path=None, *, images, labels=None,
                  tflite_paths=None):
    """Compares a Keras model with its SavedModel and/or TFLite exports.

    Args:
        model: the `keras.Model` (float input in [0, 255]) that was exported.
        saved_model_dir: a SavedModel whose `serving_default` signature takes
            the uint8 images and returns the logits (one output), or None.
        tflite_path: a `.tflite` file with a `serving_default` signature of
            the same kind, or None.
        images: uint8 array (N, H, W, C) of the model's input size; all N are
            used.
        labels: optional integer labels (N,) of the images: then the report
            also has Keras's top-1 accuracy (`keras_top1`) and each export's
            (`top1`).
        tflite_paths: optional {key: path} of more TFLite files (quantized
            ones; any input `tflite_predict` feeds), each reported under its
            key with its file size (`bytes`).

    Returns:
        A dict: `num_images`, and for each export given (`saved_model`,
        `tflite`, the keys of `tflite_paths`) a dict of `max_abs_diff`,
        `mean_abs_diff`, `top1_agreement` (the fraction of images whose argmax
        agrees with Keras) and `num_images`; a TFLite entry also says whether
        LiteRT's XNNPACK delegate runs the file (`xnnpack`; if not, the
        logits are LiteRT's builtin kernels').
    """
    tflite_paths = dict(tflite_paths or {})
    if saved_model_dir is None and tflite_path is None and not tflite_paths:
        raise ValueError("parity_report needs saved_model_dir, tflite_path or tflite_paths.")
    images = check_images(images, model_input_shape(model), "images")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),) or labels.dtype.kind not in "iu":
            raise ValueError(f"labels must be {len(images)} integer labels, one per image; "
                             f"got {labels.dtype.name} of shape {labels.shape}.")
    reference = keras_logits(model, images)
    report = {"num_images": int(images.shape[0])}
    if labels is not None:
        report["keras_top1"] = float(np.mean(reference.argmax(-1) == labels))
    exports, xnnpack = {}, {}
    if saved_model_dir is not None:
        exports["saved_model"] = saved_model_logits(saved_model_dir, images)
    tflite_files = dict(tflite_paths)
    if tflite_path is not None:
        tflite_files = {"tflite": tflite_path, **tflite_files}
    for key, path in tflite_files.items():
        exports[key], xnnpack[key] = _predict(_content(path), images)
    for key, logits in exports.items():
        report[key] = compare(reference, logits)
        if labels is not None:
            report[key]["top1"] = float(np.mean(np.asarray(logits).argmax(-1) == labels))
        if key in tflite_paths:
            report[key]["bytes"] = os.path.getsize(tflite_paths[key])
        if key in xnnpack:
            report[key]["xnnpack"] = xnnpack[key]
    return report


def compare(reference, candidate):
    """max/mean |reference - candidate| and top-1 agreement over the batch."""
    reference = np.asarray(reference, np.float64)
    candidate = np.asarray(candidate, np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(
            f"Outputs differ in shape: Keras gives {reference.shape}, the export "
            f"gives {candidate.shape}."
        )
    diff = np.abs(reference - candidate)
    agree = np.argmax(reference, axis=-1) == np.argmax(candidate, axis=-1)
    return {
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "top1_agreement": float(agree.mean()),
        "num_images": int(reference.shape[0]),
    }


def keras_logits(model, images):
    """The model's outputs for uint8 `images`, fed as float32, inference mode."""
    outputs = [
        keras.ops.convert_to_numpy(
            model(images[i:i + CHUNK].astype(np.float32), training=False)
        )
        for i in range(0, len(images), CHUNK)
    ]
    return np.concatenate(outputs)


def saved_model_logits(saved_model_dir, images):
    """Outputs of the SavedModel's `serving_default` signature for uint8 images."""
    loaded = tf.saved_model.load(str(saved_model_dir))
    if "serving_default" not in loaded.signatures:
        raise ValueError(
            f"SavedModel {str(saved_model_dir)!r} has no 'serving_default' signature; "
            f"it has {sorted(loaded.signatures)}."
        )
    serve = loaded.signatures["serving_default"]
    (input_name,) = serve.structured_input_signature[1]
    outputs = []
    for i in range(0, len(images), CHUNK):
        result = serve(**{input_name: tf.constant(images[i:i + CHUNK])})
        outputs.append(_single_output(result, "SavedModel").numpy())
    return np.concatenate(outputs)


def tflite_logits(tflite_path, images):
    """Outputs of the TFLite file's `serving_default` signature for uint8 images."""
    return tflite_predict(tflite_path, images)


def tflite_predict(tflite_path_or_bytes, images):
    """Logits of a kerascnn TFLite export for a batch of raw uint8 images, checked first.

    LiteRT's signature runner resizes its input to whatever it is given, so a
    batch of another height, width or channel count would run and return
    logits. Here the batch must match the input's `shape_signature` (every
    dimension but the batch one is fixed) and be uint8, else a ValueError.
    The images go in as the file takes them: unchanged into a uint8 input
    (the float32, float16 and dynamic-range exports), quantized with the
    input's scale and zero point into a full-integer file's uint8 or int8
    input, as float32 into a float input; a quantized output is dequantized.

    Args:
        tflite_path_or_bytes: a `.tflite` file's path, or its bytes, with a
            `serving_default` signature of one input and one output.
        images: uint8 array (N, H, W, C) with N >= 1, raw images in [0, 255].

    Returns:
        float32 array (N, classes).
    """
    return _predict(_content(tflite_path_or_bytes), images)[0]


def _predict(content, images):
    """(tflite_predict's logits, whether XNNPACK ran them)."""
    tflite, xnnpack = interpreter(content)
    runner = tflite.get_signature_runner("serving_default")
    inputs = runner.get_input_details()
    if len(inputs) != 1:
        raise ValueError(
            f"tflite_predict needs a serving_default signature with one input; this "
            f"one has {sorted(inputs)}."
        )
    (input_name, details), = inputs.items()
    images = np.asarray(images)
    want = tuple(int(d) for d in details["shape_signature"])
    fits = images.ndim == len(want) and all(
        w == -1 or w == g for w, g in zip(want, images.shape)
    )
    if images.dtype != np.uint8 or not fits or images.size == 0:
        shown = ", ".join("N" if d == -1 else str(d) for d in want)
        raise ValueError(
            f"The TFLite model's input {input_name!r} takes uint8 images of "
            f"shape ({shown}){' with N >= 1' if -1 in want else ''}; got "
            f"{images.dtype.name} of shape {images.shape}."
        )
    (output_details,) = runner.get_output_details().values()
    step = CHUNK if want[0] == -1 else len(images)  # a fixed batch goes in whole
    outputs = []
    for i in range(0, len(images), step):
        result = runner(**{input_name: _as_input(images[i:i + step], details)})
        # The runner returns views of the interpreter's buffers; copy them out.
        outputs.append(_dequantized(np.array(_single_output(result, "TFLite model")),
                                    output_details))
    return np.concatenate(outputs), xnnpack


def _content(tflite_path_or_bytes):
    if isinstance(tflite_path_or_bytes, (bytes, bytearray)):
        return bytes(tflite_path_or_bytes)
    # Read into memory, so that no file of the export stays open or mapped.
    with open(tflite_path_or_bytes, "rb") as f:
        return f.read()


def interpreter(content, num_threads=None):
    """(LiteRT interpreter of a TFLite flatbuffer, tensors allocated; whether XNNPACK runs it).

    LiteRT's default CPU delegate, XNNPACK, takes every op it supports; a few
    quantized files it accepts op by op but then cannot prepare (seen: an
    int8 DEPTHWISE_CONV_2D whose requantization scale is out of XNNPACK's
    range, after a channel that is always zero made its BatchNormalization
    scale huge). Such a file is valid TFLite and runs on LiteRT's builtin
    kernels, which is what this then returns, with False.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    first = Interpreter(model_content=content, num_threads=num_threads)
    try:
        first.allocate_tensors()
        return first, True
    except RuntimeError as err:
        if "XNNPACK" not in str(err):
            raise
    plain = Interpreter(model_content=content, num_threads=num_threads,
                        experimental_op_resolver_type=(
                            OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    plain.allocate_tensors()
    return plain, False


def runs_on_xnnpack(tflite_path_or_bytes):
    """Whether LiteRT's XNNPACK delegate can run the file (see `interpreter`)."""
    return interpreter(_content(tflite_path_or_bytes))[1]


def _quantization(details):
    """(scale, zero_point) of a per-tensor quantized tensor, or None."""
    params = details.get("quantization_parameters", {})
    scales = params.get("scales", ())
    if len(scales) == 1 and scales[0] > 0:
        return float(scales[0]), int(params["zero_points"][0])
    return None


def _as_input(images, details):
    """Raw uint8 images as the TFLite input `details` takes them."""
    dtype = np.dtype(details["dtype"])
    quantized = _quantization(details)
    if dtype == np.float32:
        return images.astype(np.float32)
    if quantized is not None:
        scale, zero_point = quantized
        info = np.iinfo(dtype)
        q = np.round(images.astype(np.float64) / scale + zero_point)
        return np.clip(q, info.min, info.max).astype(dtype)
    if dtype == np.uint8:
        return images
    raise ValueError(f"tflite_predict cannot feed images to an unquantized {dtype.name} input.")


def _dequantized(values, details):
    """A quantized output as float32 logits; a float output as it is."""
    quantized = _quantization(details)
    if quantized is None or values.dtype.kind == "f":
        return values.astype(np.float32)
    scale, zero_point = quantized
    return ((values.astype(np.float64) - zero_point) * scale).astype(np.float32)


def _single_output(result, what):
    if len(result) != 1:
        raise ValueError(f"The {what} has {len(result)} outputs {sorted(result)}; expected one.")
    return next(iter(result.values()))


def model_input_shape(model):
    """(H, W, C) of the model's single image input; each must be fixed."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs or len(inputs) != 1:
        raise ValueError(
            f"Export needs a built model with one image input; model "
            f"{getattr(model, 'name', model)!r} has inputs {inputs}."
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or any(s is None for s in shape[1:]):
        raise ValueError(
            f"Export needs a fixed input shape (H, W, C); model {model.name!r} has "
            f"input shape {shape}. Build it with input_shape=(H, W, C), e.g. "
            f"kerascnn.create_model(name, input_shape=(224, 224, 3))."
        )
    return tuple(int(s) for s in shape[1:])


def check_images(images, hwc, what):
    """`images` as a uint8 (N, H, W, C) array matching `hwc`, or a ValueError."""
    if not isinstance(images, np.ndarray):
        raise ValueError(f"{what} must be a numpy array, got {type(images).__name__}.")
    if images.dtype != np.uint8:
        raise ValueError(
            f"{what} must be uint8 raw images in [0, 255], got dtype {images.dtype}."
        )
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(hwc) or images.shape[0] < 1:
        raise ValueError(
            f"{what} must have shape (N, {', '.join(map(str, hwc))}) with N >= 1 to "
            f"match the model input; got shape {images.shape}."
        )
    return images
