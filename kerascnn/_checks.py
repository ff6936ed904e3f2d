"""Argument checks shared across the package: plain Python, no other kerascnn import.

Each raises a ValueError that names the argument, the bad value and what is
allowed, so that a bad config fails when the config is read, not an epoch in.
"""

import difflib
import numbers

import numpy as np

INTERPOLATIONS = ("nearest", "bilinear")


def is_int(value):
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def did_you_mean(key, allowed, prefix=""):
    """' (did you mean PREFIX+X?)' for the allowed key closest to a misspelt one, else ''."""
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def check_int(name, value, minimum=None):
    """Raises unless `value` is an int (>= `minimum` when given)."""
    if not is_int(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ValueError(f"{name} must be an int{bound}, got {value!r}.")


def check_choice(name, value, allowed):
    """Raises unless `value` is one of `allowed`."""
    if value not in allowed:
        raise ValueError(f"Unknown {name} {value!r}; allowed: {', '.join(map(str, allowed))}.")


def check_range(value, name, low, high=None):
    """`value` as a float, if it is a number in [low, high] (high None: no upper bound)."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not number or value < low or (high is not None and value > high):
        allowed = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be a number in {allowed}, got {value!r}.")
    return float(value)


def check_fill(fill):
    """`fill` as a tuple of 3 ints in 0..255 (an int or a 3-tuple accepted)."""
    try:
        values = (fill,) * 3 if isinstance(fill, numbers.Number) else tuple(fill)
    except TypeError:
        values = ()
    if len(values) != 3 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v <= 255
        for v in values
    ):
        raise ValueError(f"fill must be an int in 0..255 or a 3-tuple of them, got {fill!r}.")
    return tuple(int(v) for v in values)


def check_interpolation(interpolation):
    """The interpolation name, lower case, if it is one of INTERPOLATIONS."""
    if str(interpolation).lower() not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}.")
    return str(interpolation).lower()


def image_size(value, name="image_size", channels=True):
    """An int or (H, W) (or (H, W, C) when `channels`) of positive ints, as a tuple."""
    size = (value, value) if is_int(value) else value
    lengths = (2, 3) if channels else (2,)
    if (
        not isinstance(size, (tuple, list))
        or len(size) not in lengths
        or not all(is_int(s) and s >= 1 for s in size)
    ):
        allowed = "(height, width) or (height, width, channels)" if channels else "(height, width)"
        raise ValueError(f"{name} must be a positive int or {allowed}; got {value!r}.")
    return tuple(int(s) for s in size)


def size_and_channels(value, name="image_size"):
    """(height, width, channels) of an image size (3 channels unless given; 1 or 3)."""
    size = image_size(value, name)
    height, width, channels = (*size, 3) if len(size) == 2 else size
    if channels not in (1, 3):
        raise ValueError(f"{name} asks for {channels} channels; allowed: 1 or 3.")
    return height, width, channels
