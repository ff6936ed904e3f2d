"""ResNet-20 on CIFAR-10 with the paper's recipe (He et al. 2016, Sec. 4.2).

Batch 128, SGD lr 0.1, momentum 0.9, weight decay 1e-4 (coupled L2), lr / 10
at 32k and 48k iterations, stop at 64k; 4-pixel pad + random 32x32 crop +
horizontal flip; per-channel mean/std normalization inside the model. With
50,000 training images and batch 128 an epoch is 391 iterations, so 64k
iterations = 164 epochs and the decays fall at epochs 82 and 123. (The paper
trains on a 45k/5k split; this uses the whole training set and reports on the
test set.)

    python tools/train.py --config=configs/resnet20_cifar10.py --workdir=runs/resnet20_cifar10

Should reach 91.25 % test top-1 (8.75 % error, the paper's Table 6).
Needs CIFAR-10 prepared by TFDS in --config.data.data_dir (see docs/data.md).
"""

from kerascnn.train import default_config

DEPTH = 20


def get_config(depth=DEPTH):
    config = default_config()
    config.model.name = f"resnet{depth}"
    config.data.name = "cifar10"
    config.data.image_size = 32
    config.augment.crop = "pad_crop"
    config.augment.padding = 4
    config.augment.flip = True
    # The paper's recipe: no policy, no mixing. "trivial_augment" / "rand_augment"
    # and "mixup" / "cutmix" / "mixup_cutmix" switch them on (docs/augment.md).
    config.augment.policy = "none"
    config.augment.mix = "none"
    config.train.epochs = 164
    config.train.batch_size = 128
    config.train.learning_rate = 0.1
    config.train.momentum = 0.9
    config.train.weight_decay = 1e-4
    config.train.schedule = "step"
    config.train.lr_decay_epochs = (32000 / 391, 48000 / 391)
    config.train.lr_decay_rate = 0.1
    config.lock()
    return config
