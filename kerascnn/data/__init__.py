"""Datasets, tf.data input pipelines and dataset statistics.

    ds = data.load("cifar10", split="train")          # (uint8 [H, W, C], int32)
    meta = data.info("cifar10")                         # DatasetInfo
    train = data.train_pipeline(ds, batch_size=128, image_size=32,
                                num_classes=meta.num_classes, seed=0)
"""

from kerascnn import _compat

_compat.require_tensorflow("kerascnn.data")

from kerascnn.data.datasets import DatasetInfo, info, load  # noqa: E402
from kerascnn.data.pipeline import eval_pipeline, steps_per_epoch, train_pipeline  # noqa: E402
from kerascnn.data.splits import hold_out  # noqa: E402
from kerascnn.data.stats import (  # noqa: E402
    compute_mean_image,
    compute_mean_std,
    pca_lighting_basis,
)
from kerascnn.data.subset import select_classes, subset_info  # noqa: E402

__all__ = [
    "DatasetInfo",
    "compute_mean_image",
    "compute_mean_std",
    "eval_pipeline",
    "hold_out",
    "info",
    "load",
    "pca_lighting_basis",
    "select_classes",
    "steps_per_epoch",
    "subset_info",
    "train_pipeline",
]
