"""Shared test setup: quiet TensorFlow, deterministic seeds, repo paths."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]

# The contract tests build every registered model at 32 x 32; a model that
# cannot take so small an input names its smallest (H, W) here. Shared by
# tests/models/test_contract.py and tests/no_tensorflow/.
SMALL_INPUT_SIZES = {
    # AlexNet's unpadded 11x11/4 conv1 and three 3/2 max pools leave 1x1 at 67.
    "alexnet": (67, 67),
    # ZFNet's 7x7/2 conv1 (padding 1), 5x5/2 conv2 and three pools: 1x1 at 53.
    "zfnet": (53, 53),
}


@pytest.fixture
def small_input_shape():
    """name -> the (H, W, 3) input the contract tests build the model at."""
    return lambda name: (*SMALL_INPUT_SIZES.get(name, (32, 32)), 3)


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


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
SIZE_KEYS = ("stage_blocks", "depth", "blocks", "stage_convs")
WIDTH_KEYS = ("cardinality", "width_per_group", "widen_factor")


def _size(name):
    """How many blocks (or layers) the variant's size arguments ask for."""
    values = getattr(_registry().get_builder(name), "fixed_values", {})
    total = 0
    for key in SIZE_KEYS:
        value = values.get(key, 0)
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
