"""Training: optimizers, schedules, callbacks and the config-driven spine.

The optimizers, schedules and callbacks are backend-agnostic Keras; the
spine (`train_and_evaluate`, `load_run`) reads data with tf.data and is
imported on first use, so `import kerascnn` works under any Keras backend.
"""

from kerascnn import _compat
from kerascnn.train.callbacks import (AtomicCheckpoint, KeepCheckpoints, LearningRateLogger,
                                      ResumableBackup)
from kerascnn.train.config import default_config
from kerascnn.train.optimizers import SGD, Adam, RMSprop, make_optimizer
from kerascnn.train.sanity import check_initial_loss
from kerascnn.train.schedules import WarmupSchedule

_SPINE = ("TrainResult", "load_run", "train_and_evaluate")
_LR_FIND = ("lr_range_test", "plot_lr_range_test")
_TRANSFER = ("transfer",)

__all__ = [
    "Adam", "AtomicCheckpoint", "KeepCheckpoints", "LearningRateLogger", "RMSprop",
    "ResumableBackup", "SGD",
    "WarmupSchedule",
    "check_initial_loss", "default_config", "make_optimizer", *_SPINE, *_LR_FIND, *_TRANSFER,
]


def __getattr__(name):
    if name in _SPINE:
        _compat.require_tensorflow(f"kerascnn.train.{name}")
        from kerascnn.train import train_lib

        return getattr(train_lib, name)
    if name in _LR_FIND:
        _compat.require_tensorflow(f"kerascnn.train.{name}")
        from kerascnn.train import lr_find

        return getattr(lr_find, name)
    if name in _TRANSFER:
        _compat.require_tensorflow(f"kerascnn.train.{name}")
        # The module is not named `transfer`: importing it would shadow this function.
        from kerascnn.train import transfer_learning

        return transfer_learning.transfer
    raise AttributeError(f"module 'kerascnn.train' has no attribute {name!r}")
