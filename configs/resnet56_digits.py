"""The degradation experiment on the digits (He et al. 2016, Fig. 6): ResNet-56.

ResNet-56 with the paper's parameter-free (option A) shortcuts (Fig. 6
middle); the paper's ResNet-56 has lower training and test error than
ResNet-20. The recipe of configs/degradation_digits.py (the paper's CIFAR-10
recipe at the digits' scale; its docstring gives it), which this file calls
with model="resnet56": the four configs differ only in model.name.

    python tools/train.py --config=configs/resnet56_digits.py --workdir=runs/degradation/resnet56

docs/training.md ("The degradation experiment") gives the measured training
and test errors beside the other three and the seconds.
"""

import pathlib

from kerascnn.train.config import load_config_file

_recipe = load_config_file(pathlib.Path(__file__).with_name("degradation_digits.py"))


def get_config():
    return _recipe.get_config(model="resnet56")
