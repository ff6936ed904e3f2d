"""A new head for the digits 5-9 on the features of the 0-4 backbone (configs/digits_0to4.py).

    python tools/train.py --config=configs/digits_0to4.py --workdir=runs/digits_0to4
    python tools/train.py --config=configs/transfer_digits.py --workdir=runs/digits_5to9_probe \\
        --config.transfer.backbone=runs/digits_0to4
    python tools/train.py --config=configs/transfer_digits.py --workdir=runs/digits_5to9_finetune \\
        --config.transfer.backbone=runs/digits_0to4 --config.transfer.mode=fine_tune

The backbone is given on the command line (a path that must exist when the
config is checked); without it this config trains ResNet-20 from scratch on
the digits 5-9, the no-transfer comparison.

linear_probe trains only the new Dense on the frozen backbone (its BatchNorm
in inference mode); fine_tune also trains the last stage (4x4, conv4) at
0.1 x the head's rate. docs/training.md, "Transfer learning", gives the
measured figures and the raw-pixel baseline.
"""

from kerascnn.train import default_config


def get_config():
    config = default_config()
    config.model.name = "resnet20"  # the backbone's; model.kwargs stays empty
    config.data.name = "digits"
    config.data.classes = (5, 6, 7, 8, 9)  # relabelled 0..4
    config.data.image_size = 16  # the backbone's input size
    config.augment.padding = 1
    config.augment.flip = False
    config.transfer.mode = "linear_probe"
    config.transfer.fine_tune_stages = 1
    config.transfer.backbone_lr_multiplier = 0.1
    config.train.optimizer = "adam"
    config.train.epochs = 10
    config.train.batch_size = 64
    config.train.learning_rate = 0.01
    config.train.weight_decay = 0.0
    config.train.eval_every_epoch = False
    config.lock()
    return config
