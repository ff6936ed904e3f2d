"""KeepCheckpoints: the last K and the best K epochs' models, an index, and resume;
config.train.keep_checkpoints is checked before training."""

import json

import numpy as np
import pytest

import keras
from kerascnn.train import callbacks, config as config_lib, run_config

# val_top1 per epoch (1-based): the best two are epochs 2 and 4.
VALUES = [0.50, 0.90, 0.60, 0.95, 0.55, 0.70]


def expected_kept(values, k):
    """The k latest epochs and the k of highest value (ties: the later), 1-based."""
    epochs = list(range(1, len(values) + 1))
    best = sorted(epochs, key=lambda e: (values[e - 1], e))[-k:]
    return sorted(set(epochs[-k:]) | set(best))


def tiny_model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])


def run_epochs(callback, model, epochs, values):
    callback.set_model(model)
    for epoch in epochs:
        callback.on_epoch_begin(epoch)
        model.get_layer("dense").bias.assign(np.full(2, epoch, "float32"))  # marks the epoch
        logs = {} if values is None else {"val_top1": values[epoch], "loss": 1.0}
        callback.on_epoch_end(epoch, logs)


def listed(folder):
    return sorted(p.name for p in folder.glob("*") if not p.name.startswith("."))


def test_keeps_the_last_and_the_best_and_resumes(tmp_path):
    folder = tmp_path / "checkpoints"
    k = 2
    run_epochs(callbacks.KeepCheckpoints(folder, k), tiny_model(), range(4), VALUES)
    assert expected_kept(VALUES[:4], k) == [2, 3, 4]
    assert listed(folder) == ["epoch_002.keras", "epoch_003.keras", "epoch_004.keras",
                              "index.json"]
    # A run cut between epoch 5's backup and its checkpoint resumes at epoch index 5:
    # the earlier files and their index stay, and epoch 5's checkpoint is written
    # from the restored weights, with no val_top1.
    restored = tiny_model()
    restored.get_layer("dense").bias.assign(np.full(2, 4, "float32"))
    run_epochs(callbacks.KeepCheckpoints(folder, k), restored, [5], VALUES)
    values = VALUES[:4] + [None, VALUES[5]]
    kept = expected_kept([-1 if v is None else v for v in values], k)
    assert kept == [2, 4, 5, 6]
    index = json.loads((folder / "index.json").read_text())
    assert [e["epoch"] for e in index["checkpoints"]] == kept
    assert [e["val_top1"] for e in index["checkpoints"]] == [values[e - 1] for e in kept]
    assert listed(folder) == [f"epoch_{e:03d}.keras" for e in kept] + ["index.json"]
    # each file holds its epoch's model
    for e in kept:
        model = keras.saving.load_model(folder / f"epoch_{e:03d}.keras")
        np.testing.assert_array_equal(model.get_layer("dense").bias.numpy(), [e - 1, e - 1])
    # an index that ran ahead of the backup loses the epochs trained again
    ahead = callbacks.KeepCheckpoints(folder, k)
    ahead.set_model(tiny_model())
    ahead.on_epoch_begin(4)
    assert [e["epoch"] for e in ahead._entries] == [2, 4]
    # the choices of checkpoint ensembles
    last = callbacks.choose_checkpoints(folder, "last", 2)
    best = callbacks.choose_checkpoints(folder, "best", 2)
    assert [p.name for p in last] == ["epoch_005.keras", "epoch_006.keras"]
    assert [p.name for p in best] == ["epoch_002.keras", "epoch_004.keras"]
    with pytest.raises(ValueError, match="best:3 asks for 3 checkpoints"):
        callbacks.choose_checkpoints(folder, "best", 3)


def test_without_validation_only_the_last_are_kept(tmp_path):
    folder = tmp_path / "checkpoints"
    run_epochs(callbacks.KeepCheckpoints(folder, 2), tiny_model(), range(3), None)
    assert listed(folder) == ["epoch_002.keras", "epoch_003.keras", "index.json"]
    with pytest.raises(ValueError, match="no val_top1 to rank them.*last:K"):
        callbacks.choose_checkpoints(folder, "best", 1)
    off = tmp_path / "off"
    run_epochs(callbacks.KeepCheckpoints(off, 0), tiny_model(), range(2), VALUES)
    assert not off.exists()
    with pytest.raises(FileNotFoundError, match="keep_checkpoints=K"):
        callbacks.choose_checkpoints(off, "last", 1)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_config_check_rejects_a_bad_keep_checkpoints(bad):
    cfg = run_config.config_to_dict(config_lib.default_config())
    cfg["train"]["keep_checkpoints"] = bad
    with pytest.raises(ValueError, match=r"config.train.keep_checkpoints must be an integer >= 0"):
        run_config.check_config(cfg)
    cfg["train"]["keep_checkpoints"] = 3
    run_config.check_config(cfg)
