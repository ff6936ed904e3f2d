"""Classification metrics computed from logits, in NumPy."""

import numpy as np

from kerascnn.evaluate.distributed import pad_to_batches, padded_batch_size, replicas
from kerascnn.models import main_head


def topk_accuracy(logits, labels, k=1):
    """Fraction of rows whose true label is among the k largest scores.

    Ties are broken by index order (as np.argsort), which keeps the count exact.

    Args:
        logits: [N, C] scores.
        labels: [N] integer labels, or [N, C] one-hot / soft labels (argmax).
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=-1)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(
            f"Need logits [N, C] and labels [N]; got {logits.shape} and {labels.shape}."
        )
    if not 1 <= k <= logits.shape[1]:
        raise ValueError(f"k must be in [1, {logits.shape[1]}], got {k}.")
    topk = np.argsort(-logits, axis=-1, kind="stable")[:, :k]
    return float(np.mean(np.any(topk == labels[:, None], axis=-1)))


def confusion_matrix(scores, labels, num_classes=None):
    """counts[i, j]: examples of class i predicted as class j (argmax of `scores`)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=-1)
    num_classes = num_classes or scores.shape[1]
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (labels, scores.argmax(axis=-1)), 1)
    return counts


def per_class_accuracy(counts):
    """Each class's top-1 (the diagonal over the row's total; nan for a class with no
    examples), as a list."""
    counts = np.asarray(counts)
    totals = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return [float(v) for v in np.where(totals > 0, np.diag(counts) / totals, np.nan)]


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of integer or one-hot labels, stable."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    if labels.ndim == 2:
        return float(-(labels * log_probs).sum(axis=-1).mean())
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def predict_logits(model, dataset, flip=False):
    """Logits and integer labels for a batched dataset of (images, labels).

    One pass (so a dataset with randomness still pairs logits with labels),
    each batch through the model's compiled predict function. A model with
    auxiliary classifiers (googlenet aux_logits=True) is scored by its main head.
    With `flip`, each image and its horizontal mirror go through the model and
    the logits returned are the log of their mean softmax probabilities (whose
    softmax is that mean, so top-k and the cross-entropy are the average's).
    Under a `tf.distribute` strategy (the model's), any batch size and count
    work: each batch is padded to a size the replicas divide and the padding's
    outputs are dropped.
    """
    model = main_head(model)
    num_replicas = replicas(model=model)
    step = None  # under a strategy: the first batch's size, a multiple of the replicas

    def run(x):
        nonlocal step
        if num_replicas == 1:
            return np.asarray(model.predict_on_batch(x))
        # Every batch padded to one size that splits evenly over the replicas, so that
        # no replica gets an empty or uneven share (kerascnn.evaluate.distributed).
        step = step or padded_batch_size(len(x), num_replicas)
        padded, n = pad_to_batches(x, step)
        return np.asarray(model.predict_on_batch(padded))[:n]

    outputs, targets = [], []
    for images, labels in dataset:
        if flip:
            images = np.asarray(images)
            both = [softmax(run(x)) for x in (images, images[:, :, ::-1])]
            outputs.append(np.log(np.maximum((both[0] + both[1]) / 2, np.finfo(np.float64).tiny)))
        else:
            outputs.append(run(np.asarray(images)))
        labels = np.asarray(labels)
        targets.append(labels.argmax(-1) if labels.ndim == 2 else labels)
    if not outputs:
        raise ValueError("The evaluation dataset is empty.")
    return np.concatenate(outputs), np.concatenate(targets)


def softmax(logits):
    """Softmax over the last axis, in float64, shifted by the maximum (stable)."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def evaluate(model, dataset, flip=False):
    """Top-1 (and top-5 with more than 5 classes), loss and count on `dataset`.

    Args:
        model: a Keras model returning logits.
        dataset: batched (images, labels), labels integer or one-hot.
        flip: average the softmax of each image and its horizontal mirror
            (`predict_logits`).

    Returns:
        dict with "top1", optionally "top5", "loss", "num_examples",
        "per_class_top1" (one per class) and "confusion_matrix" ([C][C]
        counts, row = true class).
    """
    logits, labels = predict_logits(model, dataset, flip=flip)
    result = {"top1": topk_accuracy(logits, labels, 1)}
    if logits.shape[1] > 5:
        result["top5"] = topk_accuracy(logits, labels, 5)
    result["loss"] = cross_entropy(logits, labels)
    result["num_examples"] = int(len(labels))
    counts = confusion_matrix(logits, labels)
    result["per_class_top1"] = per_class_accuracy(counts)
    result["confusion_matrix"] = counts.tolist()
    return result
