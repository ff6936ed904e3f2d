"""The notes' activation-statistics experiment (seeds/001, "Weight Initialization").

A 7-layer MLP of width 4096 (six weight matrices) on 16 Gaussian inputs,
x <- f(x W) layer after layer, f = tanh or ReLU, with W drawn four ways:

    "0.01"     W ~ N(0, 0.01^2)         tanh: activations collapse toward 0
    "0.05"     W ~ N(0, 0.05^2)         tanh: activations saturate at +-1
    "xavier"   W ~ N(0, 1 / D_in)       tanh: "just right"; ReLU: they shrink
    "kaiming"  W ~ N(0, 2 / D_in)       ReLU: the scale is kept

("xavier" is the notes' std = 1 / sqrt(D_in), Keras's `lecun_normal` without
the truncation, and Glorot's sqrt(2 / (D_in + D_out)) at D_in = D_out;
"kaiming" is `he_normal`'s std.) NumPy, float32, seeded: the same numbers
on every backend and machine.

    stats = activation_statistics("tanh", "0.05")
    [round(s.std, 3) for s in stats]          # one LayerStats per layer
    plot_activation_statistics(runs, "init.png")
"""

import dataclasses

import numpy as np

from kerascnn import _io

ACTIVATIONS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0)}
INITS = {
    "0.01": lambda d_in: 0.01,
    "0.05": lambda d_in: 0.05,
    "xavier": lambda d_in: 1.0 / np.sqrt(d_in),
    "kaiming": lambda d_in: np.sqrt(2.0 / d_in),
}
# The notes' grid: every initialization with tanh, Xavier and Kaiming with ReLU.
NOTES_RUNS = (("tanh", "0.01"), ("tanh", "0.05"), ("tanh", "xavier"), ("relu", "xavier"),
              ("relu", "kaiming"))


@dataclasses.dataclass
class LayerStats:
    """One hidden layer's activations: their mean, standard deviation, mean
    |a|, the fraction with |a| > 0.99 (tanh saturation) and a histogram."""

    layer: int
    mean: float
    std: float
    mean_abs: float
    saturated: float
    counts: np.ndarray
    edges: np.ndarray


def _check(activation, init, width, layers, batch):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
    if init not in INITS:
        raise ValueError(f"init must be one of {sorted(INITS)}, got {init!r}.")
    for name, value in (("width", width), ("layers", layers), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")


def activation_statistics(activation="tanh", init="xavier", width=4096, layers=6, batch=16,
                          seed=0, bins=50):
    """[LayerStats] of each of `layers` hidden layers (the notes: 6 of width 4096, batch 16).

    The input is `batch` draws of N(0, I); each layer draws its own W of
    (width, width) with the std of `INITS[init]` and applies `activation`,
    no bias, as the notes' code. The histograms span [-1, 1] for tanh and
    [0, the largest activation] for ReLU.
    """
    _check(activation, init, width, layers, batch)
    rng = np.random.default_rng(seed)
    f = ACTIVATIONS[activation]
    x = rng.standard_normal((batch, width), dtype=np.float32)
    stats = []
    for layer in range(1, layers + 1):
        w = rng.standard_normal((width, width), dtype=np.float32)
        w *= np.float32(INITS[init](width))
        x = f(x @ w)
        span = (-1.0, 1.0) if activation == "tanh" else (0.0, max(float(x.max()), 1e-12))
        counts, edges = np.histogram(x, bins=bins, range=span)
        stats.append(LayerStats(layer, float(x.mean()), float(x.std()), float(np.abs(x).mean()),
                                float(np.mean(np.abs(x) > 0.99)), counts, edges))
    return stats


def format_statistics(runs):
    """The mean and std of every layer of each run, as a text table.

    Args:
        runs: {(activation, init): [LayerStats]}.
    """
    layers = max(len(s) for s in runs.values())
    head = f"{'activation':10} {'init':8} " + " ".join(f"{'layer ' + str(i):>15}"
                                                     for i in range(1, layers + 1))
    lines = [head, f"{'':19} " + " ".join(f"{'mean / std':>15}" for _ in range(layers))]
    for (activation, init), stats in runs.items():
        cells = " ".join(f"{s.mean:7.3f}/{s.std:7.4f}" for s in stats)
        lines.append(f"{activation:10} {init:8} {cells}")
    return "\n".join(lines)


def plot_activation_statistics(runs, path):
    """A PNG at `path` (written atomically): one row per run, one histogram per layer, as
    the notes' figures, each titled with the layer's mean and std.

    Args:
        runs: {(activation, init): [LayerStats]}.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = max(len(s) for s in runs.values())
    fig, axes = plt.subplots(len(runs), layers, figsize=(2.2 * layers, 1.9 * len(runs)),
                             squeeze=False)
    for row, ((activation, init), stats) in enumerate(runs.items()):
        right = max(float(s.edges[-1]) for s in stats)  # one x scale per row: shrinking shows
        for col, s in enumerate(stats):
            ax = axes[row][col]
            ax.set_xlim(-1.0 if activation == "tanh" else 0.0, right)
            ax.bar(s.edges[:-1], s.counts, width=np.diff(s.edges), align="edge",
                   color="tab:blue" if activation == "tanh" else "tab:orange")
            ax.set_title(f"layer {s.layer}: mean {s.mean:.2f}\nstd {s.std:.3g}", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
        axes[row][0].set_ylabel(f"{activation}\nW: {init}", fontsize=8)
    fig.suptitle("Activations of a 4096-wide MLP at initialization (16 Gaussian inputs)",
                 fontsize=9)
    fig.tight_layout()
    _io.write_figure_atomic(path, fig)
    plt.close(fig)
