"""The measurement behind docs/training.md's table "With the shipped backbone": not a test.

    python tests/train/transfer_experiment.py [WORKDIR]   # about 2 min on 2 cores

Trains configs/digits_0to4.py (ResNet-20 on the digits 0-4, 15 epochs) into
WORKDIR (default /tmp/transfer_experiment; a finished run is reused), then on
the digits 5-9 fits logistic regression (scikit-learn) on raw pixels and on
the backbone's last feature map (`features="map"`), each with and without
standardization, and the Keras probe `transfer(..., features="map")`, for 5,
10 and 20 labelled images per class (4 draws each) and for all 719, and
prints one line per draw, scored on the 180 test 5-9.
"""

import importlib.util
import pathlib
import sys

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_transfer_learning import _arrays, _few_shot, _fit  # noqa: E402

from kerascnn import train  # noqa: E402
from kerascnn.models import backbone  # noqa: E402
from kerascnn.train import transfer_learning  # noqa: E402


def _logistic(train_x, train_y, test_x, test_y, standardize):
    if standardize:
        scaler = StandardScaler().fit(train_x)
        train_x, test_x = scaler.transform(train_x), scaler.transform(test_x)
    return LogisticRegression(max_iter=5000).fit(train_x, train_y).score(test_x, test_y)


def main(workdir):
    spec = importlib.util.spec_from_file_location("c", HERE.parents[1] / "configs" / "digits_0to4.py")
    config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(config)
    run = train.train_and_evaluate(config.get_config(), workdir, verbose=0)
    print(f"backbone: 0-4 test top-1 {run.metrics['top1']:.3f}")
    xtr, ytr = _arrays(range(5, 10), "train")
    xte, yte = _arrays(range(5, 10), "test")
    features = backbone.feature_extractor(run.model, "map")
    ftr, fte = features.predict(xtr, verbose=0), features.predict(xte, verbose=0)
    rtr = xtr[..., 0].reshape(len(xtr), -1) / 255
    rte = xte[..., 0].reshape(len(xte), -1) / 255
    for shots in (5, 10, 20, None):
        for seed in range(4) if shots else [0]:
            idx = _few_shot(ytr, shots, seed) if shots else np.arange(len(ytr))
            row = [_logistic(rtr[idx], ytr[idx], rte, yte, False),
                   _logistic(rtr[idx], ytr[idx], rte, yte, True),
                   _logistic(ftr[idx], ytr[idx], fte, yte, False),
                   _logistic(ftr[idx], ytr[idx], fte, yte, True)]
            keras.utils.set_random_seed(0)
            probe = _fit(transfer_learning.transfer(run.model, 5, features="map"),
                         keras.optimizers.Adam(0.01), xtr[idx], ytr[idx], 60)
            row.append(probe.evaluate(xte, yte, verbose=0)[1])
            print(f"{shots or 'all'} per class, draw {seed}: raw %.3f  raw std %.3f  "
                  "map %.3f  map std %.3f  Keras map probe %.3f" % tuple(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/transfer_experiment")
