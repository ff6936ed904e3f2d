"""Evaluates a trained run (or one of its checkpoints) on a split.

    python tools/evaluate.py --workdir=runs/digits [--checkpoint=runs/digits/checkpoint.keras] [--split=test]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402

from absl import app, flags  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", None, "A folder written by tools/train.py.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A .keras file (default: workdir/model.keras).")
_SPLIT = flags.DEFINE_string("split", None, "Split to evaluate (default: the config's test split).")
_OUTPUT = flags.DEFINE_string("output", None, "Also write the metrics to this JSON file.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from kerascnn import _io, data, evaluate, train

    cfg, model = train.load_run(_WORKDIR.value, _CHECKPOINT.value)
    d = cfg["data"]
    split = _SPLIT.value or d["test_split"]
    info = data.info(d["name"], data_dir=d["data_dir"], manual_dir=d["manual_dir"])
    ds = data.eval_pipeline(
        data.load(d["name"], split, data_dir=d["data_dir"], manual_dir=d["manual_dir"]),
        batch_size=cfg["train"]["batch_size"], image_size=d["image_size"],
        num_classes=info.num_classes, resize=cfg["augment"]["eval_resize"],
    )
    metrics = evaluate.evaluate(model, ds)
    print(json.dumps({"split": split, **metrics}, indent=2))
    if _OUTPUT.value:
        _io.write_json_atomic(_OUTPUT.value, {"split": split, **metrics})


def run():
    app.run(main)


if __name__ == "__main__":
    run()
