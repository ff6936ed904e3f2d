"""The learning-rate range test of a config: a PNG of loss against learning rate and a suggestion.

    python tools/lr_find.py --config=configs/resnet20_digits.py [--output=lr_find.png]
    python tools/lr_find.py --config=configs/resnet20_digits.py --min_lr=1e-5 --max_lr=10 --steps=200

The config's model, data pipeline, optimizer and weight decay; the rate
rises exponentially from --min_lr to --max_lr over --steps batches (Smith
2017) and stops once the smoothed loss passes 4x its minimum. Prints the
suggested rate (a tenth of the one with the lowest smoothed loss) and the
steepest-descent rate (kerascnn.train.lr_find; docs/training.md). Any config
key can be set as in tools/train.py (--config.SECTION.KEY=VALUE).
"""

import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py).")
_OUTPUT = flags.DEFINE_string("output", "lr_find.png", "PNG file to write.")
_MIN_LR = flags.DEFINE_float("min_lr", 1e-5, "First learning rate.")
_MAX_LR = flags.DEFINE_float("max_lr", 10.0, "Last learning rate.")
_STEPS = flags.DEFINE_integer("steps", 200, "Batches of the sweep (>= 10).")
flags.mark_flags_as_required(["config"])


def main(argv):
    if len(argv) > 1:
        raise kerascnn_cli.UserError(f"Unexpected arguments: {argv[1:]}")
    from kerascnn.train import lr_find

    cfg = _CONFIG.value
    result = lr_find.lr_range_test(cfg, min_lr=_MIN_LR.value, max_lr=_MAX_LR.value,
                                   steps=_STEPS.value)
    name = f"{cfg.model.name} on {cfg.data.name}"
    lr_find.plot_lr_range_test(result, _OUTPUT.value, title=f"LR range test: {name}")
    ended = ("stopped early: the loss diverged" if result.stopped_early
             else "reached --max_lr")
    print(f"{name}: {len(result.learning_rates)} steps from {_MIN_LR.value:g} ({ended})")
    print(f"  lowest smoothed loss {result.smoothed.min():.4f} at lr {result.min_loss_lr:.3g}")
    print(f"  suggested learning rate: {result.suggested_lr:.3g} (min / 10)")
    print(f"  steepest descent at:     {result.steepest_lr:.3g}")
    print(f"  config's learning rate:  {cfg.train.learning_rate:g}")
    print(f"  plot: {_OUTPUT.value}")


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
