"""The degradation experiment on the digits (He et al. 2016, Fig. 6): ResNet-20.

Plain nets (the same convolutions and BN, no shortcuts) and ResNets of 20 and
56 layers trained with one recipe; the four configs differ only in
model.name. This file trains the ResNet-20 arm and holds the recipe;
configs/plain20_digits.py, plain56_digits.py and resnet56_digits.py call its
`get_config(model)`. (configs/resnet20_digits.py is the quick start, a
different recipe with TrivialAugment.)

The recipe is the paper's CIFAR-10 one (Sec. 4.2) at the digits' scale: SGD
lr 0.1, momentum 0.9, weight decay 1e-4, batch 128, lr / 10 at 1/2 and 3/4
of training (32k and 48k of 64k iterations), BN in every network. One
deviation: a 2-epoch linear warmup (the paper warms up only ResNet-110).
Without it ResNet-56, whose loss starts at 8.1 (ln 10 = 2.3: 27 unit-gain
residual branches add up), stayed at chance for 3 epochs and ended at 19 %
training error; with it, 1.3 % (docs/training.md has both). The only
augmentation is a 1-pixel pad-and-crop (the quick start's; no flip: a
mirrored digit is another glyph), so that the training error is not an
augmentation's. The test split is evaluated after each epoch for the
test-error curves.

    python tools/train.py --config=configs/degradation_digits.py --workdir=runs/degradation/resnet20
    python tools/compare_runs.py --workdirs=runs/degradation/plain20,runs/degradation/plain56,runs/degradation/resnet20,runs/degradation/resnet56 --output=degradation.png

docs/training.md ("The degradation experiment") gives the measured errors,
seconds and what does and does not reproduce at this scale.
"""

from kerascnn.train import default_config

EPOCHS = 40


def get_config(model="resnet20"):
    config = default_config()
    config.model.name = model
    config.model.kwargs.preprocessing = "digits"  # the training digits' mean / std
    config.data.name = "digits"
    config.data.image_size = 16
    config.augment.crop = "pad_crop"
    config.augment.padding = 1
    config.augment.flip = False
    config.augment.policy = "none"
    config.augment.mix = "none"
    config.train.epochs = EPOCHS
    config.train.batch_size = 128
    config.train.optimizer = "sgd"
    config.train.learning_rate = 0.1
    config.train.momentum = 0.9
    config.train.weight_decay = 1e-4
    config.train.warmup_epochs = 2.0
    config.train.schedule = "step"
    config.train.lr_decay_epochs = (EPOCHS / 2, EPOCHS * 3 / 4)
    config.train.lr_decay_rate = 0.1
    config.train.eval_every_epoch = True
    config.lock()
    return config
