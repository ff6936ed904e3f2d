"""Trainable parameter counts of registered models, each with its source.

tests/models/test_contract.py builds every registered model once and checks
its count here (with the class count given); the family tests check the
formulas and the papers' rounded figures against these numbers. Every model
here ends in global pooling, so its count does not depend on the input size.
(Keras's `count_params()` would add BatchNorm's moving statistics: these are
trainable weights only, as the papers and torchvision count.)
"""

# name -> (classes, trainable parameters)
COUNTS = {
    # torchvision.models.resnet* (sum of p.numel() for p in model.parameters()), which
    # equal He et al. 2016, Table 1 (no conv bias, projection shortcuts only where the
    # shape changes): 11.7M, 21.8M, 25.6M, 44.5M, 60.2M.
    "resnet18": (1000, 11_689_512),
    "resnet34": (1000, 21_797_672),
    "resnet50": (1000, 25_557_032),
    "resnet101": (1000, 44_549_160),
    "resnet152": (1000, 60_192_808),
    # CIFAR ResNets, option-A shortcuts: He et al. 2016, Table 6 (0.27M, 0.46M, 0.66M,
    # 0.85M, 1.7M); the exact counts of akamaster/pytorch_resnet_cifar10 for 20, 56
    # and 110; 32 and 44 from test_resnet.cifar_formula, which that test checks.
    "resnet20": (10, 269_722),
    "resnet32": (10, 464_154),
    "resnet44": (10, 658_586),
    "resnet56": (10, 853_018),
    "resnet110": (10, 1_727_962),
    # torchvision.models.resnext50_32x4d / resnext101_32x8d / resnext101_64x4d /
    # wide_resnet50_2 / wide_resnet101_2; the papers give 25.0M (Xie et al. Table 1)
    # and 68.9M (Zagoruyko & Komodakis, ImageNet table).
    "resnext50_32x4d": (1000, 25_028_904),
    "resnext101_32x8d": (1000, 88_791_336),
    "resnext101_64x4d": (1000, 83_455_272),
    "wide_resnet50_2": (1000, 68_883_240),
    "wide_resnet101_2": (1000, 126_886_696),
    # Cadene's pretrainedmodels (senet.py, ported from the authors' Caffe models; SE
    # with biases, r = 16); Hu et al. Table 2 gives 28.1M for SE-ResNet-50, 27.6M for
    # SE-ResNeXt-50, 49.3M / 66.8M for SE-ResNet-101 / 152.
    "se_resnet50": (1000, 28_088_024),
    "se_resnet101": (1000, 49_326_872),
    "se_resnet152": (1000, 66_821_848),
    "se_resnext50_32x4d": (1000, 27_559_896),
    "senet154": (1000, 115_088_984),
    # torchvision.models.densenet121 / 169 / 201 (weights meta "num_params"), equal to
    # keras.applications.DenseNet121 / 169 / 201's trainable weights
    # (tests/models/test_densenet.py builds theirs and checks the same figures).
    "densenet121": (1000, 7_978_856),
    "densenet169": (1000, 14_149_480),
    "densenet201": (1000, 20_013_928),
    # Huang et al. Table 2: DenseNet-BC (L = 100, k = 12) 0.8M, DenseNet (L = 40,
    # k = 12) 1.0M; exact, with 10 classes, from Sec. 3 (test_densenet.densenet_params).
    "densenet_bc100_k12": (10, 769_162),
    "densenet40_k12": (10, 1_019_722),
    # keras.applications.MobileNet(alpha=1, 0.75, 0.5, 0.25)'s trainable weights (its
    # 1 x 1 conv_preds top has the count of GAP + Dense); Howard et al. 2017, Tables 4
    # and 6: 4.2M, 2.6M, 1.3M, 0.5M; Conv MobileNet 29.3M (test_mobilenet.v1_params).
    "mobilenet_v1": (1000, 4_231_976),
    "mobilenet_v1_075": (1000, 2_585_560),
    "mobilenet_v1_050": (1000, 1_331_592),
    "mobilenet_v1_025": (1000, 470_072),
    "mobilenet_v1_conv": (1000, 29_294_088),
    # torchvision.models.mobilenet_v2 / mobilenet_v3_large / mobilenet_v3_small (weights
    # meta "num_params"); Sandler et al. 2018: 3.4M; Howard et al. 2019, Table 3: 5.4M, 2.5M.
    "mobilenet_v2": (1000, 3_504_872),
    "mobilenet_v3_large": (1000, 5_483_032),
    "mobilenet_v3_small": (1000, 2_542_856),
    # Pre-activation ResNets, paper layout (no conv bias): test_resnet_v2's
    # preact_bottleneck_formula, checked there against He et al. 2016b (Table 2:
    # ResNet-164 1.7M, ResNet-1001 10.2M; Table 5: ResNet-200 64.7M).
    "resnet50_v2": (1000, 25_549_352),
    "resnet101_v2": (1000, 44_541_480),
    "resnet152_v2": (1000, 60_185_128),
    "resnet200_v2": (1000, 64_666_152),
    "preact_resnet164": (10, 1_703_258),
    "preact_resnet1001": (10, 10_327_706),
    # kuangliu/pytorch-cifar's PreActResNet18 has 11,171,146 with 10 classes; ours adds
    # the paper's final BN-ReLU (He et al. 2016b, Sec. 4.1), 2 x 512 more.
    "preact_resnet18": (10, 11_171_146 + 2 * 512),
    # Zagoruyko & Komodakis, Table 4: WRN-28-10 36.5M (36,479,194 in the authors'
    # PyTorch code), WRN-16-8 11.0M, WRN-40-4 8.9M (test_resnet_v2.wrn_formula).
    "wrn28_10": (10, 36_479_194),
    "wrn16_8": (10, 10_961_370),
    "wrn40_4": (10, 8_949_210),
    # torchvision.models.shufflenet_v2_x0_5 / x1_0 / x1_5 / x2_0 (Ma et al. 2018,
    # Table 5: 1.4M, 2.3M, 3.5M, 7.4M weights). ShuffleNet v1 has no exact
    # published count (megvii's README: 1.9M for g = 3, 1x); test_shufflenet checks it.
    "shufflenet_v2_x0_5": (1000, 1_366_792),
    "shufflenet_v2_x1_0": (1000, 2_278_604),
    "shufflenet_v2_x1_5": (1000, 3_503_624),
    "shufflenet_v2_x2_0": (1000, 7_393_996),
}
