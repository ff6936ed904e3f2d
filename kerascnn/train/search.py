"""Hyperparameter search, the notes' way (seeds/004): short trials, random over a
log scale, coarse then refined around the best; grid search for comparison.

    space = parse_space(["train.learning_rate=log:1e-3:1", "train.weight_decay=log:1e-6:1e-2"])
    result = search(config, "runs/search", space, trials=8, epochs=5)   # tools/search.py
    result.rows[0]            # the best trial by validation top-1

Each trial is an ordinary run of `train_and_evaluate` in WORKDIR/trial_NNN with
the sampled keys set, `config.train.epochs` set to `epochs`, and
`config.train.validation_split` held out of the training data: trials are
ranked by the last epoch's validation top-1, never by the test split. An
interrupted search resumes: finished trials are read back, not retrained, and
the sampling depends only on the seed and the finished trials.
"""

import ast
import dataclasses
import itertools
import math
import pathlib
import time

import numpy as np

from kerascnn import _checks, _io
from kerascnn.train import curves, train_lib

KINDS = ("log", "uniform", "choice")
CSV_FILE = "search.csv"
PNG_FILE = "search.png"
# A refined round samples within this fraction of the coarse range (in log units
# for "log"), centred on the best trial so far and clipped to the coarse range.
REFINE_FRACTION = 0.25


@dataclasses.dataclass(frozen=True)
class Dimension:
    key: str  # a dotted config key, e.g. "train.learning_rate"
    kind: str  # one of KINDS
    low: float = None
    high: float = None
    choices: tuple = ()

    def sample(self, rng, around=None):
        """A value: uniform (on a log scale for "log") over the range, or over a
        `REFINE_FRACTION` of it centred on `around`."""
        if self.kind == "choice":
            return self.choices[rng.integers(len(self.choices))]
        lo, hi = _to_unit(self, self.low), _to_unit(self, self.high)
        if around is not None:
            half = REFINE_FRACTION * (hi - lo) / 2
            centre = _to_unit(self, around)
            lo, hi = max(lo, centre - half), min(hi, centre + half)
        return _from_unit(self, rng.uniform(lo, hi))

    def grid(self, points):
        """`points` values evenly spread over the range (log-spaced for "log"); every choice."""
        if self.kind == "choice":
            return list(self.choices)
        values = np.linspace(_to_unit(self, self.low), _to_unit(self, self.high), points)
        return [_from_unit(self, v) for v in values]


def _to_unit(dim, value):
    return math.log10(value) if dim.kind == "log" else float(value)


def _from_unit(dim, value):
    return float(10 ** value) if dim.kind == "log" else float(value)


def parse_space(specs, config=None):
    """Dimensions from "KEY=log:LOW:HIGH", "KEY=uniform:LOW:HIGH" or "KEY=choice:A|B|C".

    With `config`, each KEY must be one of its keys (an error names the closest)."""
    dims = []
    for spec in specs:
        key, sep, rule = spec.partition("=")
        kind, _, rest = rule.partition(":")
        if not sep or kind not in KINDS or not rest:
            raise ValueError(f"Search dimension {spec!r}: write KEY=log:LOW:HIGH, "
                             "KEY=uniform:LOW:HIGH or KEY=choice:A|B|C.")
        if config is not None:
            _check_key(config, key)
        if kind == "choice":
            choices = tuple(_literal(v) for v in rest.split("|"))
            if len(choices) < 2:
                raise ValueError(f"Search dimension {spec!r}: a choice needs 2 values or more.")
            dims.append(Dimension(key, kind, choices=choices))
            continue
        try:
            low, high = (float(v) for v in rest.split(":"))
        except ValueError:
            raise ValueError(f"Search dimension {spec!r}: LOW:HIGH must be two numbers.") from None
        if not low < high or (kind == "log" and low <= 0):
            raise ValueError(f"Search dimension {spec!r}: need LOW < HIGH"
                             f"{' and LOW > 0 on a log scale' if kind == 'log' else ''}.")
        dims.append(Dimension(key, kind, low, high))
    if len({d.key for d in dims}) != len(dims):
        raise ValueError(f"A key appears twice in the search space {[d.key for d in dims]}.")
    if not dims:
        raise ValueError("The search space is empty.")
    return dims


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _check_key(cfg, key):
    section, _, name = key.partition(".")
    allowed = [f"{s}.{k}" for s, keys in cfg.items() if isinstance(keys, dict) for k in keys]
    if section not in cfg or not isinstance(cfg[section], dict) or name not in cfg[section]:
        raise ValueError(f"Search key {key!r} is not a config key"
                         f"{_checks.did_you_mean(key, allowed)}.")


@dataclasses.dataclass
class SearchResult:
    rows: list  # one dict per trial, best validation top-1 first
    csv_path: pathlib.Path
    png_path: pathlib.Path
    seconds: float


