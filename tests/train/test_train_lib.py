"""The training spine: a config in, files and metrics out; errors before training."""

import json
import re
import math

import numpy as np
import pytest

import keras
from kerascnn import data, train
from kerascnn.train import train_lib


def tiny_config(**overrides):
    """ResNet-20 on digits at 16x16 for 2 epochs: seconds, and well above chance."""
    config = train.default_config()
    config.model.name = "resnet20"
    config.model.kwargs.preprocessing = "dataset"
    config.data.image_size = 16
    config.augment.padding = 2
    config.augment.flip = False
    config.train.epochs = 2
    config.train.batch_size = 64
    config.train.learning_rate = 0.05
    config.train.weight_decay = 5e-4
    config.train.eval_every_epoch = False
    cfg = train_lib.config_to_dict(config)
    for dotted, value in overrides.items():
        section, key = dotted.split(".", 1)
        cfg[section][key] = value
    return cfg


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    result = train.train_and_evaluate(tiny_config(), workdir, verbose=0)
    return result, workdir


def test_train_writes_every_artifact(trained):
    result, workdir = trained
    for name in ("config.json", "checkpoint.keras", "model.keras", "metrics.json", "history.csv",
                 "curves.png"):
        assert (workdir / name).exists(), name
    assert (workdir / "tensorboard").is_dir()
    assert not (workdir / "backup").exists()  # removed once the final model is saved
    assert json.loads((workdir / "config.json").read_text()) == tiny_config()
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert set(metrics) >= {"top1", "top5", "loss", "num_examples"}
    assert metrics["num_examples"] == 360
    assert metrics["top1"] > 0.5  # 2 epochs; chance is 0.1
    assert metrics["top5"] >= metrics["top1"]
    assert metrics["trainable_params"] == 269_722  # resnet20, 10 classes
    # The notes' check at the start: ResNet-20's untrained logits give about ln 10.
    assert metrics["expected_initial_loss"] == round(math.log(10), 4)
    assert 0.5 * math.log(10) < metrics["initial_loss"] < 3 * math.log(10)


def test_int8_benchmark_compares_both_quantizers_on_the_run(trained, capsys):
    """`tools/benchmark.py int8 --workdir=RUN`: Keras, LiteRT float32, the converter's and
    litert-quantizer's int8 files on the run's test images."""
    import importlib.util
    import pathlib
    import sys

    tools = pathlib.Path(__file__).resolve().parents[2] / "tools"
    sys.path.insert(0, str(tools))  # benchmark_int8 imports its sibling benchmark_tflite
    try:
        spec = importlib.util.spec_from_file_location("benchmark_int8", tools / "benchmark_int8.py")
        suite = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(suite)
        _, workdir = trained
        suite.int8(str(workdir), runs=50, threads=1)
    finally:
        sys.path.remove(str(tools))
    out = capsys.readouterr().out
    assert "calibrated on 300 training images, compared on 360 test images" in out
    rows = {m.group(1): [float(v) for v in m.group(2, 3, 4, 5)] + [m.group(6), m.group(7)]
            for m in re.finditer(r"^(keras float32|litert float32|converter int8|"
                                 r"litert-quantizer int8)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)"
                                 r"\s+([0-9.]+)\s+(\S+)\s+(?:yes|no|-)\s+(yes|no)$", out, re.M)}
    assert list(rows) == ["keras float32", "litert float32", "converter int8",
                          "litert-quantizer int8"]
    metrics = json.loads((workdir / "metrics.json").read_text())
    # Keras's top-1 on the 360 test digits is the run's own evaluation, but for the images
    # going in rounded to uint8 (as into every file), which may move a prediction or two.
    assert rows["keras float32"][0] == pytest.approx(metrics["top1"], abs=2.5 / 360)
    assert rows["litert float32"][1] == 1.0 and rows["litert float32"][2] < 1e-3
    for path in ("converter int8", "litert-quantizer int8"):
        top1, agreement, diff, ms, mb, builtin = rows[path]
        assert agreement >= 0.9 and builtin == "yes" and ms > 0
        assert float(mb) < 0.4 * float(rows["litert float32"][4])  # int8 weights
        assert abs(top1 - rows["keras float32"][0]) <= 1 - agreement + 1e-4


def test_metrics_agree_with_an_independent_evaluation(trained):
    result, _ = trained
    ds = data.eval_pipeline(data.load("digits", "test"), batch_size=100, image_size=16,
                            num_classes=10)
    images = np.concatenate([x.numpy() for x, _ in ds])
    labels = np.concatenate([y.numpy().argmax(-1) for _, y in ds])
    logits = np.asarray(result.model.predict(images, verbose=0))
    assert result.metrics["top1"] == pytest.approx(np.mean(logits.argmax(-1) == labels))


def test_schedule_and_history(trained):
    result, workdir = trained
    lines = (workdir / "history.csv").read_text().strip().splitlines()
    header = lines[0].split(",")
    assert "learning_rate" in header and "top1" in header
    assert len(lines) == 1 + 2
    steps = math.ceil(1437 / 64)
    assert int(result.model.optimizer.iterations.numpy()) == 2 * steps
    # cosine to 0 over 2 epochs: after epoch 1 the rate is base * (1 + cos(pi / 2)) / 2
    lr_epoch1 = float(lines[1].split(",")[header.index("learning_rate")])
    assert lr_epoch1 == pytest.approx(0.05 * 0.5, rel=1e-4)


def test_finished_run_is_loaded_not_retrained(trained):
    _, workdir = trained
    before = (workdir / "model.keras").stat().st_mtime_ns
    again = train.train_and_evaluate(tiny_config(), workdir, verbose=0)
    assert again.already_done
    assert (workdir / "model.keras").stat().st_mtime_ns == before


