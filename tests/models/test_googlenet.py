"""GoogLeNet (Inception v1): Table 1's counts and shapes, both module kinds, the auxiliary heads."""

import numpy as np
import pytest

import keras
import kerascnn
from kerascnn.inspect import costs
from kerascnn.models import googlenet

# Szegedy et al. 2014 (arXiv:1409.4842), Table 1, written out again here so that
# the model is checked against the paper, not against its own constant:
# (module, input side at 224x224, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5,
# pool proj, the paper's "params" (K) and "ops" (M) columns).
PAPER_TABLE_1 = [
    ("3a", 28, 64, 96, 128, 16, 32, 32, 159, 128),
    ("3b", 28, 128, 128, 192, 32, 96, 64, 380, 304),
    ("4a", 14, 192, 96, 208, 16, 48, 64, 364, 73),
    ("4b", 14, 160, 112, 224, 24, 64, 64, 437, 88),
    ("4c", 14, 128, 128, 256, 24, 64, 64, 463, 100),
    ("4d", 14, 112, 144, 288, 32, 64, 64, 580, 119),
    ("4e", 14, 256, 160, 320, 32, 128, 128, 840, 170),
    ("5a", 7, 256, 160, 320, 32, 128, 128, 1072, 54),
    ("5b", 7, 384, 192, 384, 48, 128, 128, 1388, 71),
]

# Trainable parameters of GoogLeNet without the auxiliary classifiers, 1000
# classes, convolution biases, no BN: Table 1's layers counted exactly
# (6,990,272 weights + 8,280 biases; `table1_counts` below). The paper's params
# column sums to 6.8 M because it is in units of 1,024 weights, leaves the
# biases out, and has rows that disagree with its own filter counts: conv1 says
# 2.7K for 7*7*3*64 = 9,408 weights (its ops column, 34M, is 2.7K * 112^2 too,
# where 9,408 * 112^2 = 118M), and 4c, 4d, 5a, 5b are off by 10-55K
# (docs/models.md, "GoogLeNet", lists them).
GOOGLENET_PARAMS = 6_998_552


def trainable_count(layers_or_model):
    weights = (layers_or_model.trainable_weights if isinstance(layers_or_model, keras.Model)
               else [w for layer in layers_or_model for w in layer.trainable_weights])
    return int(sum(np.prod(w.shape) for w in weights))


def conv_cost(c_in, c_out, k, side):
    """(weights + biases, multiply-adds) of a k x k "same" convolution at side x side."""
    return k * k * c_in * c_out + c_out, side * side * k * k * c_in * c_out


def module_costs(c_in, side, n1, n3r, n3, n5r, n5, pool_proj):
    """Fig. 2(b): parameters and multiply-adds of one Inception module, by hand."""
    convs = [(c_in, n1, 1), (c_in, n3r, 1), (n3r, n3, 3), (c_in, n5r, 1), (n5r, n5, 5),
             (c_in, pool_proj, 1)]
    pairs = [conv_cost(a, b, k, side) for a, b, k in convs]
    return sum(p for p, _ in pairs), sum(m for _, m in pairs)


def table1_counts(classes=1000):
    """{row: (parameters, multiply-adds)} of Table 1 at 224x224, and the totals."""
    rows = {"conv1": conv_cost(3, 64, 7, 112)}
    conv2 = [conv_cost(64, 64, 1, 56), conv_cost(64, 192, 3, 56)]
    rows["conv2"] = (sum(p for p, _ in conv2), sum(m for _, m in conv2))
    c_in = 192
    for name, side, n1, n3r, n3, n5r, n5, pp, _, _ in PAPER_TABLE_1:
        rows[name] = module_costs(c_in, side, n1, n3r, n3, n5r, n5, pp)
        c_in = n1 + n3 + n5 + pp
    rows["linear"] = (1024 * classes + classes, 1024 * classes)
    return rows


@pytest.fixture(scope="module")
def model():
    return kerascnn.create_model("googlenet")


