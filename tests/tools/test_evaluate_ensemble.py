"""Ensembles of a run end to end: checkpoints kept in training, `tools/evaluate.py
--ensemble`, runs, and Monte Carlo dropout (issue 13, item 6)."""

import csv
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from kerascnn import _io, train
from kerascnn.evaluate import ensemble
from kerascnn.train import ensemble_runs, train_lib

REPO = pathlib.Path(__file__).resolve().parents[2]
KEEP, EPOCHS = 2, 3


def mlp_config():
    """An MLP with dropout on digits at 16x16, 3 epochs: about 4 s, top-1 about 0.9."""
    config = train.default_config()
    config.model.name = "mlp"
    config.model.kwargs.widths = (128,)
    config.model.kwargs.dropout_rate = 0.3
    config.data.image_size = 16
    config.augment.padding = 2
    config.augment.flip = False
    config.train.epochs = EPOCHS
    config.train.batch_size = 64
    config.train.learning_rate = 0.05
    config.train.keep_checkpoints = KEEP
    config.train.eval_every_epoch = True
    return config


def test_a_run_with_kept_checkpoints_through_every_ensemble(tmp_path):
    """Everything that needs the trained run, in one test: a module fixture would be
    trained once per xdist worker."""
    run = tmp_path / "run"
    train.train_and_evaluate(mlp_config(), run, verbose=0)
    _the_run_keeps_the_last_and_the_best_checkpoints(run)
    _mc_dropout_is_less_sure_of_noise_than_of_digits(run)
    (tmp_path / "tool").mkdir()
    _evaluate_tool_averages_the_last_checkpoints(run, tmp_path / "tool")
    (tmp_path / "runs").mkdir()
    _an_ensemble_of_runs_and_bad_requests(run, tmp_path / "runs")


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _the_run_keeps_the_last_and_the_best_checkpoints(run):
    with open(run / "history.csv") as f:
        values = [float(row["val_top1"]) for row in csv.DictReader(f)]
    assert len(values) == EPOCHS
    epochs = range(1, EPOCHS + 1)
    best = sorted(epochs, key=lambda e: (values[e - 1], e))[-KEEP:]
    kept = sorted(set(epochs[-KEEP:]) | set(best))
    assert sorted(p.name for p in (run / "checkpoints").glob("epoch_*.keras")) == [
        f"epoch_{e:03d}.keras" for e in kept]
    index = json.loads((run / "checkpoints" / "index.json").read_text())
    assert [e["epoch"] for e in index["checkpoints"]] == kept
    np.testing.assert_allclose([e["val_top1"] for e in index["checkpoints"]],
                               [values[e - 1] for e in kept], rtol=1e-6)


def _mc_dropout_is_less_sure_of_noise_than_of_digits(run):
    """The done-when: the mean predictive entropy H[mean p] of T = 20 passes is higher on
    uniform-noise images than on the test digits."""
    report, _ = ensemble_runs.mc_dropout_run(run, passes=20, seed=0)
    _, model = train_lib.load_run(run)
    noise = np.random.default_rng(0).uniform(0, 255, size=(360, 16, 16, 3)).astype("float32")
    on_noise = ensemble.mc_dropout_predict(model, [(noise, np.zeros(360, int))], passes=20, seed=0)
    digits = report["mc_dropout"]["mean_entropy"]
    assert report["num_examples"] == 360 and report["mc_dropout"]["top1"] > 0.7
    assert on_noise.entropy.mean() > digits + 0.3, (on_noise.entropy.mean(), digits)
    assert on_noise.entropy.max() <= np.log(10) + 1e-9


def _evaluate_tool_averages_the_last_checkpoints(run, tmp_path):
    out = tmp_path / "report.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "evaluate.py"), f"--workdir={run}",
         f"--ensemble=last:{KEEP}", f"--output={out}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    names = [f"epoch_{e:03d}.keras" for e in range(EPOCHS - KEEP + 1, EPOCHS + 1)]
    assert [m["name"] for m in report["members"]] == names
    # the NumPy reference: each checkpoint's logits on the test pipeline, softmax, mean
    cfg, _ = train_lib.load_run(run)
    images, labels = zip(*train_lib.eval_dataset(cfg, train_lib.dataset_info(cfg)))
    images, labels = np.concatenate(images), np.concatenate(labels).argmax(-1)
    probs = [np_softmax(np.asarray(_io.load_model(run / "checkpoints" / n).predict(
        images, verbose=0), np.float64)) for n in names]
    for member, p in zip(report["members"], probs):
        assert member["top1"] == pytest.approx(np.mean(p.argmax(-1) == labels))
    mean = sum(probs) / KEEP
    assert report["ensemble"]["top1"] == pytest.approx(np.mean(mean.argmax(-1) == labels))
    assert report["ensemble"]["nll"] == pytest.approx(
        -np.mean(np.log(mean[np.arange(len(labels)), labels])), rel=1e-4)
    assert report["num_examples"] == 360 and "top5" in report["ensemble"]
    assert pathlib.Path(report["reliability_png"]) == run / "reliability_test_last.png"
    assert (run / "reliability_test_last.png").stat().st_size > 0


def _an_ensemble_of_runs_and_bad_requests(run, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(run, twin)
    report, _ = ensemble_runs.run_ensemble([run, twin])
    # two copies of one model: the mean of two equal softmaxes is that softmax
    assert report["ensemble"]["top1"] == report["members"][0]["top1"]
    assert report["ensemble"]["ece"] == pytest.approx(report["members"][1]["ece"])
    with pytest.raises(ValueError, match="listed twice"):
        ensemble_runs.run_ensemble([run, run])
    with pytest.raises(ValueError, match=r"best:5 asks for 5 checkpoints"):
        ensemble_runs.evaluate_ensemble(run, "best:5")
    for spec in ("last", "last:0", "top:3", "mc_dropout:x", "runs:"):
        with pytest.raises(ValueError, match="last:K, best:K, runs:DIR|integer >= 1"):
            ensemble_runs.parse_ensemble(spec)
    assert ensemble_runs.parse_ensemble("runs:a, b") == ("runs", ["a", "b"])


def test_the_tool_checks_specs_as_the_library_does():
    """tools/evaluate.py validates --ensemble at flag parsing with its own copy of the
    kinds; its validator and `parse_ensemble` accept the same specs."""
    import ast

    tree = ast.parse((REPO / "tools" / "evaluate.py").read_text())
    kinds = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and node.targets[0].id == "ENSEMBLE_KINDS")
    assert kinds == ensemble_runs.KINDS
    function = next(node for node in tree.body
                    if isinstance(node, ast.FunctionDef) and node.name == "_valid_ensemble")
    namespace = {"ENSEMBLE_KINDS": kinds}
    exec(compile(ast.Module([function], []), "evaluate.py", "exec"), namespace)
    for spec in ("last:3", "best:1", "mc_dropout:30", "runs:a,b", "runs:a", "last:0", "last:",
                 "best:-1", "mc_dropout:x", "top:3", "runs:", "runs:,", "last", ""):
        try:
            ensemble_runs.parse_ensemble(spec)
            accepted = True
        except ValueError:
            accepted = False
        assert namespace["_valid_ensemble"](spec) == accepted, spec
