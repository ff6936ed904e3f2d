"""evaluate_tta: hand-made views, the plain evaluation for "center", argument checks."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascnn import data, evaluate
from kerascnn.augment import test_time
from kerascnn.evaluate import tta

NUM_CLASSES = 10


def _model(input_shape=(None, None, 3), seed=0):
    """Takes any image size: the class scores come from the mean colour."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 16, offset=-8)(inputs)  # centred: classes differ
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(x))


def _blocky_images(shapes, seed=0):
    """uint8 images of 4x4 colour blocks, so that crops differ in mean colour."""
    rng = np.random.default_rng(seed)
    images = []
    for h, w in shapes:
        blocks = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
        images.append(np.kron(blocks, np.ones((-(-h // 4), -(-w // 4), 1), np.uint8))[:h, :w])
    return images


def _dataset(images, labels):
    return tf.data.Dataset.from_generator(
        lambda: zip(images, np.asarray(labels, np.int32)),
        output_signature=(tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int32)),
    )


def _softmax(logits):
    z = np.exp(logits - logits.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def _hand_ten_crop_probs(model, image, size):
    """Resize (aspect kept) to cover size / 0.875, ten crops by slicing, mean softmax."""
    h, w = image.shape[:2]
    scale = max(size / 0.875 / h, size / 0.875 / w)
    new = (int(np.round(np.float32(h) * np.float32(scale))),
           int(np.round(np.float32(w) * np.float32(scale))))
    x = tf.image.resize(image.astype(np.float32), new, antialias=True).numpy()
    crops = []
    for img in (x, x[:, ::-1]):
        H, W = img.shape[:2]
        top, left = (H - size) // 2, (W - size) // 2
        crops += [img[:size, :size], img[:size, W - size:], img[H - size:, :size],
                  img[H - size:, W - size:], img[top:top + size, left:left + size]]
    logits = np.asarray(model.predict(np.stack(crops), verbose=0), np.float64)
    return _softmax(logits).mean(0)


@pytest.mark.parametrize("batch_size", [1, 3, 32])
def test_ten_crop_top1_is_the_hand_made_average(batch_size):
    shapes = [(20, 24), (20, 24), (24, 20), (20, 24), (18, 18), (18, 18), (30, 22)]
    images, model, size = _blocky_images(shapes), _model(), 16
    probs = np.stack([_hand_ten_crop_probs(model, image, size) for image in images])
    labels = probs.argmax(-1)
    # Wrong labels for two images: top-1 is then exactly 5/7 if the averages agree.
    labels[[1, 4]] = probs[[1, 4]].argmin(-1)
    # The ten-crop average must decide some image differently from the whole
    # image, or this test could not tell the views apart.
    whole = np.stack([_softmax(model.predict(i[None].astype(np.float32), verbose=0)[0])
                      for i in images]).argmax(-1)
    assert np.any(whole != probs.argmax(-1))
    result = evaluate.evaluate_tta(model, _dataset(images, labels), num_classes=NUM_CLASSES,
                                   mode="ten_crop", image_size=size, batch_size=batch_size)
    assert result["top1"] == pytest.approx(5 / 7)
    top5 = np.mean([label in np.argsort(-p)[:5] for p, label in zip(probs, labels)])
    assert result["top5"] == pytest.approx(top5)
    assert result["examples"] == 7 and result["mode"] == "ten_crop" and result["views"] == 10


def test_center_on_digits_equals_the_plain_center_crop_evaluation():
    ds = data.load("digits", "test")
    model = _model()
    plain = evaluate.evaluate(model, data.eval_pipeline(
        ds, batch_size=64, image_size=32, num_classes=NUM_CLASSES, resize="center_crop"))
    result = evaluate.evaluate_tta(model, ds, num_classes=NUM_CLASSES, mode="center",
                                   image_size=32, batch_size=64)
    assert result["top1"] == plain["top1"] and result["top5"] == plain["top5"]
    assert result["examples"] == plain["num_examples"] == 360 and result["views"] == 1


def test_center_with_resize_to_the_size_is_the_identity():
    images = _blocky_images([(16, 16)] * 6, seed=3)
    model = _model()
    labels = model.predict(np.stack(images).astype(np.float32), verbose=0).argmax(-1)
    ds = _dataset(images, labels)
    identity = evaluate.evaluate_tta(model, ds, num_classes=NUM_CLASSES, mode="center",
                                     image_size=16, resize_to=16)
    assert identity["top1"] == 1.0
    # Without resize_to, "center" crops the central 0.875 as documented.
    cropped = test_time.center_crop(np.stack(images).astype(np.float32), 16).numpy()
    expected = np.mean(model.predict(cropped, verbose=0).argmax(-1) == labels)
    default = evaluate.evaluate_tta(model, ds, num_classes=NUM_CLASSES, mode="center",
                                    image_size=16)
    assert default["top1"] == pytest.approx(expected)


def test_gray_images_are_converted_to_the_model_channels():
    images = [i[..., :1] for i in _blocky_images([(16, 16)] * 3)]
    ds = tf.data.Dataset.from_generator(
        lambda: zip(images, np.zeros(3, np.int32)),
        output_signature=(tf.TensorSpec([16, 16, 1], tf.uint8), tf.TensorSpec([], tf.int32)))
    result = evaluate.evaluate_tta(_model(), ds, num_classes=NUM_CLASSES, mode="multi_scale",
                                   image_size=16, scales=(16, 20))
    assert result["views"] == 2 and result["examples"] == 3 and "top5" in result


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(mode="five_crop"), "Unknown TTA mode 'five_crop'.*ten_crop"),
        (dict(mode="center", image_size=0), "image_size"),
        (dict(mode="center", batch_size=0), "batch_size"),
        (dict(mode="center", num_classes=3), "predicts 10 classes"),
        (dict(mode="center", resize_to=0), "resize_to"),
        (dict(mode="multi_scale", scales=()), "scales"),
        (dict(mode="center", input_shape=(12, 12, 3)), "makes 16x16 views but the model "
                                                         "takes 12x12 inputs"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    kwargs = dict(kwargs)
    model = _model(kwargs.pop("input_shape", (None, None, 3)))
    args = {"num_classes": NUM_CLASSES, "image_size": 16, **kwargs}
    with pytest.raises(ValueError, match=match):
        evaluate.evaluate_tta(model, _dataset(_blocky_images([(16, 16)]), [0]), **args)


def test_batched_or_empty_datasets_and_bad_labels_raise():
    images = _blocky_images([(16, 16)] * 2)
    kwargs = dict(num_classes=NUM_CLASSES, mode="center", image_size=16)
    with pytest.raises(ValueError, match="unbatched"):
        evaluate.evaluate_tta(_model(), _dataset(images, [0, 1]).batch(2), **kwargs)
    with pytest.raises(ValueError, match="empty"):
        evaluate.evaluate_tta(_model(), _dataset(images, [0, 1]).take(0), **kwargs)
    with pytest.raises(ValueError, match=r"\[0, 10\); found 12"):
        evaluate.evaluate_tta(_model(), _dataset(images, [0, 12]), **kwargs)


def test_modes_match_test_time_and_import_stays_light():
    assert tta.MODES == test_time.VIEWS and tta.MULTI_SCALES == test_time.MULTI_SCALES
    code = ("import sys, kerascnn.evaluate; "
            "print(sorted(m for m in sys.modules if m.startswith(('tensorflow_datasets', "
            "'kerascnn.data', 'kerascnn.augment.test_time'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
