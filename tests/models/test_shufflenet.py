"""ShuffleNet v1 and v2: multiply-adds and counts from the papers, megvii's code and
torchvision, and the structure of v1's Table 1 and v2's Table 5."""

import numpy as np
import pytest

import keras
import kerascnn
from kerascnn.inspect import costs
from kerascnn.models.shufflenet import ShuffleNetV1, ShuffleNetV2
from trainable_counts import COUNTS  # tests/models/trainable_counts.py

# Zhang et al. 2018, Table 1: output channels of stages 2-4 and complexity (MFLOPs,
# i.e. multiply-adds) of ShuffleNet 1x at 224x224, per number of groups g.
TABLE1 = {1: ((144, 288, 576), 143e6), 2: ((200, 400, 800), 140e6),
          3: ((240, 480, 960), 137e6), 4: ((272, 544, 1088), 133e6),
          8: ((384, 768, 1536), 137e6)}
# Scaled networks: (groups, scale, conv1 channels) -> (multiply-adds, parameters).
# Multiply-adds: Zhang et al. Table 2 (0.5x: 38 M) and Table 8 (1.5x: 292 M, 2x: 524 M);
# megvii's ShuffleNet-Series README (ShuffleNetV1) for g = 8 and all parameter counts
# (rounded to 0.1 M); conv1 has 12 / 24 / 48 channels at 0.5x / 1.5x / 2x there.
SCALED = {(3, 0.5, None): (38e6, 0.7e6), (3, 1.5, 24): (292e6, 3.4e6),
          (3, 2.0, None): (524e6, 5.4e6), (8, 0.5, None): (40e6, 1.0e6),
          (8, 2.0, None): (522e6, 6.5e6)}
# Ma et al. 2018, Table 5: output channels of conv1, stages 2-4, conv5; complexity
# (MFLOPs = multiply-adds) at 224x224. torchvision: 0.04, 0.14, 0.30, 0.58 GFLOPS.
TABLE5 = {"shufflenet_v2_x0_5": ((24, 48, 96, 192, 1024), 41e6),
          "shufflenet_v2_x1_0": ((24, 116, 232, 464, 1024), 146e6),
          "shufflenet_v2_x1_5": ((24, 176, 352, 704, 1024), 299e6),
          "shufflenet_v2_x2_0": ((24, 244, 488, 976, 2048), 591e6)}
UNITS = (4, 8, 4)  # units of stages 2-4, both papers


