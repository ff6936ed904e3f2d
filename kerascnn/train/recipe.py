"""The notes' hyperparameter recipe as functions (seeds/004): overfit one small batch
first; the learning-rate range test is `kerascnn.train.lr_find`.

    result = overfit_batch(config)        # tools/overfit_batch.py
    result.steps, result.final_loss
"""

import dataclasses
import math

import keras
import numpy as np

from kerascnn.train import aux_heads, optimizers, train_lib


def model_and_data(config):
    """(cfg dict, dataset info, raw training split, training pipeline, model) of a config,
    checked as training checks it, the model built as training builds it."""
    cfg = train_lib.config_to_dict(config)
    train_lib.check_config(cfg)
    info = train_lib.dataset_info(cfg)
    train_lib.check_classes(cfg, info)
    keras.utils.set_random_seed(cfg["seed"])
    train_raw, train_ds, _ = train_lib.make_pipelines(cfg, info)
    images, _ = next(iter(train_ds))
    model = train_lib.build_model(cfg, info, tuple(images.shape[1:]), train_raw)
    return cfg, info, train_raw, train_ds, model


def compile_constant(model, cfg, learning_rate, regularize=True):
    """Compiles `model` with the config's optimizer at a constant (assignable) rate; without
    `regularize`, no weight decay, L1 or label smoothing."""
    t = cfg["train"]
    optimizer = optimizers.make_optimizer(
        t["optimizer"], learning_rate, momentum=t["momentum"], nesterov=t["nesterov"],
        weight_decay=t["weight_decay"] if regularize else 0.0,
        l1=t["l1"] if regularize else 0.0, clip_norm=t["clip_norm"] or None)
    loss = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=t["label_smoothing"] if regularize else 0.0)
    model.compile(optimizer=optimizer,
                  **aux_heads.compile_arguments(model, loss, [], t["aux_loss_weight"]))
    return optimizer


def batch_targets(model, labels):
    """The labels as `train_on_batch` takes them: once per head (aux_heads)."""
    heads = len(model.outputs)
    return labels if heads == 1 else (labels,) * heads


@dataclasses.dataclass
class OverfitResult:
    steps: int  # optimizer steps until the loss went below the target
    losses: np.ndarray  # the loss of the batch before each step
    final_loss: float
    accuracy: float  # top-1 on the batch at the end (training mode, as the loss)


class CannotOverfit(RuntimeError):
    """The model did not fit one small batch: a bug before any tuning."""


def overfit_batch(config, num_examples=32, max_steps=500, target_loss=0.01, learning_rate=None,
                  progress=True):
    """Trains the config's model on one batch of `num_examples` training images until its
    loss is below `target_loss`; the notes' check that model, loss and optimizer can learn.

    The images come through the evaluation pipeline (no augmentation: the same batch every
    step); no weight decay, L1 or label smoothing; the config's optimizer at a constant
    `learning_rate` (default the config's). Raises `CannotOverfit` after `max_steps`.
    """
    from tqdm import tqdm

    if isinstance(num_examples, bool) or not isinstance(num_examples, int) or num_examples < 1:
        raise ValueError(f"num_examples must be an integer >= 1, got {num_examples!r}.")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}.")
    if not target_loss > 0:
        raise ValueError(f"target_loss must be > 0, got {target_loss}.")
    cfg, info, _, _, model = model_and_data(config)
    rate = cfg["train"]["learning_rate"] if learning_rate is None else learning_rate
    if not rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {rate}.")
    compile_constant(model, cfg, rate, regularize=False)
    batch = train_lib.eval_dataset(cfg, info, cfg["data"]["train_split"],
                                   batch_size=num_examples)
    x, y = next(iter(batch))
    targets = batch_targets(model, y)
    losses = []
    bar = tqdm(total=max_steps, desc="overfitting one batch", unit="step", disable=not progress)
    for _ in range(max_steps):
        model.reset_metrics()
        loss = float(model.train_on_batch(x, targets, return_dict=True)["loss"])
        losses.append(loss)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")
        if loss < target_loss or not math.isfinite(loss):
            break
    bar.close()
    from kerascnn import models

    # In training mode, as the loss: after a few dozen steps BatchNormalization's moving
    # statistics are still far from the batch's.
    logits = np.asarray(models.main_head(model)(x, training=True))
    accuracy = float(np.mean(logits.argmax(-1) == np.asarray(y).argmax(-1)))
    if not losses[-1] < target_loss:
        raise CannotOverfit(
            f"{cfg['model']['name']} did not fit one batch of {len(np.asarray(y))} "
            f"{cfg['data']['name']} images in {len(losses)} steps at learning rate {rate:g}: "
            f"the loss went from {losses[0]:.4f} to {losses[-1]:.4f} (target {target_loss}). "
            f"Before tuning anything, look for a bug: the labels, the loss, the model's "
            f"output, a learning rate too small or too large.")
    return OverfitResult(len(losses), np.array(losses), losses[-1], accuracy)
