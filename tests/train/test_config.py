"""Config keys are written once: `default_config()`; everything else derives or is tied here.

Adding an augmentation option is its default in `default_config()` plus the
keyword of `data.train_pipeline` that takes it; these tests fail if the two
disagree in name or default.
"""

import copy
import inspect

import pytest

from kerascnn import data
from kerascnn.train import default_config, train_lib

# The train_pipeline / eval_pipeline arguments the training library sets from
# other sections (data, train) or from the run, not from config.augment / config.eval.
TRAIN_PIPELINE_FROM_ELSEWHERE = {"ds", "batch_size", "image_size", "num_classes", "seed",
                                 "epochs", "initial_epoch", "shuffle_buffer", "drop_remainder",
                                 "full_batches"}
EVAL_PIPELINE_FROM_ELSEWHERE = {"ds", "batch_size", "image_size", "num_classes"}


def keyword_defaults(fn, leave_out):
    return {n: p.default for n, p in inspect.signature(fn).parameters.items()
            if n not in leave_out}


def test_augment_section_is_train_pipelines_keywords_with_its_defaults():
    config = train_lib.config_to_dict(default_config())["augment"]
    pipeline = keyword_defaults(data.train_pipeline, TRAIN_PIPELINE_FROM_ELSEWHERE)
    assert set(config) == set(pipeline)
    for key, value in config.items():
        expected = list(pipeline[key]) if isinstance(pipeline[key], tuple) else pipeline[key]
        assert value == expected, f"config.augment.{key}: {value!r} != {pipeline[key]!r}"


def test_eval_section_is_eval_pipelines_keywords_with_its_defaults():
    config = train_lib.config_to_dict(default_config())["eval"]
    assert config == keyword_defaults(data.eval_pipeline, EVAL_PIPELINE_FROM_ELSEWHERE)


def test_the_pipeline_takes_the_augment_section_as_it_is():
    # Every augment value reaches train_pipeline: a bad one is its error, not a lost key.
    cfg = train_lib.config_to_dict(default_config())
    cfg["data"]["image_size"] = 16
    cfg["augment"]["translation"] = 7.0
    info = train_lib.dataset_info(cfg)
    with pytest.raises(ValueError, match="translation must be a number in \\[0, 1\\], got 7.0"):
        train_lib.make_pipelines(cfg, info)


def test_required_keys_are_those_of_default_config():
    default = train_lib.config_to_dict(default_config())
    train_lib.check_config(default)
    sections = [s for s, keys in default.items() if isinstance(keys, dict)]
    assert set(sections) == {"model", "data", "augment", "eval", "train", "export", "transfer",
                             "runtime"}
    for section in sections:
        for key in default[section]:
            cfg = copy.deepcopy(default)
            del cfg[section][key]
            with pytest.raises(ValueError, match=rf"config.{section} lacks key\(s\) \['{key}'\]"):
                train_lib.check_config(cfg)
        cfg = copy.deepcopy(default)
        cfg[section]["not_a_key"] = 1
        with pytest.raises(ValueError, match=rf"Unknown key\(s\) config.{section}.not_a_key"):
            train_lib.check_config(cfg)
    cfg = copy.deepcopy(default)
    cfg["augmentation"] = {}
    with pytest.raises(ValueError, match="Unknown config key"):
        train_lib.check_config(cfg)
    # model.kwargs is the builder's: any key passes here (create_model checks it).
    cfg = copy.deepcopy(default)
    cfg["model"]["kwargs"] = {"anything": 1}
    train_lib.check_config(cfg)


@pytest.mark.parametrize("value", [-0.1, "fast", True, None])
def test_a_bad_decay_k_fails_before_training(value):
    from kerascnn.train import default_config, train_lib

    cfg = train_lib.config_to_dict(default_config())
    cfg["train"].update(schedule="exponential", lr_decay_k=value)
    with pytest.raises(ValueError, match=r"config.train.lr_decay_k must be a number >= 0, got "):
        train_lib.check_config(cfg)


def test_the_decay_k_is_per_epoch():
    """make_schedule turns k per epoch into k per step: after 3 epochs of 10 steps, e^(-0.3)."""
    import math

    from kerascnn.train import default_config, train_lib

    cfg = train_lib.config_to_dict(default_config())
    cfg["train"].update(schedule="exponential", lr_decay_k=0.1, learning_rate=0.5,
                        warmup_epochs=0.0, epochs=10)
    schedule = train_lib.make_schedule(cfg, steps_per_epoch=10)
    assert float(schedule(30)) == pytest.approx(0.5 * math.exp(-0.3), rel=1e-5)


@pytest.mark.parametrize("key, value, match", [
    ("l1", -1.0, r"config.train.l1 must be a number >= 0, got -1.0"),
    ("clip_norm", "big", r"config.train.clip_norm must be a number >= 0, got 'big'"),
    ("optimizer", "adagrad", r"config.train.optimizer must be one of \('sgd', 'rmsprop', 'adam', 'adamw'\)"),
])
def test_bad_optimizer_keys_fail_before_training(key, value, match):
    cfg = train_lib.config_to_dict(default_config())
    cfg["train"][key] = value
    with pytest.raises(ValueError, match=match):
        train_lib.check_config(cfg)
