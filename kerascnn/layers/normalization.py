"""Normalization layers for NHWC feature maps, and `sync_batchnorm`.

Every layer normalizes x to x_hat = (x - mu) / sqrt(var + epsilon) with the
biased (1/m) variance; they differ only in the set a statistic is taken over
(Wu & He 2018, Fig. 2): BN over (N, H, W), LN over (H, W, C), IN over (H, W),
GN over (H, W, C/G channels). See docs/layers_normalization.md.
"""

import keras
import numpy as np
from keras import ops

from kerascnn import _compat

# Keras's BatchNormalization already computes the notes' formula exactly: batch
# statistics with the biased variance in training, moving statistics otherwise,
# epsilon inside the square root. Exposed under our name, not subclassed.
BatchNormalization = keras.layers.BatchNormalization


def _check_positive_int(name, value, note=""):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1{note}, got {value!r}.")
    return value


@keras.saving.register_keras_serializable(package="kerascnn")
class GroupNormalization(keras.layers.GroupNormalization):
    """Group normalization (Wu & He 2018, https://arxiv.org/abs/1803.08494).

    mu, var over (H, W) and the C/G channels of a group, per sample;
    y = gamma_c * (x - mu) / sqrt(var + epsilon) + beta_c with one gamma/beta
    per channel. groups=1 is `LayerNormalization`, groups=C (or -1) is
    `InstanceNormalization`.

    Subclasses Keras's layer (same arguments, weights and config) for two
    reasons: Keras's message for a non-dividing `groups` states the
    divisibility backwards, and its reductions over the (N, H, W, G, C/G) view
    are slow on CPU when C/G is small (2-4x at G=32, C=64). `call` takes the
    same two-pass statistics in two steps: over (H, W) per channel, then over
    each group's channels (equal counts, so the mean of the channel means is
    the group mean). Other axes and rank-2 inputs use Keras's `call`.

    Args:
        groups: number of groups G, a divisor of the channel count, or -1 for
            one group per channel.
        axis: the channel axis.
        epsilon: added to the variance inside the square root (Keras's
            default 1e-3, the same as its BatchNormalization).
        **kwargs: the rest of `keras.layers.GroupNormalization`'s arguments
            (center, scale, initializers, regularizers, constraints).
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, **kwargs):
        if groups != -1:
            _check_positive_int("groups", groups, note=" (or -1 for one per channel)")
        super().__init__(groups=groups, axis=axis, epsilon=epsilon, **kwargs)

    def build(self, input_shape):
        channels = input_shape[self.axis]
        if channels is not None and self.groups != -1 and channels % self.groups:
            divisors = [g for g in range(1, channels + 1) if channels % g == 0]
            raise ValueError(
                f"groups={self.groups} does not divide the {channels} channels of "
                f"input shape {tuple(input_shape)}; allowed: {divisors} or -1."
            )
        super().build(input_shape)

    def call(self, inputs):
        ndim = len(inputs.shape)
        if ndim < 3 or self.axis not in (-1, ndim - 1):
            return super().call(inputs)
        # Statistics in float32 at least, as Keras does for half precision.
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        channels, spatial = x.shape[-1], list(range(1, ndim - 1))
        per_channel = [-1] + [1] * (ndim - 2) + [channels]
        size = channels // self.groups

        def group_mean(t):  # (N, 1, .., 1, C): each channel gets its group's mean
            t = ops.mean(ops.reshape(t, (-1, self.groups, size)), axis=-1, keepdims=True)
            return ops.reshape(ops.repeat(t, size, axis=-1), per_channel)

        # GN: mu, sigma^2 over (H, W) and the group's channels  (Wu & He 2018).
        # Everything of x's size broadcasts per channel, so the backward pass
        # reduces over (H, W) only, too.
        mean = group_mean(ops.mean(x, axis=spatial, keepdims=True))
        var = group_mean(ops.mean(ops.square(x - mean), axis=spatial, keepdims=True))
        inv = ops.rsqrt(var + self.epsilon)
        if self.scale:
            inv = inv * ops.cast(self.gamma, x.dtype)
        shift = -mean * inv
        if self.center:
            shift = shift + ops.cast(self.beta, x.dtype)
        outputs = x * inv + shift
        return ops.cast(outputs, self.compute_dtype)


@keras.saving.register_keras_serializable(package="kerascnn")
class LayerNormalization(GroupNormalization):
    """Layer normalization over (H, W, C) with per-channel gamma/beta.

    mu_n, var_n over all of (H, W, C) of sample n (Ba et al. 2016, the notes'
    4-D form); the affine map is per channel as in GroupNorm, so this is
    `GroupNormalization(groups=1)`. `keras.layers.LayerNormalization(axis=[1,
    2, 3])` takes the same statistics but learns a gamma/beta of shape
    (H, W, C), which ties the layer to one input size.
    """

    def __init__(self, axis=-1, epsilon=1e-3, **kwargs):
        super().__init__(groups=1, axis=axis, epsilon=epsilon, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class InstanceNormalization(GroupNormalization):
    """Instance normalization (Ulyanov et al. 2016): statistics over (H, W).

    One mean and variance per sample and channel, per-channel gamma/beta; this
    is `GroupNormalization(groups=C)`.
    """

    def __init__(self, axis=-1, epsilon=1e-3, **kwargs):
        super().__init__(groups=-1, axis=axis, epsilon=epsilon, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        return config


def _spatial_moments(x):
    """Per-sample, per-channel mean and biased variance over the spatial axes."""
    return ops.moments(x, axes=list(range(1, len(x.shape) - 1)), keepdims=True)


def _check_pair(layer_name, names, input_shape):
    """Checks that a two-input layer got [feature map, other]; returns both shapes."""
    if not (isinstance(input_shape, (list, tuple)) and len(input_shape) == 2
            and all(isinstance(s, (list, tuple)) for s in input_shape)):
        raise ValueError(
            f"{layer_name} takes a list [{names}]; got input shape {input_shape}."
        )
    if len(input_shape[0]) < 3:
        raise ValueError(
            f"{layer_name} expects {names.split(',')[0]} of shape (N, H, W, C), got "
            f"{tuple(input_shape[0])}."
        )
    return input_shape


@keras.saving.register_keras_serializable(package="kerascnn")
class AdaIN(keras.layers.Layer):
    """Adaptive instance normalization (Huang & Belongie 2017, arXiv:1703.06868).

    Call as `AdaIN()([content, style])` with NHWC tensors of the same channel
    count (the spatial sizes may differ; a style batch of 1 broadcasts). The
    statistics are per sample and channel over (H, W), variance biased, and
    epsilon is added to both variances inside the square root, as in the
    authors' code. No weights.

    Args:
        epsilon: added to the variances (the authors' 1e-5).
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        content, style = _check_pair("AdaIN", "content, style", input_shape)
        if len(style) < 3:
            raise ValueError(f"AdaIN expects style of shape (N, H, W, C), got {style}.")
        if None not in (content[-1], style[-1]) and content[-1] != style[-1]:
            raise ValueError(
                f"AdaIN needs content and style with the same channel count; got "
                f"content {tuple(content)} and style {tuple(style)}."
            )

    def call(self, inputs):
        content, style = inputs
        mean_x, var_x = _spatial_moments(content)
        mean_y, var_y = _spatial_moments(style)
        # AdaIN: sigma(y) * (x - mu(x)) / sigma(x) + mu(y)  (Huang & Belongie 2017),
        # as x * scale + shift so only two passes touch x.
        scale = ops.sqrt(var_y + self.epsilon) * ops.rsqrt(var_x + self.epsilon)
        return content * scale + (mean_y - mean_x * scale)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class ConditionalInstanceNormalization(keras.layers.Layer):
    """Conditional instance normalization (Dumoulin et al. 2017, arXiv:1610.07629).

    Call as `layer([x, style_weights])`: x is NHWC, `style_weights` has shape
    (N, num_styles). The output is instance norm of x scaled and shifted by
    gamma = style_weights @ Gamma and beta = style_weights @ Beta, where Gamma
    and Beta hold one (C,) row per style. A one-hot row
    (`keras.ops.one_hot(style_id, num_styles)`) selects one style; other
    weights mix styles as the paper's convex combinations (the weights are
    used as given, not normalized).

    Args:
        num_styles: number of styles S >= 1 (rows of Gamma and Beta).
        epsilon: added to the variance (Dumoulin et al.'s 1e-5).
        gamma_initializer, beta_initializer: for the (S, C) tables.
    """

    def __init__(
        self, num_styles, epsilon=1e-5, gamma_initializer="ones",
        beta_initializer="zeros", **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_styles = _check_positive_int("num_styles", num_styles)
        self.epsilon = float(epsilon)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.beta_initializer = keras.initializers.get(beta_initializer)

    def build(self, input_shape):
        x_shape, w_shape = _check_pair(
            "ConditionalInstanceNormalization", "x, style_weights", input_shape
        )
        if len(w_shape) != 2 or w_shape[-1] != self.num_styles:
            raise ValueError(
                f"style_weights must have shape (N, num_styles={self.num_styles}), "
                f"got {tuple(w_shape)}; pass keras.ops.one_hot(style_id, "
                f"{self.num_styles}) for style ids in [0, {self.num_styles - 1}]."
            )
        channels = x_shape[-1]
        if channels is None:
            raise ValueError(f"x needs a known channel count, got {tuple(x_shape)}.")
        self.gamma = self.add_weight(
            shape=(self.num_styles, channels), name="gamma",
            initializer=self.gamma_initializer,
        )
        self.beta = self.add_weight(
            shape=(self.num_styles, channels), name="beta",
            initializer=self.beta_initializer,
        )

    def call(self, inputs):
        x, weights = inputs
        weights = ops.cast(weights, x.dtype)
        # One (N, 1, ..., 1, C) gamma/beta per sample: its style row (or mix).
        per_sample = (-1,) + (1,) * (len(x.shape) - 2) + (self.gamma.shape[-1],)

        def per_sample_row(table):
            return ops.reshape(ops.matmul(weights, ops.cast(table, x.dtype)), per_sample)

        gamma, beta = per_sample_row(self.gamma), per_sample_row(self.beta)
        mean, var = _spatial_moments(x)
        # gamma_s * (x - mu) / sqrt(var + eps) + beta_s, as x * scale + shift.
        scale = gamma * ops.rsqrt(var + self.epsilon)
        return x * scale + (beta - mean * scale)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(
            num_styles=self.num_styles, epsilon=self.epsilon,
            gamma_initializer=keras.initializers.serialize(self.gamma_initializer),
            beta_initializer=keras.initializers.serialize(self.beta_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels (Krizhevsky et al. 2012, Sec. 3.3).

    b_c = a_c / (k + alpha * sum_{c'} a_{c'}^2) ** beta, the sum over the
    `size` channels centred on c (clipped at the edges). By default alpha is
    NOT divided by `size`: the AlexNet paper's formula, and the same as
    `tf.nn.local_response_normalization(depth_radius=(size - 1) // 2,
    bias=k, alpha=alpha, beta=beta)`. `alpha_over_size=True` gives
    PyTorch's `nn.LocalResponseNorm`, which uses alpha / size.

    Args:
        size: n, the (odd) number of channels in the window.
        alpha, beta, k: the paper's constants (1e-4, 0.75, 2).
        alpha_over_size: divide alpha by `size` (PyTorch's convention).

    The window sums are one (C, C) matmul: cheap for AlexNet's 96-384
    channels, O(C) work per element rather than O(size).
    """

    def __init__(
        self, size=5, alpha=1e-4, beta=0.75, k=2.0, alpha_over_size=False, **kwargs
    ):
        super().__init__(**kwargs)
        _check_positive_int("size", size)
        if size % 2 == 0:
            raise ValueError(
                f"size must be odd (a window centred on the channel), got {size}."
            )
        if k <= 0 or alpha < 0:
            raise ValueError(
                f"LocalResponseNormalization needs k > 0 and alpha >= 0, got k={k}, "
                f"alpha={alpha}."
            )
        self.size = size
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)
        self.alpha_over_size = bool(alpha_over_size)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"LocalResponseNormalization needs a known channel count, got "
                f"{tuple(input_shape)}."
            )
        # window[c', c] = 1 where |c - c'| <= size // 2: the window sums become
        # one matmul, several times faster than adding shifted slices on CPU.
        c = np.arange(channels)
        window = np.abs(c[:, None] - c[None, :]) <= self.size // 2
        self._window = window.astype("float32")
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: channels})

    def call(self, inputs):
        window_sum = ops.matmul(ops.square(inputs), ops.cast(self._window, inputs.dtype))
        alpha = self.alpha / self.size if self.alpha_over_size else self.alpha
        # LRN: b = a / (k + alpha * sum a^2) ** beta  (Krizhevsky et al. 2012);
        # exp(-beta * log(.)) because ops.power is several times slower on CPU.
        return inputs * ops.exp(-self.beta * ops.log(self.k + alpha * window_sum))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            size=self.size, alpha=self.alpha, beta=self.beta, k=self.k,
            alpha_over_size=self.alpha_over_size,
        )
        return config


def sync_batchnorm(model):
    """A copy of `model` whose BatchNormalization layers are synchronized.

    Synchronized BN (Peng et al. 2018, arXiv:1803.08904) all-reduces the batch
    statistics over the replicas of a `tf.distribute` strategy, so they are
    those of the global batch. The copy is rebuilt with
    `keras.models.clone_model` (nested Functional/Sequential models included)
    and gets all of `model`'s weights, moving statistics included. It is not
    compiled; call this and `compile` inside `strategy.scope()`. Keras
    supports `synchronized=True` with the TensorFlow backend only.

    Args:
        model: a Functional or Sequential model.

    Returns:
        The new model; `model` is left unchanged.
    """

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = True
        return layer.__class__.from_config(config)

    synced = keras.models.clone_model(model, clone_function=clone, recursive=True)
    synced.set_weights(model.get_weights())
    return synced


def synchronize_batchnorm(model, synchronized=True):
    """Sets `synchronized` on every BatchNormalization inside `model`, in place.

    The switch of `config.runtime.sync_bn`: nested models and layers included,
    whatever the family. It takes effect in the steps traced after it (set it
    before `fit`); with False the model saves as plain BN again, which every
    backend loads. Returns the number of layers set.
    """
    layers = [layer for layer in _compat.sublayers(model, recursive=True)
              if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        layer.synchronized = bool(synchronized)
    return len(layers)
