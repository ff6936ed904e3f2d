"""The confusion matrix and reliability diagrams as PNGs."""

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


def plot_reliability(curves, path, title=None, num_bins=15):
    """Reliability diagrams (Guo et al. 2017, Fig. 1): each equal-width confidence bin's
    accuracy as a bar against the diagonal of perfect calibration, one panel per
    (name, probabilities [N, C], labels [N]) of `curves`, its ECE in the panel's title;
    a PNG at `path`, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kerascnn.evaluate.ensemble import calibration_bins, expected_calibration_error

    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 4.4), squeeze=False)
    width = 1.0 / num_bins
    centers = (np.arange(num_bins) + 0.5) * width
    for ax, (name, probs, labels) in zip(axes[0], curves):
        counts, accuracy, confidence = calibration_bins(probs, labels, num_bins)
        full = counts > 0
        ax.bar(centers[full], accuracy[full], width=width, edgecolor="black", color="tab:blue",
               alpha=0.75, label="accuracy")
        # The gap to the bin's mean confidence, the term ECE weighs by the bin's share.
        ax.bar(centers[full], confidence[full] - accuracy[full], bottom=accuracy[full],
               width=width, edgecolor="tab:red", fill=False, hatch="///", linewidth=0.8,
               label="gap to the mean confidence")
        ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
        for x, n in zip(centers[full], counts[full]):  # sparse bins are noisy: say how sparse
            ax.text(x, 0.01, str(n), ha="center", va="bottom", fontsize=6, rotation=90,
                    color="black")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (max probability)")
        ax.set_ylabel("accuracy")
        ece = expected_calibration_error(probs, labels, num_bins)
        ax.set_title(f"{name}\nECE {ece:.4f}, {int(counts.sum())} images", fontsize=9)
    handles, texts = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="lower center", ncol=3, fontsize=8,
               title="numbers at the bars' feet: images in the bin", title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    _io.write_figure_atomic(path, fig)
    plt.close(fig)
