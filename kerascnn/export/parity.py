"""Parity between a Keras model and its exports (SavedModel, TFLite).

Each export is run on the same uint8 images as the Keras model (which gets
them as float32), and the logits are compared: the largest and the mean
absolute difference, and how often the top-1 class agrees.
"""

import keras
import numpy as np
import tensorflow as tf

# One call of the model / SavedModel / interpreter sees at most this many
# images, so a large `images` array does not need one huge activation buffer.
CHUNK = 64


def parity_report(model, saved_model_dir=None, tflite_path=None, *, images):
    """Compares a Keras model with its SavedModel and/or TFLite export.

    Args:
        model: the `keras.Model` (float input in [0, 255]) that was exported.
        saved_model_dir: a SavedModel whose `serving_default` signature takes
            the uint8 images and returns the logits (one output), or None.
        tflite_path: a `.tflite` file with a `serving_default` signature of
            the same kind, or None.
        images: uint8 array (N, H, W, C) of the model's input size; all N are
            used.

    Returns:
        A dict: `num_images`, and for each export given (`saved_model`,
        `tflite`) a dict of `max_abs_diff`, `mean_abs_diff`, `top1_agreement`
        (the fraction of images whose argmax agrees with Keras) and
        `num_images`.
    """
    if saved_model_dir is None and tflite_path is None:
        raise ValueError("parity_report needs saved_model_dir, tflite_path or both.")
    images = check_images(images, model_input_shape(model), "images")
    reference = keras_logits(model, images)
    report = {"num_images": int(images.shape[0])}
    if saved_model_dir is not None:
        report["saved_model"] = compare(reference, saved_model_logits(saved_model_dir, images))
    if tflite_path is not None:
        report["tflite"] = compare(reference, tflite_logits(tflite_path, images))
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
    """Logits of a kerascnn TFLite export for a uint8 batch, checked first.

    LiteRT's signature runner resizes its input to whatever it is given, so a
    batch of another height, width or channel count would run and return
    logits. Here the batch must match the input's `shape_signature` (every
    dimension but the batch one is fixed) and dtype, else a ValueError.

    Args:
        tflite_path_or_bytes: a `.tflite` file's path, or its bytes, with a
            `serving_default` signature of one input and one output.
        images: array (N, H, W, C) with N >= 1, of the input's dtype (uint8
            for kerascnn exports).

    Returns:
        float32 array (N, classes).
    """
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(tflite_path_or_bytes, (bytes, bytearray)):
        content = bytes(tflite_path_or_bytes)
    else:
        # Read into memory, so that no file of the export stays open or mapped.
        with open(tflite_path_or_bytes, "rb") as f:
            content = f.read()
    runner = Interpreter(model_content=content).get_signature_runner("serving_default")
    inputs = runner.get_input_details()
    if len(inputs) != 1:
        raise ValueError(
            f"tflite_predict needs a serving_default signature with one input; this "
            f"one has {sorted(inputs)}."
        )
    (input_name, details), = inputs.items()
    images = np.asarray(images)
    want = tuple(int(d) for d in details["shape_signature"])
    dtype = np.dtype(details["dtype"])
    fits = images.ndim == len(want) and all(
        w == -1 or w == g for w, g in zip(want, images.shape)
    )
    if images.dtype != dtype or not fits or images.size == 0:
        shown = ", ".join("N" if d == -1 else str(d) for d in want)
        raise ValueError(
            f"The TFLite model's input {input_name!r} takes {dtype.name} images of "
            f"shape ({shown}){' with N >= 1' if -1 in want else ''}; got "
            f"{images.dtype.name} of shape {images.shape}."
        )
    step = CHUNK if want[0] == -1 else len(images)  # a fixed batch goes in whole
    outputs = []
    for i in range(0, len(images), step):
        result = runner(**{input_name: images[i:i + step]})
        # The runner returns views of the interpreter's buffers; copy them out.
        outputs.append(np.array(_single_output(result, "TFLite model")))
    return np.concatenate(outputs)


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
