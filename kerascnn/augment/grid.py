"""A grid of augmented images, to look at a policy rather than read about it."""

import numpy as np
import tensorflow as tf

from kerascnn.augment import layers, policies


def augmenter(policy, magnitude, *, num_ops=2, fill=0):
    """(uint8 image, seed) -> uint8 image: `policy` with its strength fixed at `magnitude`.

    Args:
        policy: "rand_augment" (N = num_ops ops at m), "trivial_augment" (its
            one random op, at m instead of a random strength), or "op:NAME"
            (that op of `policies.ALL_OPS` alone, with a random sign).
        magnitude: m in [0, 1].
    """
    if not 0 <= magnitude <= 1:
        raise ValueError(f"magnitude must be in [0, 1], got {magnitude!r}.")
    if policy == "rand_augment":
        return layers.RandAugment(num_ops=num_ops, magnitude=magnitude, fill=fill).augment
    if policy == "trivial_augment":
        table = policies.op_table(None, policies.TRIVIAL_AUGMENT_WIDE_OPS)
    elif isinstance(policy, str) and policy.startswith("op:"):
        table = policies.op_table([policy[3:]], policies.ALL_OPS)
    else:
        raise ValueError(
            f"Unknown policy {policy!r}; allowed: rand_augment, trivial_augment, "
            f"op:NAME with NAME in {sorted(policies.ALL_OPS)}."
        )

    def augment(image, seed):
        sample_seed, op_seed = tf.unstack(tf.random.split(tf.cast(seed, tf.int64), 2))
        drawn = policies.sample_trivial_augment(sample_seed, 1, len(table),
                                               layers.TRIVIAL_AUGMENT_BINS)
        sample = drawn._replace(magnitudes=tf.fill([1, 1], float(magnitude)))
        return policies.apply_ops(image[None], sample, table, op_seed, fill)[0]

    return augment


def augment_grid(images, policy, magnitudes, *, seed=0, num_ops=2, fill=0, scale=1):
    """Rows: the images; columns: the original, then `policy` at each magnitude.

    A row uses one seed for every column, so the ops chosen stay the same and
    only their strength changes from left to right.

    Args:
        images: uint8 [N, H, W, 3].
        policy, num_ops, fill: as for `augmenter`.
        magnitudes: the columns' m values in [0, 1].
        seed: int; row i uses the stateless seed (seed, i).
        scale: integer upscaling (nearest) of each cell, for small images.

    Returns:
        uint8 [N * (H * scale + 2) + 2, (1 + len(magnitudes)) * (W * scale + 2) + 2, 3]
        with 2-pixel white gutters.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}.")
    fns = [augmenter(policy, m, num_ops=num_ops, fill=fill) for m in magnitudes]
    rows = []
    for i, image in enumerate(images):
        row_seed = tf.constant([seed, i], tf.int64)
        cells = [image] + [fn(tf.constant(image), row_seed).numpy() for fn in fns]
        rows.append([c.repeat(scale, 0).repeat(scale, 1) for c in cells])
    h, w = rows[0][0].shape[:2]
    grid = np.full((len(rows) * (h + 2) + 2, len(rows[0]) * (w + 2) + 2, 3), 255, np.uint8)
    for r, cells in enumerate(rows):
        for c, cell in enumerate(cells):
            top, left = 2 + r * (h + 2), 2 + c * (w + 2)
            grid[top : top + h, left : left + w] = cell
    return grid
