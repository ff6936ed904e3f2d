"""Optimizers, with weight decay as the papers apply it."""

import re

import keras
from keras import ops

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")


class _CoupledL2:
    """g <- g + l2 * w + l1 * sign(w) before the optimizer's own update: the gradient of
    (l2 / 2) |w|^2 + l1 |w|_1 in the loss (the papers' weight decay, L1, and the two
    together, elastic net)."""

    def _init_l2(self, l2, l1=0.0):
        if l2 < 0:
            raise ValueError(f"l2 weight decay must be >= 0, got {l2}.")
        if l1 < 0:
            raise ValueError(f"l1 regularization must be >= 0, got {l1}.")
        self.l2, self.l1 = float(l2), float(l1)

    def update_step(self, gradient, variable, learning_rate):
        if self.l2 or self.l1:
            gradient = ops.cast(gradient, variable.dtype)
            if self.l2:
                gradient = ops.add(
                    gradient, ops.multiply(ops.cast(self.l2, variable.dtype), variable))
            if self.l1:
                gradient = ops.add(
                    gradient, ops.multiply(ops.cast(self.l1, variable.dtype), ops.sign(variable)))
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config.update(l2=self.l2, l1=self.l1)
        return config


@keras.saving.register_keras_serializable(package="kerascnn")
class SGD(_CoupledL2, keras.optimizers.SGD):
    """SGD (optionally momentum / Nesterov) with coupled L2 weight decay.

    The ResNet/VGG/AlexNet papers decay weights through the gradient:
    g <- g + wd * w, before the momentum update (as Caffe, Torch and
    torch.optim.SGD do). Keras's own `weight_decay` argument is decoupled
    (w <- w - lr * wd * w after the update), which with momentum 0.9 decays
    about 10x less in steady state, so it is not the paper's recipe.

    Args:
        learning_rate: float or a `LearningRateSchedule`.
        momentum: heavy-ball momentum in [0, 1).
        nesterov: use Nesterov momentum.
        l2: the coupled weight-decay coefficient (the papers' "weight decay").
        **kwargs: other `keras.optimizers.SGD` arguments.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, l2=0.0, l1=0.0,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum,
                         nesterov=nesterov, **kwargs)
        self._init_l2(l2, l1)


@keras.saving.register_keras_serializable(package="kerascnn")
class RMSprop(_CoupledL2, keras.optimizers.RMSprop):
    """Keras RMSprop (v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + eps)) with coupled L2."""

    def __init__(self, learning_rate=0.001, rho=0.9, l2=0.0, l1=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, rho=rho, **kwargs)
        self._init_l2(l2, l1)


@keras.saving.register_keras_serializable(package="kerascnn")
class Adam(_CoupledL2, keras.optimizers.Adam):
    """Keras Adam (Kingma & Ba 2015) with coupled L2: the decay goes through the moments,
    so a weight with large gradients is decayed less, which AdamW's decoupled decay avoids
    (Loshchilov & Hutter 2019)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, l2=0.0, l1=0.0,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, **kwargs)
        self._init_l2(l2, l1)


def make_optimizer(name, learning_rate, momentum=0.9, nesterov=False, weight_decay=0.0,
                   l1=0.0, clip_norm=None):
    """The optimizer `name` (one of OPTIMIZERS) with its weight decay.

    "sgd" (momentum, Nesterov), "rmsprop" and "adam" take `weight_decay` as
    coupled L2 (g += wd * w, as the papers); "adamw" as Keras AdamW's
    decoupled decay (w -= lr * wd * w beside the Adam step). `l1` adds
    l1 * sign(w) to the gradient (with `weight_decay`: elastic net; not for
    "adamw"). `clip_norm` rescales the gradients so that their global norm is
    at most it (Keras's `global_clipnorm`). `momentum` and `nesterov` are
    SGD's.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; allowed: {OPTIMIZERS}.")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}.")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}.")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be > 0 or None, got {clip_norm}.")
    if name == "adamw" and l1:
        raise ValueError("l1 applies to sgd, rmsprop and adam (coupled); adamw's decay is "
                         "decoupled L2 only.")
    clip = {"global_clipnorm": float(clip_norm)} if clip_norm else {}
    if name == "sgd":
        return SGD(learning_rate, momentum=momentum, nesterov=nesterov, l2=weight_decay, l1=l1,
                   **clip)
    if name == "rmsprop":
        return RMSprop(learning_rate, l2=weight_decay, l1=l1, **clip)
    if name == "adam":
        return Adam(learning_rate, l2=weight_decay, l1=l1, **clip)
    return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, **clip)


@keras.saving.register_keras_serializable(package="kerascnn")
class TwoRateOptimizer(keras.optimizers.MultiOptimizer):
    """Keras's `MultiOptimizer` with two optimizers: `head` for the variables of
    the layers named in `head_layers`, `backbone` for every other one.

    Fine-tuning trains the backbone at a smaller rate than the new head. Keras 3
    has no per-variable learning rate, and scaling the backbone's gradients
    equals scaling its rate only for plain SGD (Adam and RMSprop divide the
    scale away; momentum and weight decay do not scale with it), so the two
    groups get two optimizers of the same kind whose schedules differ by a
    factor. Each keeps its own slots and step counter. `learning_rate` is the
    head's (what `LearningRateLogger` records); gradient clipping
    (`global_clipnorm`) applies to each group apart.

    Args:
        head: the optimizer of the head's variables.
        backbone: the optimizer of the other trainable variables.
        head_layers: names of the layers that `head` updates.
    """

    def __init__(self, head=None, backbone=None, head_layers=("predictions",), optimizer_map=None,
                 **kwargs):
        if optimizer_map is None:
            if head is None or backbone is None:
                raise ValueError("TwoRateOptimizer needs a head and a backbone optimizer.")
            patterns = "|".join(re.escape(name) for name in head_layers)
            optimizer_map = keras.optimizers.OptimizerMap(backbone, {f"({patterns})/.*": head})
        super().__init__(optimizer_map, **kwargs)

    @property
    def head(self):
        return next(iter(self._optimizer_map.values()))

    @property
    def backbone(self):
        return self._optimizer_map.default_optimizer

    @property
    def learning_rate(self):
        return self.head.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        raise AttributeError("Set the learning rate of TwoRateOptimizer.head or .backbone.")

