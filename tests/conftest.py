"""Shared test setup: quiet TensorFlow, deterministic seeds, repo paths."""

import functools
import gc
import math
import os
import pathlib
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import psutil  # noqa: E402
import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]

# The contract tests and tests/no_tensorflow/ build each model at the smallest
# input it takes, at least 8 x 8: the builders refuse a smaller one before any
# layer is built ("needs height and width >= N"), which tells the size.
MIN_SIDE = 8


@functools.lru_cache(maxsize=None)
def smallest_input(name):
    """(H, W, 3): the smallest input model `name` takes, but no side below `MIN_SIDE`
    (an MLP takes any size)."""
    import kerascnn

    try:
        kerascnn.create_model(name, input_shape=(1, 1, 3), num_classes=2)
    except ValueError as err:
        found = re.search(r"needs height and width >= (\d+)", str(err))
        if not found:
            raise
        side = max(int(found.group(1)), MIN_SIDE)
    else:
        side = MIN_SIDE
    return (side, side, 3)


@pytest.fixture
def small_input_shape():
    """name -> the (H, W, 3) input the contract tests build the model at."""
    return smallest_input


# Python's cycle collection, which keras.backend.clear_session() runs by default,
# takes ~0.2-0.3 s with TensorFlow loaded: after each of ~1,000 tests that was a
# third of the suite. Keras's own state is cleared after every test; the cycles
# (models hold some) are collected when the worker holds more than this.
COLLECT_ABOVE_BYTES = 3 * 2**30


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)
    if psutil.Process().memory_info().rss > COLLECT_ABOVE_BYTES:
        gc.collect()


def trainable_count(model):
    """Trainable parameters, as the papers and torchvision count them (Keras's
    count_params() adds BatchNorm's moving statistics)."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


@pytest.fixture
def repo_root():
    return REPO


def pytest_collection_modifyitems(config, items):
    """The `slow` tests first: with `-n 2` they then run beside the many short
    ones instead of alone at the end, which shortens the suite by about their length."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# ------------------------------------------------------- the model families
# Shared by tests/models/test_contract.py and tests/no_tensorflow/: which
# registered variant of each family the costly checks build.


def _registry():
    from kerascnn import registry

    return registry


# Arguments that only repeat or widen what the builder makes (blocks per stage,
# depth, convolutions per stage, groups and their width): variants of one
# builder that differ only in these run the same code on more blocks.
SIZE_KEYS = ("stage_blocks", "depth", "blocks", "stage_convs", "config")
WIDTH_KEYS = ("cardinality", "width_per_group", "widen_factor", "alpha", "groups", "scale",
              "stem_channels", "stage_out_channels")


def _size(name):
    """How many blocks (or layers) the variant's size arguments ask for."""
    values = getattr(_registry().get_builder(name), "fixed_values", {})
    total = 0
    for key in SIZE_KEYS:
        value = values.get(key, 0)
        if key == "config":  # MobileNetV3's table ("large", "small"): its bneck rows
            from kerascnn.models.mobilenet_v3 import CONFIGS

            value = len(CONFIGS[value]["rows"]) if value else 0
        total += sum(value) if isinstance(value, (tuple, list)) else value
    return total


def _family(name):
    """(builder, the fixed arguments other than sizes and widths)."""
    variant = _registry().get_builder(name)
    fixed = getattr(variant, "fixed", {})
    kept = tuple(sorted(v for k, v in fixed.items() if k not in SIZE_KEYS + WIDTH_KEYS))
    return getattr(variant, "builder", variant), kept


def representatives():
    """The smallest variant of each family: the models the costly checks
    (`.keras` round trip, pooling without the top, a training step) build.

    A deeper or wider sibling (same builder, same fixed arguments but sizes
    and widths) runs the same code on more blocks; it gets the cheap checks
    and `test_every_model_builds_and_runs`.
    """
    families = {}
    for name in _registry().list_models():
        families.setdefault(_family(name), []).append(name)
    return sorted(min(group, key=lambda n: (_size(n), n)) for group in families.values())


# The same code at fewer blocks: for a family whose smallest registered variant
# is deep, the costly checks (tests/models/test_contract.py) and the JAX step
# (tests/no_tensorflow/) build its builder with the variant's fixed arguments
# but these sizes. The registered variant itself is built, counted and run by
# test_every_model_builds_and_runs. Under JAX each new layer shape compiles
# anew, so a DenseNet or an Inception stack is slow to build at full depth.
def _googlenet_rows():
    from kerascnn.models.googlenet import TABLE_1

    return tuple(rows[:1] for rows in TABLE_1)  # one Inception module per stage


ONE_BLOCK_PER_STAGE = {"stage_blocks": (1, 1, 1, 1)}
REDUCED = {
    "densenet121": lambda: {"blocks": (1, 1, 1, 1)},
    "densenet40_k12": lambda: {"depth": 7},  # 3n + 4, n = 1
    "densenet_bc100_k12": lambda: {"depth": 10},  # 6n + 4, n = 1
    "googlenet": lambda: {"modules": _googlenet_rows()},
    "preact_resnet164": lambda: {"depth": 11},  # 9n + 2, n = 1
    "resnet110_sd": lambda: {"depth": 8},  # 6n + 2, n = 1
    "resnet50": lambda: ONE_BLOCK_PER_STAGE,
    "resnet50_v2": lambda: ONE_BLOCK_PER_STAGE,
    "resnext29_8x64d": lambda: {"depth": 11},  # 9n + 2, n = 1
    "resnext50_32x4d": lambda: ONE_BLOCK_PER_STAGE,
    "se_resnet50": lambda: ONE_BLOCK_PER_STAGE,
    "se_resnext50_32x4d": lambda: ONE_BLOCK_PER_STAGE,
    "senet154": lambda: ONE_BLOCK_PER_STAGE,
}


def checked_in_full():
    """The registered models the costly checks build as registered (the others
    are built, counted and run by test_every_model_builds_and_runs)."""
    return [name for name in representatives() if name not in REDUCED]


def build_model(name, reduced=False, **kwargs):
    """`kerascnn.create_model(name, **kwargs)`; with `reduced`, a model in
    `REDUCED` is its builder with the variant's fixed arguments at the reduced sizes,
    named `name`."""
    import kerascnn

    if not reduced or name not in REDUCED:
        return kerascnn.create_model(name, **kwargs)
    variant = _registry().get_builder(name)
    if "num_classes" in kwargs:
        kwargs["classes"] = kwargs.pop("num_classes")
    return variant.builder(**{**variant.fixed_values, **REDUCED[name](), "name": name, **kwargs})
