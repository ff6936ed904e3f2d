"""Test-time-augmented evaluation: predictions averaged over views of each image.

    metrics = evaluate_tta(model, data.load("digits", "test"), num_classes=10,
                           mode="ten_crop", image_size=32)

The views are those of `kerascnn.augment.test_time.make_views` (centre crop,
ten crops, multi-scale); the softmax probabilities of the model's logits are
averaged over them (`test_time.predict_views`) and top-k is counted on the
averages.
"""

import numpy as np
import tqdm

from kerascnn import _checks
from kerascnn.evaluate import distributed
from kerascnn.evaluate.any_size import accepting_any_size
from kerascnn.evaluate.metrics import confusion_matrix, per_class_accuracy, topk_accuracy
from kerascnn.models import main_head

# test_time.VIEWS, repeated so that `import kerascnn.evaluate` loads neither
# tf.data nor TFDS (tests check that the two agree).
MODES = ("center", "ten_crop", "multi_scale", "multi_scale_ten_crop")
MULTI_SCALES = (224, 256, 384, 480, 640)
# Views are buffered up to this many float32 values (256 MiB) before the model
# runs on them: each model.predict call costs ~0.1 s of set-up, which for small
# images (digits, CIFAR) outweighs the computation many times over.
VIEW_BUFFER_FLOATS = 2**26


