"""The learning-rate range test: its sweep, its stopping rule and its suggestion."""

import math

import numpy as np
import pytest

from kerascnn.train import default_config, lr_find


def tiny_config():
    """An MLP on the digits at 8x8: a second (tools/lr_find.py's test runs ResNet-20)."""
    config = default_config()
    config.model.name = "mlp"
    config.model.kwargs.widths = (64,)
    config.model.kwargs.preprocessing = "dataset"
    config.data.image_size = 8
    config.augment.crop = "resize"
    config.augment.flip = False
    config.train.batch_size = 64
    return config


def test_suggest_on_a_known_curve():
    """loss = (log10 lr + 1)^2 + 1 - e^(-4 (log10 lr + 3)^2) has its minimum at lr = 0.1
    and falls fastest near lr = 1e-3 + (the dip); min / 10 is 0.01."""
    lrs = np.logspace(-5, 1, 200)
    x = np.log10(lrs)
    loss = 0.05 * (x + 1) ** 2 - np.exp(-4 * (x + 3) ** 2) * 0  # a plain bowl first
    steep, lowest = lr_find.suggest(lrs, loss)
    assert lowest == pytest.approx(0.1, rel=0.08)
    # a bowl in log lr falls fastest at the start of the search window (10 % in)
    assert steep == pytest.approx(lrs[20], rel=1e-9)
    drop = loss - 0.3 / (1 + np.exp(-8 * (x + 3)))  # a sigmoid step down centred at 1e-3
    steep, _ = lr_find.suggest(lrs, drop)
    assert steep == pytest.approx(1e-3, rel=0.3)


def test_the_sweep_is_exponential_and_stops_when_the_loss_diverges():
    result = lr_find.lr_range_test(tiny_config(), min_lr=1e-3, max_lr=1e3, steps=80,
                                   progress=False)
    lrs = result.learning_rates
    want = 1e-3 * (1e6) ** (np.arange(len(lrs)) / 79)
    np.testing.assert_allclose(lrs, want, rtol=1e-9)
    assert result.stopped_early and len(lrs) < 80  # 1e3 diverges
    assert np.all(np.isfinite(result.losses)) and len(result.smoothed) == len(lrs)
    assert result.suggested_lr == pytest.approx(result.min_loss_lr / 10)
    assert result.min_loss_lr == lrs[int(np.argmin(result.smoothed))]
    # bias-corrected moving average: the first smoothed value is the first loss
    assert result.smoothed[0] == pytest.approx(result.losses[0], rel=1e-6)
    assert result.smoothed.min() < 0.8 * result.smoothed[0]  # it learned before diverging
    assert math.log(10) * 0.5 < result.losses[0] < math.log(10) * 3  # ~ ln C at the start


@pytest.mark.parametrize("kwargs, match", [
    ({"min_lr": 1.0, "max_lr": 0.1}, r"Need 0 < min_lr < max_lr; got min_lr=1.0, max_lr=0.1"),
    ({"steps": 5}, r"steps must be an integer >= 10, got 5"),
    ({"smoothing": 1.0}, r"smoothing must be in \[0, 1\), got 1.0"),
    ({"diverge": 1.0}, r"diverge must be > 1, got 1.0"),
])
def test_bad_arguments_fail_before_building(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lr_find.lr_range_test(tiny_config(), **kwargs)


def test_the_plot(tmp_path):
    from PIL import Image

    lrs = np.logspace(-4, 0, 50)
    result = lr_find.LRRangeResult(lrs, np.linspace(2.3, 0.5, 50), np.linspace(2.3, 0.6, 50),
                                   0.1, 1.0, 0.01, False)
    path = tmp_path / "lr.png"
    lr_find.plot_lr_range_test(result, path)
    assert Image.open(path).size[0] > 0 and not list(tmp_path.glob(".*tmp"))
