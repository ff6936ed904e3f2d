"""The learning-rate range test (Smith 2017, "Cyclical Learning Rates", Sec. 3.3).

From a config: its model, data pipeline, optimizer and weight decay, the
learning rate raised exponentially from `min_lr` to `max_lr` over `steps`
training steps, one batch each; the loss of each batch and its smoothed
curve (an exponential moving average with bias correction, as fastai's)
against the rate; stops early once the smoothed loss exceeds `diverge`
times its minimum. The suggestion is a tenth of the rate where the smoothed
loss is lowest (fastai's rule: well before the loss turns up); the rate
where it falls fastest (the steepest slope against log lr) is given beside
it, and is usually lower: the loss also falls at small rates because the
steps add up.

    result = kerascnn.train.lr_range_test(config)
    result.suggested_lr; plot_lr_range_test(result, "lr_find.png")
"""

import dataclasses
import math

import numpy as np

from kerascnn import _io
from kerascnn.train import recipe


@dataclasses.dataclass
class LRRangeResult:
    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggested_lr: float  # min_loss_lr / 10
    min_loss_lr: float  # where the smoothed loss is lowest
    steepest_lr: float  # where the smoothed loss falls fastest
    stopped_early: bool


def _check(min_lr, max_lr, steps, smoothing, diverge):
    if not 0 < min_lr < max_lr:
        raise ValueError(f"Need 0 < min_lr < max_lr; got min_lr={min_lr}, max_lr={max_lr}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 10:
        raise ValueError(f"steps must be an integer >= 10, got {steps!r}.")
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}.")
    if not diverge > 1:
        raise ValueError(f"diverge must be > 1, got {diverge}.")


def suggest(learning_rates, smoothed):
    """(steepest-descent lr, min-loss lr) of a smoothed loss curve.

    The slope is a central difference over k = n / 20 points each side (one
    batch's noise does not make a steepest point), searched from the end of
    the moving average's first 10 % (its start is a few batches only) up to
    the minimum.
    """
    lrs, loss = np.asarray(learning_rates, float), np.asarray(smoothed, float)
    lowest = int(np.argmin(loss))
    k = max(1, len(loss) // 20)
    start = max(k, len(loss) // 10)
    candidates = range(start, min(lowest, len(loss) - 1 - k) + 1)
    if not candidates:
        return float(lrs[lowest]), float(lrs[lowest])
    log_lr = np.log(lrs)
    slope = [(loss[i + k] - loss[i - k]) / (log_lr[i + k] - log_lr[i - k]) for i in candidates]
    return float(lrs[candidates[int(np.argmin(slope))]]), float(lrs[lowest])


def lr_range_test(config, min_lr=1e-5, max_lr=10.0, steps=200, smoothing=0.9, diverge=4.0,
                  progress=True):
    """Runs the range test on the config's model and training data; an `LRRangeResult`."""
    from tqdm import tqdm

    _check(min_lr, max_lr, steps, smoothing, diverge)
    cfg, _, _, train_ds, model = recipe.model_and_data(config)
    optimizer = recipe.compile_constant(model, cfg, min_lr)
    ratio = max_lr / min_lr
    lrs, losses, smoothed = [], [], []
    average, best = 0.0, math.inf
    batches = train_ds.repeat().take(steps)
    for step, (x, y) in enumerate(tqdm(batches, total=steps, desc="lr range test",
                                       unit="step", disable=not progress)):
        lr = min_lr * ratio ** (step / (steps - 1))
        optimizer.learning_rate.assign(lr)
        model.reset_metrics()  # the loss of this batch, not a running mean
        value = float(model.train_on_batch(x, recipe.batch_targets(model, y),
                                           return_dict=True)["loss"])
        average = smoothing * average + (1 - smoothing) * value
        current = average / (1 - smoothing ** (step + 1))
        lrs.append(lr), losses.append(value), smoothed.append(current)
        if not math.isfinite(current) or current > diverge * best:
            break
        best = min(best, current)
    stopped = len(lrs) < steps
    if stopped:  # the diverged tail says nothing about where to train
        lrs, losses, smoothed = lrs[:-1], losses[:-1], smoothed[:-1]
    steep, lowest = suggest(lrs, smoothed)
    return LRRangeResult(np.array(lrs), np.array(losses), np.array(smoothed), lowest / 10,
                         lowest, steep, stopped)


def plot_lr_range_test(result, path, title="LR range test"):
    """Loss against the learning rate (log scale), raw and smoothed, with the suggestion
    marked; a PNG at `path`, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(result.learning_rates, result.losses, color="0.75", lw=0.8, label="batch loss")
    ax.plot(result.learning_rates, result.smoothed, color="tab:blue", label="smoothed")
    ax.axvline(result.suggested_lr, color="tab:red", ls="--",
               label=f"suggested (min / 10): {result.suggested_lr:.2g}")
    ax.axvline(result.steepest_lr, color="tab:green", ls=":",
               label=f"steepest: {result.steepest_lr:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    top = np.percentile(result.losses, 95) if len(result.losses) else 1.0
    ax.set_ylim(0, max(top, float(np.max(result.smoothed, initial=0.0))) * 1.1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _io.write_figure_atomic(path, fig)
    plt.close(fig)
