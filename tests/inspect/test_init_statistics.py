"""The notes' activation-statistics experiment (seeds/001, "Weight Initialization"):
its conclusions asserted on the statistics, against a NumPy reference of the notes' code."""

import numpy as np
import pytest

from kerascnn.inspect import activations


@pytest.fixture(scope="module")
def runs():
    return {run: activations.activation_statistics(*run) for run in activations.NOTES_RUNS}


def test_the_notes_code_gives_the_same_numbers():
    """The notes' loop, written out (with this module's draws): x = f(x W) per layer."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 64), dtype=np.float32)
    for _ in range(3):
        w = rng.standard_normal((64, 64), dtype=np.float32) * np.float32(1 / np.sqrt(64))
        x = np.tanh(x @ w)
    ours = activations.activation_statistics("tanh", "xavier", width=64, layers=3, batch=4, seed=3)
    assert ours[-1].std == pytest.approx(float(x.std()), rel=1e-6)
    assert ours[-1].mean == pytest.approx(float(x.mean()), abs=1e-7)


def test_tanh_small_weights_collapse_toward_zero(runs):
    std = [s.std for s in runs["tanh", "0.01"]]
    assert all(b < 0.7 * a for a, b in zip(std, std[1:]))  # shrinks at every layer
    assert std[-1] < 0.05 and std[-1] < 0.1 * std[0]


def test_tanh_larger_weights_saturate(runs):
    for s in runs["tanh", "0.05"]:
        assert s.mean_abs > 0.75 and s.saturated > 0.3  # |a| near 1: tanh's flat ends


def test_tanh_xavier_keeps_a_usable_scale(runs):
    std = [s.std for s in runs["tanh", "xavier"]]
    assert std[-1] > 0.25 and std[-1] > 0.4 * std[0]  # 0.01 ends at a tenth
    assert all(s.saturated < 0.01 for s in runs["tanh", "xavier"])


def test_relu_xavier_shrinks_and_kaiming_keeps_the_scale(runs):
    xavier = [s.std for s in runs["relu", "xavier"]]
    kaiming = [s.std for s in runs["relu", "kaiming"]]
    # ReLU halves the second moment: with 1 / D_in each layer keeps 1/2 of it, std x 0.71.
    for a, b in zip(xavier, xavier[1:]):
        assert b / a == pytest.approx(np.sqrt(0.5), rel=0.05)
    assert max(kaiming) / min(kaiming) < 1.1


def test_bad_arguments_name_what_is_allowed():
    with pytest.raises(ValueError, match=r"activation must be one of \['relu', 'tanh'\], got 'elu'"):
        activations.activation_statistics("elu")
    with pytest.raises(ValueError, match=r"init must be one of .*'kaiming'.*got 'he'"):
        activations.activation_statistics("relu", "he")
    with pytest.raises(ValueError, match="width must be an integer >= 1, got 0"):
        activations.activation_statistics(width=0)


def test_table_and_png(runs, tmp_path):
    from PIL import Image

    table = activations.format_statistics(runs)
    assert table.splitlines()[2].startswith("tanh       0.01")
    assert f"{runs['relu', 'kaiming'][-1].std:7.4f}" in table
    path = tmp_path / "init.png"
    activations.plot_activation_statistics(runs, path)
    width, height = Image.open(path).size
    assert width > height > 0 and not list(tmp_path.glob(".*tmp"))
