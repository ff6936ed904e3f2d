"""The training config's keys, defaults and meanings, defined once for every config file.

`KEYS` is the one place where a key is defined: `default_config()` builds the
ConfigDict from it, `check_config` derives the required keys from that, and
`describe_config` (what `tools/train.py --show_config` prints) gives each
key's value, default and meaning from it.
"""

import importlib.util
import pathlib

import ml_collections
from ml_collections import config_dict

# A warmup longer than this fraction of training is shortened to it, so that
# `--config.train.epochs=1` runs any config (a smoke test).
MAX_WARMUP_FRACTION = 0.5
# The quantized TFLite files an export can add, and the int8 file's input / output
# types (kerascnn.export.to_tflite; the config checks them before training).
QUANTIZED_TFLITE = ("float16", "dynamic", "int8")
TFLITE_IO_DTYPES = ("float32", "uint8", "int8")
# config.runtime's choices (kerascnn.train.distribute creates the strategy).
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")

_OPTIONAL_STR = object()  # a key that is None unless set to a string

# (key, default, meaning). Sections are the first part of the key. The
# `augment` and `eval` sections are the keyword arguments of
# `kerascnn.data.train_pipeline` / `eval_pipeline` with their defaults
# (tests/train/test_config.py ties the two).
KEYS = (
    ("seed", 0, "seeds Keras, NumPy, TF and the data pipeline"),
    ("model.name", "resnet20", "a registered model (kerascnn.list_models())"),
    ("model.kwargs", {},
     "builder keyword arguments (input_shape and classes come from the data unless set); "
     'preprocessing="dataset" measures the training split\'s mean/std, '
     '"dataset_mean_image" its mean image'),
    ("data.name", "digits", '"digits", a TFDS name, or "folder:PATH" (docs/data.md)'),
    ("data.data_dir", _OPTIONAL_STR, "TFDS data_dir (default ~/tensorflow_datasets)"),
    ("data.manual_dir", _OPTIONAL_STR, "TFDS manual_dir (imagenet2012's tar files)"),
    ("data.train_split", "train", "the split trained on"),
    ("data.test_split", "test", "the split evaluated and reported"),
    ("data.classes", (), "class indices to train and test on, relabelled 0..len-1 in this "
     "order; () = all (transfer learning: a backbone on some classes, a head on others)"),
    ("data.image_size", 32, "the square size images are cropped / resized to"),
    ("augment.crop", "pad_crop", "pad_crop | resize | scale_aug | random_resized_crop"),
    ("augment.padding", 4, "pixels of zero padding before the pad_crop crop"),
    ("augment.flip", True, "random horizontal flip"),
    ("augment.vertical_flip", False, "random vertical flip"),
    ("augment.rotation", 0.0, "random rotation, max degrees"),
    ("augment.translation", 0.0, "random translation, max fraction of the size"),
    ("augment.brightness", 0.0, "colour jitter strength (torchvision ColorJitter)"),
    ("augment.contrast", 0.0, "colour jitter strength"),
    ("augment.saturation", 0.0, "colour jitter strength"),
    ("augment.hue", 0.0, "colour jitter strength"),
    ("augment.pca_lighting", 0.0, "std of AlexNet's PCA lighting alpha (AlexNet: 0.1); 0 = off"),
    ("augment.pca_basis", "imagenet", "imagenet | dataset (computed from the training split)"),
    ("augment.noise", 0.0, "Gaussian noise std, grey levels"),
    ("augment.policy", "none", "none | rand_augment | trivial_augment"),
    ("augment.num_ops", 2, "RandAugment N, ops per image"),
    ("augment.magnitude", 9 / 30, "RandAugment m in [0, 1] (torchvision bin / 30, timm M / 10)"),
    ("augment.magnitude_std", 0.0, "per-op noise on the magnitude (timm mstd)"),
    ("augment.fill", 0, "grey value for uncovered pixels"),
    ("augment.cutout", 0, "cutout square side in pixels; 0 = off"),
    ("augment.random_erasing", 0.0, "random erasing probability"),
    ("augment.mix", "none", "none | mixup | cutmix | mixup_cutmix | fourier_mix"),
    ("augment.mixup_alpha", 0.2, "mixup Beta(alpha, alpha)"),
    ("augment.cutmix_alpha", 1.0, "cutmix Beta(alpha, alpha)"),
    ("augment.mix_switch_prob", 0.5, "mixup_cutmix: probability of cutmix"),
    ("augment.mix_prob", 1.0, "probability that a batch is mixed"),
    ("augment.keras_cv", (), "keras-cv layers: grid_mask, random_crop_and_resize, jittered_resize"),
    ("eval.resize", "resize", "resize | center_crop (resize to size / 0.875, central crop)"),
    ("train.epochs", 30, "epochs of training"),
    ("train.batch_size", 128, "images per step"),
    ("train.optimizer", "sgd", "sgd | rmsprop | adam | adamw (weight_decay: coupled L2, "
     "adamw's decoupled)"),
    ("train.learning_rate", 0.1, "the rate after warmup"),
    ("train.momentum", 0.9, "SGD momentum"),
    ("train.nesterov", False, "Nesterov momentum"),
    ("train.weight_decay", 1e-4, "coupled L2 (g += wd * w), as in the papers"),
    ("train.l1", 0.0, "coupled L1 (g += l1 * sign(w)); with weight_decay, elastic net; "
     "sgd, rmsprop, adam"),
    ("train.clip_norm", 0.0, "clip the gradients' global norm to this; 0: no clipping"),
    ("train.schedule", "cosine", "cosine | step | constant | exponential | inverse_time"),
    ("train.warmup_epochs", 0.0,
     f"linear warmup from 0; capped at {MAX_WARMUP_FRACTION:g} x epochs"),
    ("train.lr_decay_epochs", (), "step: epochs at which lr *= lr_decay_rate"),
    ("train.lr_decay_rate", 0.1, "step: the factor"),
    ("train.final_learning_rate", 0.0, "cosine: where it ends"),
    ("train.lr_decay_k", 0.1,
     "exponential: lr0 e^(-k t), inverse_time: lr0 / (1 + k t); k per epoch, t in epochs "
     "after warmup, >= 0"),
    ("train.label_smoothing", 0.0, "label smoothing of the cross-entropy, in [0, 1)"),
    ("train.aux_loss_weight", 0.3,
     "weight of each auxiliary classifier's loss, >= 0 (a model with several outputs, "
     "googlenet aux_logits=True; GoogLeNet's 0.3); the main head is evaluated and saved"),
    ("train.shuffle_buffer", 10_000, "the training pipeline's shuffle buffer"),
    ("train.eval_every_epoch", True, "also evaluate on the test split after each epoch"),
    ("train.validation_split", 0.0,
     "fraction of the training split held out (one example in every 1/f, the same each run) "
     "and evaluated after each epoch in place of the test split; in [0, 1)"),
    ("train.early_stopping_patience", 0,
     "stop after this many epochs without improvement of early_stopping_monitor and keep the "
     "best epoch's weights; 0: off; needs validation_split > 0"),
    ("train.early_stopping_monitor", "val_loss", "val_loss | val_top1 (on the validation split)"),
    ("train.keep_checkpoints", 0,
     "K >= 0: keep the last K and the best K (validation top-1) epochs' models in "
     "checkpoints/ for checkpoint ensembles; 0 = off"),
    ("transfer.backbone", _OPTIONAL_STR,
     "a trained model (.keras file or run folder) whose features get a new head; None: "
     "config.model is trained from scratch (docs/training.md, \"Transfer learning\")"),
    ("transfer.mode", "linear_probe",
     "linear_probe (the backbone frozen, a linear classifier on its features) | fine_tune "
     "(the last fine_tune_stages stages trained too)"),
    ("transfer.features", "pooled",
     "pooled (what the backbone's classifier read) | map (its last feature map before the "
     "global pooling, flattened)"),
    ("transfer.fine_tune_stages", 1,
     "fine_tune: how many stages (feature-map sizes), counted from the top, are trained"),
    ("transfer.backbone_lr_multiplier", 0.1,
     "fine_tune: the backbone's learning rate is train.learning_rate times this (a second "
     "optimizer of the same kind); in (0, 1]"),
    ("runtime.strategy", "default",
     "default (one device) | mirrored (the devices of one machine) | multi_worker "
     "(MultiWorkerMirroredStrategy, the workers in TF_CONFIG) | tpu (TPUStrategy); "
     "created before the model (docs/distributed.md)"),
    ("runtime.devices", (),
     "mirrored: the devices to mirror across, e.g. (\"/gpu:0\", \"/gpu:1\"); () = every "
     "GPU, else every CPU device"),
    ("runtime.cpu_devices", 0,
     "split the CPU into this many logical devices before TensorFlow starts (several replicas "
     "on a machine without GPUs: tests, trials); 0 = off"),
    ("runtime.sync_bn", False,
     "every BatchNormalization uses the statistics of the global batch (all-reduced over the "
     "replicas), whatever the model"),
    ("runtime.scale_learning_rate", False,
     "the linear scaling rule: learning rates x global batch / 256 (Goyal et al. 2017)"),
    ("runtime.precision", "float32",
     "float32 | mixed_bfloat16 | mixed_float16 (loss scaling); logits, softmax and loss in "
     "float32"),
    ("runtime.jit_compile", False, "compile the training and evaluation steps with XLA"),
    ("runtime.deterministic", False,
     "TensorFlow op determinism (with the seed): a rerun, or a run killed and resumed, gives "
     "the same weights"),
    ("export.root", "saved_models", "folder of the exports, <root>/<name>/<version>/"),
    ("export.name", _OPTIONAL_STR, "the export's name (default: <model>_<dataset>)"),
    ("export.num_parity_images", 64, "test images of the TFLite / SavedModel parity report"),
    ("export.tflite", True, "also write a float32 TFLite file"),
    ("export.quantization", (), "quantized TFLite files: any of float16, dynamic, int8 "
                                "(model_<quantization>.tflite)"),
    ("export.io_dtype", "uint8", "the int8 file's input and output type: uint8 | int8 | float32"),
    ("export.num_calibration_images", 300,
     "training images (evaluation pipeline, no augmentation) that calibrate the int8 file"),
)


