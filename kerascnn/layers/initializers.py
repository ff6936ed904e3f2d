"""Weight initializers by name: `get_initializer("kaiming_normal")`.

Every name maps to one of Keras's built-in initializers, so a saved model's
config holds a plain Keras initializer and loads anywhere. n_in (fan-in) and
n_out follow Keras: a dense kernel (n_in, n_out); a conv kernel
(k, k, C_in, C_out) has n_in = k * k * C_in and n_out = k * k * C_out.
"""

import keras


def _zeros(seed):
    return keras.initializers.Zeros()


def _constant(seed, value=0.0):
    return keras.initializers.Constant(value)


def _normal(stddev):
    return lambda seed: keras.initializers.RandomNormal(0.0, stddev, seed=seed)


def _fan_in(scale, distribution):
    # Var(w) = scale / n_in; the normal is untruncated like the notes'
    # np.random.randn(Din, Dout) * sqrt(scale / Din).
    return lambda seed: keras.initializers.VarianceScaling(
        scale, mode="fan_in", distribution=distribution, seed=seed
    )


# name -> factory(seed, **kwargs) returning a Keras initializer.
INITIALIZERS = {
    "zeros": _zeros,
    "constant": _constant,
    "small_normal": _normal(0.01),  # N(0, 0.01^2), the notes' first try
    "large_normal": _normal(1.0),  # N(0, 1)
    # The notes' "Xavier": std = 1 / sqrt(D_in), i.e. Var = 1 / n_in.
    "xavier_normal": _fan_in(1.0, "untruncated_normal"),
    "xavier_uniform": _fan_in(1.0, "uniform"),
    # Glorot & Bengio 2010 as Keras (and PyTorch's xavier_*) define it:
    # Var = 2 / (n_in + n_out); Keras's normal is truncated at 2 std and rescaled.
    "glorot_normal": lambda seed: keras.initializers.GlorotNormal(seed=seed),
    "glorot_uniform": lambda seed: keras.initializers.GlorotUniform(seed=seed),
    # Kaiming / MSRA (He et al. 2015), ReLU gain sqrt(2): Var = 2 / n_in.
    "kaiming_normal": _fan_in(2.0, "untruncated_normal"),
    "kaiming_uniform": _fan_in(2.0, "uniform"),
}


def get_initializer(name, seed=None, **kwargs):
    """A new Keras initializer for `name`.

    Args:
        name: one of `INITIALIZERS`: "zeros", "constant" (takes `value`),
            "small_normal" N(0, 0.01^2), "large_normal" N(0, 1),
            "xavier_normal"/"xavier_uniform" (Var = 1/n_in, the notes'
            Xavier), "glorot_normal"/"glorot_uniform" (Var = 2/(n_in + n_out)),
            "kaiming_normal"/"kaiming_uniform" (Var = 2/n_in).
        seed: an int for reproducible draws (ignored by "zeros"/"constant").
        **kwargs: `value=` for "constant"; nothing for the others.

    Returns:
        A `keras.initializers.Initializer`.
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in INITIALIZERS:
        raise ValueError(
            f"Unknown initializer {name!r}; allowed: {sorted(INITIALIZERS)}."
        )
    allowed = ["value"] if key == "constant" else []
    if set(kwargs) - set(allowed):
        raise ValueError(
            f"Initializer {name!r} got unexpected arguments {sorted(kwargs)}; "
            f"allowed: {allowed}."
        )
    return INITIALIZERS[key](seed, **kwargs)


def any_initializer(name):
    """kerascnn's initializer names (`INITIALIZERS`), else any Keras one."""
    if isinstance(name, str) and name.lower() in INITIALIZERS:
        return get_initializer(name)
    try:
        return keras.initializers.get(name)
    except (ValueError, TypeError):
        raise ValueError(
            f"Unknown initializer {name!r}; allowed: {sorted(INITIALIZERS)} or any "
            "keras.initializers name."
        ) from None
