"""The degradation experiment on the digits (He et al. 2016, Fig. 6): plain-56.

ResNet-56's 55 convolutions with BN and ReLU, without the shortcuts (Fig. 6
left); the paper's plain-56 has higher training and test error than plain-20.
The recipe of configs/degradation_digits.py (the paper's CIFAR-10 recipe at
the digits' scale; its docstring gives it), which this file calls with
model="plain56": the four configs differ only in model.name.

    python tools/train.py --config=configs/plain56_digits.py --workdir=runs/degradation/plain56

docs/training.md ("The degradation experiment") gives the measured training
and test errors beside the other three and the seconds.
"""

import pathlib

from kerascnn.train.config import load_config_file

_recipe = load_config_file(pathlib.Path(__file__).with_name("degradation_digits.py"))


def get_config():
    return _recipe.get_config(model="plain56")
