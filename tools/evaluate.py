"""Evaluates a trained run (or one of its checkpoints) on a split.

    python tools/evaluate.py --workdir=runs/digits [--checkpoint=runs/digits/checkpoint.keras] [--split=test]
    python tools/evaluate.py --workdir=runs/digits --tta=ten_crop  # averaged over 10 crops
    python tools/evaluate.py --workdir=runs/cifar --tta=multi_scale --tta_scales=32,40,48 --flip

    python tools/evaluate.py --workdir=runs/digits --ensemble=last:5  # checkpoints kept in training
    python tools/evaluate.py --workdir=runs/a --ensemble=runs:runs/b,runs/c
    python tools/evaluate.py --workdir=runs/digits --strategy=mirrored  # every GPU (or --cpu_devices=N)
    python tools/evaluate.py --workdir=runs/mlp --ensemble=mc_dropout:30

With --tta the raw split's views (kerascnn.augment.test_time.make_views) go
through the model and the softmax probabilities are averaged per image;
--flip adds each view's mirror. multi_scale runs a fixed-size model as the
same network for any size when its classifier follows a global pooling, and
says why not otherwise.
The metrics include each class's top-1 (`per_class_top1`); the confusion
matrix is drawn to --confusion_png (default: confusion_<split>[_<tta>][_flip].png in
the workdir).

With --ensemble the report gives each member's top-1 (top-5), NLL and expected
calibration error (15 bins) and those of the softmax average; mc_dropout gives
the model with dropout off and the mean of T passes with only its dropout
layers sampling, with the mean predictive entropy. The reliability diagram is
drawn to --reliability_png (default: reliability_<split>_<kind>.png in the
workdir). last:K / best:K need a run trained with
--config.train.keep_checkpoints=K (docs/training.md, "Ensembles").

With --strategy=mirrored the model runs on every GPU (or, with
--cpu_devices=N, on N logical CPU devices); every image is counted once,
whatever the replicas (docs/distributed.md).
"""

import json
import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines

from absl import app, flags

# "none" and kerascnn.evaluate.tta.MODES; spelled out so that a bad value fails
# at flag parsing, before TensorFlow loads.
TTA_MODES = ("none", "center", "ten_crop", "multi_scale", "multi_scale_ten_crop")

_WORKDIR = flags.DEFINE_string("workdir", None, "A folder written by tools/train.py.")
_STRATEGY = flags.DEFINE_enum("strategy", "default", ["default", "mirrored"],
                              "default: one device; mirrored: every GPU, or the --cpu_devices.")
_CPU_DEVICES = flags.DEFINE_integer("cpu_devices", 0, "Split the CPU into this many logical "
                                    "devices (for --strategy=mirrored without GPUs); 0: off.",
                                    lower_bound=0)
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A .keras file (default: workdir/model.keras).")
_SPLIT = flags.DEFINE_string("split", None, "Split to evaluate (default: the config's test split).")
_OUTPUT = flags.DEFINE_string("output", None, "Also write the metrics to this JSON file.")
_TTA = flags.DEFINE_enum("tta", "none", TTA_MODES,
                         "Test-time views to average (none: the plain evaluation).")
_TTA_SCALES = flags.DEFINE_list("tta_scales", "224,256,384,480,640",
                                "Short sides for the multi_scale modes, comma separated.")
_TTA_RESIZE_TO = flags.DEFINE_integer(
    "tta_resize_to", None, "Short side before the center / ten_crop crops (default: size / 0.875).",
    lower_bound=1)
_FLIP = flags.DEFINE_bool(
    "flip", False, "Also average each view's horizontal mirror (with --tta=none, each image's; "
    "ten_crop views hold the mirrors already).")
_CONFUSION_PNG = flags.DEFINE_string(
    "confusion_png", None, "Confusion-matrix PNG (default: WORKDIR/confusion_SPLIT[_TTA][_flip].png).")
# kerascnn.train.ensemble_runs.KINDS, spelled out so that a bad value fails at flag parsing.
ENSEMBLE_KINDS = ("last", "best", "runs", "mc_dropout")
_ENSEMBLE = flags.DEFINE_string(
    "ensemble", None, "last:K | best:K (checkpoints of --workdir kept by "
    "config.train.keep_checkpoints), runs:DIR[,DIR...] (--workdir's model with these runs'), "
    "or mc_dropout:T (T passes with dropout on).")
_RELIABILITY_PNG = flags.DEFINE_string(
    "reliability_png", None, "--ensemble's reliability diagram (default: "
    "WORKDIR/reliability_SPLIT_KIND.png).")


def _valid_ensemble(value):
    kind, _, arg = (value or "").partition(":")
    if kind == "runs":
        return bool(arg.strip(", "))
    return value is None or (kind in ENSEMBLE_KINDS and arg.isdigit() and int(arg) >= 1)


flags.register_validator(
    "ensemble", _valid_ensemble,
    message="--ensemble must be last:K, best:K, runs:DIR[,DIR...] or mc_dropout:T (K, T >= 1).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        scales = [int(s) for s in _TTA_SCALES.value]
    except ValueError:
        scales = []
    if not scales or min(scales) < 1:
        raise app.UsageError(
            f"--tta_scales must be positive ints, e.g. 224,256; got {_TTA_SCALES.value}.")
    from kerascnn import _io
    from kerascnn.train import distribute, train_lib

    # Before TensorFlow runs an op (logical CPU devices).
    strategy = distribute.make_strategy(
        {"strategy": _STRATEGY.value, "devices": (), "cpu_devices": _CPU_DEVICES.value})

    if _ENSEMBLE.value:
        if _TTA.value != "none" or _FLIP.value:
            raise app.UsageError("--tta / --flip and --ensemble do not combine; pass one of them.")
        from kerascnn.train import ensemble_runs

        report = ensemble_runs.evaluate_ensemble(
            _WORKDIR.value, _ENSEMBLE.value, split=_SPLIT.value, checkpoint=_CHECKPOINT.value,
            reliability_png=_RELIABILITY_PNG.value or _WORKDIR.value)
        print(json.dumps(report, indent=2))
        if _OUTPUT.value:
            _io.write_json_atomic(_OUTPUT.value, report)
        return
    report = train_lib.evaluate_run(
        _WORKDIR.value, _CHECKPOINT.value, split=_SPLIT.value, tta=_TTA.value, scales=scales,
        resize_to=_TTA_RESIZE_TO.value, flip=_FLIP.value,
        strategy=strategy if _STRATEGY.value != "default" else None)
    import pathlib

    from kerascnn.evaluate.plots import plot_confusion_matrix

    counts = report.pop("confusion_matrix")
    suffix = ("" if _TTA.value == "none" else f"_{_TTA.value}") + ("_flip" if _FLIP.value else "")
    png = _CONFUSION_PNG.value or str(
        pathlib.Path(_WORKDIR.value) / f"confusion_{report['split']}{suffix}.png")
    cfg = json.loads((pathlib.Path(_WORKDIR.value) / train_lib.CONFIG_FILE).read_text())
    names = train_lib.dataset_info(cfg).class_names
    plot_confusion_matrix(counts, png, class_names=names,
                          title=f"{report['split']}{suffix.replace('_', ' ')}")
    report["confusion_png"] = png
    print(json.dumps(report, indent=2))
    if _OUTPUT.value:
        _io.write_json_atomic(_OUTPUT.value, report)


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
