"""Random or grid search over config keys: short trials ranked by validation top-1, a CSV and a PNG.

    python tools/search.py --config=configs/resnet20_digits.py --workdir=runs/search --trials=8
    python tools/search.py --config=configs/resnet20_digits.py --workdir=runs/grid --method=grid \
        --space=train.learning_rate=log:1e-3:1,train.weight_decay=log:1e-6:1e-2 --trials=9

Each trial trains the config for --epochs with the --space keys sampled
(log-uniform for log:LOW:HIGH) and --validation_split of the training split
held out; trials are ranked by the last epoch's validation top-1. Random
search runs --rounds rounds: the first over the whole space, each next one
in a quarter of the range around the best so far (the notes' coarse-to-fine).
Writes WORKDIR/search.csv (best first), WORKDIR/search.png (validation top-1
against the first key) and each trial's run folder WORKDIR/trial_NNN; a
rerun resumes (kerascnn.train.search; docs/training.md). Any config key can
be set as in tools/train.py (--config.SECTION.KEY=VALUE).
"""

import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py).")
_WORKDIR = flags.DEFINE_string("workdir", None, "The search's folder (trials, CSV, PNG).")
_SPACE = flags.DEFINE_list(
    "space", "train.learning_rate=log:1e-3:1,train.weight_decay=log:1e-6:1e-2",
    "KEY=log:LOW:HIGH, KEY=uniform:LOW:HIGH or KEY=choice:A|B|C, comma separated.")
_METHOD = flags.DEFINE_enum("method", "random", ["random", "grid"], "How trials are chosen.")
_TRIALS = flags.DEFINE_integer("trials", 8, "Trials (grid: the most points).", lower_bound=1)
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Random search: coarse then refined rounds.",
                               lower_bound=1)
_EPOCHS = flags.DEFINE_integer("epochs", 5, "Epochs of each trial.", lower_bound=1)
_VALIDATION = flags.DEFINE_float("validation_split", 0.2,
                                 "Share of the training split each trial is ranked on.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the sampling.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise kerascnn_cli.UserError(f"Unexpected arguments: {argv[1:]}")
    from kerascnn.train import search, train_lib

    cfg = train_lib.config_to_dict(_CONFIG.value)
    dims = search.parse_space(_SPACE.value, cfg)
    import tqdm

    # A grid has at least 2 values per key, so it may hold more points than --trials.
    total = (len(search.trial_points(dims, "grid", _TRIALS.value, 1, 0, None))
             if _METHOD.value == "grid" else _TRIALS.value)
    with tqdm.tqdm(total=total, unit="trial", desc="search") as bar:
        def progress(index, row):
            bar.update(1)
            bar.set_postfix(val_top1=f"{row['val_top1']:.4f}")

        result = search.search(cfg, _WORKDIR.value, dims, trials=_TRIALS.value,
                               method=_METHOD.value, rounds=_ROUNDS.value, epochs=_EPOCHS.value,
                               validation_split=_VALIDATION.value, seed=_SEED.value,
                               progress=progress)
    keys = [d.key for d in dims]
    print(f"{len(result.rows)} trials in {result.seconds:.0f} s, best first "
          f"(validation top-1 of the last epoch; test top-1 for reference):")
    for row in result.rows:
        values = "  ".join(f"{k.split('.')[-1]}={row[k]:.3g}" if isinstance(row[k], float)
                           else f"{k.split('.')[-1]}={row[k]}" for k in keys)
        print(f"  trial {row['trial']:3d} (round {row['round']})  {values}  "
              f"val_top1={row['val_top1']:.4f}  test_top1={row['test_top1']:.4f}")
    print(f"CSV: {result.csv_path}\nPNG: {result.png_path}")


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
