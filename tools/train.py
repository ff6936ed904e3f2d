"""Trains and evaluates a model from a config file.

    python tools/train.py --config=configs/resnet20_digits.py --workdir=runs/digits \
        [--config.train.epochs=3] [--export]

Rerunning the same command resumes an interrupted run from its last epoch.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Folder of the run (checkpoints, logs, metrics).")
_EXPORT = flags.DEFINE_bool(
    "export", False, "After training, export as tools/export.py does (into config.export.root)."
)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # TF's INFO lines would bury the results
    from kerascnn import train

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

        print(runs.describe(runs.export_run(result.workdir)))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
