"""Callbacks for resumable, crash-safe training."""

import json
import pathlib

import keras

from kerascnn import _checks, _compat, _io
from kerascnn.train import fault_tolerance


class ResumableBackup(keras.callbacks.Callback):
    """Backs up the training state each epoch and restores it in `fit`.

    Like `keras.callbacks.BackupAndRestore`, but crash-safe: the weights
    (which include the optimizer state and step counter) of epoch k go to a
    new file `epoch_k.weights.h5`, and only then does `state.json`, written
    atomically, point at it. A kill at any instant leaves a consistent
    (weights, epoch) pair, and rerunning `fit` continues from that epoch.
    `state.json` also holds the model's random-number generators' state
    (dropout masks and the like, which `save_weights` leaves out), so the
    resumed epochs draw what an uninterrupted run draws.

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

    def _random_states(self):
        return json.loads(self.state_path.read_text()).get("random_states")

    def on_train_begin(self, logs=None):
        latest = self.latest()
        if latest is None:
            return
        epoch, weights = latest
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        states = self._random_states()
        if states is not None:  # absent from backups written before they were kept
            fault_tolerance.restore_random_states(self.model, states)
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
        name = f"epoch_{epoch + 1}.weights.h5"
        _io.save_weights_atomic(self.model, self.backup_dir / name)
        _io.write_json_atomic(self.state_path, {
            "epoch": epoch + 1, "weights": name,
            "random_states": fault_tolerance.random_states(self.model)})
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


# Where KeepCheckpoints writes in a run folder, and its index there.
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_INDEX = "index.json"
CHECKPOINT_MONITOR = "val_top1"


class KeepCheckpoints(keras.callbacks.Callback):
    """Keeps the last `keep` and the best `keep` epochs' models, for checkpoint ensembles.

    Each epoch's model is saved to `folder/epoch_NNN.keras` (atomically);
    then `folder/index.json` (atomically) lists the kept files with their
    epoch and `monitor` value (higher is better, None when the epoch had no
    validation), and only then are the files it no longer lists removed. A
    kill at any instant leaves an index whose files all exist. The kept set
    is the `keep` latest epochs and the `keep` epochs of highest `monitor`
    (ties: the later epoch), so up to 2 x keep files.

    A resumed run (the same folder) keeps the earlier files and index. Placed
    after `ResumableBackup`, the index never runs ahead of the backup (an
    entry for an epoch that `fit` trains again would be dropped); a run cut
    between an epoch's backup and its checkpoint gets that checkpoint when it
    resumes, from the restored weights, without a `monitor` value.

    Args:
        folder: where the files go (a run's `checkpoints/`).
        keep: K >= 0; 0 writes nothing.
        monitor: the log key that ranks the epochs (the compiled top-1 on the
            validation data).
    """

    def __init__(self, folder, keep, monitor=CHECKPOINT_MONITOR):
        super().__init__()
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise ValueError(f"keep must be an integer >= 0, got {keep!r}.")
        self.folder = pathlib.Path(folder)
        self.keep = keep
        self.monitor = monitor
        self._entries = None

    def on_epoch_begin(self, epoch, logs=None):
        if not self.keep or self._entries is not None:
            return
        self._entries = self._read(up_to=epoch)
        if epoch and all(e["epoch"] != epoch for e in self._entries):
            self._save(epoch - 1, None)  # the restored weights: the end of epoch `epoch`

    def on_epoch_end(self, epoch, logs=None):
        if not self.keep:
            return
        if self._entries is None:  # called without on_epoch_begin
            self._entries = self._read(up_to=epoch)
        self._save(epoch, (logs or {}).get(self.monitor))

    def _read(self, up_to):
        if not (self.folder / CHECKPOINT_INDEX).exists():
            return []
        return [e for e in read_checkpoint_index(self.folder)["checkpoints"] if e["epoch"] <= up_to]

    def _save(self, epoch, value):

        name = f"epoch_{epoch + 1:03d}.keras"
        _io.save_model_atomic(self.model, self.folder / name)
        entry = {"epoch": epoch + 1, "file": name,
                 self.monitor: None if value is None else float(value)}
        entries = [e for e in self._entries if e["epoch"] != epoch + 1] + [entry]
        kept = set(kept_epochs(entries, self.keep, self.monitor))
        self._entries = sorted((e for e in entries if e["epoch"] in kept), key=lambda e: e["epoch"])
        _io.write_json_atomic(self.folder / CHECKPOINT_INDEX, {
            "monitor": self.monitor, "keep": self.keep, "checkpoints": self._entries})
        listed = {e["file"] for e in self._entries}
        for old in self.folder.glob("epoch_*.keras"):
            if old.name not in listed:
                old.unlink()


def kept_epochs(entries, keep, monitor=CHECKPOINT_MONITOR):
    """The epochs among `entries` that `KeepCheckpoints` keeps: the `keep` latest and
    the `keep` of highest `monitor` (entries without a value do not rank)."""
    latest = sorted((e["epoch"] for e in entries), reverse=True)[:keep]
    ranked = [e for e in entries if e.get(monitor) is not None]
    best = sorted(ranked, key=lambda e: (e[monitor], e["epoch"]), reverse=True)[:keep]
    return sorted(set(latest) | {e["epoch"] for e in best})


def read_checkpoint_index(folder):
    """The index `KeepCheckpoints` wrote in `folder`: {"monitor", "keep", "checkpoints":
    [{"epoch", "file", <monitor>}]}, oldest first."""
    path = pathlib.Path(folder) / CHECKPOINT_INDEX
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: the run kept no epoch checkpoints. Train it with "
            "--config.train.keep_checkpoints=K (K > 0) to keep the last K and the best K.")
    return json.loads(path.read_text())


def choose_checkpoints(folder, which, k):
    """Paths of `k` kept checkpoints of `folder`, oldest first: which="last" (the k
    latest) or "best" (the k of highest validation top-1)."""
    _checks.check_choice("which", which, ("last", "best"))
    _checks.check_int("k", k, minimum=1)
    index = read_checkpoint_index(folder)
    entries, monitor = index["checkpoints"], index["monitor"]
    if which == "best":
        entries = [e for e in entries if e.get(monitor) is not None]
        if not entries:
            raise ValueError(f"The checkpoints in {folder} have no {monitor} to rank them (was "
                             "config.train.eval_every_epoch False?); use last:K instead.")
        chosen = sorted(entries, key=lambda e: (e[monitor], e["epoch"]), reverse=True)
    else:
        chosen = sorted(entries, key=lambda e: e["epoch"], reverse=True)
    # Past K, the kept set is no longer the K+1 latest (or best) epochs of the run.
    available = min(len(chosen), index["keep"])
    if k > available:
        raise ValueError(f"{which}:{k} asks for {k} checkpoints, but {folder} keeps "
                         f"{available} {'ranked by ' + monitor if which == 'best' else 'latest'}"
                         f" (config.train.keep_checkpoints={index['keep']}, epochs "
                         f"{[e['epoch'] for e in entries]}).")
    return [pathlib.Path(folder) / e["file"] for e in sorted(chosen[:k], key=lambda e: e["epoch"])]


class Validation(keras.callbacks.Callback):
    """Adds val_loss, val_top1 (and val_top5) of `dataset` to the epoch logs.

    What `fit(validation_data=...)` does, through `kerascnn.evaluate.evaluate`,
    which takes any batch under a `tf.distribute` strategy: Keras's own
    evaluation fails when a batch leaves a replica empty or a first batch does
    not split evenly. The training library uses it with several replicas.
    val_loss is the plain cross-entropy (no label smoothing). Place it first,
    so that the callbacks after it (early stopping, checkpoints, logs) see the
    values.
    """

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        from kerascnn import evaluate  # loaded on use: `import kerascnn` stays light

        result = evaluate.evaluate(self.model, self.dataset)
        logs.update({f"val_{key}": result[key] for key in ("loss", "top1", "top5")
                     if key in result})
