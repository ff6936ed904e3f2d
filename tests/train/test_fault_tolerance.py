"""Fault tolerance: kills at any point resume to the same weights, a NaN loss stops at its
step, and the run folder is checked (writable, enough disk) before the first step."""

import json
import math
import os
import pathlib
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest

import keras
import kerascnn_cli
from kerascnn import _compat, _io, create_model
from kerascnn.train import callbacks, fault_tolerance, train_lib

REPO = pathlib.Path(__file__).resolve().parents[2]
EPOCHS = 3
# An MLP with dropout (its masks come from a SeedGenerator, which the backup must
# carry) on the 8x8 digits: 180 steps of batch 8 per epoch, ~0.4 s each.
CONFIG = '''
from kerascnn.train import default_config


def get_config():
    config = default_config()
    config.model.name = "mlp"
    config.model.kwargs.widths = (32,)
    config.model.kwargs.dropout_rate = 0.25
    config.model.kwargs.preprocessing = "digits"
    config.data.image_size = 8
    config.augment.padding = 1
    config.augment.flip = False
    config.train.epochs = {epochs}
    config.train.batch_size = {batch_size}
    config.train.learning_rate = 0.05
    config.train.eval_every_epoch = False
    config.runtime.deterministic = {deterministic}
    config.lock()
    return config
'''
# Runs tools/train.py, but dies (os._exit: no cleanup, as a SIGKILL) while
# checkpoint.keras is written: after its temporary file is complete, before the rename.
DIE_IN_CHECKPOINT_WRITE = '''
import os, runpy, sys
replace = os.replace
def dying_replace(src, dst, *args, **kwargs):
    if str(dst).endswith("checkpoint.keras"):
        os._exit(9)
    return replace(src, dst, *args, **kwargs)
os.replace = dying_replace
sys.argv = ["tools/train.py", *sys.argv[1:]]
runpy.run_path("tools/train.py", run_name="__main__")
'''


def config_file(tmp_path, epochs=EPOCHS, batch_size=8, deterministic=True):
    path = tmp_path / f"mlp_{epochs}_{batch_size}_{deterministic}.py"
    path.write_text(CONFIG.format(epochs=epochs, batch_size=batch_size,
                                  deterministic=deterministic))
    return path


def load_config(path):
    scope = {}
    exec(path.read_text(), scope)
    return train_lib.config_to_dict(scope["get_config"]())


def start(args, config, workdir):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, *args, f"--config={config}", f"--workdir={workdir}"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def weights(path):
    return _io.load_model(path).get_weights()


@pytest.fixture
def op_determinism_off_after():
    """train_and_evaluate turns op determinism on for the process; the tests after
    these run as they would without it. TF has no public switch-off."""
    yield
    from tensorflow.python.framework import config as tf_config

    tf_config.disable_op_determinism()


def test_killed_runs_resume_to_the_weights_of_an_uninterrupted_run(
        tmp_path, op_determinism_off_after):
    config = config_file(tmp_path)
    cfg = load_config(config)
    reference = train_lib.train_and_evaluate(cfg, tmp_path / "reference", verbose=0)

    # SIGKILL mid-run: once epoch 1's checkpoint exists (it is written after the
    # backup), i.e. in epoch 2 or its writes.
    workdir = tmp_path / "killed"
    proc = start(["tools/train.py"], config, workdir)
    state = workdir / "backup" / "state.json"
    deadline = time.time() + 120
    while (not (workdir / "checkpoint.keras").exists() and proc.poll() is None
           and time.time() < deadline):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = json.loads(state.read_text())["epoch"]
    assert 1 <= killed_at < EPOCHS and not (workdir / "model.keras").exists()

    # The rerun dies half-way through writing checkpoint.keras: the temporary file
    # is left behind, the previous checkpoint.keras is untouched and loads.
    before = weights(workdir / "checkpoint.keras")
    proc = start(["-c", DIE_IN_CHECKPOINT_WRITE], config, workdir)
    assert proc.wait(timeout=120) == 9, proc.stderr.read()[-3000:]
    assert list(workdir.glob(".checkpoint.*.tmp.keras"))
    for a, b in zip(weights(workdir / "checkpoint.keras"), before, strict=True):
        np.testing.assert_array_equal(a, b)
    died_at = json.loads(state.read_text())["epoch"]
    assert died_at == killed_at + 1  # the backup came first, and is whole

    resumed = train_lib.train_and_evaluate(cfg, workdir, verbose=0)
    assert resumed.resumed_from_epoch == died_at
    for a, b in zip(reference.model.get_weights(), weights(workdir / "model.keras"), strict=True):
        np.testing.assert_array_equal(a, b)  # bit for bit
    assert resumed.metrics["top1"] == reference.metrics["top1"]


