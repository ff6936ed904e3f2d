"""ChannelSplit: ShuffleNet v2's channel split, against NumPy; errors; round trip; costs."""

import numpy as np
import pytest

import keras
from kerascnn.inspect import costs
from kerascnn.layers import ChannelShuffle, ChannelSplit


def sample(shape):
    return np.random.default_rng(0).normal(size=shape).astype("float32")


def test_channel_split_gives_consecutive_equal_parts():
    """output[j] = input[..., j C / g : (j + 1) C / g] (PyTorch's chunk)."""
    x = sample((2, 3, 4, 12))
    for g in (2, 3, 4):
        parts = [np.asarray(p) for p in ChannelSplit(g)(x)]
        assert len(parts) == g
        for j, part in enumerate(parts):
            np.testing.assert_array_equal(part, x[..., j * 12 // g:(j + 1) * 12 // g])


def test_channel_split_rejects_bad_groups_and_channels():
    with pytest.raises(ValueError, match=r"channels \(10\).*groups \(4\)"):
        ChannelSplit(4)(keras.Input((3, 3, 10)))
    for bad in (1, 0, 2.0, True):
        with pytest.raises(ValueError, match="integer >= 2"):
            ChannelSplit(bad)


def test_channel_split_round_trips_and_costs_nothing(tmp_path):
    inp = keras.Input((None, None, 8))
    left, right = ChannelSplit(2, name="split")(inp)
    assert tuple(left.shape) == (None, None, None, 4)
    out = ChannelShuffle(2)(keras.layers.Concatenate()([right, left]))
    model = keras.Model(inp, out)
    x = sample((2, 3, 3, 8))
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)  # no custom_objects
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))
    # right half first, then shuffled: output channel 2i is input channel 4 + i.
    np.testing.assert_array_equal(np.asarray(model(x))[..., 0::2], x[..., 4:])
    report = costs(model, (3, 3, 8))
    assert report.macs == 0 and report.trainable_params == 0 and not report.unknown
