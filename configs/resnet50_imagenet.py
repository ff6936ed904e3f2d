"""ResNet-50 on ImageNet (ILSVRC-2012) with the paper's recipe (He et al. 2016, Sec. 3.4).

Batch 256, SGD lr 0.1, momentum 0.9, weight decay 1e-4, lr / 10 every 30
epochs for 90 epochs; scale augmentation (short side resized to a random
L in [256, 480], random 224x224 crop, horizontal flip); evaluation on the
center 224 crop of the image resized to 256 (single crop).

    python tools/train.py --config=configs/resnet50_imagenet.py --workdir=runs/resnet50_imagenet \
        --config.data.data_dir=/data/tfds --config.data.manual_dir=/data/imagenet

Should reach about 75.3 % top-1 / 92.2 % top-5 single-crop validation
(24.7 % / 7.8 % error for 10-crop testing in the paper's Table 3; single
crop is about 1 point lower). Needs ImageNet's tar files in the manual dir
(see docs/data.md); weeks on a CPU, about a day on 8 GPUs.
"""

from kerascnn.train import default_config


def get_config():
    config = default_config()
    config.model.name = "resnet50"
    config.model.kwargs.preprocessing = "imagenet"
    config.data.name = "imagenet2012"
    config.data.test_split = "validation"
    config.data.image_size = 224
    config.augment.crop = "scale_aug"
    config.augment.padding = 0
    config.augment.flip = True
    config.eval.resize = "center_crop"
    config.train.epochs = 90
    config.train.batch_size = 256
    config.train.learning_rate = 0.1
    config.train.momentum = 0.9
    config.train.weight_decay = 1e-4
    config.train.schedule = "step"
    config.train.lr_decay_epochs = (30, 60)
    config.train.lr_decay_rate = 0.1
    config.train.eval_every_epoch = False
    config.lock()
    return config