def poison(monkeypatch, bad_step, part):
    """The training pipeline's batch at `bad_step` (1-based) gets NaN images (part 0)
    or NaN labels (part 1)."""
    import tensorflow as tf

    make_pipelines = train_lib.make_pipelines

    def poisoned(*args, **kwargs):
        raw, train_ds, test_ds = make_pipelines(*args, **kwargs)

        def nan_at(i, batch):
            x = batch[part]
            batch = list(batch)
            batch[part] = tf.where(i == bad_step - 1, tf.fill(tf.shape(x), np.nan), x)
            return tuple(batch)

        return raw, train_ds.enumerate().map(nan_at), test_ds

    monkeypatch.setattr(train_lib, "make_pipelines", poisoned)


def test_a_nan_loss_stops_the_run_at_its_step(tmp_path, monkeypatch, capsys):
    config = config_file(tmp_path, epochs=2, batch_size=32, deterministic=False)
    cfg = load_config(config)
    steps = math.ceil(1437 / 32)
    bad_step = steps + 7  # 1-based: the 7th step of epoch 2
    poison(monkeypatch, bad_step, part=1)  # NaN labels: a NaN loss at that step
    workdir = tmp_path / "run"
    with pytest.raises(fault_tolerance.NonFiniteLoss) as caught:
        train_lib.train_and_evaluate(cfg, workdir, verbose=0)
    err = caught.value
    assert (err.step, err.epoch, err.step_in_epoch, err.last_epoch) == (bad_step, 2, 7, 1)
    assert math.isnan(err.loss)
    backup = workdir / "backup" / "epoch_1.weights.h5"
    for part in (f"loss is nan at step {bad_step} ", "epoch 2 of 2", f"step 7 of {steps}",
                 "end of epoch 1", str(backup), str(workdir / "checkpoint.keras")):
        assert part in str(err), (part, str(err))

    # Nothing of epoch 2 was written: the checkpoint is epoch 1's, finite and equal
    # to the backup's weights (loaded into a zeroed copy).
    assert json.loads((workdir / "backup" / "state.json").read_text())["epoch"] == 1
    assert not (workdir / "model.keras").exists() and not (workdir / "metrics.json").exists()
    assert len((workdir / "history.csv").read_text().strip().splitlines()) == 2  # header, epoch 1
    checkpoint = _io.load_model(workdir / "checkpoint.keras")
    assert all(np.isfinite(w).all() for w in checkpoint.get_weights())
    zeroed = _io.load_model(workdir / "checkpoint.keras")
    for w in zeroed.weights:
        w.assign(np.zeros(w.shape, w.dtype))
    zeroed.load_weights(backup)
    for a, b in zip(checkpoint.get_weights(), zeroed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    # The tools print the message in one error line and exit with status 3.
    monkeypatch.setattr(sys, "argv", ["train.py"])

    def main(argv):
        raise err

    with pytest.raises(SystemExit) as exited:
        kerascnn_cli.run(main, types.ModuleType("train", "A tool."))
    assert exited.value.code == fault_tolerance.EXIT_NON_FINITE == 3
    printed = capsys.readouterr().err
    assert "Traceback" not in printed
    assert printed.startswith(f"train.py: error: Training stopped: the loss is nan at step {bad_step}")

    # NaN images: the first layer's gradient and weights turn NaN. oneDNN's ReLU outputs
    # 0 for NaN, so the loss stays finite and the epoch-end check stops the run; Eigen's
    # (TF_ENABLE_ONEDNN_OPTS=0, AVX2-only CPUs) passes the NaN on, so the loss of that
    # very step is NaN. Either way nothing of the epoch is written.
    poison(monkeypatch, 5, part=0)
    cfg["train"]["epochs"] = 1
    with pytest.raises(fault_tolerance.NonFinite) as caught:
        train_lib.train_and_evaluate(cfg, tmp_path / "images", verbose=0)
    if _compat.onednn_enabled():
        assert isinstance(caught.value, fault_tolerance.NonFiniteWeights)
        assert caught.value.epoch == 1 and "fc1/kernel" in caught.value.names
    else:
        assert isinstance(caught.value, fault_tolerance.NonFiniteLoss)
        assert caught.value.step == 5
    assert "no checkpoint to go back to" in str(caught.value)
    assert not (tmp_path / "images" / "backup").exists()
    assert not (tmp_path / "images" / "checkpoint.keras").exists()


def test_keras_terminate_on_nan_would_have_saved_the_nan_weights(tmp_path):
    """Why StopOnNonFiniteLoss raises: with Keras's TerminateOnNaN the epoch ends
    as usual and the backup of that epoch holds NaN weights."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.ones((8, 2), "float32")
    y = np.array([1, 1, 1, np.nan, 1, 1, 1, 1], "float32")[:, None]  # batch 2 of 4 is NaN
    backup = callbacks.ResumableBackup(tmp_path / "backup")
    model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0,
              callbacks=[keras.callbacks.TerminateOnNaN(), backup])
    epoch, path = backup.latest()
    assert epoch == 1
    model.load_weights(path)
    assert np.isnan(model.get_weights()[0]).all()

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    stop = fault_tolerance.StopOnNonFiniteLoss(callbacks.ResumableBackup(tmp_path / "b2"))
    with pytest.raises(fault_tolerance.NonFiniteLoss, match="no epoch had finished") as caught:
        model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0,
                  callbacks=[stop, callbacks.ResumableBackup(tmp_path / "b2")])
    assert (caught.value.step, caught.value.step_in_epoch, caught.value.epoch) == (2, 2, 1)
    assert not (tmp_path / "b2").exists()


def test_a_workdir_under_a_file_fails_before_anything_is_written(tmp_path):
    cfg = load_config(config_file(tmp_path, deterministic=False))
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError, match=f"{blocker} is a file, not a folder"):
        train_lib.train_and_evaluate(cfg, blocker / "run", verbose=0)
    assert blocker.read_text() == ""


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root may write into a 0o500 folder (os.access says so, rightly)")
def test_a_read_only_parent_fails_before_anything_is_written(tmp_path):
    cfg = load_config(config_file(tmp_path, deterministic=False))
    parent = tmp_path / "read_only"
    parent.mkdir(mode=0o500)
    with pytest.raises(fault_tolerance.WorkdirNotWritable, match=str(parent)):
        train_lib.train_and_evaluate(cfg, parent / "run", verbose=0)
    assert not list(parent.iterdir())


def test_too_little_disk_space_is_reported_before_the_first_step(tmp_path, monkeypatch):
    import shutil

    cfg = load_config(config_file(tmp_path, deterministic=False))
    cfg["train"]["keep_checkpoints"] = 2
    # The MLP 192-32-10 of the config; SGD with momentum keeps one slot per weight.
    params = 192 * 32 + 32 + 32 * 10 + 10
    variables = 4 + 4 + 1  # kernels and biases, their momenta, the int64 step counter
    model_json = len(json.dumps(create_model(
        "mlp", input_shape=(8, 8, 3), classes=10, widths=(32,), dropout_rate=0.25,
        preprocessing="digits").get_config()))  # a .keras file holds it
    one_file = 4 * params + 4 * params + 8 + 4096 * variables + model_json
    copies = 1 + 2 + 2 + (2 * 2 + 1)  # model, checkpoint + temp, backup x 2, 2 x 2 kept + 1
    needed = int(1.25 * copies * one_file) + 16 * 2**20
    free = needed - 1
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(fault_tolerance.shutil, "disk_usage",
                        lambda path: usage._replace(free=free))
    workdir = tmp_path / "run"
    with pytest.raises(fault_tolerance.NotEnoughDiskSpace) as caught:
        train_lib.train_and_evaluate(cfg, workdir, verbose=0)
    message = str(caught.value)
    assert str(workdir) in message and f"{needed:,} bytes" in message
    assert f"{free:,} bytes" in message
    # Before the first step: no backup, checkpoint or history was written (TensorBoard's
    # callback opens its event file when it is given the model, before any callback runs).
    assert {p.name for p in workdir.iterdir()} <= {"config.json", "tensorboard"}
    monkeypatch.setattr(fault_tolerance.shutil, "disk_usage",
                        lambda path: usage._replace(free=needed))
    fault_tolerance.check_free_space(workdir, needed)  # exactly enough passes


@pytest.mark.parametrize("name, kwargs", [
    ("mlp", dict(input_shape=(8, 8, 3), widths=(32,))),
    ("resnet20", dict(input_shape=(8, 8, 3))),
])
def test_the_file_estimate_bounds_a_saved_file_within_1_3x(tmp_path, name, kwargs):
    """model_file_bytes bounds the real files from above: they hold the values of the
    weights and optimizer variables, an HDF5 header of 1.3-2.7 kB per variable
    (bounded by 4 kB) and, for .keras, the config JSON; so real <= estimate, and the
    headers' slack keeps the estimate within 1.3 x real even for many small variables."""
    model = create_model(name, classes=10, **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    model.optimizer.build(model.trainable_variables)
    estimate = fault_tolerance.model_file_bytes(model)
    _io.save_model_atomic(model, tmp_path / "m.keras")
    _io.save_weights_atomic(model, tmp_path / "m.weights.h5")
    for path in (tmp_path / "m.keras", tmp_path / "m.weights.h5"):
        real = path.stat().st_size
        assert real <= estimate <= 1.3 * real, (path.name, real, estimate)


def test_weights_that_turn_infinite_with_a_finite_loss_stop_the_run_at_the_epoch_end():
    # BatchNormalization's moving variance overflowing: unused by the training loss.
    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.BatchNormalization()])
    stop = fault_tolerance.StopOnNonFiniteLoss()
    stop.set_model(model)
    stop.set_params({"epochs": 3, "steps": 4})
    stop.on_epoch_end(0)  # finite: nothing happens
    model.layers[0].moving_variance.assign([np.inf])
    with pytest.raises(fault_tolerance.NonFiniteWeights,
                       match="end of epoch 2 of 3 the weights .*moving_variance") as caught:
        stop.on_epoch_end(1)
    assert caught.value.names == [model.layers[0].moving_variance.path]
