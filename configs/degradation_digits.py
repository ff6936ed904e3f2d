"""The degradation experiment on the digits (He et al. 2016, Fig. 6): ResNet-20.

Plain nets (the same convolutions and BN, no shortcuts) and ResNets of 20 and
56 layers trained with one recipe; the four configs differ only in
model.name. This file trains the ResNet-20 arm and holds the recipe;
configs/plain20_digits.py, plain56_digits.py and resnet56_digits.py call its
`get_config(model)`. (configs/resnet20_digits.py is the quick start, a
different recipe with TrivialAugment.)

The recipe is the paper's CIFAR-10 one (Sec. 4.2) at the digits' scale: SGD
lr 0.1, momentum 0.9, weight decay 1e-4, batch 128, no warmup, lr / 10 at
1/2 and 3/4 of training (32k and 48k of 64k iterations); its only
augmentation is a 1-pixel pad-and-crop (the paper's 4 pixels at 32x32 is 2
at 16x16; the digits fill the frame, no flip: a mirrored digit is another
glyph), so the training error is not hidden by augmentation. The test split
is evaluated after each epoch for the test-error curves.

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
    config.train.warmup_epochs = 0.0
    config.train.schedule = "step"
    config.train.lr_decay_epochs = (EPOCHS / 2, EPOCHS * 3 / 4)
    config.train.lr_decay_rate = 0.1
    config.train.eval_every_epoch = True
    config.lock()
    return config