@pytest.fixture(scope="module")
def report(model):
    return costs(model)


def test_parameter_count(model):
    assert trainable_count(model) == GOOGLENET_PARAMS
    rows = table1_counts()
    assert sum(p for p, _ in rows.values()) == GOOGLENET_PARAMS


def test_each_row_of_table1(model, report):
    """Per-module parameters and multiply-adds equal the hand count; the MACs equal
    the paper's ops column (to its rounding) except its conv1 and 5a entries."""
    rows = table1_counts()
    prefixes = {"conv1": ("conv1_",), "conv2": ("conv2_",), "linear": ("predictions",)}
    macs = {}
    for row, (params, row_macs) in rows.items():
        starts = prefixes.get(row, (f"inception_{row}_",))
        layers = [layer for layer in model.layers if layer.name.startswith(starts)]
        assert trainable_count(layers) == params, row
        macs[row] = sum(r.macs for r in report.rows if r.name.startswith(starts))
        assert macs[row] == row_macs, row
    paper_ops = {name: ops for name, *_, ops in PAPER_TABLE_1}
    for row, ops in paper_ops.items():
        if row != "5a":  # the paper's 54M; 7 * 7 * (832 * 256 + ...) = 51.1M
            assert abs(macs[row] / 1e6 - ops) <= 0.65, (row, macs[row], ops)
    assert round(macs["conv2"] / 1e6) == 360 and round(macs["linear"] / 1e6) == 1


def test_multiply_adds_at_224(report):
    """Sec. 5: "1.5 billion multiply-adds"; Table 1's ops column sums to 1.50 G with
    its conv1 row at 34M, 1.59 G with conv1 counted (118M)."""
    assert report.macs == sum(m for _, m in table1_counts().values()) == 1_582_671_872
    assert 1.5e9 <= report.macs <= 1.6e9


def test_feature_maps_follow_table1(model):
    expect = {
        "conv1_relu": (112, 64), "pool1": (56, 64), "conv2_relu": (56, 192),
        "pool2": (28, 192), "inception_3a_output": (28, 256), "inception_3b_output": (28, 480),
        "pool3": (14, 480), "inception_4a_output": (14, 512), "inception_4b_output": (14, 512),
        "inception_4c_output": (14, 512), "inception_4d_output": (14, 528),
        "inception_4e_output": (14, 832), "pool4": (7, 832), "inception_5a_output": (7, 832),
        "inception_5b_output": (7, 1024),
    }
    for name, (side, channels) in expect.items():
        assert model.get_layer(name).output.shape[1:] == (side, side, channels), name
    assert model.get_layer("top_dropout").rate == 0.4  # Table 1: dropout (40%)


def test_five_by_five_branch_is_five_by_five(model):
    """The paper's 5x5 branch, not torchvision's 3x3 in its place."""
    for name, *_ in PAPER_TABLE_1:
        assert model.get_layer(f"inception_{name}_5x5_conv").kernel_size == (5, 5)
        assert model.get_layer(f"inception_{name}_3x3_conv").kernel_size == (3, 3)


def test_local_response_norm_is_on_by_default_and_optional(model):
    for name in ("pool1_norm", "conv2_norm"):
        lrn = model.get_layer(name)
        assert isinstance(lrn, kerascnn.layers.LocalResponseNormalization)
        # bvlc_googlenet (Caffe): local_size 5, alpha 1e-4 (divided by the size), beta 0.75, k 1
        assert (lrn.size, lrn.alpha, lrn.beta, lrn.k, lrn.alpha_over_size) == (
            5, 1e-4, 0.75, 1.0, True)
    plain = kerascnn.create_model("googlenet", lrn=False, input_shape=(32, 32, 3))
    kinds = {type(layer) for layer in plain.layers}
    assert kerascnn.layers.LocalResponseNormalization not in kinds
    assert trainable_count(plain) == GOOGLENET_PARAMS


