"""GoogLeNet with its two auxiliary classifiers on ImageNet (Szegedy et al. 2014, Sec. 5-6).

What the paper gives: SGD with momentum 0.9, the learning rate lowered by 4 %
every 8 epochs, the auxiliary losses added with weight 0.3 (dropout 0.7 in the
auxiliary heads, 0.4 before the main classifier: the model's defaults), and
crops of 8 %-100 % of the image area with aspect ratio 3/4-4/3
("random_resized_crop"). What it does not (it trained asynchronously on a
CPU cluster): the batch, the base rate, weight decay and the length, here the
BVLC Caffe reproduction's batch 32 x 8 = 256 with its rate scaled alike, and
its weight decay 2e-4. The auxiliary heads are for training only: the run
evaluates and saves the main head (model.keras has one output; the epoch
checkpoint keeps all three, to resume).

    python tools/train.py --config=configs/googlenet_imagenet.py --workdir=runs/googlenet_imagenet \
        --config.data.data_dir=/data/tfds --config.data.manual_dir=/data/imagenet

The paper's single model reaches 10.07 % top-5 error with one crop (Table 3)
after its own, longer schedule (this recipe has not been run to the end
here: no ImageNet on these machines). Needs ImageNet's tar files in the
manual dir (docs/data.md).
"""

from kerascnn.train import default_config


def get_config():
    config = default_config()
    config.model.name = "googlenet"
    config.model.kwargs.aux_logits = True  # outputs [main, aux1, aux2]
    config.model.kwargs.preprocessing = "imagenet"
    config.data.name = "imagenet2012"
    config.data.test_split = "validation"
    config.data.image_size = 224
    config.augment.crop = "random_resized_crop"
    config.augment.padding = 0
    config.augment.flip = True
    config.eval.resize = "center_crop"
    config.train.aux_loss_weight = 0.3  # Sec. 5
    config.train.epochs = 90
    config.train.batch_size = 256
    config.train.learning_rate = 0.08  # BVLC: 0.01 at batch 32
    config.train.momentum = 0.9
    config.train.weight_decay = 2e-4
    config.train.schedule = "step"
    config.train.lr_decay_epochs = tuple(range(8, 90, 8))  # 4 % lower every 8 epochs
    config.train.lr_decay_rate = 0.96
    config.train.eval_every_epoch = False
    config.lock()
    return config
