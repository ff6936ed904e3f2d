"""ResNeXt, wide ResNets, SE-ResNet/ResNeXt and SENet-154: counts and costs from
the papers and torchvision, and the structure the papers' tables give."""

import pytest

import keras
import kerascnn
from kerascnn.inspect import costs
from kerascnn import registry
from kerascnn.models import resnext, senet
from trainable_counts import COUNTS  # tests/models/trainable_counts.py
from conftest import trainable_count  # noqa: E402  (tests/conftest.py)


def convs(model):
    return {l.name: l for l in model.layers if isinstance(l, keras.layers.Conv2D)}


# Trainable counts with their sources: tests/models/trainable_counts.py (the
# contract test checks every registered model against them).


@pytest.fixture(scope="module")
def resnext50():
    return kerascnn.create_model("resnext50_32x4d", input_shape=(None, None, 3))


@pytest.fixture(scope="module")
def se_resnet50():
    return kerascnn.create_model("se_resnet50", input_shape=(None, None, 3))


@pytest.fixture(scope="module")
def resnet50():
    return kerascnn.create_model("resnet50", input_shape=(None, None, 3))


def test_macs_at_224_within_2_percent_of_the_papers(resnext50, se_resnet50):
    """Xie et al. Table 1: ResNeXt-50 (32x4d) 4.2e9 FLOPs; Hu et al. Table 2:
    SE-ResNet-50 3.87 GFLOPs (both count one multiply-add as one FLOP)."""
    assert trainable_count(resnext50) == COUNTS["resnext50_32x4d"][1]
    assert trainable_count(se_resnet50) == COUNTS["se_resnet50"][1]
    assert costs(resnext50, (224, 224, 3)).macs == pytest.approx(4.2e9, rel=0.02)
    assert costs(se_resnet50, (224, 224, 3)).macs == pytest.approx(3.87e9, rel=0.02)