def test_max_pools_round_up():
    """Caffe's ceil mode: 3x3/2 pools take 112 -> 56 and, at 100x100, 50 -> 25 -> 13."""
    model = kerascnn.create_model("googlenet", input_shape=(100, 100, 3), include_top=False)
    assert model.get_layer("pool1").output.shape[1:3] == (25, 25)
    assert model.get_layer("pool2").output.shape[1:3] == (13, 13)
    assert model.output.shape[1:3] == (4, 4)


def naive_module_model(c_in=192, side=6):
    x = keras.Input((side, side, c_in))
    kit = kerascnn.models._common.ConvKit(use_bias=True)
    return keras.Model(x, googlenet.inception_naive(x, (64, 96, 128, 16, 32, 32), kit.conv_act, "m"))


def test_naive_module_passes_the_pooled_input_through():
    """Fig. 2(a): 1x1 (64), 3x3 (128), 5x5 (32) and the 3x3 max pool of all 192 input
    channels, concatenated: 416 channels; no 1x1 reductions."""
    model = naive_module_model()
    assert model.output.shape[1:] == (6, 6, 64 + 128 + 32 + 192)
    assert trainable_count(model) == sum(
        conv_cost(192, f, k, 6)[0] for f, k in ((64, 1), (128, 3), (32, 5)))
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 192)).astype("float32")
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    pooled = np.max([padded[:, i:i + 6, j:j + 6] for i in range(3) for j in range(3)], axis=0)
    np.testing.assert_allclose(np.asarray(model(x))[..., -192:], pooled, rtol=1e-6)


def test_naive_googlenet_grows_as_the_notes_warn():
    """The same Table 1 widths without reductions: the pool branch keeps every channel,
    so 5b has 4,944 channels and the network 97.5 M parameters (14x the reduced one)."""
    model = kerascnn.create_model("googlenet", inception="naive", input_shape=(32, 32, 3))
    params, c_in = conv_cost(3, 64, 7, 1)[0] + sum(
        conv_cost(a, b, k, 1)[0] for a, b, k in ((64, 64, 1), (64, 192, 3))), 192
    for name, _, n1, _, n3, _, n5, _, _, _ in PAPER_TABLE_1:
        params += sum(conv_cost(c_in, f, k, 1)[0] for f, k in ((n1, 1), (n3, 3), (n5, 5)))
        c_in += n1 + n3 + n5
    params += c_in * 1000 + 1000
    assert c_in == 4944
    assert model.get_layer("inception_5b_output").output.shape[-1] == 4944
    assert trainable_count(model) == params == 97_526_008
    assert not any(layer.name.startswith("inception") and ("reduce" in layer.name or "proj" in layer.name)
                   for layer in model.layers)


def test_batch_norm_option_trades_biases_for_bn(model):
    bn = kerascnn.create_model("googlenet", batch_norm=True, input_shape=(32, 32, 3))
    convs = [layer for layer in bn.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and not any(layer.use_bias for layer in convs)
    assert all(isinstance(bn.get_layer(c.name[:-len("_conv")] + "_bn"),
                          keras.layers.BatchNormalization) for c in convs)
    # each conv: -filters biases, +2 * filters (gamma, beta)
    assert trainable_count(bn) - GOOGLENET_PARAMS == sum(c.filters for c in convs)


def aux_head_params(c_in, side, classes):
    """Sec. 5: 1x1 conv 128, FC 1024 on the 5x5/3-pooled map, FC classes (with biases)."""
    pooled = (side - 5) // 3 + 1
    return (c_in * 128 + 128) + (pooled * pooled * 128 * 1024 + 1024) + (1024 * classes + classes)


@pytest.fixture(scope="module")
def with_aux():
    return kerascnn.create_model("googlenet", aux_logits=True)


def test_auxiliary_classifiers(with_aux):
    # the documented order: [main, aux1 (after 4a), aux2 (after 4d)]
    assert with_aux.output_names == ["predictions", "aux1_predictions", "aux2_predictions"]
    assert [tuple(shape) for shape in with_aux.output_shape] == [(None, 1000)] * 3
    # after 4a (512 channels) and 4d (528), 14x14 -> 4x4 by the 5x5/3 pool
    assert with_aux.get_layer("aux1_avg_pool").input is with_aux.get_layer(
        "inception_4a_output").output
    assert with_aux.get_layer("aux2_avg_pool").input is with_aux.get_layer(
        "inception_4d_output").output
    assert with_aux.get_layer("aux1_avg_pool").output.shape[1:] == (4, 4, 512)
    assert with_aux.get_layer("aux1_dropout").rate == 0.7
    extra = aux_head_params(512, 14, 1000) + aux_head_params(528, 14, 1000)
    assert trainable_count(with_aux) == GOOGLENET_PARAMS + extra == 13_378_280


def cross_entropy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels].mean()


