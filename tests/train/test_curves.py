"""Training curves from a CSVLogger file."""

import math

import numpy as np
import pytest

from kerascnn.train import curves

CSV = """epoch,learning_rate,loss,top1,val_loss,val_top1
0,0.1,2.0,0.3,NA,NA
1,0.1,1.0,0.6,1.2,0.55
2,0.01,0.5,0.8,0.9,0.7
"""


def test_reads_the_columns_with_na_as_nan(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(CSV)
    history = curves.read_history(path)
    assert history["loss"] == [2.0, 1.0, 0.5] and history["epoch"] == [0, 1, 2]
    assert math.isnan(history["val_loss"][0]) and history["val_top1"][1:] == [0.55, 0.7]


def test_writes_two_panels(tmp_path):
    from PIL import Image

    path = tmp_path / "history.csv"
    path.write_text(CSV)
    png = tmp_path / "curves.png"
    curves.plot_history(path, png, title="t")
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert pixels.shape[1] > 2 * pixels.shape[0] * 0.9  # two panels side by side
    assert not list(tmp_path.glob(".*tmp"))
    empty = tmp_path / "empty.csv"
    empty.write_text("epoch,loss\n")
    with pytest.raises(ValueError, match="has no epochs to plot"):
        curves.plot_history(empty, tmp_path / "x.png")
