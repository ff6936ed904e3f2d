"""Augmentation: uint8 ops, RandAugment / TrivialAugment, batch mixing, crops, test-time views.

    from kerascnn.augment import RandAugment, TrivialAugmentWide, mix, ops, test_time

See docs/augment.md. The training pipeline (`kerascnn.data.train_pipeline`)
reaches all of it through keyword arguments, which the config's `augment`
section sets.

Only the policy layers load with the package (their module needs no
TensorFlow, so `.keras` files that hold them load under any backend); the
TensorFlow modules load when first used.
"""

import importlib

from kerascnn import _compat
from kerascnn.augment.layers import RandAugment, TrivialAugmentWide, make_policy

_MODULES = ("crops", "grid", "keras_cv", "layers", "mix", "ops", "policies", "random_ops",
            "test_time")


def __getattr__(name):
    if name in _MODULES:
        _compat.require_tensorflow(f"kerascnn.augment.{name}")
        return importlib.import_module(f"kerascnn.augment.{name}")
    raise AttributeError(f"module 'kerascnn.augment' has no attribute {name!r}")


__all__ = ["RandAugment", "TrivialAugmentWide", "make_policy", *_MODULES]
