"""A run's config as a plain dict: conversion, the checks before training, and
the upgrade of older run folders' configs to today's keys."""

import json
import pathlib

from kerascnn import _checks as checks
from kerascnn import registry
from kerascnn.train import config as config_lib
from kerascnn.models.backbone import FEATURES as TRANSFER_FEATURES
from kerascnn.models.backbone import MODES as TRANSFER_MODES
from kerascnn.train import early_stopping, optimizers, schedules


def config_to_dict(config):
    """A plain, JSON-able dict of a ConfigDict (or dict)."""
    if hasattr(config, "to_dict"):
        config = config.to_dict()
    return json.loads(json.dumps(config, default=_jsonable))


def _jsonable(value):
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"Config value {value!r} ({type(value).__name__}) is not JSON-able.")


def check_config(cfg):
    """Raises a ValueError naming the first missing, unknown or bad key."""
    default = config_to_dict(config_lib.default_config())
    unknown = sorted(set(cfg) - set(default))
    if unknown:
        raise ValueError(f"Unknown config key(s) {unknown}{checks.did_you_mean(unknown[0], default)}; "
                         f"allowed: {sorted(default)}.")
    for section, keys in default.items():
        if not isinstance(keys, dict):
            if section not in cfg:
                raise ValueError(f"The config has no key {section!r}.")
            continue
        if not isinstance(cfg.get(section), dict):
            raise ValueError(f"The config has no section {section!r}; it needs "
                             f"{sorted(k for k, v in default.items() if isinstance(v, dict))}.")
        unknown = sorted(set(cfg[section]) - set(keys))
        if unknown:
            raise ValueError(
                f"Unknown key(s) config.{section}.{unknown[0]} ({unknown})"
                f"{checks.did_you_mean(unknown[0], keys, f'config.{section}.')}; "
                f"allowed in config.{section}: {sorted(keys)}."
            )
        missing = sorted(set(keys) - set(cfg[section]))
        if missing:
            raise ValueError(f"config.{section} lacks key(s) {missing}.")
    t = cfg["train"]
    for key in ("epochs", "batch_size"):
        if not isinstance(t[key], int) or t[key] < 1:
            raise ValueError(f"config.train.{key} must be an integer >= 1, got {t[key]!r}.")
    if t["learning_rate"] <= 0:
        raise ValueError(f"config.train.learning_rate must be > 0, got {t['learning_rate']}.")
    if not t["warmup_epochs"] >= 0:
        raise ValueError(f"config.train.warmup_epochs must be >= 0, got {t['warmup_epochs']}.")
    if not 0 <= t["label_smoothing"] < 1:
        raise ValueError(f"config.train.label_smoothing must be in [0, 1), got {t['label_smoothing']}.")
    if not t["aux_loss_weight"] >= 0:
        raise ValueError(f"config.train.aux_loss_weight must be >= 0, got {t['aux_loss_weight']!r}.")
    keep = t["keep_checkpoints"]
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ValueError(f"config.train.keep_checkpoints must be an integer >= 0 (0 = off), "
                         f"got {keep!r}.")
    for key in ("l1", "clip_norm"):
        if isinstance(t[key], bool) or not isinstance(t[key], (int, float)) or not t[key] >= 0:
            raise ValueError(f"config.train.{key} must be a number >= 0, got {t[key]!r}.")
    if t["optimizer"] == "adamw" and t["l1"]:
        raise ValueError("config.train.l1 applies to sgd, rmsprop and adam; adamw's decay is "
                         "decoupled L2 only (config.train.weight_decay).")
    if t["optimizer"] not in optimizers.OPTIMIZERS:
        raise ValueError(f"config.train.optimizer must be one of {optimizers.OPTIMIZERS}, "
                         f"got {t['optimizer']!r}.")
    if t["schedule"] not in schedules.DECAYS:
        raise ValueError(f"config.train.schedule must be one of {schedules.DECAYS}, got {t['schedule']!r}.")
    if isinstance(t["lr_decay_k"], bool) or not isinstance(t["lr_decay_k"], (int, float)) \
            or not t["lr_decay_k"] >= 0:
        raise ValueError(f"config.train.lr_decay_k must be a number >= 0, got {t['lr_decay_k']!r}.")
    split = t["validation_split"]
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 <= split < 1:
        raise ValueError(f"config.train.validation_split must be a number in [0, 1), got {split!r}.")
    patience = t["early_stopping_patience"]
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
        raise ValueError(f"config.train.early_stopping_patience must be an integer >= 0 "
                         f"(0: off), got {patience!r}.")
    if patience and not split:
        raise ValueError(
            f"config.train.early_stopping_patience={patience} needs a validation split: set "
            "config.train.validation_split (e.g. 0.1); stopping on the test split would choose "
            "the epoch by the test data.")
    if t["early_stopping_monitor"] not in early_stopping.MONITORS:
        raise ValueError(f"config.train.early_stopping_monitor must be one of "
                         f"{early_stopping.MONITORS}, got {t['early_stopping_monitor']!r}.")
    classes = cfg["data"]["classes"]
    if classes and (isinstance(classes, str) or not all(checks.is_int(c) and c >= 0 for c in classes)
                    or len(set(classes)) != len(classes) or len(classes) < 2):
        raise ValueError(f"config.data.classes must be () (all) or at least 2 distinct class "
                         f"indices >= 0, got {classes!r}.")
    _check_transfer(cfg)
    _check_runtime(cfg)
    size = cfg["data"]["image_size"]
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"config.data.image_size must be an integer >= 1, got {size!r}.")
    e = cfg["export"]
    allowed = config_lib.QUANTIZED_TFLITE
    quantization = e["quantization"]
    if (isinstance(quantization, str) or not all(q in allowed for q in quantization)
            or len(set(quantization)) != len(quantization)):
        raise ValueError(f"config.export.quantization must list distinct values of {allowed}, "
                         f"got {quantization!r}.")
    if e["io_dtype"] not in config_lib.TFLITE_IO_DTYPES:
        raise ValueError(f"config.export.io_dtype must be one of {config_lib.TFLITE_IO_DTYPES}, "
                         f"got {e['io_dtype']!r}.")
    if not isinstance(e["num_calibration_images"], int) or e["num_calibration_images"] < 1:
        raise ValueError(f"config.export.num_calibration_images must be an integer >= 1, "
                         f"got {e['num_calibration_images']!r}.")
    registry.get_builder(cfg["model"]["name"])  # an unknown model fails here


