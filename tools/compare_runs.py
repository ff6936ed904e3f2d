"""Draws several runs' training and test curves side by side (He et al. 2016, Fig. 4 and Fig. 6).

    python tools/compare_runs.py --workdirs=runs/plain20,runs/plain56,runs/resnet20,runs/resnet56 --output=degradation.png
    python tools/compare_runs.py --workdirs=runs/a,runs/b --metric=loss --panels=one

Reads each run folder's history.csv (written by tools/train.py, one row an
epoch) and config.json (its model's name). Each run is one colour, its
training curve dashed and its test curve (train.eval_every_epoch) bold; one
panel per model family (plain | resnet) or all in one. The training error is
Keras's running top-1 over the epoch's augmented batches in training mode,
as the paper plots it. Prints each run's last and best values.
"""

import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import flags

# kerascnn.train.curves.METRICS and PANELS; spelled out so that a bad value fails at
# flag parsing, before TensorFlow loads (tests/train/test_compare_runs.py ties them).
METRICS = ("error", "loss", "top1")
PANELS = ("family", "one")

_WORKDIRS = flags.DEFINE_list("workdirs", None, "Run folders written by tools/train.py, comma separated.")
_LABELS = flags.DEFINE_list("labels", None, "A label per run (default: each folder's name).")
_METRIC = flags.DEFINE_enum("metric", "error", METRICS,
                            "error: 100 - top-1 in %; loss; top1: the accuracy.")
_PANELS = flags.DEFINE_enum("panels", "family", PANELS,
                            "family: one panel per model family (plain | resnet); one: a single panel.")
_OUTPUT = flags.DEFINE_string("output", "compare_runs.png", "PNG file to write.")
_TITLE = flags.DEFINE_string("title", None, "The figure's title.")
flags.mark_flags_as_required(["workdirs"])


def main(argv):
    if len(argv) > 1:
        raise kerascnn_cli.UserError(f"Unexpected arguments: {argv[1:]}")
    import json
    import math
    import pathlib

    workdirs = [pathlib.Path(w) for w in _WORKDIRS.value]
    labels = _LABELS.value or [w.name for w in workdirs]
    if len(labels) != len(workdirs):
        raise kerascnn_cli.UserError(
            f"--labels has {len(labels)} labels for {len(workdirs)} --workdirs; give one per run.")
    from kerascnn.train import curves, train_lib

    runs, seconds = [], []
    for workdir in workdirs:
        config_path, history_path = workdir / train_lib.CONFIG_FILE, workdir / curves.HISTORY_FILE
        for path in (config_path, history_path):
            if not path.exists():
                raise FileNotFoundError(f"{path} does not exist: {workdir} is not a run folder "
                                        "of tools/train.py (or it has not finished an epoch).")
        model = json.loads(config_path.read_text())["model"]["name"]
        runs.append((model, history_path))
        metrics_path = workdir / train_lib.METRICS_FILE
        seconds.append(json.loads(metrics_path.read_text()).get("train_seconds_this_run")
                       if metrics_path.exists() else None)
    curves.plot_runs([(label, model, path) for label, (model, path) in zip(labels, runs)],
                     _OUTPUT.value, metric=_METRIC.value, panels=_PANELS.value,
                     title=_TITLE.value)
    best = max if _METRIC.value == "top1" else min
    print(f"{'run':<16} {'model':<12} {'epochs':>6}  {'last training':>13}  {'last test':>9}  "
          f"{'best test':>9}  {'seconds':>7}   ({_METRIC.value})")
    for label, (model, path), secs in zip(labels, runs, seconds):
        history = curves.read_history(path)
        train = curves.curve(history, _METRIC.value, "train")
        test = curves.curve(history, _METRIC.value, "test")
        tested = [v for v in test or [] if not math.isnan(v)]
        shown = [f"{train[-1]:13.4g}", f"{test[-1]:9.4g}" if test else f"{'-':>9}",
                 f"{best(tested):9.4g}" if tested else f"{'-':>9}",
                 f"{secs:7.0f}" if secs is not None else f"{'-':>7}"]
        print(f"{label:<16} {model:<12} {len(train):>6}  " + "  ".join(shown))
    print(f"plot: {_OUTPUT.value}")


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