def test_workdir_of_another_config_is_refused(trained):
    _, workdir = trained
    with pytest.raises(ValueError, match=r"another config.*train.epochs: 2 -> 3"):
        train.train_and_evaluate(tiny_config(**{"train.epochs": 3}), workdir, verbose=0)


def test_a_run_saved_with_the_old_eval_key_still_loads_and_resumes(trained, tmp_path):
    import shutil

    _, workdir = trained
    old = tmp_path / "old_run"
    shutil.copytree(workdir, old)
    cfg = json.loads((old / "config.json").read_text())
    cfg["augment"]["eval_resize"] = cfg.pop("eval")["resize"]  # the layout before config.eval
    (old / "config.json").write_text(json.dumps(cfg))
    loaded, _ = train.load_run(old)
    assert loaded == tiny_config()
    assert train_lib.evaluate_run(old)["num_examples"] == 360
    again = train.train_and_evaluate(tiny_config(), old, verbose=0)  # not "another config"
    assert again.already_done
    assert json.loads((old / "config.json").read_text()) == tiny_config()


def test_load_run_and_missing_checkpoint(trained, tmp_path):
    _, workdir = trained
    cfg, model = train.load_run(workdir)
    assert cfg["model"]["name"] == "resnet20" and model.output_shape == (None, 10)
    with pytest.raises(FileNotFoundError, match="not a kerascnn run folder"):
        train.load_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.keras does not exist"):
        train.load_run(workdir, checkpoint=tmp_path / "nope.keras")


@pytest.mark.parametrize("overrides, error, match", [
    ({"model.name": "resnet21"}, ValueError, "Unknown model 'resnet21'.*Closest"),
    ({"data.name": "digitz"}, ValueError, "digitz"),
    ({"train.epochs": 0}, ValueError, "config.train.epochs must be an integer >= 1"),
    ({"train.schedule": "linear"}, ValueError, "config.train.schedule must be one of"),
    ({"train.epoch": 3}, ValueError, r"Unknown key\(s\) config.train.epoch"),
    ({"augment.crop": "center"}, ValueError, "crop"),
    ({"model.kwargs": {"input_shape": [64, 64, 3]}}, ValueError, "do not fit|takes"),
    ({"model.kwargs": {"classes": 1}}, ValueError, "sets 1 classes but dataset 'digits' has 10"),
    ({"model.kwargs": {"depth": 3}}, ValueError, r"fixes depth=20; it cannot be passed"),
    ({"model.kwargs": {"widen": 3}}, ValueError, r"unknown argument\(s\) \['widen'\]"),
    ({"augment.pca_basis": "cifar"}, ValueError, "pca_basis 'cifar'; allowed: imagenet, dataset"),
    ({"eval.resize": "crop"}, ValueError, "resize 'crop'; allowed: resize, center_crop"),
])
def test_bad_input_fails_before_training(overrides, error, match, tmp_path, monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(keras.Model, "fit", no_fit)
    with pytest.raises(error, match=match):
        train.train_and_evaluate(tiny_config(**overrides), tmp_path / "w", verbose=0)


def test_config_files_load_and_match_the_papers():
    import importlib.util
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "configs"
    configs = {}
    for path in sorted(root.glob("*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cfg = module.get_config()
        assert cfg.is_locked, path.name
        assert "python tools/train.py --config=configs/" + path.name in module.__doc__
        plain = train_lib.config_to_dict(cfg)
        train_lib.check_config(plain)
        configs[path.stem] = plain
    assert set(configs) >= {"resnet20_digits", "resnet20_cifar10", "resnet110_cifar10",
                            "resnet50_imagenet"}
    # He et al. 2016, Sec. 4.2: batch 128, lr 0.1, momentum 0.9, wd 1e-4, lr / 10 at
    # 32k and 48k iterations, 64k in all; 50,000 images / 128 = 391 iterations an epoch.
    for name in ("resnet20_cifar10", "resnet110_cifar10"):
        t = configs[name]["train"]
        assert (t["batch_size"], t["learning_rate"], t["momentum"], t["weight_decay"]) == (
            128, 0.1, 0.9, 1e-4)
        assert t["schedule"] == "step" and t["lr_decay_rate"] == 0.1
        assert [round(e * 391) for e in t["lr_decay_epochs"]] == [32000, 48000]
        assert t["epochs"] * 391 >= 64000 > (t["epochs"] - 1) * 391
        a = configs[name]["augment"]
        assert (a["crop"], a["padding"], a["flip"], configs[name]["eval"]["resize"]) == (
            "pad_crop", 4, True, "resize")
        # The paper's recipe has no policy or mixing; the keys are there to switch on.
        assert (a["policy"], a["mix"]) == ("none", "none")
        assert not any(a[k] for k in ("vertical_flip", "rotation", "translation", "brightness",
                                      "contrast", "saturation", "hue", "pca_lighting", "noise",
                                      "cutout", "random_erasing", "keras_cv"))
    assert configs["resnet110_cifar10"]["model"]["name"] == "resnet110"
    # Sec. 3.4: batch 256, lr 0.1 / 10 every 30 epochs (90 in all), scale augmentation.
    t = configs["resnet50_imagenet"]["train"]
    assert (t["batch_size"], t["learning_rate"], t["epochs"]) == (256, 0.1, 90)
    assert t["lr_decay_epochs"] == [30, 60]
    assert configs["resnet50_imagenet"]["augment"]["crop"] == "scale_aug"
