"""Early stopping that restores the best epoch's weights and survives a resume.

Keras's `EarlyStopping(restore_best_weights=True)` keeps its best weights and
its patience counter in memory, so a run killed and resumed forgets both:
it would restore the best of the resumed part only, and wait `patience`
epochs afresh. Here the state lives in the run folder, written as the
`ResumableBackup` writes its own: the best epoch's weights go to a new file
`best_epoch_K.weights.h5`, and only then does `state.json`, written
atomically, point at it.
"""

import json
import math
import pathlib

import keras

from kerascnn import _io

MONITORS = ("val_loss", "val_top1")


class EarlyStopping(keras.callbacks.Callback):
    """Stops training when `monitor` has not improved for `patience` epochs.

    `restore_best(model)` then loads the best epoch's weights (call it after
    `fit`, also when training ran to the end: the weights kept are the
    best epoch's, not the last's).

    Args:
        state_dir: a folder of the run for the state and the best weights.
        monitor: "val_loss" (lower is better) or "val_top1" (higher is better).
        patience: epochs without improvement before stopping, >= 1.
    """

    def __init__(self, state_dir, monitor="val_loss", patience=5):
        super().__init__()
        if monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, got {monitor!r}.")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be an integer >= 1, got {patience!r}.")
        self.state_dir = pathlib.Path(state_dir)
        self.state_path = self.state_dir / "state.json"
        self.monitor, self.patience = monitor, patience
        self.sign = 1.0 if monitor == "val_loss" else -1.0  # minimise sign * value
        self.state = self._load()

    def _load(self):
        if self.state_path.exists():
            return json.loads(self.state_path.read_text())
        return {"best": None, "best_epoch": None, "wait": 0, "stopped_epoch": None,
                "weights": None, "monitor": self.monitor, "epoch": 0}

    @property
    def stopped(self):
        """Whether an earlier part of this run already stopped (a rerun trains no more)."""
        return self.state["stopped_epoch"] is not None

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 <= self.state["epoch"]:
            return  # an epoch redone after a kill between this state and the backup
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(
                f"Early stopping monitors {self.monitor!r}, which the epoch's logs lack "
                f"(they have {sorted(logs or {})}): it needs validation data.")
        value = float(value)
        best = self.state["best"]
        if math.isfinite(value) and (best is None or self.sign * value < self.sign * best):
            name = f"best_epoch_{epoch + 1}.weights.h5"
            _io.save_weights_atomic(self.model, self.state_dir / name)
            self.state.update(best=value, best_epoch=epoch + 1, wait=0, weights=name)
        else:
            self.state["wait"] += 1
            if self.state["wait"] >= self.patience:
                self.state["stopped_epoch"] = epoch + 1
                self.model.stop_training = True
        self.state["epoch"] = epoch + 1
        _io.write_json_atomic(self.state_path, self.state)
        for old in self.state_dir.glob("best_epoch_*.weights.h5"):
            if old.name != self.state["weights"]:
                old.unlink()

    def restore_best(self, model):
        """Loads the best epoch's weights into `model`; returns that epoch (None if none)."""
        if self.state["weights"] is None:
            return None
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # the file holds its state too
        model.load_weights(self.state_dir / self.state["weights"])
        return self.state["best_epoch"]

    def summary(self):
        """What metrics.json records: the monitor, the best epoch and value, and the
        epoch training stopped at (None when it ran every epoch)."""
        return {"early_stopping_monitor": self.monitor,
                "best_epoch": self.state["best_epoch"],
                f"best_{self.monitor}": self.state["best"],
                "stopped_epoch": self.state["stopped_epoch"]}
