"""Training curves as a PNG: loss and top-1 accuracy per epoch, training against validation.

Read from a run's `history.csv` (Keras's CSVLogger, appended across resumed
runs), so the picture covers the whole run; written at the end of every run
as `curves.png` beside it (`CurvesPNG`), or by `plot_history(csv, png)`.
"""

import csv
import math

import keras

from kerascnn import _io


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


class CurvesPNG(keras.callbacks.Callback):
    """At the end of training, `plot_history(csv_path, png_path)` (the CSVLogger's file
    must be written by then: put this callback after it)."""

    def __init__(self, csv_path, png_path, title=None):
        super().__init__()
        self.csv_path, self.png_path, self.title = csv_path, png_path, title

    def on_train_end(self, logs=None):
        plot_history(self.csv_path, self.png_path, self.title)
