"""What keeps a training run safe: op determinism, a stop at the first non-finite
loss (and at non-finite weights), and a preflight of the run folder (writable, enough free disk space).

A run killed at any instant resumes from its last finished epoch
(`callbacks.ResumableBackup`, whose state includes the random-number
generators' state kept here, `random_states`); with `runtime.deterministic`
the resumed run ends with the weights an uninterrupted one has, bit for bit
(docs/training.md, "Fault tolerance").
"""

import json
import math
import os
import pathlib
import shutil

import keras
import numpy as np


def enable_determinism():
    """TensorFlow op determinism for the rest of the process (`runtime.deterministic`).

    With the seeds that `keras.utils.set_random_seed` sets, every op gives the
    same result on every run: reductions in a fixed order, tf.data's parallel
    maps and prefetches in order. Call it before the model is built.
    TensorFlow has no public switch back, so it stays on in this process.
    """
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


# ------------------------------------------------------------- random states


def random_variables(model):
    """The model's random-number-generator states (its `keras.random.SeedGenerator`s:
    dropout, noise, drop path), in a fixed order.

    Keras counts them in `model.variables` but not in `model.weights`, so
    `save_weights` leaves them out: a run resumed from weights alone would draw
    again the dropout masks of the first epochs.
    """
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def random_states(model):
    """[[path, [int, ...]], ...]: the states of `random_variables(model)`, for JSON."""
    return [[v.path, np.asarray(keras.ops.convert_to_numpy(v)).ravel().tolist()]
            for v in random_variables(model)]


def restore_random_states(model, states):
    """Sets the states `random_states` returned (for the same model)."""
    variables = random_variables(model)
    # By position: a generator's path ("seed_generator_3/...") counts the generators
    # created before it in the process, so it differs from run to run.
    if [len(values) for _, values in states] != [math.prod(v.shape) for v in variables]:
        raise ValueError(f"The backup holds {len(states)} random states "
                         f"({[p for p, _ in states]}), which do not fit this model's "
                         f"{len(variables)} ({[v.path for v in variables]}): was the model changed?")
    for v, (_, values) in zip(variables, states):
        v.assign(np.asarray(values, dtype=v.dtype).reshape(v.shape))


# ------------------------------------------------------------ non-finite loss

EXIT_NON_FINITE = 3  # tools/train.py's exit status after a non-finite loss


class NonFinite(RuntimeError):
    """Training stopped on a NaN or infinite value; nothing of that epoch was saved.

    Attributes: epoch (1-based, as Keras prints it), last_epoch (the last
    finished epoch whose backup is intact, 0 if none).
    """

    exit_status = EXIT_NON_FINITE

    def __init__(self, message, *, epoch, last_epoch):
        super().__init__(message)
        self.epoch, self.last_epoch = epoch, last_epoch


class NonFiniteLoss(NonFinite):
    """The training loss became NaN or infinite; training stopped at that step.

    Attributes (and `NonFinite`'s): loss (the value), step_in_epoch (1-based),
    step (1-based count of the run's steps: the optimizer's step counter
    after it).
    """

    def __init__(self, message, *, loss, epoch, step_in_epoch, step, last_epoch):
        super().__init__(message, epoch=epoch, last_epoch=last_epoch)
        self.loss, self.step_in_epoch, self.step = loss, step_in_epoch, step


