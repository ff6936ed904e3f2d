"""Training: optimizers, schedules, callbacks and the config-driven spine."""

from kerascnn.train.callbacks import AtomicCheckpoint, LearningRateLogger, ResumableBackup
from kerascnn.train.config import default_config
from kerascnn.train.optimizers import SGD, make_optimizer
from kerascnn.train.schedules import WarmupSchedule
from kerascnn.train.train_lib import TrainResult, load_run, train_and_evaluate

__all__ = [
    "AtomicCheckpoint", "LearningRateLogger", "ResumableBackup", "SGD", "TrainResult", "WarmupSchedule",
    "default_config", "load_run", "make_optimizer", "train_and_evaluate",
]
