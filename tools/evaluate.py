"""Evaluates a trained run (or one of its checkpoints) on a split.

    python tools/evaluate.py --workdir=runs/digits [--checkpoint=runs/digits/checkpoint.keras] [--split=test]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402

from absl import app, flags, logging  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", None, "A folder written by tools/train.py.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A .keras file (default: workdir/model.keras).")
_SPLIT = flags.DEFINE_string("split", None, "Split to evaluate (default: the config's test split).")
_OUTPUT = flags.DEFINE_string("output", None, "Also write the metrics to this JSON file.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # TF's INFO lines would bury the results
    from kerascnn import _io, evaluate, train
    from kerascnn.train import train_lib

    cfg, model = train.load_run(_WORKDIR.value, _CHECKPOINT.value)
    split = _SPLIT.value or cfg["data"]["test_split"]
    ds = train_lib.eval_dataset(cfg, train_lib.dataset_info(cfg), split)
    metrics = evaluate.evaluate(model, ds)
    print(json.dumps({"split": split, **metrics}, indent=2))
    if _OUTPUT.value:
        _io.write_json_atomic(_OUTPUT.value, {"split": split, **metrics})


def run():
    app.run(main)


if __name__ == "__main__":
    run()