def evaluate_tta(
    model,
    ds,
    *,
    num_classes,
    mode,
    image_size,
    scales=MULTI_SCALES,
    resize_to=None,
    batch_size=32,
    flip=False,
):
    """Top-1 (and top-5) of the model's probabilities averaged over test-time views.

    Images are converted to the model's input channels as `data.eval_pipeline`
    converts them (1 -> 3 replicates gray, 3 -> 1 takes luma), grouped into
    batches of up to `batch_size` consecutive images of the same size (so
    datasets of one image size, such as CIFAR, run batched, and photos of
    mixed sizes one run of equal sizes at a time), and each batch's views are
    made from the float32 images in [0, 255].

    "center" is the evaluation pipeline's `resize="center_crop"` (resize to
    cover image_size / 0.875, central crop): the same predictions, so the same
    top-1. With `resize_to` equal to the image size, "center" on images that
    already have that size is the identity (the pipeline's `resize="resize"`).

    Args:
        model: a Keras model returning logits (or probabilities) [B, num_classes];
            its input size must be that of the crops. For "multi_scale" a
            model of fixed size is rebuilt for any size with its weights
            (`any_size.accepting_any_size`; an error says why a model cannot
            be, e.g. a classifier on a flattened map). A model with auxiliary
            classifiers (googlenet aux_logits=True) is scored by its main head.
        ds: unbatched (uint8 image [H, W, C], integer label) dataset, as
            `kerascnn.data.load` gives; images may differ in size.
        num_classes: the number of classes, >= 1.
        mode: one of MODES, see `test_time.make_views`.
        image_size: the crop size, an int or (height, width); a third entry
            (channels) must agree with the model's input channels.
        scales: short sides for the multi-scale modes.
        resize_to: short side before cropping for "center" and "ten_crop";
            default: cover image_size / 0.875.
        flip: also average the horizontal mirror of each view (the ten-crop
            modes hold the mirrors already; `test_time.make_views`).
        batch_size: the most images whose views are made together, and the
            batch size of `model.predict`, >= 1. (Views wait in a buffer of
            up to 256 MiB, VIEW_BUFFER_FLOATS, before the model runs on them,
            in batches of `batch_size`.)

    Returns:
        dict: "top1", "top5" (only when num_classes > 5), "examples" (the
        number of images), "mode" and "views" (views per image).
    """
    from kerascnn.augment import crops, test_time
    from kerascnn.data import pipeline

    if mode not in MODES:
        raise ValueError(f"Unknown TTA mode {mode!r}; allowed: {', '.join(MODES)}.")
    model = main_head(model)
    _checks.check_int("num_classes", num_classes, minimum=1)
    _checks.check_int("batch_size", batch_size, minimum=1)
    height, width, channels = _check_image_size(image_size, model)
    pipeline.check_examples(ds, channels)
    # Checked here (make_views checks them too) so that bad values fail before
    # the first image is read.
    if resize_to is not None:
        _checks.check_int("resize_to", resize_to, minimum=1)
    if mode.startswith("multi_scale"):
        scales = test_time.check_scales(scales)
    if mode == "multi_scale":
        model = accepting_any_size(model)

    import tensorflow as tf

    ds = ds.map(
        lambda image, label: (
            crops.convert_channels(tf.cast(image, tf.float32), channels), label
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).prefetch(tf.data.AUTOTUNE)
    total = int(ds.cardinality())
    progress = tqdm.tqdm(total=total if total >= 0 else None, unit="image",
                         desc=f"TTA {mode}")

    probs, labels, views_per_image = [], [], None
    # Views made but not yet predicted: a list of make_views outputs whose view
    # shapes agree. Centre and ten crops come out at the crop size whatever the
    # image size, so photos of mixed sizes still reach the model in full batches;
    # model.predict splits the buffer into batches of batch_size.
    pending = []

    def predict_pending():
        views = [tf.concat(parts, axis=0) for parts in zip(*pending)]
        # Any count of views under a strategy (distributed.predict pads the last batch).
        out = test_time.predict_views(model, views, batch_size=batch_size,
                                      predict=distributed.predict)
        if out.shape[1] != num_classes:
            raise ValueError(
                f"The model predicts {out.shape[1]} classes but num_classes is {num_classes}."
            )
        probs.append(out)
        progress.update(len(out))
        pending.clear()

    def add(images):
        views = test_time.make_views(
            np.stack(images), mode, (height, width), scales=scales, resize_to=resize_to,
            flip=flip,
        )
        for view in views:
            _check_fits(model, view.shape, mode)
        waiting = sum(int(views_of[0].shape[0]) for views_of in pending)
        per_image = sum(int(np.prod(shape)) for shape in _shapes(views))
        limit = max(batch_size, VIEW_BUFFER_FLOATS // per_image)
        if pending and (
            _shapes(views) != _shapes(pending[0]) or waiting + len(images) > limit
        ):
            predict_pending()
        pending.append(views)

    batch = []
    with progress:
        # Images of one size (up to batch_size of them) get their views made together.
        for image, label in ds.as_numpy_iterator():
            if batch and (len(batch) == batch_size or image.shape != batch[0].shape):
                add(batch)
                batch = []
            if not 0 <= label < num_classes:
                raise ValueError(f"Labels must be in [0, {num_classes}); found {int(label)}.")
            batch.append(image)
            labels.append(int(label))
        if batch:
            add(batch)
        if pending:
            views_per_image = len(pending[0])
            predict_pending()
    if not labels:
        raise ValueError("The evaluation dataset is empty.")
    probs, labels = np.concatenate(probs), np.asarray(labels)
    result = {"top1": topk_accuracy(probs, labels, 1)}
    if num_classes > 5:
        result["top5"] = topk_accuracy(probs, labels, 5)
    result.update(examples=int(len(labels)), mode=mode, flip=bool(flip), views=views_per_image)
    counts = confusion_matrix(probs, labels, num_classes)
    result.update(per_class_top1=per_class_accuracy(counts), confusion_matrix=counts.tolist())
    return result


def _check_image_size(image_size, model):
    """(height, width, channels): channels are the model's input channels."""
    size = _checks.image_size(image_size)
    channels = model.input_shape[-1]
    if len(size) == 3 and channels is not None and size[2] != channels:
        raise ValueError(
            f"image_size {tuple(size)} asks for {size[2]} channels but the model "
            f"takes {channels}."
        )
    channels = channels or (size[2] if len(size) == 3 else 3)
    if channels not in (1, 3):
        raise ValueError(f"The model takes {channels}-channel images; allowed: 1 or 3.")
    return int(size[0]), int(size[1]), int(channels)


def _shapes(views):
    """The [h, w, C] of each view of a make_views output (the batch size aside)."""
    return [tuple(view.shape[1:]) for view in views]


def _check_fits(model, view_shape, mode):
    """A clear error for views of another size than a fixed-size model takes."""
    want = tuple(model.input_shape[1:3])
    got = tuple(view_shape[1:3])
    if any(w is not None and w != g for w, g in zip(want, got)):
        raise ValueError(
            f"TTA mode {mode!r} makes {got[0]}x{got[1]} views but the model takes "
            f"{want[0]}x{want[1]} inputs: set image_size to the model's."
        )