class NonFiniteWeights(NonFinite):
    """Weights were NaN or infinite at the end of an epoch whose loss stayed finite.

    Attributes (and `NonFinite`'s): names (the paths of those weights).
    """

    def __init__(self, message, *, names, epoch, last_epoch):
        super().__init__(message, epoch=epoch, last_epoch=last_epoch)
        self.names = names


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises `NonFiniteLoss` after the first training step whose loss is not finite,
    and `NonFiniteWeights` at the end of an epoch whose weights are not.

    Keras's `TerminateOnNaN()` only sets `model.stop_training`: `fit` then
    ends the epoch as usual, and the epoch-end callbacks (the backup, the
    checkpoints) save the NaN weights over the last good ones. Raising from
    the step leaves `fit` before any of them runs, so the backup and
    checkpoint of the last finished epoch stay as they were.

    The loss checked is the one Keras logs after each step, the epoch's running
    mean; it turns NaN or infinite at the first step whose own loss does (a
    mean of finite numbers is finite, one of a non-finite number is not).
    Reading it costs one device-to-host copy of a scalar per step.

    The loss can stay finite while the weights do not: a NaN image gives NaN
    gradients of the first layer, and a ReLU after it turns its NaN outputs
    into zeros, so later steps see finite logits; BatchNormalization's moving
    variance can overflow, unused by the training loss. The weights are
    therefore checked at the end of each epoch too (one pass over them);
    placed before the backup and the checkpoints, the check runs before they
    save.

    Args:
        backup: the run's `ResumableBackup` (its last intact epoch goes in the
            message), or None.
        checkpoint: the run's per-epoch model file, named in the message if it
            exists, or None.
    """

    def __init__(self, backup=None, checkpoint=None):
        super().__init__()
        self.backup = backup
        self.checkpoint = None if checkpoint is None else pathlib.Path(checkpoint)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        steps, epochs = self.params.get("steps"), self.params.get("epochs")
        step = self._epoch * steps + batch + 1 if steps else None
        last_epoch, kept = self._last_good()
        message = (
            f"Training stopped: the loss is {float(loss)} at step {step} (epoch "
            f"{self._epoch + 1} of {epochs}, step {batch + 1} of {steps} in the epoch). "
            f"{kept} {_ADVICE}")
        raise NonFiniteLoss(message, loss=float(loss), epoch=self._epoch + 1,
                            step_in_epoch=batch + 1, step=step, last_epoch=last_epoch)

    def on_epoch_end(self, epoch, logs=None):
        bad = [w.path for w in self.model.weights
               if not np.isfinite(keras.ops.convert_to_numpy(w)).all()]
        if not bad:
            return
        last_epoch, kept = self._last_good()
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        message = (
            f"Training stopped: at the end of epoch {epoch + 1} of {self.params.get('epochs')} "
            f"the weights {shown} hold NaN or infinite values, though the loss stayed finite "
            f"(a ReLU outputs 0 for NaN; BatchNormalization's moving statistics are not used "
            f"in training). {kept} {_ADVICE}")
        raise NonFiniteWeights(message, names=bad, epoch=epoch + 1, last_epoch=last_epoch)

    def _last_good(self):
        """(epoch, sentence): the last finished epoch whose backup is intact."""
        latest = self.backup.latest() if self.backup is not None else None
        if not latest:
            return 0, ("Nothing of this epoch was saved, and no epoch had finished: there is "
                       "no checkpoint to go back to.")
        kept = (f"Nothing of epoch {self._epoch + 1} was saved; the last intact state is the "
                f"end of epoch {latest[0]}: {latest[1]}")
        if self.checkpoint is not None and self.checkpoint.exists():
            kept += f" (resume state) and {self.checkpoint} (the model)"
        return latest[0], kept + "; rerunning the same command resumes there."


_ADVICE = ("Lower config.train.learning_rate or set config.train.clip_norm (in a new --workdir: "
           "a run folder takes one config), or look for bad values in the data.")


# ------------------------------------------------------------------ preflight

# Every file of a saved model holds each variable's values plus an HDF5 header
# of at most this many bytes (measured 1.3-2.7 kB; a .keras file adds its
# config JSON).
HDF5_BYTES_PER_VARIABLE = 4096
SAFETY_FACTOR = 1.25
LOG_BYTES = 16 * 2**20  # history.csv, curves.png, tensorboard/, metrics.json


class NotEnoughDiskSpace(OSError):
    """The run folder's disk has less free space than the run needs."""

    exit_status = 2


class WorkdirNotWritable(PermissionError):
    """The run folder (or the folder it would be created in) cannot be written."""

    exit_status = 2


