"""Overfits one small batch: the notes' first check that a model, its loss and its optimizer
can learn at all, before any tuning.

    python tools/overfit_batch.py --config=configs/resnet20_digits.py [--num_examples=32] [--max_steps=500]

Trains the config's model on one batch of training images (no augmentation,
no weight decay, no label smoothing; the config's optimizer at a constant
rate, --learning_rate or the config's) until the loss is below
--target_loss; prints the steps it took. Exits with status 1 and says what to
look for when it cannot (kerascnn.train.recipe.overfit_batch;
docs/training.md). Any config key can be set as in tools/train.py.
"""

import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py).")
_NUM_EXAMPLES = flags.DEFINE_integer("num_examples", 32, "Images in the batch.")
_MAX_STEPS = flags.DEFINE_integer("max_steps", 500, "Steps before giving up.")
_TARGET_LOSS = flags.DEFINE_float("target_loss", 0.01, "Loss to reach.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", None, "Constant rate (default the config's).")
flags.mark_flags_as_required(["config"])


def main(argv):
    if len(argv) > 1:
        raise kerascnn_cli.UserError(f"Unexpected arguments: {argv[1:]}")
    from kerascnn.train import recipe

    cfg = _CONFIG.value
    try:
        result = recipe.overfit_batch(cfg, num_examples=_NUM_EXAMPLES.value,
                                      max_steps=_MAX_STEPS.value,
                                      target_loss=_TARGET_LOSS.value,
                                      learning_rate=_LEARNING_RATE.value)
    except recipe.CannotOverfit as err:
        print(f"FAILED: {err}", file=sys.stderr)
        sys.exit(1)
    print(f"{cfg.model.name} fit {_NUM_EXAMPLES.value} {cfg.data.name} images in "
          f"{result.steps} steps: loss {result.losses[0]:.4f} -> {result.final_loss:.5f}, "
          f"top-1 on the batch {result.accuracy:.3f}")


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
