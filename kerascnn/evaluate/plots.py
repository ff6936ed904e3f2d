"""The confusion matrix as a PNG."""

import numpy as np

from kerascnn import _io


def plot_confusion_matrix(counts, path, class_names=None, title=None):
    """Each row (true class) as fractions of its examples, darker = more; the counts written
    in the cells when there are at most 20 classes; a PNG at `path`, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(counts)
    n = counts.shape[0]
    totals = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    size = min(12.0, 2.5 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    if n <= 20:
        names = [str(c) for c in (class_names if class_names is not None else range(n))]
        ax.set_xticks(range(n), names, rotation=90 if max(map(len, names)) > 3 else 0)
        ax.set_yticks(range(n), names)
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if fractions[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{title + ': ' if title else ''}top-1 {accuracy:.4f} on {counts.sum()} images",
                 fontsize=10)
    fig.tight_layout()
    _io.write_figure_atomic(path, fig)
    plt.close(fig)
