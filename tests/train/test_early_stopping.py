"""Early stopping with the best weights restored, resumable; the validation split."""

import json
import shutil

import keras
import numpy as np
import pytest

from kerascnn import data, evaluate, train
from kerascnn.train import train_lib
from kerascnn.train.early_stopping import EarlyStopping


def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _feed(callback, model, values, start=0, monitor="val_loss"):
    """Epochs `start...` ending with `monitor` = values[i] and the kernel filled with i."""
    for i, value in enumerate(values, start):
        model.layers[0].kernel.assign(np.full((2, 1), float(i), "float32"))
        callback.on_epoch_end(i, {monitor: value})
        if model.stop_training:
            return i


def test_stops_after_patience_epochs_and_restores_the_best(tmp_path):
    model = _model()
    stopper = EarlyStopping(tmp_path, "val_loss", patience=3)
    stopper.set_model(model)
    # Best at epoch index 2 (third epoch); 3 epochs without improvement follow.
    stopped_at = _feed(stopper, model, [1.0, 0.8, 0.5, 0.6, 0.5, 0.7, 0.1])
    assert stopped_at == 5
    assert stopper.restore_best(model) == 3
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), np.full((2, 1), 2.0))
    assert stopper.summary() == {"early_stopping_monitor": "val_loss", "best_epoch": 3,
                                 "best_val_loss": 0.5, "stopped_epoch": 6}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best_epoch_3.weights.h5", "state.json"]


def test_top1_is_maximised_and_nan_never_best(tmp_path):
    model = _model()
    stopper = EarlyStopping(tmp_path, "val_top1", patience=2)
    stopper.set_model(model)
    assert _feed(stopper, model, [0.5, 0.9, float("nan"), 0.85], monitor="val_top1") == 3
    assert stopper.summary()["best_epoch"] == 2


def test_a_resumed_run_keeps_the_count_and_the_best(tmp_path):
    model = _model()
    first = EarlyStopping(tmp_path, patience=3)
    first.set_model(model)
    _feed(first, model, [1.0, 0.5, 0.7, 0.8])  # killed after epoch 4, waiting 2
    again = EarlyStopping(tmp_path, patience=3)  # the rerun's callback
    again.set_model(model)
    # Epoch 4 (index 3) redone after a kill before the backup: not counted twice.
    assert _feed(again, model, [0.8, 0.9], start=3) == 4
    assert again.stopped and again.restore_best(model) == 2
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), np.ones((2, 1)))


def test_without_validation_it_says_what_it_needs(tmp_path):
    stopper = EarlyStopping(tmp_path)
    stopper.set_model(_model())
    with pytest.raises(ValueError, match="monitors 'val_loss'.*needs validation data"):
        stopper.on_epoch_end(0, {"loss": 1.0})


def _config():
    """An MLP on 8x8 digits with Adam at 0.01 and no augmentation: it overfits in a few
    epochs (measured: best epoch 4 of 287 held-out digits, stopped at 6; 4 s)."""
    c = train.default_config()
    c.model.name = "mlp"
    c.model.kwargs.widths = (256,)
    c.model.kwargs.preprocessing = "dataset"
    c.data.image_size = 8
    c.augment.crop = "resize"
    c.augment.flip = False
    c.train.epochs = 20
    c.train.batch_size = 64
    c.train.optimizer = "adam"
    c.train.learning_rate = 0.01
    c.train.weight_decay = 0.0
    c.train.schedule = "constant"
    c.train.validation_split = 0.2
    c.train.early_stopping_patience = 2
    c.train.eval_every_epoch = False
    return c


@pytest.fixture
def stopped_run(tmp_path):
    workdir = tmp_path / "early"
    return train.train_and_evaluate(_config(), workdir, verbose=0), workdir


def test_a_run_stops_early_keeps_the_best_epoch_and_is_not_retrained(stopped_run, tmp_path,
                                                                      monkeypatch):
    result, workdir = stopped_run
    m = result.metrics
    history = np.genfromtxt(workdir / "history.csv", delimiter=",", names=True)
    assert m["stopped_epoch"] is not None and m["stopped_epoch"] < 20
    assert len(history) == m["stopped_epoch"]  # no epoch after the stop
    assert m["stopped_epoch"] - m["best_epoch"] == 2  # the patience
    assert m["best_val_loss"] == pytest.approx(history["val_loss"].min(), rel=1e-6)
    assert np.argmin(history["val_loss"]) + 1 == m["best_epoch"]
    # The saved model is the best epoch's: its loss on the held-out digits is that epoch's.
    cfg, model = train_lib.load_run(workdir)
    held_out = data.eval_pipeline(
        train_lib.training_examples(cfg, train_lib.dataset_info(cfg), held_out=True),
        batch_size=64, image_size=8, num_classes=10)
    assert evaluate.evaluate(model, held_out)["loss"] == pytest.approx(m["best_val_loss"], abs=1e-4)

    # A kill after the stop, before model.keras / metrics.json were written: the
    # rerun trains no more (one test with the above: a module fixture trains once
    # per xdist worker).
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy)
    (copy / "model.keras").unlink()
    (copy / "metrics.json").unlink()
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("trained again"))
    again = train.train_and_evaluate(_config(), copy, verbose=0)
    before = json.loads((workdir / "metrics.json").read_text())
    assert again.metrics["best_epoch"] == before["best_epoch"]
    assert again.metrics["top1"] == pytest.approx(before["top1"])


@pytest.mark.parametrize("overrides, match", [
    ({"early_stopping_patience": 3}, "needs a validation split"),
    ({"validation_split": 1.0}, r"validation_split must be a number in \[0, 1\)"),
    ({"validation_split": 0.1, "early_stopping_patience": 1.5}, "integer >= 0"),
    ({"validation_split": 0.1, "early_stopping_monitor": "val_acc"}, "one of"),
])
def test_bad_keys_fail_at_the_check(overrides, match):
    cfg = train_lib.config_to_dict(train.default_config())
    cfg["train"].update(overrides)
    with pytest.raises(ValueError, match=match):
        train_lib.check_config(cfg)
