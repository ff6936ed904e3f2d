"""ResumableBackup: a run cut at any instant of its backup resumes from the last complete epoch.

Each cut raises inside `fit` at one point of the epoch-end backup (while the
weights file is written, between the weights and `state.json`, while
`state.json` is written, before the old weights are removed); the next
`fit` with a fresh model must start at the last epoch whose backup was
complete, with the optimizer's step counter and momentum of that epoch, and
end with exactly the weights of an uninterrupted run.
"""

import json
import os

import numpy as np
import pytest

import keras
from kerascnn import _compat
from kerascnn.train import callbacks

EPOCHS, STEPS, BATCH = 4, 3, 4
RNG = np.random.default_rng(0)
X = RNG.normal(size=(STEPS * BATCH, 5)).astype("float32")
Y = RNG.normal(size=(STEPS * BATCH, 2)).astype("float32")


class Cut(Exception):
    """The simulated kill."""


class Probe(keras.callbacks.Callback):
    """Records the epochs run and the optimizer step at the first one."""

    def __init__(self):
        super().__init__()
        self.epochs, self.first_step = [], None

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_step is None:
            self.first_step = int(self.model.optimizer.iterations.numpy())
        self.epochs.append(epoch)


def make_model():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    return model


def fit(backup_dir, extra=()):
    model = make_model()
    probe = Probe()
    model.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
              callbacks=[*extra, callbacks.ResumableBackup(backup_dir), probe])
    return model, probe


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    keras.utils.set_random_seed(1)
    model, probe = fit(tmp_path_factory.mktemp("whole"))
    assert probe.epochs == list(range(EPOCHS))
    return [w.numpy() for w in model.weights]


class CutAt(keras.callbacks.Callback):
    """Arms `patch` (a function of monkeypatch) when epoch `epoch` ends, before the backup."""

    def __init__(self, epoch, arm):
        super().__init__()
        self.epoch, self.arm = epoch, arm

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.arm(self.model)


def cut_in_weights_write(monkeypatch):
    def arm(model):
        def broken(path, overwrite=True):
            with open(path, "wb") as f:  # half a file, then the kill
                f.write(b"\x89HDF\r\n")
            raise Cut("killed while writing the weights")

        monkeypatch.setattr(model, "save_weights", broken)
    return arm


def cut_after_weights(monkeypatch):
    def arm(model):
        def broken(path, obj):
            raise Cut("killed between the weights and state.json")

        monkeypatch.setattr(callbacks._io, "write_json_atomic", broken)
    return arm


def cut_in_state_write(monkeypatch):
    def arm(model):
        real = os.replace

        def broken(src, dst):
            if str(dst).endswith("state.json"):
                raise Cut("killed while renaming state.json into place")
            return real(src, dst)

        monkeypatch.setattr(callbacks._io.os, "replace", broken)
    return arm


def cut_before_cleanup(monkeypatch):
    def arm(model):
        def broken(self, *args, **kwargs):
            raise Cut("killed before the old weights were removed")

        monkeypatch.setattr(type(callbacks.pathlib.Path()), "unlink", broken)
    return arm


# (where the run is cut during the backup of epoch index 1, the epoch to resume at)
CUTS = [
    (cut_in_weights_write, 1),
    (cut_after_weights, 1),
    (cut_in_state_write, 1),
    (cut_before_cleanup, 2),
]


@pytest.mark.parametrize("cut, resume_at", CUTS, ids=[c.__name__ for c, _ in CUTS])
def test_cut_run_resumes_from_last_complete_epoch(cut, resume_at, uninterrupted, tmp_path,
                                                  monkeypatch):
    backup_dir = tmp_path / "backup"
    keras.utils.set_random_seed(1)
    with monkeypatch.context() as patch:
        with pytest.raises(Cut):
            fit(backup_dir, extra=[CutAt(1, cut(patch))])
    state = json.loads((backup_dir / "state.json").read_text())
    assert state["epoch"] == resume_at
    assert (backup_dir / state["weights"]).exists()

    keras.utils.set_random_seed(2)  # another initialization: the backup must override it
    model, probe = fit(backup_dir)
    assert probe.epochs == list(range(resume_at, EPOCHS))
    assert probe.first_step == resume_at * STEPS  # the schedule's step counter went on
    assert int(model.optimizer.iterations.numpy()) == EPOCHS * STEPS
    for ours, whole in zip(model.weights, uninterrupted):
        np.testing.assert_allclose(ours.numpy(), whole, rtol=1e-6, atol=1e-6)
    assert sorted(p.name for p in backup_dir.glob("epoch_*.weights.h5")) == [
        f"epoch_{EPOCHS}.weights.h5"]


def test_a_keras_that_ignores_the_resume_hook_is_caught(tmp_path, monkeypatch):
    backup_dir = tmp_path / "backup"
    with pytest.raises(Cut):
        fit(backup_dir, extra=[CutAt(1, cut_after_weights(monkeypatch))])
    monkeypatch.undo()
    monkeypatch.setattr(_compat, "set_initial_epoch", lambda model, epoch: None)
    with pytest.raises(RuntimeError, match="Resuming at epoch 1, but fit\\(\\) started at epoch 0"):
        fit(backup_dir)


def test_set_initial_epoch_moves_fit():
    model = make_model()
    probe = Probe()

    class Hook(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            _compat.set_initial_epoch(self.model, 3)

    model.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, verbose=0, callbacks=[Hook(), probe])
    assert probe.epochs == [3]
