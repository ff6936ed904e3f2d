"""Training curves as a PNG: loss and top-1 accuracy per epoch, training against validation.

Read from a run's `history.csv` (Keras's CSVLogger, appended across resumed
runs), so the picture covers the whole run; written at the end of every run
as `curves.png` beside it (`CurvesPNG`), or by `plot_history(csv, png)`.
`plot_runs` draws several runs side by side as He et al. 2016's Fig. 4 and
Fig. 6 do (training dashed, test bold; tools/compare_runs.py).
"""

import csv
import math
import re

import keras

from kerascnn import _io

HISTORY_FILE = "history.csv"
# What `plot_runs` can draw: the error in % (100 - top-1 in %, the papers' plots),
# the loss, or the top-1 accuracy as history.csv holds it.
METRICS = ("error", "loss", "top1")
# One panel per model family (plain | resnet, as Fig. 4 and Fig. 6), or all in one.
PANELS = ("family", "one")


def read_history(path):
    """{column: [float or nan]} of a CSVLogger file ("NA" as nan), one entry per epoch."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = rows[0].keys() if rows else []
    return {c: [float(r[c]) if r[c] not in ("", "NA") else math.nan for r in rows]
            for c in columns}


def plot_history(csv_path, png_path, title=None):
    """Two panels, loss and top-1, each with the training and (where there is one) the
    validation curve against the epoch (1-based); a PNG written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = read_history(csv_path)
    if not history.get("epoch"):
        raise ValueError(f"{csv_path} has no epochs to plot.")
    epochs = [int(e) + 1 for e in history["epoch"]]
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6))
    for ax, key, label in ((axes[0], "loss", "loss"), (axes[1], "top1", "top-1 accuracy")):
        if key in history:
            ax.plot(epochs, history[key], marker=".", label="training")
        validation = history.get(f"val_{key}", [])
        if any(not math.isnan(v) for v in validation):
            ax.plot(epochs, validation, marker=".", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _io.write_figure_atomic(png_path, fig)
    plt.close(fig)


def curve(history, metric, split="train"):
    """One series of a `read_history` dict: the training (split="train") or test
    ("test": Keras's val_ columns) `metric` per epoch; "error" is 100 * (1 - top1).
    None when the history has no such column or only NaNs in it."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    column = ("val_" if split == "test" else "") + ("top1" if metric == "error" else metric)
    values = history.get(column)
    if not values or all(math.isnan(v) for v in values):
        return None
    return [100.0 * (1.0 - v) for v in values] if metric == "error" else list(values)


def model_family(name):
    """The letters before a model name's depth: "plain56" -> "plain", "resnet110_sd" -> "resnet"."""
    match = re.match(r"[^\d]*?(?=\d)", name)
    return match.group(0).rstrip("_-") if match and match.group(0) else name


def plot_runs(runs, png_path, metric="error", panels="family", title=None):
    """Several runs' curves against the epoch: each run one colour, its training
    curve dashed and its test curve bold (He et al. 2016, Fig. 4 and Fig. 6);
    one panel per model family, or all in one. A PNG written atomically.

    Args:
        runs: (label, model name, history.csv path) of each run.
        png_path: the PNG to write.
        metric: one of `METRICS`.
        panels: "family" (one panel per `model_family`, in the runs' order;
            the panels share the y axis) or "one". The loss is drawn on a log scale.
        title: the figure's title.

    Returns:
        The matplotlib Figure (closed; its axes hold the drawn lines, labelled
        "<label> training" and "<label> test").
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    if panels not in PANELS:
        raise ValueError(f"panels must be one of {PANELS}, got {panels!r}.")
    if not runs:
        raise ValueError("plot_runs needs at least one run, got none.")
    groups = {}
    for label, model, csv_path in runs:
        history = read_history(csv_path)
        train = curve(history, metric, "train")
        if not history.get("epoch") or train is None:
            raise ValueError(f"{csv_path} has no {metric} curve to plot (its columns: "
                             f"{sorted(history)}; {len(history.get('epoch', []))} epochs).")
        key = model_family(model) if panels == "family" else ""
        groups.setdefault(key, []).append((label, history, train))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups) + 0.4, 3.8),
                             sharey=True, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ylabel = {"error": "error (%)", "loss": "loss", "top1": "top-1 accuracy"}[metric]
    for ax, (family, group) in zip(axes[0], groups.items()):
        for i, (label, history, train) in enumerate(group):
            colour = colours[i % len(colours)]
            epochs = [int(e) + 1 for e in history["epoch"]]
            ax.plot(epochs, train, "--", color=colour, linewidth=1.0, label=f"{label} training")
            test = curve(history, metric, "test")
            if test is not None:
                ax.plot(epochs, test, "-", color=colour, linewidth=2.2, label=f"{label} test")
        ax.set_title(family or None, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel(ylabel)
    if metric == "error":
        axes[0][0].set_ylim(bottom=0)
    elif metric == "loss":  # an early test loss can be 1e7 (BN's moving statistics not yet settled)
        axes[0][0].set_yscale("log")
    fig.suptitle(title or f"{metric}: training dashed, test bold", fontsize=10)
    fig.tight_layout()
    _io.write_figure_atomic(png_path, fig)
    plt.close(fig)
    return fig


class CurvesPNG(keras.callbacks.Callback):
    """At the end of training, `plot_history(csv_path, png_path)` (the CSVLogger's file
    must be written by then: put this callback after it)."""

    def __init__(self, csv_path, png_path, title=None):
        super().__init__()
        self.csv_path, self.png_path, self.title = csv_path, png_path, title

    def on_train_end(self, logs=None):
        plot_history(self.csv_path, self.png_path, self.title)
