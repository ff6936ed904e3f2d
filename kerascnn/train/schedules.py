"""Learning-rate schedules: linear warmup, then cosine, step, constant, exponential or 1/t."""

import math

import keras
from keras import ops

DECAYS = ("cosine", "step", "constant", "exponential", "inverse_time")


@keras.saving.register_keras_serializable(package="kerascnn")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup for `warmup_steps`, then one of five decays.

    - warmup: lr(t) = start + (base - start) * t / warmup_steps, t < warmup_steps
    - "cosine": lr(t) = final + (base - final) * (1 + cos(pi * u)) / 2,
      u = (t - warmup_steps) / (total_steps - warmup_steps)  (Loshchilov & Hutter 2017)
    - "step": lr(t) = base * decay_rate ** (number of boundaries <= t)  (He et al. 2016)
    - "constant": lr(t) = base
    - "exponential": lr(t) = base * exp(-k * (t - warmup_steps))
    - "inverse_time": lr(t) = base / (1 + k * (t - warmup_steps))  (the notes' 1/t decay)

    Args:
        base_learning_rate: the rate after warmup.
        total_steps: the length of training in steps (cosine ends there).
        warmup_steps: steps of linear warmup (0 for none).
        decay: one of "cosine", "step", "constant".
        boundaries: for "step", the steps at which the rate is multiplied by
            `decay_rate`, increasing.
        decay_rate: the step factor (0.1 for the ResNet recipes).
        final_learning_rate: where cosine ends.
        warmup_start: the rate at step 0 of warmup.
        decay_k: for "exponential" and "inverse_time", k per step, >= 0.
    """

    def __init__(self, base_learning_rate, total_steps, warmup_steps=0,
                 decay="cosine", boundaries=(), decay_rate=0.1,
                 final_learning_rate=0.0, warmup_start=0.0, decay_k=0.0):
        if decay not in DECAYS:
            raise ValueError(f"Unknown decay {decay!r}; allowed: {DECAYS}.")
        if base_learning_rate <= 0:
            raise ValueError(f"base_learning_rate must be > 0, got {base_learning_rate}.")
        if total_steps < 1 or not 0 <= warmup_steps < max(total_steps, 1):
            raise ValueError(
                f"Need total_steps >= 1 and 0 <= warmup_steps < total_steps; got "
                f"total_steps={total_steps}, warmup_steps={warmup_steps}."
            )
        boundaries = [int(b) for b in boundaries]
        if boundaries != sorted(boundaries) or any(b < 0 for b in boundaries):
            raise ValueError(f"boundaries must be increasing steps >= 0, got {boundaries}.")
        self.base_learning_rate = float(base_learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.decay = decay
        self.boundaries = boundaries
        self.decay_rate = float(decay_rate)
        self.final_learning_rate = float(final_learning_rate)
        self.warmup_start = float(warmup_start)
        if decay_k < 0:
            raise ValueError(f"decay_k must be >= 0, got {decay_k}.")
        self.decay_k = float(decay_k)

    def __call__(self, step):
        t = ops.cast(step, "float32")
        base = self.base_learning_rate
        if self.decay == "cosine":
            span = float(self.total_steps - self.warmup_steps)
            u = ops.clip((t - self.warmup_steps) / span, 0.0, 1.0)
            lr = self.final_learning_rate + (base - self.final_learning_rate) * 0.5 * (
                1.0 + ops.cos(math.pi * u)
            )
        elif self.decay == "step":
            passed = ops.zeros((), "float32")
            for b in self.boundaries:
                passed = passed + ops.cast(t >= b, "float32")
            lr = base * ops.power(self.decay_rate, passed)
        elif self.decay in ("exponential", "inverse_time"):
            after = ops.maximum(t - self.warmup_steps, 0.0)
            if self.decay == "exponential":
                lr = base * ops.exp(-self.decay_k * after)
            else:
                lr = base / (1.0 + self.decay_k * after)
        else:
            lr = ops.convert_to_tensor(base, "float32")
        if self.warmup_steps:
            warm = self.warmup_start + (base - self.warmup_start) * t / self.warmup_steps
            lr = ops.where(t < self.warmup_steps, warm, lr)
        return lr

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "decay": self.decay,
            "boundaries": list(self.boundaries),
            "decay_rate": self.decay_rate,
            "final_learning_rate": self.final_learning_rate,
            "warmup_start": self.warmup_start,
            "decay_k": self.decay_k,
        }
