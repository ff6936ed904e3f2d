"""The notes' first checks before tuning anything (seeds/004, the hyperparameter recipe):
the loss at initialization, and overfitting one small batch.

    check_initial_loss(model, dataset)        # softmax over C classes: about ln C
    overfit_batch(config)                      # tools/overfit_batch.py
"""

import dataclasses
import math
import warnings

import numpy as np


@dataclasses.dataclass
class InitialLoss:
    loss: float  # mean cross-entropy of the untrained model
    expected: float  # ln C: what uniform predictions give, whatever the labels
    ok: bool


def check_initial_loss(model, dataset, num_classes=None, batches=2, tolerance=3.0):
    """The model's mean softmax cross-entropy on the first `batches` batches, in training
    mode, against ln C.

    An untrained classifier should predict about uniformly, so its loss is
    about ln C (2.30 for 10 classes; label smoothing does not change that).
    Far off, below ln C / `tolerance` or above `tolerance` x ln C, it warns:
    an initialization that is too large (confident random logits), a wrong
    loss or wrong labels.

    Args:
        model: a one-output model giving logits.
        dataset: batches of (images, one-hot labels) or (images, integer labels).
        num_classes: C; default the model's output width.
    """
    num_classes = num_classes or int(model.outputs[0].shape[-1])
    # As the first training step sees it: BatchNormalization on the batch's statistics (in
    # inference mode an untrained network's moving statistics, 0 and 1, let the
    # activations grow layer after layer). Its moving statistics are put back after.
    saved = [np.array(v) for v in model.non_trainable_variables]
    losses = []
    for images, labels in dataset.take(batches):
        logits = np.asarray(model(images, training=True), np.float64)
        labels = np.asarray(labels)
        if labels.ndim == 1:
            labels = np.eye(num_classes)[labels.astype(int)]
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        losses.append(-(labels * log_softmax).sum(axis=-1))
    for variable, value in zip(model.non_trainable_variables, saved):
        variable.assign(value)
    loss = float(np.concatenate(losses).mean())
    expected = math.log(num_classes)
    ok = expected / tolerance <= loss <= tolerance * expected
    if not ok:
        warnings.warn(
            f"The loss at initialization is {loss:.3f}, far from ln {num_classes} = "
            f"{expected:.3f} (an untrained softmax classifier predicts about uniformly): "
            f"check the initialization's scale, the loss and the labels.", stacklevel=2)
    return InitialLoss(loss, expected, ok)