def trainable_count(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def v1_params(g, stage_channels, stem=24, classes=1000):
    """Trainable parameters of ShuffleNet v1 from Sec. 3.2 / Table 1, by hand: 1x1
    GConvs of out/4 bottleneck channels (stage 2's first 1x1 ungrouped), 3x3 depthwise,
    stride-2 branches of out - in channels, BN (2 per channel) after each conv."""
    total = 27 * stem + 2 * stem
    c_in = stem
    for stage, (c, n) in enumerate(zip(stage_channels, UNITS)):
        mid = c // 4
        for unit in range(n):
            branch = c - c_in if unit == 0 else c
            first_groups = 1 if stage == 0 and unit == 0 else g
            total += c_in * mid // first_groups + 2 * mid  # 1x1 GConv, BN
            total += 9 * mid + 2 * mid  # 3x3 depthwise, BN
            total += mid * branch // g + 2 * branch  # 1x1 GConv, BN
            c_in = c
    return total + c_in * classes + classes


@pytest.fixture(scope="module")
def v1():
    """ShuffleNet 1x for every g of Table 1, at any input size."""
    return {g: ShuffleNetV1(groups=g, input_shape=(None, None, 3)) for g in TABLE1}


@pytest.fixture(scope="module")
def v2():
    """ShuffleNet v2 1x (Table 5), at any input size."""
    return ShuffleNetV2(TABLE5["shufflenet_v2_x1_0"][0], input_shape=(None, None, 3))


def shapes_at_224(model):
    return {r.name: tuple(r.output_shape[1:]) for r in costs(model, (224, 224, 3)).rows}


def test_v1_macs_at_224_within_3_percent_of_table1_for_every_g(v1):
    for g, (_, macs) in TABLE1.items():
        assert costs(v1[g], (224, 224, 3)).macs == pytest.approx(macs, rel=0.03), g


def test_v1_counts_follow_the_paper_and_megvii(v1):
    """The hand formula for every g; megvii's README: 1.9 M (g = 3), 2.4 M (g = 8)."""
    for g, (channels, _) in TABLE1.items():
        assert trainable_count(v1[g]) == v1_params(g, channels), g
    # megvii's classifier has no bias (1,000 fewer).
    assert trainable_count(v1[3]) - 1000 == pytest.approx(1.9e6, abs=0.05e6)
    assert trainable_count(v1[8]) - 1000 == pytest.approx(2.4e6, abs=0.05e6)


def test_v1_scaled_networks_match_the_papers_costs():
    for (g, s, stem), (macs, params) in SCALED.items():
        report = costs(ShuffleNetV1(groups=g, scale=s, stem_channels=stem,
                                    input_shape=(224, 224, 3)))
        assert report.macs == pytest.approx(macs, rel=0.03), (g, s)
        # megvii's classifier has no bias: 1,000 parameters fewer than ours.
        assert report.trainable_params - 1000 == pytest.approx(params, abs=0.05e6), (g, s)
    assert kerascnn.registry.get_builder("shufflenet_v1_x1_5").fixed_values == {
        "groups": 3, "scale": 1.5, "stem_channels": 24}


def test_v1_follows_table1(v1):
    """Output sizes 112, 56, 28, 14, 7; stage channels; 4, 8, 4 units, the first strides."""
    model = v1[3]
    shapes = shapes_at_224(model)
    assert shapes["conv1_relu"] == (112, 112, 24) and shapes["pool1"] == (56, 56, 24)
    for stage, (size, c, n) in enumerate(zip((28, 14, 7), TABLE1[3][0], UNITS)):
        assert shapes[f"stage{stage + 2}_block{n}_out"] == (size, size, c)
        assert f"stage{stage + 2}_block{n + 1}_out" not in shapes
    for g, (channels, _) in TABLE1.items():
        for stage, c in enumerate(channels):
            assert v1[g].get_layer(f"stage{stage + 2}_block1_out").output.shape[-1] == c


def test_v1_unit_layout(v1):
    """Fig. 2: 1x1 GConv (out/4) -> BN -> ReLU -> shuffle -> 3x3 DWConv -> BN -> 1x1 GConv
    -> BN; add (stride 1) or concat with a 3x3/2 average pool (stride 2); ReLU after.
    Stage 2's first 1x1 is not grouped."""
    model = v1[3]
    first = model.get_layer("stage2_block1_1_conv")
    assert type(first) is keras.layers.Conv2D and first.filters == 60
    for name in ("stage2_block2_1_conv", "stage2_block1_3_conv", "stage3_block1_1_conv",
                 "stage4_block4_3_conv"):
        layer = model.get_layer(name)
        assert isinstance(layer, kerascnn.layers.GroupedConv2D) and layer.groups == 3, name
    # The stride-2 branch gives out - in channels: 240 - 24, 480 - 240.
    assert model.get_layer("stage2_block1_3_conv").filters == 216
    assert model.get_layer("stage3_block1_3_conv").filters == 240
    shuffle = model.get_layer("stage3_block2_shuffle")
    assert shuffle.groups == 3
    assert shuffle.input is model.get_layer("stage3_block2_1_relu").output
    dw = model.get_layer("stage3_block2_2_conv")
    assert isinstance(dw, keras.layers.DepthwiseConv2D) and dw.input is shuffle.output
    assert model.get_layer("stage3_block1_2_conv").strides == (2, 2) and dw.strides == (1, 1)
    # No ReLU after the depthwise convolution: its BN feeds the second 1x1.
    assert (model.get_layer("stage3_block2_3_conv").input
            is model.get_layer("stage3_block2_2_bn").output)
    pool = model.get_layer("stage3_block1_pool")
    assert isinstance(pool, kerascnn.layers.DepthwiseAveragePooling2D)  # int8: docs/export.md
    assert (pool.pool_size, pool.strides) == (3, 2)
    concat = model.get_layer("stage3_block1_concat")
    assert concat.input[0] is pool.output
    assert (model.get_layer("stage3_block2_add").input[0]
            is model.get_layer("stage3_block1_out").output)  # the identity shortcut
    # g = 1: no shuffle layers at all.
    assert not any(isinstance(layer, kerascnn.layers.ChannelShuffle) for layer in v1[1].layers)


def test_v2_macs_at_224_within_3_percent_of_table5(v2):
    assert costs(v2, (224, 224, 3)).macs == pytest.approx(146e6, rel=0.03)
    for name, (channels, macs) in TABLE5.items():
        if name != "shufflenet_v2_x1_0":
            model = ShuffleNetV2(channels, input_shape=(224, 224, 3))
            assert costs(model).macs == pytest.approx(macs, rel=0.03), name
            assert trainable_count(model) == COUNTS[name][1], name
    assert trainable_count(v2) == COUNTS["shufflenet_v2_x1_0"][1]


def test_v2_follows_table5(v2):
    """Output sizes and channels: conv1 112x112x24, pool 56, stages 28/14/7 with 116,
    232, 464 channels in 4, 8, 4 units, conv5 7x7x1024."""
    shapes = shapes_at_224(v2)
    assert shapes["conv1_relu"] == (112, 112, 24) and shapes["pool1"] == (56, 56, 24)
    for stage, (size, c, c_in, n) in enumerate(zip((28, 14, 7), (116, 232, 464),
                                                   (24, 116, 232), UNITS)):
        assert shapes[f"stage{stage + 2}_block{n}_shuffle"] == (size, size, c)
        assert f"stage{stage + 2}_block{n + 1}_shuffle" not in shapes
        # Stride 2 (Fig. 3d): both branches see the whole input, each gives c / 2.
        assert shapes[f"stage{stage + 2}_block1_branch1_dw_conv"] == (size, size, c_in)
        assert shapes[f"stage{stage + 2}_block1_branch1_pw_conv"] == (size, size, c // 2)
        assert shapes[f"stage{stage + 2}_block1_branch2_3_conv"] == (size, size, c // 2)
        assert f"stage{stage + 2}_block1_split" not in shapes
        assert shapes[f"stage{stage + 2}_block2_branch2_3_conv"] == (size, size, c // 2)
    assert shapes["conv5_relu"] == (7, 7, 1024)


def test_v2_stride1_unit_passes_half_the_channels_and_shuffles():
    """Fig. 3c: channel split; the left half is the identity; concat; channel shuffle
    (2 groups), so output channel 2i is input channel i for i < C/2."""
    model = ShuffleNetV2((8, 16, 32, 64, 32), stage_units=(2, 1, 1), input_shape=(32, 32, 3))
    unit = keras.Model(model.get_layer("stage2_block1_shuffle").output,
                       model.get_layer("stage2_block2_shuffle").output)
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 16)).astype("float32")
    y = np.asarray(unit(x))
    np.testing.assert_array_equal(y[..., 0::2], x[..., :8])
    assert not np.allclose(y[..., 1::2], x[..., 8:])
    assert model.get_layer("stage2_block2_shuffle").groups == 2


@pytest.mark.parametrize("builder, kwargs, match", [
    (ShuffleNetV1, {"groups": 5}, r"groups must be one of \(1, 2, 3, 4, 8\).*5"),
    (ShuffleNetV1, {"groups": 3.0}, "groups must be one of"),
    (ShuffleNetV1, {"scale": 0.7}, r"scale must be one of .*0.7"),
    (ShuffleNetV1, {"scale": True}, "scale must be one of"),
    (ShuffleNetV1, {"groups": 3, "stem_channels": 16}, r"multiple of groups \(3\).*16"),
    (ShuffleNetV1, {"stage_units": (4, 8)}, r"stage_units must be three"),
    (ShuffleNetV2, {"stage_out_channels": (24, 116, 232, 464)}, "five channel counts"),
    (ShuffleNetV2, {"stage_out_channels": (24, 115, 232, 464, 1024)}, "even"),
    (ShuffleNetV2, {"stage_out_channels": (24, 116, 232, 464, 1024), "stage_units": (4, 0, 4)},
     "stage_units"),
])
def test_bad_arguments_before_any_layer(builder, kwargs, match, monkeypatch):
    def no_layers(*args, **kwargs):
        raise AssertionError("a layer was built")

    monkeypatch.setattr(keras.layers.Layer, "__init__", no_layers)
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)
