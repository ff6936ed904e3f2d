"""What a run exports, from its config: the name and `kerascnn.export.export_model`'s arguments."""

import pathlib
import re

import numpy as np

from kerascnn.data.datasets import FOLDER_PREFIX
from kerascnn.train import train_lib


def export_name(cfg):
    """The name a run exports under: config.export.name, else
    "<model>_<dataset>" ("resnet20_digits"; a folder dataset by its folder's
    name, a TFDS name with "/" and other characters outside [A-Za-z0-9_.-]
    as "_")."""
    if cfg["export"]["name"]:
        return cfg["export"]["name"]
    dataset = cfg["data"]["name"]
    if dataset.startswith(FOLDER_PREFIX):
        dataset = pathlib.Path(dataset[len(FOLDER_PREFIX):]).expanduser().resolve().name
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{cfg['model']['name']}_{dataset}").lstrip(".")


def export_kwargs(cfg):
    """`kerascnn.export.export_model`'s keyword arguments for a run's config.

    config.export gives the export root, the name (`export_name`), whether
    to write the float32 TFLite file and which quantized ones
    (`export.quantization`, the int8 file's `export.io_dtype`); the class
    names are the dataset's. The parity images are the first
    `export.num_parity_images` test images at the model's size, as uint8,
    with their labels; the int8 file is calibrated on the first
    `export.num_calibration_images` training images, through the evaluation
    pipeline (no augmentation).
    """
    e = cfg["export"]
    info = train_lib.dataset_info(cfg)
    images, labels = _first_images(cfg, info, None, e["num_parity_images"])
    kwargs = dict(export_root=e["root"], name=export_name(cfg), tflite=bool(e["tflite"]),
                  class_names=tuple(str(c) for c in info.class_names),
                  sample_images=images, sample_labels=labels,
                  quantizations=tuple(e["quantization"]))
    if "int8" in kwargs["quantizations"]:
        kwargs["representative_images"], _ = _first_images(
            cfg, info, cfg["data"]["train_split"], e["num_calibration_images"])
        kwargs["io_dtype"] = e["io_dtype"]
    return kwargs


def _first_images(cfg, info, split, count):
    """The first `count` images of a split's evaluation pipeline as uint8, and their labels."""
    images, labels = next(iter(train_lib.eval_dataset(cfg, info, split, batch_size=count)))
    labels = np.asarray(labels)
    return (np.clip(np.round(images.numpy()), 0, 255).astype(np.uint8),
            labels.argmax(-1) if labels.ndim == 2 else labels.astype(np.int64))
