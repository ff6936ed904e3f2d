"""Stochastic depth (drop path), its linear schedule, and Monte Carlo dropout.

Dropout conventions. The notes' "vanilla" dropout keeps a unit with
probability p at training, unscaled, and multiplies the activations by p at
test time; "inverted" dropout divides the kept units by p at training and
leaves test time alone. Both give E[train output] = test output
(vanilla: E[m x] = p x at training and p x at test; inverted:
E[m x / p] = x at training and x at test), so a model trained one way
differs from one trained the other only by the factor p in the next layer's
weights. `keras.layers.Dropout(rate)` is inverted dropout with
p = 1 - rate, and so are the layers here.
"""

import keras
from keras import ops


def _check_probability(value, what):
    if not 0.0 < float(value) <= 1.0:
        raise ValueError(f"{what} must be in (0, 1], got {value!r}.")
    return float(value)


@keras.saving.register_keras_serializable(package="kerascnn")
class StochasticDepth(keras.layers.Layer):
    """Drops a residual branch per sample: `x = shortcut + StochasticDepth(p)(residual)`.

    Huang et al. 2016, "Deep Networks with Stochastic Depth"
    (https://arxiv.org/abs/1603.09382): H_l = ReLU(b_l f_l(H_{l-1}) + H_{l-1})
    with b_l ~ Bernoulli(p_l). At training each sample's whole branch is kept
    with probability p and then divided by p, so its expectation is the
    branch itself; at inference the layer is the identity. This is the
    "inverse" convention of timm's `DropPath` and torchvision's
    `StochasticDepth(mode="row")`; Huang et al. (and
    `tfa.layers.StochasticDepth`) instead leave the kept branch unscaled and
    multiply it by p at test time, which is equal in expectation.

    Args:
        survival_probability: p in (0, 1]; 1 never drops.
        seed: int seed of the layer's `keras.random.SeedGenerator`.
    """

    def __init__(self, survival_probability, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.survival_probability = _check_probability(
            survival_probability, "StochasticDepth survival_probability"
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        p = self.survival_probability
        if not training or p == 1.0:
            return inputs
        # One draw per sample, broadcast over every other axis.
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype)
        keep = ops.cast(noise < p, inputs.dtype)
        return (inputs * keep) / ops.cast(p, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(survival_probability=self.survival_probability, seed=self.seed)
        return config


def linear_decay(p_L, num_blocks):
    """Survival probabilities p_1 ... p_L falling linearly from p_0 = 1 to p_L.

    p_l = 1 - l / L * (1 - p_L)   (Huang et al. 2016, Eq. 4 and Fig. 2, with
    p_L = 0.5 in the paper). The input to the first block is treated as
    H_0, always kept, so block 1 already has p_1 = 1 - (1 - p_L) / L. (timm's
    `torch.linspace(0, drop_path_rate, depth)` instead starts at drop 0 for
    block 1.)

    Args:
        p_L: the last block's survival probability, in (0, 1].
        num_blocks: L, the number of residual blocks (>= 1).

    Returns:
        A list of L floats.
    """
    p_L = _check_probability(p_L, "p_L")
    if isinstance(num_blocks, bool) or int(num_blocks) != num_blocks or num_blocks < 1:
        raise ValueError(f"num_blocks must be an int >= 1, got {num_blocks!r}.")
    num_blocks = int(num_blocks)
    return [1.0 - l / num_blocks * (1.0 - p_L) for l in range(1, num_blocks + 1)]


@keras.saving.register_keras_serializable(package="kerascnn")
class MCDropout(keras.layers.Dropout):
    """A `Dropout` that stays on at inference, for Monte Carlo dropout.

    Gal & Ghahramani 2016 (https://arxiv.org/abs/1506.02142): averaging T
    stochastic forward passes approximates the predictive mean, and their
    spread its uncertainty. The layer ignores `training` and always drops
    (inverted dropout: kept units are divided by 1 - rate), in `fit`,
    `predict` and exported models alike.

    Args:
        rate: fraction of units dropped, in [0, 1).
        noise_shape, seed: as in `keras.layers.Dropout`.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"MCDropout rate must be in [0, 1), got {rate!r}.")
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)
