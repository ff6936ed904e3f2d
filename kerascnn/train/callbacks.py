"""Callbacks for resumable, crash-safe training."""

import json
import os
import pathlib

import keras

from kerascnn import _compat, _io


class ResumableBackup(keras.callbacks.Callback):
    """Backs up the training state each epoch and restores it in `fit`.

    Like `keras.callbacks.BackupAndRestore`, but crash-safe: the weights
    (which include the optimizer state and step counter) of epoch k go to a
    new file `epoch_k.weights.h5`, and only then does `state.json`, written
    atomically, point at it. A kill at any instant leaves a consistent
    (weights, epoch) pair, and rerunning `fit` continues from that epoch.

    Args:
        backup_dir: the folder holding the backup.
    """

    def __init__(self, backup_dir):
        super().__init__()
        self.backup_dir = pathlib.Path(backup_dir)
        self.state_path = self.backup_dir / "state.json"
        self._resumed_epoch = None

    def latest(self):
        """(epoch, weights path) of the last complete backup, or None."""
        if not self.state_path.exists():
            return None
        state = json.loads(self.state_path.read_text())
        return state["epoch"], self.backup_dir / state["weights"]

    def on_train_begin(self, logs=None):
        latest = self.latest()
        if latest is None:
            return
        epoch, weights = latest
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        _compat.set_initial_epoch(self.model, epoch)
        self._resumed_epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        # A Keras that ignored the resume hook would silently retrain from epoch 0.
        resumed, self._resumed_epoch = self._resumed_epoch, None
        if resumed is not None and epoch != resumed:
            raise RuntimeError(
                f"Resuming at epoch {resumed}, but fit() started at epoch {epoch}: this "
                f"Keras ({keras.__version__}) ignores the resume hook of "
                "kerascnn._compat.set_initial_epoch."
            )

    def on_epoch_end(self, epoch, logs=None):
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch_{epoch + 1}.weights.h5"
        tmp = self.backup_dir / f"tmp_{os.getpid()}.weights.h5"
        self.model.save_weights(tmp, overwrite=True)
        os.replace(tmp, self.backup_dir / name)
        _io.write_json_atomic(self.state_path, {"epoch": epoch + 1, "weights": name})
        for old in self.backup_dir.glob("epoch_*.weights.h5"):
            if old.name != name:
                old.unlink()


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (`.keras`) at the end of every epoch, atomically."""

    def __init__(self, path):
        super().__init__()
        self.path = pathlib.Path(path)

    def on_epoch_end(self, epoch, logs=None):
        _io.save_model_atomic(self.model, self.path)


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's current learning rate to the epoch logs.

    Place it before CSVLogger / TensorBoard so they record it.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            lr = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
