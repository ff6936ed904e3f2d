"""The training config's keys and defaults, defined once for every config file."""

import ml_collections
from ml_collections import config_dict


def default_config():
    """An unlocked ConfigDict with every key `train_and_evaluate` reads.

    Config files start from this, set what their recipe changes, and lock it.
    Keys are the arguments of the functions they reach (the model builder,
    `kerascnn.data.train_pipeline`, `kerascnn.data.eval_pipeline`, the
    optimizer and schedule). These are the only config keys: the training
    library derives the required keys from this function.
    """
    c = ml_collections.ConfigDict()
    c.seed = 0

    c.model = ml_collections.ConfigDict()
    c.model.name = "resnet20"
    # Builder keyword arguments; `input_shape` and `classes` come from the data
    # unless set. preprocessing="dataset" computes the per-channel mean/std of
    # the training split (up to 10,000 images) when the model is built;
    # "dataset_mean_image" the mean image and per-channel std (AlexNet).
    c.model.kwargs = ml_collections.ConfigDict()

    c.data = ml_collections.ConfigDict()
    c.data.name = "digits"  # "digits", a TFDS name, or "folder:PATH"
    c.data.data_dir = config_dict.placeholder(str)  # TFDS data_dir (default ~/tensorflow_datasets)
    c.data.manual_dir = config_dict.placeholder(str)  # TFDS manual_dir (imagenet2012)
    c.data.train_split = "train"
    c.data.test_split = "test"
    c.data.image_size = 32

    c.augment = ml_collections.ConfigDict()
    # The keyword arguments of `kerascnn.data.train_pipeline` (docs/augment.md),
    # with its defaults (a test ties the two).
    c.augment.crop = "pad_crop"  # pad_crop | resize | scale_aug | random_resized_crop
    c.augment.padding = 4
    c.augment.flip = True
    c.augment.vertical_flip = False
    c.augment.rotation = 0.0  # max degrees
    c.augment.translation = 0.0  # max fraction of the size
    c.augment.brightness = 0.0  # colour jitter strengths (torchvision ColorJitter)
    c.augment.contrast = 0.0
    c.augment.saturation = 0.0
    c.augment.hue = 0.0
    c.augment.pca_lighting = 0.0  # std of alpha (AlexNet: 0.1); 0 = off
    c.augment.pca_basis = "imagenet"  # imagenet | dataset (computed from the training split)
    c.augment.noise = 0.0  # Gaussian noise std, grey levels
    c.augment.policy = "none"  # none | rand_augment | trivial_augment
    c.augment.num_ops = 2  # RandAugment N
    c.augment.magnitude = 9 / 30  # RandAugment m in [0, 1] (torchvision bin / 30, timm M / 10)
    c.augment.magnitude_std = 0.0
    c.augment.fill = 0  # grey value for uncovered pixels
    c.augment.cutout = 0  # side in pixels; 0 = off
    c.augment.random_erasing = 0.0  # probability
    c.augment.mix = "none"  # none | mixup | cutmix | mixup_cutmix | fourier_mix
    c.augment.mixup_alpha = 0.2
    c.augment.cutmix_alpha = 1.0
    c.augment.mix_switch_prob = 0.5
    c.augment.mix_prob = 1.0
    c.augment.keras_cv = ()  # grid_mask, random_crop_and_resize, jittered_resize

    c.eval = ml_collections.ConfigDict()
    # The keyword arguments of `kerascnn.data.eval_pipeline`.
    c.eval.resize = "resize"  # resize | center_crop

    c.train = ml_collections.ConfigDict()
    c.train.epochs = 30
    c.train.batch_size = 128
    c.train.optimizer = "sgd"
    c.train.learning_rate = 0.1
    c.train.momentum = 0.9
    c.train.nesterov = False
    c.train.weight_decay = 1e-4  # coupled L2, as in the papers
    c.train.schedule = "cosine"  # cosine | step | constant
    c.train.warmup_epochs = 0.0
    c.train.lr_decay_epochs = ()  # "step": epochs at which lr *= lr_decay_rate
    c.train.lr_decay_rate = 0.1
    c.train.final_learning_rate = 0.0
    c.train.label_smoothing = 0.0
    c.train.shuffle_buffer = 10_000
    c.train.eval_every_epoch = True

    c.export = ml_collections.ConfigDict()
    c.export.root = "saved_models"
    c.export.num_parity_images = 64
    c.export.tflite = True
    return c
