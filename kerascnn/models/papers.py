"""What the literature says of each registered model: parameters, multiply-adds, source, deviation.

`PAPERS[name]` is a `Paper` of text, as the paper (or torchvision,
keras.applications, the authors' code) states the figures: "138 M",
"15.5 G", "11,689,512"; "-" where the source gives none. `classes` is the
class count the figure is for (10 for the CIFAR networks), which
`tools/costs.py --all` builds each model with. docs/models.md's table of
every model is generated from this table and the models themselves
(`kerascnn.inspect.zoo`); the families' sections there explain the gaps.

Multiply-adds count 1 each, as the papers count them (their "FLOPs" are
multiply-adds); torchvision's "GFLOPS" are multiply-adds too.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Paper:
    """The published figures of one registered model, as text ("-": none given).

    Attributes:
        params: trainable parameters, e.g. "138 M" or "11,689,512".
        macs: multiply-adds at the paper's input size, e.g. "15.5 G".
        source: where the figures come from, e.g. "Simonyan & Zisserman 2015, Table 2".
        deviation: how kerascnn's default build differs from the paper, one
            short sentence ("None." if it does not).
        classes: the number of classes the figures are for.
    """

    params: str
    macs: str
    source: str
    deviation: str
    classes: int = 1000


_NONE = "None."
_RESNET = "He et al. 2016, Table 1; torchvision (params)"
_VGG_INIT = ("He-normal initial weights (the paper: N(0, 0.01) for A, the deeper nets "
             "started from A).")
_VGG_BN = "BatchNorm after every convolution, as torchvision (the paper predates BatchNorm)."
_SE_SOURCE = "Cadene's pretrainedmodels (params); Hu et al. 2018, Table 2 (MACs)"
_V2_KERAS = ("Default layout='paper' (fb.resnet.torch's preresnet); layout='keras', "
             "use_bias=True is keras.applications' network and count.")
_PREACT_STRIDE = ("The 3x3 of a downsampling bottleneck strides, the authors' code the 1x1 "
                  "(same count).")
_WRN = "None (dropout off by default; the paper's best CIFAR runs use 0.3)."
_V1 = "Howard et al. 2017, Table 6; keras.applications MobileNet (params)"
_PAD = ("Stride-2 layers pad symmetrically (torchvision); keras.applications bottom/right "
        "(padding='keras').")
_SHUFFLE_V1 = "Zhang et al. 2018, Table 1; megvii's ShuffleNet-Series (params)"
_SHUFFLE_V2 = "Ma et al. 2018, Table 5; torchvision (params)"

# In docs/models.md's order: by family, then by size.
PAPERS = {
    # The classic nets (classic.py).
    "mlp": Paper("-", "-", "LeCun et al. 1998, Sec. III.C (2-layer NN, 300 HU)",
                 "ReLU hidden units where the 1998 net had sigmoids.", classes=10),
    "xor_mlp": Paper("-", "-", "Minsky & Papert 1969; the notes' 2-2-1 network",
                     "Two logits (false, true) in place of one sigmoid output unit.", classes=2),
    # 340,908 = Sec. II.B's connections per layer, C1 122,304 + S2 5,880 + C3 151,600
    # + S4 2,000 + C5 48,120 + F6 10,164 + the output's 84 x 10.
    "lenet5": Paper("60,000", "340,908 connections", "LeCun et al. 1998, Sec. II.B",
                    "C3 sees all six S2 maps, S2 and S4 are plain pools, and a dense logits layer "
                    "replaces the RBF units.", classes=10),
    "alexnet": Paper("60 M", "724 M", "Krizhevsky et al. 2012; Sze et al. 2017, Table 4 (MACs)",
                     "One tower by default (groups=2 is the paper's two: 60,965,224 params, "
                     "724 M MACs) and He-normal initial weights."),
    "zfnet": Paper("-", "-", "Zeiler & Fergus 2014, Fig. 3",
                   "AlexNet's LRN as the contrast normalization, He-normal initial weights, "
                   "no first-layer filter renormalization."),
    # VGG (vgg.py).
    "vgg11": Paper("133 M", "7.61 G", "Simonyan & Zisserman 2015, Table 2; torchvision (MACs)",
                   _VGG_INIT),
    "vgg11_bn": Paper("132,868,840", "7.61 G", "torchvision vgg11_bn", _VGG_BN),
    "vgg13": Paper("133 M", "11.31 G", "Simonyan & Zisserman 2015, Table 2; torchvision (MACs)",
                   _VGG_INIT),
    "vgg13_bn": Paper("133,053,736", "11.31 G", "torchvision vgg13_bn", _VGG_BN),
    "vgg16": Paper("138 M", "15.5 G", "Simonyan & Zisserman 2015, Table 2; Sze et al. 2017 (MACs)",
                   _VGG_INIT),
    "vgg16_bn": Paper("138,365,992", "15.47 G", "torchvision vgg16_bn", _VGG_BN),
    "vgg19": Paper("144 M", "19.6 G", "Simonyan & Zisserman 2015, Table 2; He et al. 2016 (MACs)",
                   _VGG_INIT),
    "vgg19_bn": Paper("143,678,248", "19.63 G", "torchvision vgg19_bn", _VGG_BN),
    # GoogLeNet (googlenet.py).
    "googlenet": Paper("6.8 M", "1.5 G", "Szegedy et al. 2015, Table 1 and Sec. 5",
                       "None (a global average pool for the 7x7 one); Table 1's sums undercount "
                       "conv1."),
    # ResNet v1 and its plain twins (resnet.py).
    "resnet18": Paper("11,689,512", "1.8 G", _RESNET, _NONE),
    "resnet34": Paper("21,797,672", "3.6 G", _RESNET, _NONE),
    "resnet50": Paper("25,557,032", "3.8 G", _RESNET,
                      "None (the first 1x1 strides; stride_in_1x1=False is torchvision's v1.5)."),
    "resnet101": Paper("44,549,160", "7.6 G", _RESNET, _NONE),
    "resnet152": Paper("60,192,808", "11.3 G", _RESNET, _NONE),
    "resnet20": Paper("0.27 M", "-", "He et al. 2016, Table 6", _NONE, classes=10),
    "resnet32": Paper("0.46 M", "-", "He et al. 2016, Table 6", _NONE, classes=10),
    "resnet44": Paper("0.66 M", "-", "He et al. 2016, Table 6", _NONE, classes=10),
    "resnet56": Paper("0.85 M", "-", "He et al. 2016, Table 6", _NONE, classes=10),
    "resnet110": Paper("1.7 M", "-", "He et al. 2016, Table 6", _NONE, classes=10),
    "plain18": Paper("-", "1.8 G", "He et al. 2016, Table 1 and Fig. 4 (as ResNet-18)", _NONE),
    "plain34": Paper("-", "3.6 G", "He et al. 2016, Table 1 and Fig. 4 (as ResNet-34)", _NONE),
    "plain20": Paper("0.27 M", "-", "He et al. 2016, Table 6 and Fig. 6 (as ResNet-20)", _NONE,
                     classes=10),
    "plain56": Paper("0.85 M", "-", "He et al. 2016, Table 6 and Fig. 6 (as ResNet-56)", _NONE,
                     classes=10),
    "resnet110_sd": Paper("1.7 M", "-", "Huang et al. 2016, Sec. 4",
                          "Drops per sample and scales kept branches by 1/p_l in training "
                          "(the paper: per batch, p_l at test).", classes=10),
    # ResNeXt, wide and SE variants of ResNet v1 (resnext.py), SENet-154 (senet.py).
    "resnext50_32x4d": Paper("25.0 M", "4.2 G", "Xie et al. 2017, Table 1",
                             "None (the 3x3 strides, as the authors' code)."),
    "resnext101_32x8d": Paper("88,791,336", "16.41 G", "torchvision resnext101_32x8d", _NONE),
    "resnext101_64x4d": Paper("83,455,272", "15.46 G",
                              "torchvision resnext101_64x4d (Xie et al. 2017, Table 5: 83.7 M)",
                              _NONE),
    "resnext29_8x64d": Paper("34.4 M", "-", "Xie et al. 2017, Table 7", _NONE, classes=10),
    "wide_resnet50_2": Paper("68,883,240", "11.4 G",
                             "torchvision wide_resnet50_2 (Zagoruyko & Komodakis 2016: 68.9 M)",
                             _NONE),
    "wide_resnet101_2": Paper("126,886,696", "22.75 G", "torchvision wide_resnet101_2", _NONE),
    "se_resnet50": Paper("28.1 M", "3.87 G", "Hu et al. 2018, Table 2", _NONE),
    "se_resnet101": Paper("49,326,872", "7.60 G", _SE_SOURCE, _NONE),
    "se_resnet152": Paper("66,821,848", "11.32 G", _SE_SOURCE, _NONE),
    "se_resnext50_32x4d": Paper("27.6 M", "4.25 G", "Hu et al. 2018, Table 2", _NONE),
    "senet154": Paper("115,088,984", "20.7 G",
                      "Cadene's pretrainedmodels (params); Hu et al. 2018 (MACs)",
                      "The stem's max pool pads one pixel where Caffe rounds up (same size)."),
    # Pre-activation ResNets and wide ResNets (resnet_v2.py).
    "resnet50_v2": Paper("25,568,360", "-", "keras.applications ResNet50V2", _V2_KERAS),
    "resnet101_v2": Paper("44,577,896", "-", "keras.applications ResNet101V2", _V2_KERAS),
    "resnet152_v2": Paper("60,236,904", "-", "keras.applications ResNet152V2", _V2_KERAS),
    "resnet200_v2": Paper("64.7 M", "-", "He et al. 2016b (the notes' table)", _NONE),
    "preact_resnet164": Paper("1.7 M", "-", "He et al. 2016b, Table 2", _PREACT_STRIDE,
                              classes=10),
    "preact_resnet1001": Paper("10.2 M", "-", "He et al. 2016b, Table 2",
                               "As preact_resnet164; the paper's 10.2 M leaves out BN's 149,216 "
                               "scales and shifts.", classes=10),
    "preact_resnet18": Paper("11,171,146", "-", "kuangliu/pytorch-cifar PreActResNet18",
                             "Adds the paper's final BN-ReLU (1,024 parameters), which "
                             "PreActResNet18 lacks.", classes=10),
    "wrn16_8": Paper("11.0 M", "-", "Zagoruyko & Komodakis 2016, Table 4", _WRN, classes=10),
    "wrn28_10": Paper("36.5 M", "-", "Zagoruyko & Komodakis 2016, Table 4", _WRN, classes=10),
    "wrn40_4": Paper("8.9 M", "-", "Zagoruyko & Komodakis 2016, Table 4", _WRN, classes=10),
    # DenseNet (densenet.py).
    "densenet121": Paper("7,978,856", "2.83 G", "torchvision densenet121", _NONE),
    "densenet169": Paper("14,149,480", "3.36 G", "torchvision densenet169", _NONE),
    "densenet201": Paper("20,013,928", "4.29 G", "torchvision densenet201", _NONE),
    "densenet264": Paper("~33 M", "-", "Huang et al. 2017, Fig. 3", _NONE),
    "densenet_bc100_k12": Paper("0.8 M", "-", "Huang et al. 2017, Table 2", _NONE, classes=10),
    "densenet40_k12": Paper("1.0 M", "-", "Huang et al. 2017, Table 2", _NONE, classes=10),
    # MobileNet v1, v2 (mobilenet.py) and v3 (mobilenet_v3.py).
    "mobilenet_v1": Paper("4,231,976", "569 M", _V1, _PAD),
    "mobilenet_v1_075": Paper("2,585,560", "325 M", _V1, _PAD),
    "mobilenet_v1_050": Paper("1,331,592", "149 M", _V1, _PAD),
    "mobilenet_v1_025": Paper("470,072", "41 M", _V1, _PAD),
    "mobilenet_v1_conv": Paper("29.3 M", "4866 M", "Howard et al. 2017, Table 4", _PAD),
    "mobilenet_v2": Paper("3,504,872", "300 M",
                          "torchvision mobilenet_v2 (params); Sandler et al. 2018, Table 4", _PAD),
    "mobilenet_v3_large": Paper("5,483,032", "219 M",
                                "torchvision mobilenet_v3_large (params); Howard et al. 2019, "
                                "Table 3", _PAD),
    "mobilenet_v3_small": Paper("2,542,856", "56 M",
                                "torchvision mobilenet_v3_small (params); Howard et al. 2019, "
                                "Table 3", _PAD),
    # ShuffleNet v1 and v2 (shufflenet.py).
    "shufflenet_v1": Paper("1.9 M", "137 M", _SHUFFLE_V1, _NONE),
    "shufflenet_v1_g1": Paper("-", "143 M", "Zhang et al. 2018, Table 1", _NONE),
    "shufflenet_v1_g2": Paper("-", "140 M", "Zhang et al. 2018, Table 1", _NONE),
    "shufflenet_v1_g4": Paper("-", "133 M", "Zhang et al. 2018, Table 1", _NONE),
    "shufflenet_v1_g8": Paper("2.4 M", "137 M", _SHUFFLE_V1, _NONE),
    "shufflenet_v1_x0_5": Paper("0.7 M", "38 M", "Zhang et al. 2018, Table 2; megvii's "
                                "ShuffleNet-Series (params)",
                                "None (conv1 scaled to 12, as megvii's code)."),
    "shufflenet_v1_x1_5": Paper("3.4 M", "292 M", "Zhang et al. 2018, Table 8; megvii's "
                                "ShuffleNet-Series (params)",
                                "None (conv1 keeps 24, as megvii's code)."),
    "shufflenet_v1_x2_0": Paper("5.4 M", "524 M", "Zhang et al. 2018, Table 8; megvii's "
                                "ShuffleNet-Series (params)",
                                "None (conv1 scaled to 48, as megvii's code)."),
    "shufflenet_v2_x0_5": Paper("1,366,792", "41 M", _SHUFFLE_V2, _NONE),
    "shufflenet_v2_x1_0": Paper("2,278,604", "146 M", _SHUFFLE_V2, _NONE),
    "shufflenet_v2_x1_5": Paper("3,503,624", "299 M", _SHUFFLE_V2, _NONE),
    "shufflenet_v2_x2_0": Paper("7,393,996", "591 M", _SHUFFLE_V2, _NONE),
}