def test_auxiliary_losses_weighted_0_3_train_a_step():
    """Sec. 5: the auxiliary losses are added to the total with weight 0.3.

    Dropout off and no BN, so the training forward pass equals the inference one
    and the loss can be recomputed from the outputs before the step."""
    model = kerascnn.create_model("googlenet", aux_logits=True, num_classes=5,
                                  input_shape=(80, 80, 3), dropout_rate=0.0,
                                  aux_dropout_rate=0.0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, 80, 80, 3)).astype("float32")
    y = np.array([0, 1, 2, 4])
    main, aux1, aux2 = (np.asarray(o, dtype="float64") for o in model(x, training=False))
    expected = (cross_entropy(main, y) + 0.3 * cross_entropy(aux1, y)
                + 0.3 * cross_entropy(aux2, y))
    # The check can tell the weights apart: not the main loss alone, nor an unweighted sum.
    assert min(0.3 * cross_entropy(aux1, y), 0.3 * cross_entropy(aux2, y)) > 1e-2 * expected
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=[ce, ce, ce],
                  loss_weights=[1.0, 0.3, 0.3])
    before = model.get_layer("aux1_fc").kernel.numpy().copy()
    loss = model.train_on_batch(x, [y, y, y])
    loss = loss[0] if isinstance(loss, (list, tuple)) else loss
    assert float(loss) == pytest.approx(expected, rel=1e-4)
    assert not np.array_equal(model.get_layer("aux1_fc").kernel.numpy(), before)
    # Inference uses the main head: the first output.
    assert model.predict(x, verbose=0)[0].shape == (4, 5)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"aux_logits": True, "include_top": False}, ValueError, "needs include_top=True"),
    ({"aux_logits": True, "input_shape": (64, 64, 3)}, ValueError, "height and width >= 65"),
    ({"aux_logits": True, "input_shape": (None, None, 3)}, ValueError, "fixed height and width"),
    ({"input_shape": (31, 31, 3)}, ValueError, "height and width >= 32"),
    ({"inception": "v3"}, ValueError, "inception must be one of"),
    ({"dropout_rate": 1.0}, ValueError, r"dropout_rate must be in \[0, 1\), got 1.0"),
    ({"aux_dropout_rate": -0.1}, ValueError, r"aux_dropout_rate must be in \[0, 1\), got -0.1"),
    ({"modules": googlenet.TABLE_1}, ValueError, "fixes modules"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        kerascnn.create_model("googlenet", **kwargs)


def test_aux_needs_modules_4a_and_4d():
    short = (googlenet.TABLE_1[0], googlenet.TABLE_1[1][:2], googlenet.TABLE_1[2])
    with pytest.raises(ValueError, match="needs the modules"):
        googlenet.GoogLeNet(short, aux_logits=True)
    assert googlenet.GoogLeNet(short, input_shape=(32, 32, 3)).get_layer("inception_4b_output")


def test_without_top_gives_5b_features():
    model = kerascnn.create_model("googlenet", include_top=False, input_shape=(64, 64, 3))
    assert model.output.shape == (None, 2, 2, 1024)
