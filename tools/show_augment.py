"""Writes a PNG grid of images under an augmentation policy at several magnitudes.

    python tools/show_augment.py --policy=trivial_augment --output=augment.png
    python tools/show_augment.py --policy=op:rotate --magnitudes=0,0.5,1 --num_images=4
    python tools/show_augment.py --dataset=folder:photos --image_size=224 --scale=1

Rows are images; the first column is the original and each further column
the policy at one magnitude m in [0, 1] (one seed per row, so the same ops
grow stronger from left to right). Small images are upscaled (nearest).
"""

import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import app, flags

_POLICY = flags.DEFINE_string(
    "policy", "rand_augment", "rand_augment, trivial_augment, or op:NAME (one op).")
_MAGNITUDES = flags.DEFINE_list("magnitudes", ["0", "0.25", "0.5", "0.75", "1"], "Columns' m.")
_NUM_OPS = flags.DEFINE_integer("num_ops", 2, "RandAugment N.")
_DATASET = flags.DEFINE_string("dataset", "digits", "digits, a TFDS name, or folder:PATH.")
_SPLIT = flags.DEFINE_string("split", "train", "Split to take the images from.")
_NUM_IMAGES = flags.DEFINE_integer("num_images", 6, "Rows.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 32, "Images are resized to this square size.")
_SCALE = flags.DEFINE_integer("scale", 0, "Upscaling per cell (0: to at least 96 pixels).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the grid.")
_OUTPUT = flags.DEFINE_string("output", "augment.png", "PNG file to write.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    import numpy as np
    from tqdm import tqdm

    from kerascnn import _io, data
    from kerascnn.augment import grid

    magnitudes = [float(m) for m in _MAGNITUDES.value]
    for m in magnitudes:
        grid.augmenter(_POLICY.value, m)  # a bad policy or magnitude fails before any loading
    ds = data.eval_pipeline(
        data.load(_DATASET.value, _SPLIT.value).take(_NUM_IMAGES.value), batch_size=1,
        image_size=_IMAGE_SIZE.value, num_classes=data.info(_DATASET.value).num_classes,
    )
    images = np.concatenate([np.clip(np.round(x.numpy()), 0, 255).astype(np.uint8)
                             for x, _ in tqdm(ds, desc="images", total=_NUM_IMAGES.value)])
    scale = _SCALE.value or max(1, -(-96 // _IMAGE_SIZE.value))
    pixels = grid.augment_grid(images, _POLICY.value, magnitudes, seed=_SEED.value,
                               num_ops=_NUM_OPS.value, scale=scale)
    _io.write_png_atomic(_OUTPUT.value, pixels)
    print(f"{_OUTPUT.value}: {len(images)} images x (original + m = {magnitudes}) "
          f"under {_POLICY.value}, {pixels.shape[1]}x{pixels.shape[0]} pixels")


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
