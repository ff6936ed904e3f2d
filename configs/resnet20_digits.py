"""ResNet-20 on the handwritten digits scikit-learn ships (the quick start).

1,797 real 8x8 digits (stored as 32x32x3), with a fixed stratified 20 % test
split (1,437 train / 360 test); nothing to download. Trained at 16x16, which
the 8x8 originals fill as well as 32x32 do at a quarter of the cost.
Augmentation: 1-pixel pad-and-crop and TrivialAugmentWide.

    python tools/train.py --config=configs/resnet20_digits.py --workdir=runs/resnet20_digits

Should reach >= 98.5 % test top-1 (measured: 99.72 % with seed 0; 99.72 %
and 99.17 % with seeds 1 and 2) in under a minute on a 2-core CPU (README,
"Quick start", gives the measured figures and the CPU).
"""

from kerascnn.train import default_config


def get_config():
    config = default_config()
    config.model.name = "resnet20"
    config.model.kwargs.preprocessing = "digits"  # the training digits' mean / std (kerascnn.layers.DATASET_STATS)
    config.data.name = "digits"
    config.data.image_size = 16
    config.augment.crop = "pad_crop"
    config.augment.padding = 1
    config.augment.flip = False  # a mirrored digit is another glyph
    # TrivialAugmentWide (one random op per image, uniform strength); a stronger
    # augmentation wants more epochs than crop alone. 20 epochs reached 99.44 %,
    # 98.61 % and 98.61 % (seeds 0-2), too close to the 98.5 % floor; 30 do not.
    config.augment.policy = "trivial_augment"
    config.train.epochs = 30
    config.train.batch_size = 64
    config.train.learning_rate = 0.05
    config.train.weight_decay = 5e-4
    config.train.warmup_epochs = 1.0
    config.train.schedule = "cosine"
    config.train.eval_every_epoch = False
    config.lock()
    return config
