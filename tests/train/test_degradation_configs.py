"""The degradation experiment's four configs (He et al. 2016, Fig. 6; docs/training.md):
one recipe, the paper's CIFAR-10 one, that differs only in model.name."""

import copy
import importlib.util
import pathlib

import pytest

from kerascnn import registry
from kerascnn.train import train_lib

CONFIGS = pathlib.Path(__file__).resolve().parents[2] / "configs"
ARMS = {"plain20_digits": "plain20", "plain56_digits": "plain56",
        "degradation_digits": "resnet20", "resnet56_digits": "resnet56"}


def load(stem):
    spec = importlib.util.spec_from_file_location(stem, CONFIGS / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


@pytest.fixture(scope="module")
def configs():
    return {stem: train_lib.config_to_dict(load(stem)) for stem in ARMS}


def test_each_config_loads_checks_and_names_its_model(configs):
    for stem, model in ARMS.items():
        cfg = configs[stem]
        train_lib.check_config(cfg)
        assert cfg["model"]["name"] == model, stem
        assert model in registry.list_models()


def test_the_four_differ_only_in_the_model_name(configs):
    def without_name(cfg):
        cfg = copy.deepcopy(cfg)
        del cfg["model"]["name"]
        return cfg

    reference = without_name(configs["degradation_digits"])
    for stem in ARMS:
        assert without_name(configs[stem]) == reference, stem


def test_the_recipe_is_the_papers_at_the_digits_scale(configs):
    """Sec. 4.2: SGD, batch 128, lr 0.1, momentum 0.9, weight decay 1e-4, lr / 10 at
    32k and 48k of 64k iterations; BN in every network (the builders'); crop
    augmentation only, so that the training error is not an augmentation's.
    The warmup (the paper's for ResNet-110 only) is the recipe's one deviation."""
    cfg = configs["degradation_digits"]
    t = cfg["train"]
    assert (t["optimizer"], t["batch_size"], t["learning_rate"], t["momentum"],
            t["weight_decay"], t["nesterov"]) == ("sgd", 128, 0.1, 0.9, 1e-4, False)
    assert (t["warmup_epochs"], t["schedule"], t["lr_decay_rate"]) == (2.0, "step", 0.1)
    assert [e / t["epochs"] for e in t["lr_decay_epochs"]] == [32000 / 64000, 48000 / 64000]
    assert (t["label_smoothing"], t["clip_norm"], t["l1"]) == (0.0, 0.0, 0.0)
    assert t["eval_every_epoch"]  # the test-error curves
    a = cfg["augment"]
    assert (a["crop"], a["padding"], a["flip"], a["policy"], a["mix"]) == (
        "pad_crop", 1, False, "none", "none")
    assert (a["rotation"], a["translation"], a["cutout"], a["random_erasing"]) == (0, 0, 0, 0)
    assert (cfg["data"]["name"], cfg["data"]["image_size"]) == ("digits", 16)


def test_the_quick_start_keeps_its_own_recipe(configs):
    quick = train_lib.config_to_dict(load("resnet20_digits"))
    assert quick["augment"]["policy"] == "trivial_augment"
    assert quick["train"]["schedule"] == "cosine" != configs["degradation_digits"]["train"][
        "schedule"]