def check_writable(workdir):
    """Raises unless `workdir` can be written, or created where it would be.

    Reads only. The nearest existing folder on the path must be a folder
    (`NotADirectoryError` names the file in the way) that this user may write
    into (`WorkdirNotWritable`); `os.access` knows a read-only file system
    and root's rights.
    """
    workdir = pathlib.Path(workdir)
    existing = workdir.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(
            f"--workdir {workdir} cannot be created: {existing} is a file, not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "" if existing == workdir.absolute() else f" (it would be created in {existing})"
        raise WorkdirNotWritable(
            f"--workdir {workdir} is not writable{what}: this user may not write into "
            f"{existing}. Choose a --workdir you can write to.")


def variable_bytes(variables):
    """Bytes of the values of `variables` (each at its own dtype)."""
    return sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in variables)


def model_file_bytes(model):
    """An upper bound of one saved file of `model` with its optimizer state: a
    `.keras` file (`model.save`) or a `.weights.h5` backup (`save_weights`).

    The values of the weights and the optimizer's variables (momentum and the
    like, and the step counter: Keras saves both), an HDF5 header per variable,
    and the model's config JSON (the compile arguments a .keras file adds, about
    a kilobyte, fit in the headers' slack). Needs the optimizer built.
    """
    variables = list(model.weights)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    try:
        config = len(json.dumps(model.get_config(), default=str))
    except NotImplementedError:  # a subclassed model without get_config saves no config
        config = 0
    return variable_bytes(variables) + HDF5_BYTES_PER_VARIABLE * len(variables) + config


def model_file_count(keep_checkpoints=0, early_stopping=False):
    """{file: count}: the saved copies of the model a run may hold at once."""
    counts = {
        "model.keras": 1,
        "checkpoint.keras and its temporary copy while it is rewritten": 2,
        "backup/ (the last epoch and the next while it is written)": 2,
    }
    if keep_checkpoints:
        counts[f"checkpoints/ (2 x {keep_checkpoints} kept + 1 new)"] = 2 * keep_checkpoints + 1
    if early_stopping:
        counts["early_stopping/ (the best epoch and the next)"] = 2
    return counts


def required_bytes(model, keep_checkpoints=0, early_stopping=False):
    """Free disk space a run of `model` needs: every copy of the model it may hold
    at once (`model_file_count`) times `model_file_bytes`, times `SAFETY_FACTOR`,
    plus `LOG_BYTES` for the logs."""
    copies = sum(model_file_count(keep_checkpoints, early_stopping).values())
    return int(SAFETY_FACTOR * copies * model_file_bytes(model)) + LOG_BYTES


def check_free_space(workdir, needed, disk_usage=None):
    """Raises `NotEnoughDiskSpace` when `workdir`'s disk has less than `needed` bytes free.

    Args:
        disk_usage: the function giving (total, used, free) of a path; default
            `shutil.disk_usage`.
    """
    free = (disk_usage or shutil.disk_usage)(workdir).free
    if free < needed:
        raise NotEnoughDiskSpace(
            f"Not enough free disk space for this run in {workdir}: it needs about "
            f"{needed:,} bytes ({_size(needed)}: the model's checkpoints, backups and logs) "
            f"and {free:,} bytes ({_size(free)}) are free. Free some space, or choose a "
            "--workdir on another disk.")
    return free


def _size(n):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


class Preflight(keras.callbacks.Callback):
    """Checks the run folder's free disk space before the first step.

    Runs at `on_train_begin` and builds the optimizer there, as its first step
    would, so that its variables are counted; place it first, before the
    callbacks that write logs. The space is `required_bytes`, whether or not a resumed run already
    holds some of those files (an upper bound).

    Args:
        workdir: the run folder.
        keep_checkpoints: config.train.keep_checkpoints.
        early_stopping: whether early stopping keeps its best epoch's weights.
    """

    def __init__(self, workdir, keep_checkpoints=0, early_stopping=False):
        super().__init__()
        self.workdir = pathlib.Path(workdir)
        self.keep_checkpoints, self.early_stopping = keep_checkpoints, early_stopping

    def on_train_begin(self, logs=None):
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        check_writable(self.workdir)
        check_free_space(self.workdir, required_bytes(self.model, self.keep_checkpoints,
                                                      self.early_stopping))
