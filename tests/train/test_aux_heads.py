"""GoogLeNet's auxiliary classifiers in training: the loss is main + 0.3 x each
auxiliary one (Szegedy et al. 2014, Sec. 5), and the run evaluates and saves
the main head (configs/googlenet_imagenet.py)."""

import importlib.util
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kerascnn
from kerascnn import evaluate, models
from kerascnn.train import aux_heads, train_lib

REPO = pathlib.Path(__file__).resolve().parents[2]
SIDE = 65  # the smallest input googlenet(aux_logits=True) takes


def googlenet_config():
    spec = importlib.util.spec_from_file_location("cfg", REPO / "configs" / "googlenet_imagenet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return train_lib.config_to_dict(module.get_config())


def cross_entropy(logits, onehot):
    """Softmax cross-entropy in NumPy (float64), the batch mean."""
    logits = np.asarray(logits, np.float64)
    log_p = logits - logits.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    return float(-(onehot * log_p).sum(-1).mean())


def test_the_config_is_the_papers_recipe():
    cfg = googlenet_config()
    assert cfg["model"]["name"] == "googlenet" and cfg["model"]["kwargs"]["aux_logits"] is True
    t = cfg["train"]
    assert t["aux_loss_weight"] == 0.3 and t["momentum"] == 0.9  # Sec. 5, Sec. 6
    # "decreasing the learning rate by 4% every 8 epochs"
    assert t["schedule"] == "step" and t["lr_decay_rate"] == 0.96
    assert list(t["lr_decay_epochs"]) == list(range(8, t["epochs"], 8))
    assert cfg["augment"]["crop"] == "random_resized_crop"  # 8-100 % of the area, 3/4-4/3


def test_compiled_loss_is_main_plus_weighted_auxiliaries():
    cfg = googlenet_config()
    cfg["train"]["aux_loss_weight"] = 0.3
    model = kerascnn.create_model("googlenet", aux_logits=True, num_classes=4,
                                  input_shape=(SIDE, SIDE, 3), aux_dropout_rate=0.0,
                                  dropout_rate=0.0)
    train_lib.compile_model(model, cfg, steps_per_epoch=10, num_classes=4)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (3, SIDE, SIDE, 3)).astype("float32")
    y = np.eye(4, dtype="float32")[[0, 2, 3]]
    outputs = [np.asarray(o) for o in model(x, training=False)]
    expected = sum(w * cross_entropy(o, y) for w, o in zip((1.0, 0.3, 0.3), outputs))
    result = model.evaluate(x, (y, y, y), verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(expected, rel=1e-4)
    # The accuracy is the main head's only.
    assert result["predictions_top1"] == pytest.approx(
        np.mean(outputs[0].argmax(-1) == y.argmax(-1)))
    assert not any(k.startswith("aux") and k.endswith("top1") for k in result)


def test_a_one_output_model_compiles_as_before():
    model = kerascnn.create_model("resnet20", num_classes=3, input_shape=(8, 8, 3))
    args = aux_heads.compile_arguments(model, "loss", ["m"], 0.3)
    assert args == {"loss": "loss", "metrics": ["m"]}
    ds = tf.data.Dataset.from_tensors((np.zeros((8, 8, 3)), 1))
    assert aux_heads.targets_per_head(model, ds) == (ds,)


def test_negative_weight_is_refused():
    cfg = googlenet_config()
    cfg["train"]["aux_loss_weight"] = -0.3
    with pytest.raises(ValueError, match=r"config.train.aux_loss_weight must be >= 0, got -0.3"):
        train_lib.check_config(cfg)


def image_folder(root, classes=("a", "b", "c"), per_class=4):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / c / f"{i}.png")
    return root


@pytest.mark.slow
def test_a_run_trains_all_heads_and_saves_the_main_one(tmp_path):
    cfg = googlenet_config()
    cfg["data"].update(name=f"folder:{image_folder(tmp_path / 'images')}", image_size=SIDE,
                       test_split="test")
    # A small rate: three steps on noise at the ImageNet rate can overflow the logits.
    cfg["train"].update(epochs=1, batch_size=4, eval_every_epoch=True, learning_rate=1e-3)
    workdir = tmp_path / "run"
    result = train_lib.train_and_evaluate(cfg, workdir, verbose=0)

    saved = kerascnn.load_model(workdir / "model.keras")
    assert len(saved.outputs) == 1 and saved.output_names == ["predictions"]
    full = kerascnn.load_model(workdir / "checkpoint.keras")  # resumes with every head
    assert full.output_names == ["predictions", "aux1_predictions", "aux2_predictions"]
    # The saved main head is the checkpoint's first output, weight for weight.
    x = np.random.default_rng(1).uniform(0, 255, (2, SIDE, SIDE, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(saved(x)), np.asarray(full(x)[0]), atol=1e-5)

    history = (workdir / "history.csv").read_text().splitlines()
    columns = history[0].split(",")
    assert {"loss", "predictions_loss", "aux1_predictions_loss", "aux2_predictions_loss",
            "val_loss"} <= set(columns), columns
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert np.isfinite(metrics["loss"]) and np.isfinite(metrics["final_train_loss"])
    assert metrics == result.metrics and metrics["num_examples"] == 12
    assert metrics["trainable_params"] == sum(
        int(np.prod(w.shape)) for w in saved.trainable_weights)
    # The reported metrics are the main head's (evaluate() on the 3-output model agrees).
    again = evaluate.evaluate(full, train_lib.eval_dataset(cfg, train_lib.dataset_info(cfg)))
    assert again["top1"] == metrics["top1"]
    assert again["loss"] == pytest.approx(metrics["loss"], rel=1e-5)
    assert models.main_head(full).output_names == ["predictions"]
    assert models.main_head(saved) is saved  # one output: unchanged
