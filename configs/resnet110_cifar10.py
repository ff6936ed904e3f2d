"""ResNet-110 on CIFAR-10 with the paper's recipe (He et al. 2016, Sec. 4.2).

The ResNet-20 recipe (configs/resnet20_cifar10.py) at depth 110, plus the
paper's warm-up for this depth: lr 0.01 until the training error is below
80 % (about 400 iterations, here 1 epoch of linear warmup), then 0.1.

    python tools/train.py --config=configs/resnet110_cifar10.py --workdir=runs/resnet110_cifar10

Should reach 93.57 % test top-1 (6.43 % error, the paper's Table 6).
"""

import pathlib

from kerascnn.train.config import load_config_file

_base = load_config_file(pathlib.Path(__file__).with_name("resnet20_cifar10.py"))


def get_config():
    config = _base.get_config(depth=110)
    config.unlock()
    config.train.warmup_epochs = 1.0
    config.lock()
    return config
