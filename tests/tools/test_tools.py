"""The absl tools end to end: kill training mid-epoch, resume, evaluate, export."""

import json
import math
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
EPOCHS, BATCH = 3, 32
TINY = [
    "--config=configs/resnet20_digits.py",
    f"--config.train.epochs={EPOCHS}",
    f"--config.train.batch_size={BATCH}",
    "--config.train.eval_every_epoch=False",
    # These tests check the tools, not accuracy: no policy, so that 3 epochs
    # reach 0.8 surely. The policies' resume behaviour is tested in
    # tests/data/test_pipeline_augment.py.
    "--config.augment.policy=none",
]


def tool(name, *args, **kwargs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / f"{name}.py"), *args], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=600, **kwargs,
    )


@pytest.mark.slow
def test_sigkill_resume_evaluate_export(tmp_path):
    workdir = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.Popen(
        [sys.executable, "tools/train.py", *TINY, f"--workdir={workdir}"], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    state = workdir / "backup" / "state.json"
    deadline = time.time() + 300
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert state.exists(), "no epoch finished"
    time.sleep(0.5)  # well inside the next epoch (about 3 s at 16x16, batch 32)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(state.read_text())["epoch"]
    assert 1 <= killed_at < EPOCHS
    assert not (workdir / "model.keras").exists()

    again = tool("train", *TINY, f"--workdir={workdir}")
    assert again.returncode == 0, again.stderr[-3000:]
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == killed_at
    assert metrics["top1"] > 0.8
    assert "test top1" in again.stdout and str(workdir / "model.keras") in again.stdout

    # The optimizer's step counter (and so the learning rate) went on from the
    # backup rather than restarting: all EPOCHS epochs' steps are counted.
    import keras

    import kerascnn  # noqa: F401  (registers the layers the .keras file names)

    model = keras.saving.load_model(workdir / "model.keras")
    assert int(model.optimizer.iterations.numpy()) == EPOCHS * math.ceil(1437 / BATCH)
    history = (workdir / "history.csv").read_text().strip().splitlines()[1:]
    epochs = [int(line.split(",")[0]) for line in history]
    assert epochs[-(EPOCHS - killed_at):] == list(range(killed_at, EPOCHS))

    evaluated = tool("evaluate", f"--workdir={workdir}")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.loads(evaluated.stdout[evaluated.stdout.index("{"):])
    assert report["top1"] == pytest.approx(metrics["top1"])

    exported = tool("export", f"--workdir={workdir}", f"--export_root={tmp_path / 'saved'}",
                    "--quantization=int8")
    assert exported.returncode == 0, exported.stderr[-3000:]
    # The quantizer's and LiteRT's lines are filtered (kerascnn_cli.NOISE).
    assert "fully_quantize" not in exported.stderr and "XNNPACK" not in exported.stderr
    version = tmp_path / "saved" / "resnet20_digits" / "1"
    for name in ("saved_model.pb", "model.keras", "model_float32.tflite", "metadata.json"):
        assert (version / name).exists(), name
        assert str(version / name) in exported.stdout or name == "saved_model.pb"
    meta = json.loads((version / "metadata.json").read_text())
    assert meta["metrics"]["top1"] == pytest.approx(metrics["top1"])
    assert meta["config"]["model"]["name"] == "resnet20"
    for kind in ("saved_model", "tflite"):
        assert meta["parity"][kind]["num_images"] == 64
        assert meta["parity"][kind]["max_abs_diff"] < 1e-4
        assert meta["parity"][kind]["top1_agreement"] == 1.0
    assert (version / "model_int8.tflite").exists()
    assert meta["parity"]["tflite_int8"]["top1_agreement"] >= 0.98
    assert meta["files"]["tflite_int8"]["input_dtype"] == "uint8"


def test_bad_override_and_missing_run_fail_fast(tmp_path):
    bad = tool("train", "--config=configs/resnet20_digits.py", f"--workdir={tmp_path}",
               "--config.train.epoch=3")
    assert bad.returncode != 0 and "epoch" in bad.stderr
    missing = tool("export", f"--workdir={tmp_path / 'none'}")
    assert missing.returncode != 0 and "is not a kerascnn run folder" in missing.stderr




@pytest.mark.slow
def test_quick_start_reaches_its_accuracy(tmp_path):
    """configs/resnet20_digits.py as the README runs it: >= 98.5 % test top-1."""
    import importlib.util

    from kerascnn import train

    spec = importlib.util.spec_from_file_location("c", REPO / "configs" / "resnet20_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = train.train_and_evaluate(module.get_config(), tmp_path, verbose=0)
    assert result.metrics["top1"] >= 0.985


def test_show_augment_writes_a_grid(tmp_path):
    import numpy as np
    from PIL import Image

    out = tmp_path / "grid.png"
    run = tool("show_augment", "--policy=op:rotate", "--magnitudes=0,1", "--num_images=2",
               f"--output={out}")
    assert run.returncode == 0, run.stderr[-3000:]
    grid = np.asarray(Image.open(out))
    # 2 rows x (original + 2 magnitudes) cells of 32x32 upscaled 3x, 2-pixel gutters.
    assert grid.shape == (2 * 98 + 2, 3 * 98 + 2, 3)
    cell = lambda r, c: grid[2 + 98 * r : 98 * (r + 1), 2 + 98 * c : 98 * (c + 1)]  # noqa: E731
    for r in range(2):
        np.testing.assert_array_equal(cell(r, 1), cell(r, 0))  # m = 0 is the identity
        assert not np.array_equal(cell(r, 2), cell(r, 0))  # m = 1 rotates by 30 degrees
    assert not list(tmp_path.glob(".*tmp"))
    bad = tool("show_augment", "--policy=op:spin", f"--output={tmp_path / 'x.png'}")
    assert bad.returncode != 0 and "spin" in bad.stderr and not (tmp_path / "x.png").exists()


def test_evaluate_with_test_time_augmentation(tmp_path):
    bad = tool("evaluate", f"--workdir={tmp_path / 'none'}", "--tta=bogus")
    assert bad.returncode != 0
    assert "ten_crop" in bad.stderr and "multi_scale_ten_crop" in bad.stderr
    assert "is not a kerascnn run folder" not in bad.stderr  # failed before loading

    workdir = tmp_path / "run"
    # The config's 1-epoch warmup is capped at half of training: epochs=1 runs as it is.
    trained = tool("train", *TINY, "--config.train.epochs=1", f"--workdir={workdir}")
    assert trained.returncode == 0, trained.stderr[-3000:]
    out = tmp_path / "tta.json"
    evaluated = tool("evaluate", f"--workdir={workdir}", "--tta=ten_crop", f"--output={out}")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.loads(evaluated.stdout[evaluated.stdout.index("{"):])
    assert 0 <= report["top1"] <= 1 and report["views"] == 10 and report["examples"] == 360
    # per class, and the confusion matrix drawn beside the run
    assert len(report["per_class_top1"]) == 10
    assert report["confusion_png"] == str(workdir / "confusion_test_ten_crop.png")
    assert (workdir / "confusion_test_ten_crop.png").exists()
    assert json.loads(out.read_text()) == report


def test_inspect_init_experiment_writes_the_histograms(tmp_path):
    """tools/inspect_net.py init_experiment: the per-layer table and the PNG."""
    from PIL import Image

    out = tmp_path / "init.png"
    run = tool("inspect_net", "init_experiment", "--width=256", "--layers=3", f"--output={out}")
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line.split() for line in run.stdout.splitlines()
            if line.startswith(("tanh ", "relu "))]
    assert [row[:2] for row in rows] == [["tanh", "0.01"], ["tanh", "0.05"], ["tanh", "xavier"],
                                         ["relu", "xavier"], ["relu", "kaiming"]]
    assert len(rows[0]) == 2 + 2 * 3  # three layers, "mean/ std" each
    assert Image.open(out).size[0] > 0 and not list(tmp_path.glob(".*tmp"))
    bad = tool("inspect_net", "weights")
    assert bad.returncode != 0 and "subcommands: init_experiment" in bad.stderr
    filters = tmp_path / "filters.png"
    run = tool("inspect_net", "filters", "--model=alexnet", f"--output={filters}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "the 96 kernels of" in run.stdout and "(11x11)" in run.stdout
    assert Image.open(filters).size == (10 * 23 + 1, 10 * 23 + 1)  # 96 in 10 x 10, 11 x 2


def test_lr_find_prints_a_suggestion_and_writes_the_plot(tmp_path):
    """tools/lr_find.py on the quick start's config (20 steps: the mechanics; the README
    quotes the 200-step result)."""
    out = tmp_path / "lr.png"
    digits = f"--config={REPO / 'configs' / 'resnet20_digits.py'}"
    run = tool("lr_find", digits, "--steps=20", "--min_lr=1e-3", "--max_lr=1", f"--output={out}")
    assert run.returncode == 0, run.stderr[-3000:]
    suggested = float(re.search(r"suggested learning rate: ([0-9.e+-]+)", run.stdout).group(1))
    lowest = float(re.search(r"at lr ([0-9.e+-]+)", run.stdout).group(1))
    assert suggested == pytest.approx(lowest / 10, rel=0.01) and 1e-4 <= suggested <= 0.1
    assert "config's learning rate:  0.05" in run.stdout and out.exists()
