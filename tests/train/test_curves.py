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


def write_history(path, top1, val_top1=None, loss=None):
    """A CSVLogger file with the given per-epoch columns (val_top1 None: no test curve)."""
    loss = loss or [2.0 - 0.1 * i for i in range(len(top1))]
    header = "epoch,learning_rate,loss,top1" + (",val_top1" if val_top1 else "")
    rows = [f"{i},0.1,{loss[i]},{top1[i]}" + (f",{val_top1[i]}" if val_top1 else "")
            for i in range(len(top1))]
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_model_family_is_the_name_before_the_depth():
    assert [curves.model_family(n) for n in ("plain20", "plain56", "resnet20", "resnet110_sd",
                                             "wide_resnet28_10", "lenet")] == [
        "plain", "plain", "resnet", "resnet", "wide_resnet", "lenet"]


def test_plot_runs_draws_each_runs_training_dashed_and_test_bold(tmp_path):
    """Fig. 6's layout: a panel per family; each run one colour, training error
    (100 - top-1 in %) dashed, test error bold, at the CSV's values."""
    runs = {
        "p20": ("plain20", [0.5, 0.8, 0.9], [0.45, 0.7, 0.85]),
        "p56": ("plain56", [0.2, 0.5, 0.75], [0.25, 0.4, 0.7]),
        "r20": ("resnet20", [0.6, 0.9, 0.95], [0.55, 0.85, 0.9]),
        "r56": ("resnet56", [0.7, 0.95, 1.0], None),  # no test curve
    }
    paths = {label: write_history(tmp_path / f"{label}.csv", top1, val)
             for label, (_, top1, val) in runs.items()}
    png = tmp_path / "out.png"
    fig = curves.plot_runs([(label, model, paths[label]) for label, (model, _, _) in runs.items()],
                           png, title="degradation")
    assert png.stat().st_size > 0 and not list(tmp_path.glob(".*tmp"))
    assert [ax.get_title() for ax in fig.axes] == ["plain", "resnet"]
    assert fig.axes[0].get_shared_y_axes().joined(fig.axes[0], fig.axes[1])
    for ax, labels in zip(fig.axes, (("p20", "p56"), ("r20", "r56"))):
        lines = {line.get_label(): line for line in ax.get_lines()}
        expected = {f"{label} training" for label in labels}
        expected |= {f"{label} test" for label in labels if runs[label][2]}
        assert set(lines) == expected
        for label in labels:
            _, top1, val = runs[label]
            train = lines[f"{label} training"]
            np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
            np.testing.assert_allclose(train.get_ydata(), [100 * (1 - a) for a in top1])
            assert train.get_linestyle() == "--"
            if val:
                test = lines[f"{label} test"]
                np.testing.assert_allclose(test.get_ydata(), [100 * (1 - a) for a in val])
                assert test.get_linestyle() == "-"
                assert test.get_linewidth() > 1.5 * train.get_linewidth()
                assert test.get_color() == train.get_color()
        colours = {lines[f"{label} training"].get_color() for label in labels}
        assert len(colours) == len(labels)  # the runs of a panel tell apart
    assert fig.axes[0].get_ylim()[0] == 0


def test_plot_runs_one_panel_of_loss_and_its_errors(tmp_path):
    a = write_history(tmp_path / "a.csv", [0.1, 0.2], [0.1, 0.3], loss=[2.5, 1.5])
    b = write_history(tmp_path / "b.csv", [0.1, 0.2, 0.4], loss=[2.2, 1.1, 0.7])
    fig = curves.plot_runs([("a", "plain20", a), ("b", "resnet20", b)], tmp_path / "l.png",
                           metric="loss", panels="one")
    assert len(fig.axes) == 1 and fig.axes[0].get_yscale() == "log"
    lines = {line.get_label(): line.get_ydata().tolist() for line in fig.axes[0].get_lines()}
    assert lines == {"a training": [2.5, 1.5], "b training": [2.2, 1.1, 0.7]}  # a has no val_loss
    with pytest.raises(ValueError, match="metric must be one of .*'error'.*got 'acc'"):
        curves.plot_runs([("a", "plain20", a)], tmp_path / "x.png", metric="acc")
    with pytest.raises(ValueError, match="panels must be one of .*got 'depth'"):
        curves.plot_runs([("a", "plain20", a)], tmp_path / "x.png", panels="depth")
    with pytest.raises(ValueError, match="at least one run"):
        curves.plot_runs([], tmp_path / "x.png")
    no_top1 = tmp_path / "c.csv"
    no_top1.write_text("epoch,loss\n0,2.0\n")
    with pytest.raises(ValueError, match=r"c.csv has no error curve to plot \(its columns: "
                                         r"\['epoch', 'loss'\]"):
        curves.plot_runs([("c", "plain20", no_top1)], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
