"""Random (coarse then refined) and grid search: the sampling against its formulas,
the trials ranked by validation top-1, the CSV and the resume."""

import csv
import math

import keras
import numpy as np
import pytest

from kerascnn import train
from kerascnn.train import curves, search, train_lib

SPACE = ["train.learning_rate=log:1e-4:1", "train.weight_decay=uniform:0:0.01",
         "train.batch_size=choice:32|64"]


def test_log_dimension_is_uniform_in_the_exponent():
    lr = search.parse_space(SPACE)[0]
    rng = np.random.default_rng(0)
    exponents = np.log10([lr.sample(rng) for _ in range(4000)])
    assert exponents.min() >= -4 and exponents.max() <= 0
    # Uniform on [-4, 0]: mean -2, std 4 / sqrt(12); each decade a quarter of the draws.
    assert exponents.mean() == pytest.approx(-2, abs=0.06)
    assert exponents.std() == pytest.approx(4 / math.sqrt(12), rel=0.03)
    np.testing.assert_allclose(np.histogram(exponents, bins=4, range=(-4, 0))[0] / 4000,
                               0.25, atol=0.025)


def test_refined_samples_stay_in_a_quarter_of_the_range_around_the_best():
    lr, wd, _ = search.parse_space(SPACE)
    rng = np.random.default_rng(1)
    near = np.log10([lr.sample(rng, around=0.01) for _ in range(500)])
    assert near.min() >= -2 - 0.5 and near.max() <= -2 + 0.5  # 0.25 * 4 decades, centred
    assert near.max() - near.min() > 0.9
    edge = [wd.sample(rng, around=0.0) for _ in range(500)]  # clipped to the coarse range
    assert min(edge) >= 0 and max(edge) <= 0.25 * 0.01 / 2


def test_grid_is_log_spaced_and_crosses_every_value():
    dims = search.parse_space(SPACE[:2])
    np.testing.assert_allclose(dims[0].grid(5), np.logspace(-4, 0, 5))
    points = search.trial_points(dims, "grid", 9, 1, 0, None)
    assert len(points) == 9
    assert sorted({p["train.learning_rate"] for p in points}) == pytest.approx([1e-4, 1e-2, 1])
    assert sorted({p["train.weight_decay"] for p in points}) == pytest.approx([0, 0.005, 0.01])


def test_random_rounds_refine_around_the_best_finished_trial():
    dims = search.parse_space(SPACE)
    seen = []

    def finished(points):  # stands for the trials: the best is the rate nearest 0.05
        seen.append(len(points))
        return [{**p, "val_top1": -abs(math.log10(p["train.learning_rate"] / 0.05))}
                for p in points]

    points = search.trial_points(dims, "random", 8, 2, 0, finished)
    assert [p["round"] for p in points] == [1] * 4 + [2] * 4 and seen == [4]
    best = max(finished(points[:4]), key=lambda r: r["val_top1"])
    for p in points[4:]:
        assert abs(math.log10(p["train.learning_rate"] / best["train.learning_rate"])) <= 0.5
        assert p["train.batch_size"] in (32, 64)
    assert search.trial_points(dims, "random", 8, 2, 0, finished) == points  # seeded


@pytest.mark.parametrize("spec, match", [
    ("train.learning_rate=log:0:1", "LOW > 0"),
    ("train.learning_rate=log:1:0.1", "LOW < HIGH"),
    ("train.learning_rate=normal:0:1", "KEY=log:LOW:HIGH"),
    ("train.learning_rate", "KEY=log:LOW:HIGH"),
    ("train.batch_size=choice:32", "2 values"),
    ("train.learnig_rate=log:1e-3:1", "did you mean train.learning_rate"),
])
def test_bad_dimensions(spec, match):
    cfg = train_lib.config_to_dict(train.default_config())
    with pytest.raises(ValueError, match=match):
        search.parse_space([spec], cfg)


def _config():
    c = train.default_config()
    c.model.name = "mlp"
    c.model.kwargs.widths = (64,)
    c.model.kwargs.preprocessing = "dataset"
    c.data.image_size = 8
    c.augment.crop = "resize"
    c.augment.flip = False
    c.train.batch_size = 128
    c.train.eval_every_epoch = False
    return c


def test_search_ranks_trials_by_validation_top1_and_resumes(tmp_path, monkeypatch):
    dims = search.parse_space(["train.learning_rate=log:1e-4:1"])
    result = search.search(_config(), tmp_path, dims, trials=2, rounds=2, epochs=1)
    with open(result.csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["trial", "round", "train.learning_rate", "val_top1", "val_loss",
                             "test_top1", "seconds"]
    assert len(rows) == 2 and result.png_path.exists()
    val = [float(r["val_top1"]) for r in rows]
    assert val == sorted(val, reverse=True)
    for row in rows:  # each trial's figure is its run's last validation epoch
        trial = tmp_path / f"trial_{int(row['trial']):03d}"
        history = curves.read_history(trial / "history.csv")
        assert float(row["val_top1"]) == pytest.approx(history["val_top1"][-1], rel=1e-5)
        cfg = train_lib.load_run(trial)[0]
        assert cfg["train"]["learning_rate"] == pytest.approx(float(row["train.learning_rate"]),
                                                              rel=1e-5)
        assert (cfg["train"]["epochs"], cfg["train"]["validation_split"]) == (1, 0.2)
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("trained again"))
    again = search.search(_config(), tmp_path, dims, trials=2, rounds=2, epochs=1)
    assert [r["trial"] for r in again.rows] == [int(r["trial"]) for r in rows]
