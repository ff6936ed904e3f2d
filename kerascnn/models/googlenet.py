"""GoogLeNet (Inception v1): Inception modules, naive or with 1x1 reductions.

Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke, Rabinovich.
Going Deeper with Convolutions. CVPR 2015. https://arxiv.org/abs/1409.4842
"""

import functools

import keras

from kerascnn.layers import LocalResponseNormalization
from kerascnn.models import _common
from kerascnn.registry import register_variant

INCEPTION_KINDS = ("reduced", "naive")

# Table 1, one row per Inception module: #1x1, #3x3 reduce, #3x3, #5x5 reduce,
# #5x5, pool proj. Stages 3, 4 and 5 (28x28, 14x14, 7x7 at 224x224), a 3x3/2
# max pool between them; modules are lettered a, b, ... within a stage.
TABLE_1 = (
    ((64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)),
    ((192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
     (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)),
    ((256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)),
)
# The auxiliary classifiers sit on the outputs of these modules (Sec. 5).
AUX_AFTER = ("4a", "4d")
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def inception_reduced(x, row, conv, name):
    """Fig. 2(b): 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool -> 1x1, concatenated."""
    n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj = row
    b1 = conv(x, n1x1, 1, name=name + "_1x1")
    b2 = conv(conv(x, n3x3_reduce, 1, name=name + "_3x3_reduce"), n3x3, 3, name=name + "_3x3")
    b3 = conv(conv(x, n5x5_reduce, 1, name=name + "_5x5_reduce"), n5x5, 5, name=name + "_5x5")
    b4 = keras.layers.MaxPooling2D(3, 1, padding="same", name=name + "_pool")(x)
    b4 = conv(b4, pool_proj, 1, name=name + "_pool_proj")
    return keras.layers.Concatenate(name=name + "_output")([b1, b2, b3, b4])


def inception_naive(x, row, conv, name):
    """Fig. 2(a): 1x1 | 3x3 | 5x5 | 3x3 max pool, concatenated, with no reductions.

    The row's #1x1, #3x3 and #5x5 are used; the pool branch passes all input
    channels through, so the output has #1x1 + #3x3 + #5x5 + C_in channels
    and grows from module to module (the blow-up Sec. 4 describes).
    """
    n1x1, _, n3x3, _, n5x5, _ = row
    b1 = conv(x, n1x1, 1, name=name + "_1x1")
    b2 = conv(x, n3x3, 3, name=name + "_3x3")
    b3 = conv(x, n5x5, 5, name=name + "_5x5")
    b4 = keras.layers.MaxPooling2D(3, 1, padding="same", name=name + "_pool")(x)
    return keras.layers.Concatenate(name=name + "_output")([b1, b2, b3, b4])


def auxiliary_classifier(x, classes, classifier_activation, dropout_rate, conv, kit, name):
    """Sec. 5: 5x5/3 average pool, 1x1 conv 128, FC 1024, dropout, FC `classes`."""
    x = keras.layers.AveragePooling2D(5, 3, name=name + "_avg_pool")(x)
    x = conv(x, 128, 1, name=name)
    x = keras.layers.Flatten(name=name + "_flatten")(x)
    x = keras.layers.Dense(1024, name=name + "_fc")(x)
    x = kit.act(x, name + "_fc_relu")
    x = keras.layers.Dropout(dropout_rate, name=name + "_dropout")(x)
    return keras.layers.Dense(
        classes, activation=classifier_activation, name=name + "_predictions"
    )(x)


def GoogLeNet(
    modules,
    inception="reduced",
    aux_logits=False,
    lrn=True,
    batch_norm=False,
    dropout_rate=0.4,
    aux_dropout_rate=0.7,
    activation="relu",
    kernel_initializer="he_normal",
    preprocessing="imagenet",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation=None,
    name="googlenet",
):
    """Builds GoogLeNet (Inception v1) with the Keras functional API.

    Paper: https://arxiv.org/abs/1409.4842 (Table 1, Fig. 2 and 3, Sec. 5).
    Deviation: none by default (biases, no BN, the paper's 5x5 branch, which
    torchvision replaces with a 3x3); the final 7x7 average pool is a global
    one, so that other input sizes work.

    Layout: conv1 7x7/2 (64), pool1 3x3/2, LRN, conv2_reduce 1x1 (64), conv2
    3x3 (192), LRN, pool2 3x3/2, Inception 3a-3b, pool3, 4a-4e, pool4, 5a-5b,
    global average pool, dropout, linear. Max pools round up (Caffe's ceil
    mode; 112 -> 56). Layer names follow the reference Caffe model
    (bvlc_googlenet) with "_" for "/": `inception_4a_5x5_reduce_conv`.

    Args:
        modules: the Inception modules' filter counts, one tuple of rows per
            stage (3, 4, 5); a row is (#1x1, #3x3 reduce, #3x3, #5x5 reduce,
            #5x5, pool proj), Table 1. The `googlenet` variant fixes TABLE_1.
        inception: "reduced" (Fig. 2(b), with 1x1 dimension reductions; the
            paper's network) or "naive" (Fig. 2(a): 1x1, 3x3 and 5x5 convs
            and a 3x3 max pool concatenated, no reductions; the pool branch
            keeps every input channel, so widths and costs grow fast).
        aux_logits: add the two auxiliary classifiers of Sec. 5 on the
            outputs of 4a and 4d (5x5/3 average pool, 1x1 conv 128, FC 1024,
            dropout `aux_dropout_rate`, FC `classes`). The model then has
            three outputs, in this order: [main, aux1 (after 4a), aux2 (after
            4d)], from the layers `predictions`, `aux1_predictions` and
            `aux2_predictions`. The paper trains with the auxiliary losses
            weighted by 0.3 (`loss_weights=[1, 0.3, 0.3]`) and discards the
            auxiliary heads at inference. Needs include_top=True (else a
            ValueError) and a fixed input of at least 65x65 (a 5x5 map at 4a).
        lrn: local response normalization after pool1 and after conv2, as in
            Fig. 3 (default True). The constants are the reference Caffe
            model's: size 5, alpha 1e-4 divided by the size, beta 0.75, k 1.
        batch_norm: False (the paper): convolutions with biases and no BN.
            True: each convolution without bias followed by BatchNormalization
            (the layout torchvision trains; no effect on the dense layers).
        dropout_rate: dropout before the classifier (Table 1: 40 %).
        aux_dropout_rate: dropout in the auxiliary classifiers (Sec. 5: 70 %).
        activation: the nonlinearity, by name ("relu", the paper, or any of
            `kerascnn.layers.ACTIVATIONS` or keras.activations).
        kernel_initializer: the convolutions' initializer, by name (default
            "he_normal", Var = 2 / n_in).
        preprocessing: input normalization inside the model, so the model
            takes raw [0, 255] images (default "imagenet"; see
            `kerascnn.models._common.normalize`).
        include_top: end in the classifier (global average pool, dropout,
            dense).
        weights: None (random initialization) or the path of a local weights
            file (.weights.h5 or .keras).
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: (H, W, C), default (224, 224, 3); H and W >= 32 (65 with
            aux_logits) and may be None without aux_logits.
        pooling: without the top, None (4-D features of 5b), "avg" or "max".
        classes: number of classes (>= 2) when include_top.
        classifier_activation: None for logits (default), or e.g. "softmax";
            the auxiliary heads use it too.
        name: the model name.

    Returns:
        A `keras.Model`: one output, or [main, aux1, aux2] with aux_logits.
    """
    _common.check_application_arguments(include_top, weights, pooling, classes)
    _common.check_one_of("inception", inception, INCEPTION_KINDS)
    _common.check_rate("dropout_rate", dropout_rate)
    _common.check_rate("aux_dropout_rate", aux_dropout_rate)
    if aux_logits and not include_top:
        raise ValueError(
            "aux_logits=True needs include_top=True: the auxiliary classifiers "
            "are classification heads, trained beside the main one."
        )
    if len(modules) != 3 or any(len(row) != 6 for rows in modules for row in rows):
        raise ValueError(
            "modules must hold the rows of stages 3, 4 and 5, each row (#1x1, "
            f"#3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj); got {modules!r}."
        )
    labels = {f"{stage}{LETTERS[i]}" for stage, rows in enumerate(modules, start=3)
              for i in range(len(rows))}
    if aux_logits and not labels.issuperset(AUX_AFTER):
        raise ValueError(f"aux_logits=True needs the modules {AUX_AFTER}; got {sorted(labels)}.")
    inputs, x = _common.model_inputs(
        input_tensor, input_shape, (224, 224, 3), min_size=65 if aux_logits else 32,
        name=name,
    )
    if aux_logits and None in x.shape[1:3]:
        raise ValueError(
            f"{name} with aux_logits=True needs a fixed height and width (the "
            f"auxiliary FC layers flatten a 4x4 map at 224x224); got {tuple(x.shape[1:])}."
        )
    x = _common.normalize(x, preprocessing)

    kit = _common.ConvKit(not batch_norm, kernel_initializer, activation=activation)
    conv = functools.partial(kit.conv_act, batch_norm=batch_norm)
    module = inception_reduced if inception == "reduced" else inception_naive

    def max_pool(x, name):
        return keras.layers.MaxPooling2D(3, 2, padding="same", name=name)(x)

    def local_response_norm(x, name):
        if not lrn:
            return x
        return LocalResponseNormalization(
            size=5, alpha=1e-4, beta=0.75, k=1.0, alpha_over_size=True, name=name
        )(x)

    x = conv(x, 64, 7, 2, name="conv1")
    x = local_response_norm(max_pool(x, "pool1"), "pool1_norm")
    x = conv(x, 64, 1, name="conv2_reduce")
    x = local_response_norm(conv(x, 192, 3, name="conv2"), "conv2_norm")
    x = max_pool(x, "pool2")

    aux = []
    for stage, rows in enumerate(modules, start=3):
        if stage > 3:
            x = max_pool(x, f"pool{stage - 1}")
        for letter, row in zip(LETTERS, rows):
            x = module(x, row, conv, name=f"inception_{stage}{letter}")
            if aux_logits and f"{stage}{letter}" in AUX_AFTER:
                aux.append(auxiliary_classifier(
                    x, classes, classifier_activation, aux_dropout_rate, conv, kit,
                    name=f"aux{len(aux) + 1}",
                ))

    outputs = _common.classifier_head(
        x, include_top, pooling, classes, classifier_activation, dropout_rate=dropout_rate
    )
    return _common.finish_model(inputs, [outputs, *aux] if aux else outputs, name, weights)


googlenet = register_variant(
    "googlenet", GoogLeNet, "GoogLeNet, Inception v1 (Szegedy et al. 2014, Table 1).",
    modules=TABLE_1,
)
