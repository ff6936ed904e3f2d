"""ShuffleNet v2 (0.5x) on the handwritten digits, exported to full-integer int8 TFLite:
the mobile quick path (README).

The built-in digits (no download) at 32x32, the smallest input ShuffleNet's
five downsamplings take; 1-pixel pad-and-crop, no flip. One command trains,
evaluates and exports SavedModel, .keras, float32 and int8 TFLite (uint8 in
and out, calibrated on 300 training images through the evaluation
pipeline) with a parity report of each file on held-out digits:

    python tools/train.py --config=configs/shufflenet_v2_digits.py --workdir=runs/shufflenet_v2_digits --export

README, "Mobile quick path", gives the measured accuracy, agreement, sizes and time.
"""

from kerascnn.train import default_config


def get_config():
    config = default_config()
    config.model.name = "shufflenet_v2_x0_5"
    config.model.kwargs.preprocessing = "digits"
    config.data.name = "digits"
    config.data.image_size = 32
    config.augment.crop = "pad_crop"
    config.augment.padding = 2
    config.augment.flip = False  # a mirrored digit is another glyph
    config.train.epochs = 30
    config.train.batch_size = 64
    config.train.learning_rate = 0.1
    config.train.weight_decay = 4e-5
    config.train.warmup_epochs = 1.0
    config.train.schedule = "cosine"
    config.train.eval_every_epoch = False
    config.export.quantization = ("int8",)
    config.export.io_dtype = "uint8"
    config.lock()
    return config