def default_config():
    """An unlocked ConfigDict with every key `train_and_evaluate` reads.

    Config files start from this, set what their recipe changes, and lock it.
    Keys are the arguments of the functions they reach (the model builder,
    `kerascnn.data.train_pipeline`, `kerascnn.data.eval_pipeline`, the
    optimizer and schedule). These are the only config keys: they and their
    meanings are `KEYS`, and the training library derives the required keys
    from this function.
    """
    c = ml_collections.ConfigDict()
    for key, default, _ in KEYS:
        section, _, name = key.rpartition(".")
        node = c
        if section:
            if section not in c:
                c[section] = ml_collections.ConfigDict()
            node = c[section]
        if default is _OPTIONAL_STR:
            node[name] = config_dict.placeholder(str)
        elif isinstance(default, dict):
            node[name] = ml_collections.ConfigDict(default)
        else:
            node[name] = default
    return c


def load_config_file(path):
    """The module of the config file at `path` (a .py file with `get_config`), for a
    config built on another one's recipe (configs/resnet110_cifar10.py)."""
    path = pathlib.Path(path)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def meanings():
    """{key: one-line meaning} of every config key."""
    return {key: meaning for key, _, meaning in KEYS}


def describe_config(cfg):
    """Rows (key, value, default, meaning) of a config dict, one per key.

    The entries of `model.kwargs` get a row each, whose default is `-`
    (they are the builder's arguments, `help(kerascnn.models...)`).
    """
    default = _flatten(_to_dict(default_config()))
    meaning = meanings()
    order = {key: i for i, (key, _, _) in enumerate(KEYS)}
    flat = _flatten(_to_dict(cfg))
    rows = []
    for key in sorted(flat, key=lambda k: (order.get(k.rpartition(".")[0] if k.startswith(
            "model.kwargs.") else k, len(order)), k)):
        value = flat[key]
        if key.startswith("model.kwargs."):
            rows.append((key, value, "-", f"argument of the {cfg['model']['name']} builder"))
        else:
            rows.append((key, value, default.get(key, "-"), meaning.get(key, "")))
    return rows


