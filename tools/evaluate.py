"""Evaluates a trained run (or one of its checkpoints) on a split.

    python tools/evaluate.py --workdir=runs/digits [--checkpoint=runs/digits/checkpoint.keras] [--split=test]
    python tools/evaluate.py --workdir=runs/digits --tta=ten_crop  # averaged over 10 crops
    python tools/evaluate.py --workdir=runs/cifar --tta=multi_scale --tta_scales=32,40,48 --flip

With --tta the raw split's views (kerascnn.augment.test_time.make_views) go
through the model and the softmax probabilities are averaged per image;
--flip adds each view's mirror. multi_scale runs a fixed-size model as the
same network for any size when its classifier follows a global pooling, and
says why not otherwise.
The metrics include each class's top-1 (`per_class_top1`); the confusion
matrix is drawn to --confusion_png (default: confusion_<split>[_<tta>].png in
the workdir).
"""

import json
import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines

from absl import app, flags

# "none" and kerascnn.evaluate.tta.MODES; spelled out so that a bad value fails
# at flag parsing, before TensorFlow loads.
TTA_MODES = ("none", "center", "ten_crop", "multi_scale", "multi_scale_ten_crop")

_WORKDIR = flags.DEFINE_string("workdir", None, "A folder written by tools/train.py.")
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
    "confusion_png", None, "Confusion-matrix PNG (default: WORKDIR/confusion_SPLIT[_TTA].png).")
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
    from kerascnn.train import train_lib

    report = train_lib.evaluate_run(
        _WORKDIR.value, _CHECKPOINT.value, split=_SPLIT.value, tta=_TTA.value, scales=scales,
        resize_to=_TTA_RESIZE_TO.value, flip=_FLIP.value)
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
