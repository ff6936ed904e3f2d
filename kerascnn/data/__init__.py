"""Datasets and tf.data input pipelines.

    ds = data.load("cifar10", split="train")          # (uint8 [H, W, C], int32)
    meta = data.info("cifar10")                         # DatasetInfo
    train = data.train_pipeline(ds, batch_size=128, image_size=32,
                                num_classes=meta.num_classes, seed=0)
"""

from kerascnn.data.datasets import DatasetInfo, info, load
from kerascnn.data.pipeline import (
    compute_mean_image,
    compute_mean_std,
    eval_pipeline,
    steps_per_epoch,
    train_pipeline,
)

__all__ = [
    "DatasetInfo",
    "compute_mean_image",
    "compute_mean_std",
    "eval_pipeline",
    "info",
    "load",
    "steps_per_epoch",
    "train_pipeline",
]