def test_se_adds_its_formula_to_resnet50(se_resnet50, resnet50):
    """SE with ratio r on C channels: W1 C x C/r and W2 C/r x C with biases
    (2C^2/r + C/r + C parameters) and 2C^2/r multiply-adds (Hu et al., Sec. 3, 6)."""
    blocks = {256: 3, 512: 4, 1024: 6, 2048: 3}  # output channels of each stage: blocks
    params = sum(n * (2 * c * c // 16 + c // 16 + c) for c, n in blocks.items())
    macs = sum(n * 2 * c * c // 16 for c, n in blocks.items())
    assert trainable_count(se_resnet50) - trainable_count(resnet50) == params
    assert (costs(se_resnet50, (224, 224, 3)).macs
            - costs(resnet50, (224, 224, 3)).macs) == macs


def test_se_gates_the_residual_branch_before_the_sum(se_resnet50):
    """Hu et al. Fig. 3: the SE block scales the residual branch, then the identity is added."""
    se = se_resnet50.get_layer("conv3_block2_se")
    assert se.input is se_resnet50.get_layer("conv3_block2_3_bn").output
    add = se_resnet50.get_layer("conv3_block2_add")
    assert se.output in add.input and se_resnet50.get_layer("conv3_block1_out").output in add.input
    assert se.bottleneck_width(512) == 512 // 16


def test_resnext50_follows_table1(resnext50):
    """Xie et al. Table 1: grouped 3x3 of 128/256/512/1024 channels in 32 groups,
    block outputs 256/512/1024/2048; the 3x3 strides."""
    layers = convs(resnext50)
    for stage, width in zip((2, 3, 4, 5), (128, 256, 512, 1024)):
        grouped = layers[f"conv{stage}_block1_2_conv"]
        assert isinstance(grouped, kerascnn.layers.GroupedConv2D)
        assert (grouped.filters, grouped.groups) == (width, 32)
        assert grouped.kernel.shape == (3, 3, width // 32, width)
        assert layers[f"conv{stage}_block1_1_conv"].filters == width
        assert layers[f"conv{stage}_block1_3_conv"].filters == 2 * width
    assert layers["conv3_block1_2_conv"].strides == (2, 2)
    assert layers["conv3_block1_1_conv"].strides == (1, 1)


def test_wide_resnet50_2_doubles_the_bottleneck():
    """Zagoruyko & Komodakis: WRN-50-2-bottleneck has twice ResNet-50's inner widths,
    the same outputs (torchvision's width_per_group=128)."""
    model = kerascnn.create_model("wide_resnet50_2", input_shape=(64, 64, 3))
    assert trainable_count(model) == COUNTS["wide_resnet50_2"][1]
    layers = convs(model)
    for stage, width in zip((2, 3, 4, 5), (128, 256, 512, 1024)):
        assert layers[f"conv{stage}_block1_1_conv"].filters == width
        assert layers[f"conv{stage}_block1_2_conv"].filters == width
        assert layers[f"conv{stage}_block1_3_conv"].filters == 4 * width // 2


def test_senet154_follows_the_appendix():
    """Hu et al., Appendix: three-conv stem, halved first 1x1, 3x3/2 projection
    shortcuts, 64 groups, dropout 0.2 before the classifier."""
    # One block per stage shows the structure; the registered depths are checked below
    # and the full network's count by the contract test (tests/models/trainable_counts.py).
    model = senet.SENet(stage_blocks=(1, 1, 1, 1), input_shape=(32, 32, 3))
    layers = convs(model)
    stem = [layers[f"conv1_{i}_conv"] for i in (1, 2, 3)]
    assert [(c.filters, c.kernel_size, c.strides) for c in stem] == [
        (64, (3, 3), (2, 2)), (64, (3, 3), (1, 1)), (128, (3, 3), (1, 1))]
    assert layers["conv2_block1_0_conv"].kernel_size == (1, 1)
    for stage in (3, 4, 5):
        short = layers[f"conv{stage}_block1_0_conv"]
        assert (short.kernel_size, short.strides) == ((3, 3), (2, 2))
    for stage, width in zip((2, 3, 4, 5), (256, 512, 1024, 2048)):
        assert layers[f"conv{stage}_block1_1_conv"].filters == width // 2
        grouped = layers[f"conv{stage}_block1_2_conv"]
        assert (grouped.filters, grouped.groups) == (width, 64)
    assert model.get_layer("top_dropout").rate == 0.2
    assert registry.get_builder("senet154").fixed_values == {"stage_blocks": (3, 8, 36, 3)}


def test_resnext29_follows_sec_5_3():
    """Xie et al. Sec. 5.3 and Table 7: ResNeXt-29 (8x64d), 3 stages of 3 blocks,
    grouped widths 512/1024/2048 in 8 groups, outputs 256/512/1024; 34.4M parameters."""
    model = kerascnn.create_model("resnext29_8x64d", num_classes=10)
    assert round(trainable_count(model) / 1e6, 1) == 34.4
    layers = convs(model)
    assert layers["conv1_conv"].filters == 64
    for stage, width in zip((2, 3, 4), (512, 1024, 2048)):
        grouped = layers[f"conv{stage}_block3_2_conv"]
        assert (grouped.filters, grouped.groups) == (width, 8)
        assert layers[f"conv{stage}_block3_3_conv"].filters == width // 2
    convs_and_fc = len(layers) - 3 + 1  # minus the 3 projection shortcuts, plus the classifier
    assert convs_and_fc == 29
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize("kwargs, match", [
    ({"cardinality": 0}, "cardinality must be an integer >= 1"),
    ({"width_per_group": 2.5}, "width_per_group must be an integer >= 1"),
    ({"se_ratio": 0}, "se_ratio must be None or > 0"),
    ({"drop_path_rate": 1.0}, r"drop_path_rate must be in \[0, 1\)"),
    ({"block": "basic"}, "fixes block"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resnext.ResNeXt(stage_blocks=(1, 1, 1, 1), input_shape=(32, 32, 3), **kwargs)


def test_grouped_options_need_bottlenecks():
    with pytest.raises(ValueError, match="bottleneck blocks only"):
        kerascnn.create_model("resnet18", cardinality=32)
    with pytest.raises(ValueError, match="9n \\+ 2"):
        resnext.ResNeXtCIFAR(depth=30)
