"""A run that fails its checks leaves the workdir as it was, and `--config.train.epochs=1`
runs every shipped config (issue 10, findings 3 and 4)."""

import copy
import importlib.util
import pathlib

import numpy as np
import pytest
from PIL import Image

from kerascnn.train import config as config_lib
from kerascnn.train import export_config, train_lib

REPO = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.py"))


def load_config(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def digits_config():
    cfg = train_lib.config_to_dict(load_config(REPO / "configs" / "resnet20_digits.py"))
    cfg["train"]["epochs"] = 1
    cfg["augment"]["policy"] = "none"
    return cfg


def image_folder(root, classes, per_class=5):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(root / c / f"{i}.png")
    return root


def _set(section, key, value):
    def change(cfg, tmp_path):
        cfg[section][key] = value
    return change


def _one_class_folder(cfg, tmp_path):
    cfg["data"]["name"] = f"folder:{image_folder(tmp_path / 'one', ['cat'])}"


def _model_argument(cfg, tmp_path):
    cfg["model"]["kwargs"]["depth_multiplier"] = 2


def _input_shape(cfg, tmp_path):
    cfg["model"]["kwargs"]["input_shape"] = (32, 32, 3)  # the data are 16x16


FAILED_STARTS = {
    "config value": (_set("train", "learning_rate", -1.0), "learning_rate must be > 0"),
    "unknown model": (_set("model", "name", "resnet21"), "resnet21"),
    "missing data": (_set("data", "name", "folder:/nonexistent/images"), "/nonexistent/images"),
    "augmentation": (_set("augment", "policy", "trivial"), "trivial"),
    "model argument": (_model_argument, "depth_multiplier"),
    "input shape": (_input_shape, "image_size"),
    "one class": (_one_class_folder, r"has 1 class \('cat'\), but a classifier needs at least 2"),
}


@pytest.mark.parametrize("case", sorted(FAILED_STARTS))
def test_a_failed_start_writes_nothing(tmp_path, case):
    change, match = FAILED_STARTS[case]
    cfg = digits_config()
    change(cfg, tmp_path)
    workdir = tmp_path / "run"
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        train_lib.train_and_evaluate(cfg, workdir, verbose=0)
    assert not workdir.exists()
    workdir.mkdir()  # a folder the user made: still empty after the failure
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        train_lib.train_and_evaluate(cfg, workdir, verbose=0)
    assert list(workdir.iterdir()) == []


def test_the_corrected_command_runs_in_the_same_workdir(tmp_path):
    cfg = digits_config()
    folder = image_folder(tmp_path / "images", ["cat"])
    cfg["data"]["name"] = f"folder:{folder}"
    cfg["data"]["image_size"] = 8
    cfg["train"]["batch_size"] = 4
    workdir = tmp_path / "run"
    with pytest.raises(ValueError, match=f"image folder {folder} has 1 class sub-folder"):
        train_lib.train_and_evaluate(cfg, workdir, verbose=0)
    image_folder(folder, ["dog"])
    result = train_lib.train_and_evaluate(cfg, workdir, verbose=0)  # no "another config"
    assert (workdir / train_lib.CONFIG_FILE).exists() and not result.already_done
    assert result.metrics["dataset"] == f"folder:{folder}"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_one_epoch_runs_every_shipped_config(path):
    """The checks and the schedule accept epochs=1; the warmup is
    min(warmup_epochs, epochs / 2) epochs."""
    config = load_config(path)
    config.train.epochs = 1
    cfg = train_lib.config_to_dict(config)
    train_lib.check_config(cfg)
    steps_per_epoch = 40
    schedule = train_lib.make_schedule(cfg, steps_per_epoch)
    expected = round(min(config.train.warmup_epochs, 0.5) * steps_per_epoch)
    assert schedule.warmup_steps == expected
    assert schedule.total_steps == steps_per_epoch
    lr = [float(schedule(step)) for step in range(steps_per_epoch)]
    assert max(lr) <= config.train.learning_rate * (1 + 1e-6) and all(np.isfinite(lr))
    if expected:
        assert lr[0] == 0.0 and lr[expected] == pytest.approx(config.train.learning_rate)


def test_warmup_is_capped_at_half_of_training():
    cfg = train_lib.config_to_dict(config_lib.default_config())
    cfg["train"].update(epochs=4, warmup_epochs=3.0)
    assert train_lib.warmup_epochs(cfg) == 2.0
    cfg["train"].update(warmup_epochs=1.5)
    assert train_lib.warmup_epochs(cfg) == 1.5
    cfg["train"].update(warmup_epochs=-1.0)
    with pytest.raises(ValueError, match="warmup_epochs must be >= 0, got -1.0"):
        train_lib.check_config(cfg)


def test_a_misspelt_key_names_the_closest():
    cfg = train_lib.config_to_dict(config_lib.default_config())
    bad = copy.deepcopy(cfg)
    bad["train"]["epoch"] = bad["train"].pop("epochs")
    with pytest.raises(ValueError, match=r"config.train.epoch .*did you mean config.train.epochs\?"):
        train_lib.check_config(bad)
    bad = copy.deepcopy(cfg)
    bad["trian"] = bad.pop("train")
    with pytest.raises(ValueError, match=r"did you mean train\?"):
        train_lib.check_config(bad)


def test_the_export_name_and_class_names_come_from_the_run(tmp_path):
    cfg = digits_config()
    assert export_config.export_name(cfg) == "resnet20_digits"
    kwargs = export_config.export_kwargs(cfg)
    assert kwargs["name"] == "resnet20_digits"
    assert kwargs["class_names"] == tuple("0123456789")
    assert kwargs["sample_images"].shape == (64, 16, 16, 3)
    assert kwargs["sample_images"].dtype == np.uint8

    folder = image_folder(tmp_path / "flowers", ["tulip", "daisy", "rose"])
    cfg["data"]["name"] = f"folder:{folder}/"
    assert export_config.export_name(cfg) == "resnet20_flowers"
    assert export_config.export_kwargs(cfg)["class_names"] == ("daisy", "rose", "tulip")

    cfg["data"]["name"] = "imagenette/320px-v2"
    assert export_config.export_name(cfg) == "resnet20_imagenette_320px-v2"
    cfg["export"]["name"] = "my_model"
    assert export_config.export_name(cfg) == "my_model"


def test_tfds_label_names_are_the_class_names(tmp_path):
    """A prepared TFDS dataset stores its label names in its metadata files
    (CIFAR-10's come from its batches.meta.txt when TFDS prepares it); the
    export takes them from there."""
    import tensorflow_datasets as tfds

    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]  # CIFAR-10's, in label order (Krizhevsky 2009)
    builder = tfds.builder("cifar10", data_dir=str(tmp_path))
    builder.info.features["label"].names = names
    builder.info.set_splits(tfds.core.SplitDict([
        tfds.core.SplitInfo(name=s, shard_lengths=[n], num_bytes=0, filename_template=None)
        for s, n in {"train": 4, "test": 4}.items()]))
    builder.data_path.mkdir(parents=True)
    builder.info.write_to_directory(builder.data_dir)

    cfg = digits_config()
    cfg["data"].update(name="cifar10", data_dir=str(tmp_path))
    cfg["data"]["image_size"] = 32
    cfg["export"]["num_parity_images"] = 2
    with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_FILES, num_examples=4,
                                data_dir=str(tmp_path)):
        kwargs = export_config.export_kwargs(cfg)
    assert kwargs["class_names"] == tuple(names)
    assert kwargs["name"] == "resnet20_cifar10"