def format_config(cfg):
    """`describe_config` as an aligned text table, values that differ from the default marked *."""
    rows = describe_config(cfg)
    cells = [(k, _show(v), "-" if d == "-" else _show(d), m, v != d and d != "-")
             for k, v, d, m in rows]
    wk = max(len(c[0]) for c in cells)
    wv = max(len(c[1]) for c in cells)
    wd = max(len(c[2]) for c in cells)
    lines = [f"  {'key':<{wk}}  {'value':<{wv}}  {'default':<{wd}}  meaning"]
    for k, v, d, m, changed in cells:
        lines.append(f"{'*' if changed else ' '} {k:<{wk}}  {v:<{wv}}  {d:<{wd}}  {m}")
    lines.append("(* = set by the config file or the command line)")
    lines += resolved_notes(cfg)
    return "\n".join(lines)


def resolved_notes(cfg):
    """Lines on what the runtime makes of the config: the global batch's split and
    the linear scaling rule's learning rate (docs/distributed.md)."""
    cfg = _to_dict(cfg)
    t, r = cfg["train"], cfg["runtime"]
    notes = []
    if r["strategy"] != "default":
        notes.append(f"train.batch_size={t['batch_size']} is the global batch: each of the R "
                     f"replicas of runtime.strategy={r['strategy']!r} gets {t['batch_size']} / R "
                     "(R must divide it).")
    if r["scale_learning_rate"]:
        scaled = t["learning_rate"] * t["batch_size"] / 256
        notes.append(f"learning rate used: train.learning_rate x batch_size / 256 = "
                     f"{t['learning_rate']:g} x {t['batch_size']} / 256 = {scaled:g} "
                     "(runtime.scale_learning_rate, the linear scaling rule).")
    return notes


def _show(value):
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _to_dict(cfg):
    return cfg.to_dict() if hasattr(cfg, "to_dict") else cfg


def _flatten(d, prefix=""):
    out = {}
    for key, value in d.items():
        if isinstance(value, dict) and (value or f"{prefix}{key}" != "model.kwargs"):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = tuple(value) if isinstance(value, list) else value
    return out