def trial_points(dims, method, trials, rounds, seed, finished):
    """The trials' values, round by round: {"round": r, key: value, ...}.

    "random": `trials` split over `rounds`; round 1 samples the whole space,
    each later round a narrower range around the best finished trial so far
    (`finished(points)` gives the rows of the trials run so far). "grid": the
    product of each dimension's values, `trials` points spread per dimension
    as evenly as the product allows (at least 2 each), one round."""
    if method == "grid":
        per = max(2, int(math.floor(trials ** (1 / len(dims)) + 1e-9)))
        values = [d.grid(per) for d in dims]
        return [{"round": 1, **{d.key: v for d, v in zip(dims, combo)}}
                for combo in itertools.product(*values)]
    per_round = -(-trials // rounds)
    points = []
    for r in range(1, rounds + 1):
        rng = np.random.default_rng([seed, r])
        best = None
        if r > 1:
            rows = [row for row in finished(points) if not math.isnan(row["val_top1"])]
            best = max(rows, key=lambda row: row["val_top1"]) if rows else None
        for _ in range(min(per_round, trials - len(points))):
            points.append({"round": r, **{d.key: d.sample(
                rng, None if best is None or d.kind == "choice" else best[d.key])
                for d in dims}})
    return points


def search(config, workdir, dims, *, trials=8, method="random", rounds=2, epochs=5,
           validation_split=0.2, seed=0, progress=None):
    """Runs the trials and writes WORKDIR/search.csv (best first) and search.png.

    Args:
        config: a ConfigDict or dict, as tools/train.py takes.
        workdir: the search's folder; trial k runs in WORKDIR/trial_{k:03d}.
        dims: `parse_space`'s dimensions.
        trials: how many trials (grid: the most points, at least 2 per dimension).
        method: "random" (coarse then refined, `rounds` rounds) or "grid".
        rounds: random search rounds, >= 1.
        epochs: each trial's config.train.epochs.
        validation_split: each trial's config.train.validation_split, in (0, 1).
        seed: the sampling's seed (the trials keep the config's own seed).
        progress: a callable(trial index, row) after each trial (tools: tqdm).
    """
    _checks.check_choice("method", method, ("random", "grid"))
    _checks.check_int("trials", trials, minimum=1)
    _checks.check_int("rounds", rounds, minimum=1)
    _checks.check_int("epochs", epochs, minimum=1)
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}.")
    base = train_lib.config_to_dict(config)
    base["train"].update(epochs=epochs, validation_split=validation_split)
    for dim in dims:
        _check_key(base, dim.key)
    train_lib.check_config(base)  # before the first trial
    workdir = pathlib.Path(workdir)
    start = time.time()
    rows = {}

    def run(points):
        for index, point in enumerate(points):
            if index in rows:
                continue
            cfg = _with(base, point)
            train_lib.check_config(cfg)
            trial_dir = workdir / f"trial_{index:03d}"
            began = time.time()
            result = train_lib.train_and_evaluate(cfg, trial_dir, verbose=0)
            history = curves.read_history(trial_dir / "history.csv")
            rows[index] = {"trial": index, **point,
                           "val_top1": history["val_top1"][-1], "val_loss": history["val_loss"][-1],
                           "test_top1": result.metrics["top1"],
                           "seconds": round(time.time() - began, 1)}
            _write_csv(workdir / CSV_FILE, rows.values(), dims)
            if progress:
                progress(index, rows[index])
        return [rows[i] for i in range(len(points))]

    points = trial_points(dims, method, trials, rounds, seed, run)
    run(points)
    ranked = sorted(rows.values(), key=lambda r: -_finite(r["val_top1"]))
    _write_csv(workdir / CSV_FILE, ranked, dims)
    plot_search(ranked, dims, workdir / PNG_FILE,
                title=f"{method} search: {base['model']['name']} on {base['data']['name']}, "
                      f"{epochs} epochs per trial")
    return SearchResult(ranked, workdir / CSV_FILE, workdir / PNG_FILE, time.time() - start)


def _with(base, point):
    cfg = {s: dict(v) if isinstance(v, dict) else v for s, v in base.items()}
    for key, value in point.items():
        if key != "round":
            section, _, name = key.partition(".")
            cfg[section][name] = value
    return cfg


def _finite(value):
    return value if value == value else -1.0  # nan (a diverged trial) last


def _write_csv(path, rows, dims):
    columns = ["trial", "round", *[d.key for d in dims], "val_top1", "val_loss", "test_top1",
               "seconds"]
    ranked = sorted(rows, key=lambda r: -_finite(r["val_top1"]))
    lines = [",".join(columns)] + [",".join(_cell(r[c]) for c in columns) for r in ranked]
    _io.write_text_atomic(path, "\n".join(lines) + "\n")


def _cell(value):
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def plot_search(rows, dims, path, title=None):
    """Validation top-1 against the first numeric dimension (log axis for "log"), each
    trial a point coloured by the second numeric dimension, refined rounds as
    triangles; the best trial ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numeric = [d for d in dims if d.kind != "choice"] or dims
    x_dim = numeric[0]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colour_dim = numeric[1] if len(numeric) > 1 else None
    colours = None
    if colour_dim is not None:
        values = [r[colour_dim.key] for r in rows]
        colours = np.log10(values) if colour_dim.kind == "log" else values
    for r_index in sorted({r["round"] for r in rows}):
        keep = [i for i, r in enumerate(rows) if r["round"] == r_index]
        scatter = ax.scatter([rows[i][x_dim.key] for i in keep],
                             [_finite(rows[i]["val_top1"]) for i in keep],
                             c=None if colours is None else [colours[i] for i in keep],
                             cmap="viridis", marker="o" if r_index == 1 else "^", s=48,
                             vmin=None if colours is None else min(colours),
                             vmax=None if colours is None else max(colours),
                             label="coarse" if r_index == 1 else f"refined (round {r_index})",
                             edgecolors="black", linewidths=0.5)
    best = rows[0]
    ax.scatter([best[x_dim.key]], [_finite(best["val_top1"])], s=220, facecolors="none",
               edgecolors="red", linewidths=1.5, label="best")
    if x_dim.kind == "log":
        ax.set_xscale("log")
    ax.set_xlabel(x_dim.key)
    ax.set_ylabel("validation top-1 (last epoch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if colour_dim is not None:
        bar = fig.colorbar(scatter, ax=ax)
        bar.set_label(f"log10 {colour_dim.key}" if colour_dim.kind == "log" else colour_dim.key)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _io.write_figure_atomic(path, fig)
    plt.close(fig)
