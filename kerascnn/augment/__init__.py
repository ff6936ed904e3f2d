"""Augmentation: uint8 ops, RandAugment / TrivialAugment, batch mixing, test-time views.

    from kerascnn.augment import RandAugment, TrivialAugmentWide, mix, ops, test_time

See docs/augment.md. The training pipeline (`kerascnn.data.train_pipeline`)
reaches all of it through keyword arguments, which the config's `augment`
section sets.
"""

import importlib

from kerascnn.augment import mix, ops, policies
from kerascnn.augment.policies import RandAugment, TrivialAugmentWide, make_policy


def __getattr__(name):
    # test_time builds on the data pipeline's resizing; loaded when first used,
    # so `import kerascnn` stays free of the data modules.
    if name in ("test_time", "grid", "keras_cv"):
        return importlib.import_module(f"kerascnn.augment.{name}")
    raise AttributeError(f"module 'kerascnn.augment' has no attribute {name!r}")

__all__ = ["RandAugment", "TrivialAugmentWide", "make_policy", "mix", "ops", "policies",
           "test_time"]
