"""Trains and evaluates a model from a config file.

    tools/train.py --config=configs/resnet20_digits.py --workdir=runs/digits [--export]
    tools/train.py --config=configs/resnet20_digits.py --workdir=W --config.train.epochs=1
    tools/train.py --config=configs/resnet20_digits.py --show_config
    tools/train.py --config=C --workdir=W --config.runtime.strategy=mirrored  # every GPU
    TF_CONFIG='{"cluster": ..., "task": ...}' tools/train.py ... --config.runtime.strategy=multi_worker

Several devices and machines: docs/distributed.md (TF_CONFIG gives the
cluster of a multi_worker run; the chief writes the run folder).
Rerunning the same command resumes an interrupted run from its last epoch.
Any config key can be set on the command line (--config.SECTION.KEY=VALUE);
--show_config lists every key with its value, default and meaning.
"""

import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Folder of the run (checkpoints, logs, metrics).")
_SHOW_CONFIG = flags.DEFINE_bool(
    "show_config", False, "Print every config key with its value, default and meaning; then exit.")
_EXPORT = flags.DEFINE_bool(
    "export", False, "After training, export as tools/export.py does (into config.export.root).")
_NAME = flags.DEFINE_string(
    "name", None, "With --export: the export's name (default config.export.name, else MODEL_DATASET).")
flags.mark_flags_as_required(["config"])


def main(argv):
    if len(argv) > 1:
        raise kerascnn_cli.UserError(f"Unexpected arguments: {argv[1:]}")
    from kerascnn.train import config as config_lib

    if _SHOW_CONFIG.value:
        print(config_lib.format_config(_CONFIG.value))
        return
    if not _WORKDIR.value:
        raise kerascnn_cli.UserError("--workdir is required (the run's folder), e.g. --workdir=runs/my_run.")
    from kerascnn import train

    # verbose="auto": a Keras progress bar on a terminal, one line per epoch in a log file.
    result = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    state = "already finished; loaded" if result.already_done else "trained"
    print(f"\n{result.metrics['model']} {state} in {result.workdir}")
    for key in ("top1", "top5", "loss"):
        if key in result.metrics:
            print(f"  test {key}: {result.metrics[key]:.4f}")
    print(f"  model:   {result.model_path}")
    print(f"  metrics: {result.workdir / 'metrics.json'}")
    print(f"  logs:    {result.workdir / 'history.csv'}, {result.workdir / 'tensorboard'}")
    if _EXPORT.value:
        from kerascnn.export import runs

        with kerascnn_cli.filtered_stderr():  # the converter's and LiteRT's chatter
            exported = runs.export_run(result.workdir, name=_NAME.value)
        print(runs.describe(exported))


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
