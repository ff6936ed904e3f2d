"""RandAugment and TrivialAugmentWide as Keras layers, and `make_policy`.

This module imports no TensorFlow, so `import kerascnn` registers both layers
for `.keras` loading under any Keras backend. Building one loads the op
tables and ops (`kerascnn.augment.policies`, TensorFlow), which is also what
the layers run on: under another backend, constructing one says that it
needs TensorFlow. See `kerascnn.augment.policies` for the magnitude scale.
"""

import keras

from kerascnn import _checks as checks
from kerascnn import _compat

POLICIES = ("none", "rand_augment", "trivial_augment")
TRIVIAL_AUGMENT_BINS = 31  # strengths {0, ..., 30} (Mueller & Hutter 2021, Alg. 1)


def _tensorflow_parts():
    """(tensorflow, kerascnn.augment.policies), loaded on first use."""
    tf = _compat.require_tensorflow("kerascnn.augment (RandAugment, TrivialAugmentWide)")
    from kerascnn.augment import policies

    return tf, policies


class _Policy(keras.layers.Layer):
    """Shared by both policies: per-image ops, applied in tf.data or in a model.

    `augment_batch(images, seed)` is the tf.data form (uint8 batch, one
    stateless seed; each image draws its own ops), `augment(image, seed)`
    the same for one image. Called as a layer on float images in [0, 255]
    ([H, W, C] or [B, H, W, C]), the seed comes from the layer's
    `keras.random.SeedGenerator`; with `training=False` the layer is the
    identity.
    """

    def __init__(self, table, fill=0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self._table = table
        checks.check_fill(fill)
        # As given (an int or RGB triple), for get_config.
        self.fill = tuple(fill) if isinstance(fill, (tuple, list)) else fill
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        _compat.allow_non_tensor_positional_args(self)

    @property
    def op_names(self):
        return tuple(self._table)

    @property
    def table(self):
        """The op table (name -> OpSpec); sample indices follow its order."""
        return dict(self._table)

    def sample(self, seed, batch_size):
        """The ops, magnitudes and signs of `batch_size` images, from a stateless seed."""
        raise NotImplementedError

    def augment_batch(self, images, seed):
        """Augments uint8 images [B, H, W, 3]; image b gets its own ops (seed: [2])."""
        policies = _tensorflow_parts()[1]
        return policies.augment_batch(images, seed, self.sample, self._table, self.fill)

    def augment(self, image, seed):
        """Augments one uint8 image [H, W, 3] with a stateless seed [2].

        The same result as `augment_batch` on a batch of one, faster per image
        (a switch per op that calls only the drawn op, instead of the batch's
        partition by op).
        """
        policies = _tensorflow_parts()[1]
        return policies.augment_image(image, seed, self.sample, self._table, self.fill)

    def call(self, inputs, training=True):
        if not training:
            return inputs
        tf, _ = _tensorflow_parts()
        images = tf.convert_to_tensor(inputs)
        dtype = images.dtype
        as_uint8 = images if dtype == tf.uint8 else tf.cast(
            tf.clip_by_value(tf.round(images), 0, 255), tf.uint8)
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        augment = self.augment_batch if images.shape.rank == 4 else self.augment
        out = augment(as_uint8, seed)
        return out if dtype == tf.uint8 else tf.cast(out, dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(fill=self.fill, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class RandAugment(_Policy):
    """RandAugment (Cubuk et al. 2020): N ops, each uniform from the table, at magnitude m.

    Args:
        num_ops: N, ops applied in sequence per image (0: the identity).
        magnitude: m in [0, 1] (torchvision's bin b of 31 is b / 30; timm's
            M is M / 10; see the module docstring).
        magnitude_std: > 0 draws each op's magnitude from N(m, std) clipped
            to [0, 1] (timm's `mstd`).
        ops: op names (default: RAND_AUGMENT_OPS, torchvision's 14); any of
            ALL_OPS may be listed.
        fill: grey value or RGB triple for uncovered pixels.
        seed: seed of the layer's SeedGenerator (in-model use).
    """

    def __init__(self, num_ops=2, magnitude=9 / 30, magnitude_std=0.0, ops=None, fill=0,
                 seed=None, **kwargs):
        if not isinstance(num_ops, int) or isinstance(num_ops, bool) or num_ops < 0:
            raise ValueError(f"num_ops must be an int >= 0, got {num_ops!r}.")
        if not 0 <= magnitude <= 1:
            raise ValueError(
                f"magnitude must be a fraction in [0, 1], got {magnitude!r} "
                "(torchvision's bin b of 31 is b / 30, timm's M is M / 10)."
            )
        if magnitude_std < 0:
            raise ValueError(f"magnitude_std must be >= 0, got {magnitude_std!r}.")
        policies = _tensorflow_parts()[1]
        super().__init__(policies.op_table(ops, policies.RAND_AUGMENT_OPS), fill=fill, seed=seed,
                         **kwargs)
        self.num_ops = num_ops
        self.magnitude = float(magnitude)
        self.magnitude_std = float(magnitude_std)
        self.ops = None if ops is None else list(self._table)

    def sample(self, seed, batch_size):
        return _tensorflow_parts()[1].sample_rand_augment(seed, batch_size, self.num_ops, self.magnitude,
                                   self.magnitude_std, len(self._table))

    def get_config(self):
        config = super().get_config()
        config.update(num_ops=self.num_ops, magnitude=self.magnitude,
                      magnitude_std=self.magnitude_std, ops=self.ops)
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class TrivialAugmentWide(_Policy):
    """TrivialAugment (Mueller & Hutter 2021), wide ranges: one op, uniform strength.

    Per image: one op uniform from the table, its strength uniform over
    `num_bins` bins {0, ..., num_bins - 1}, magnitude = bin / (num_bins - 1).

    Args:
        num_bins: strength bins (the paper: 31).
        ops: op names (default: TRIVIAL_AUGMENT_WIDE_OPS, torchvision's 14);
            ops not in that table take their ALL_OPS ranges.
        fill: grey value or RGB triple for uncovered pixels.
        seed: seed of the layer's SeedGenerator (in-model use).
    """

    def __init__(self, num_bins=TRIVIAL_AUGMENT_BINS, ops=None, fill=0, seed=None, **kwargs):
        if not isinstance(num_bins, int) or isinstance(num_bins, bool) or num_bins < 2:
            raise ValueError(f"num_bins must be an int >= 2, got {num_bins!r}.")
        policies = _tensorflow_parts()[1]
        super().__init__(policies.op_table(ops, policies.TRIVIAL_AUGMENT_WIDE_OPS), fill=fill,
                         seed=seed, **kwargs)
        self.num_bins = num_bins
        self.ops = None if ops is None else list(self._table)

    def sample(self, seed, batch_size):
        return _tensorflow_parts()[1].sample_trivial_augment(
            seed, batch_size, len(self._table), self.num_bins)

    def get_config(self):
        config = super().get_config()
        config.update(num_bins=self.num_bins, ops=self.ops)
        return config


def make_policy(policy, *, num_ops=2, magnitude=9 / 30, magnitude_std=0.0, ops=None, fill=0):
    """A policy by name ("none" gives None), or `policy` itself if it is one.

    Args:
        policy: one of POLICIES or an object with `augment(image, seed)`.
        num_ops, magnitude, magnitude_std: RandAugment's arguments.
        ops: op names for either policy (None: the paper's table).
        fill: grey value for uncovered pixels.
    """
    if policy is None or policy == "none":
        return None
    if hasattr(policy, "augment"):
        return policy
    if policy == "rand_augment":
        return RandAugment(num_ops=num_ops, magnitude=magnitude, magnitude_std=magnitude_std,
                           ops=ops, fill=fill)
    if policy == "trivial_augment":
        return TrivialAugmentWide(ops=ops, fill=fill)
    raise ValueError(f"Unknown augmentation policy {policy!r}; allowed: {', '.join(POLICIES)}.")