def _check_transfer(cfg):
    """config.transfer: a backbone that exists, a known mode, numbers in range."""
    t = cfg["transfer"]
    if t["mode"] not in TRANSFER_MODES:
        raise ValueError(f"config.transfer.mode must be one of {TRANSFER_MODES}, got {t['mode']!r}.")
    if t["features"] not in TRANSFER_FEATURES:
        raise ValueError(f"config.transfer.features must be one of {TRANSFER_FEATURES}, "
                         f"got {t['features']!r}.")
    stages = t["fine_tune_stages"]
    if not checks.is_int(stages) or stages < 1:
        raise ValueError(f"config.transfer.fine_tune_stages must be an integer >= 1, got {stages!r}.")
    m = t["backbone_lr_multiplier"]
    if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 < m <= 1:
        raise ValueError(f"config.transfer.backbone_lr_multiplier must be a number in (0, 1], "
                         f"got {m!r}.")
    if t["backbone"] is None:
        return
    path = pathlib.Path(t["backbone"]).expanduser()
    # A folder is read as a run folder (train_lib.load_run says what it lacks).
    if not path.is_dir() and (not path.is_file() or path.suffix != ".keras"):
        raise ValueError(f"config.transfer.backbone={t['backbone']!r} is neither a .keras file "
                         "nor a run folder" + ("" if path.exists() else " (nothing is there)") + ".")
    if cfg["model"]["kwargs"]:
        raise ValueError("config.model.kwargs builds a model from scratch; with "
                         "config.transfer.backbone set the model is the backbone's (got "
                         f"model.kwargs {sorted(cfg['model']['kwargs'])}).")


def _check_runtime(cfg):
    """config.runtime: a known strategy and precision, switches that are booleans."""
    r = cfg["runtime"]
    if r["strategy"] not in config_lib.STRATEGIES:
        raise ValueError(f"config.runtime.strategy must be one of {config_lib.STRATEGIES}, "
                         f"got {r['strategy']!r}.")
    if r["precision"] not in config_lib.PRECISIONS:
        raise ValueError(f"config.runtime.precision must be one of {config_lib.PRECISIONS}, "
                         f"got {r['precision']!r}.")
    for key in ("sync_bn", "scale_learning_rate", "jit_compile", "deterministic"):
        if not isinstance(r[key], bool):
            raise ValueError(f"config.runtime.{key} must be True or False, got {r[key]!r}.")
    n = r["cpu_devices"]
    if not checks.is_int(n) or n < 0:
        raise ValueError(f"config.runtime.cpu_devices must be an integer >= 0 (0 = off), got {n!r}.")
    devices = r["devices"]
    if isinstance(devices, str) or not all(isinstance(d, str) and d for d in devices):
        raise ValueError(f"config.runtime.devices must be a tuple of device names such as "
                         f"(\"/gpu:0\", \"/gpu:1\"), got {devices!r}.")
    if devices and r["strategy"] != "mirrored":
        raise ValueError(f"config.runtime.devices={tuple(devices)!r} applies to "
                         f"config.runtime.strategy='mirrored', not {r['strategy']!r}.")


def warmup_epochs(cfg):
    """config.train.warmup_epochs, capped at `MAX_WARMUP_FRACTION` of training."""
    t = cfg["train"]
    return min(float(t["warmup_epochs"]), config_lib.MAX_WARMUP_FRACTION * t["epochs"])


def upgrade_config(cfg):
    """A run's saved config in today's keys, so older run folders still evaluate,
    export and resume: `augment.eval_resize` became `eval.resize`, and a key
    added since (e.g. `export.name`) takes its default."""
    augment = cfg.get("augment", {})
    if "eval" not in cfg and "eval_resize" in augment:
        cfg = {**cfg, "augment": {k: v for k, v in augment.items() if k != "eval_resize"},
               "eval": {"resize": augment["eval_resize"]}}
    default = config_to_dict(config_lib.default_config())
    for section, keys in default.items():
        if isinstance(keys, dict) and section not in cfg:  # a section added since (transfer)
            cfg = {**cfg, section: keys}
        elif isinstance(keys, dict) and isinstance(cfg.get(section), dict):
            added = {k: v for k, v in keys.items() if k not in cfg[section]}
            if added:
                cfg = {**cfg, section: {**cfg[section], **added}}
    return cfg


def _diff(a, b, prefix=""):
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, "<missing>"), b.get(key, "<missing>")
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}: {va!r} -> {vb!r}")
    return out[:5]
