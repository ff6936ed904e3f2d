"""`kerascnn.export.fold_batchnorm`: BN after Conv2D / DepthwiseConv2D / Dense folded into
that layer's kernel and bias, y = gamma (Wx + b - mu) / sqrt(var + eps) + beta; the
same outputs in inference, and no foldable BN left."""

import numpy as np
import pytest

import keras
import kerascnn
from kerascnn.export import fold_batchnorm
from kerascnn.export.fold import foldable_pairs


def randomize_bn(model, seed=0):
    """BN statistics, scales and shifts far from their initial 0 / 1."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([w for w in (
                rng.uniform(0.5, 1.5, layer.gamma.shape) if layer.scale else None,
                rng.normal(0, 0.3, layer.beta.shape) if layer.center else None,
                rng.normal(0, 0.3, layer.moving_mean.shape),
                rng.uniform(0.3, 2.0, layer.moving_variance.shape)) if w is not None])
    return model


def small_net():
    """Each case: a conv without and with bias, a depthwise conv (multiplier 2), a grouped
    conv, a Dense; a conv whose output also feeds a shortcut (not foldable) and a BN
    after an Add (not foldable); a BN without scale."""
    x = inputs = keras.Input((9, 9, 4))
    x = keras.layers.Conv2D(8, 3, use_bias=False, name="c1")(x)
    x = keras.layers.BatchNormalization(name="c1_bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2, name="dw")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="dw_bn")(x)
    x = kerascnn.layers.grouped_conv(x, 16, 1, groups=4, name="g")
    x = keras.layers.BatchNormalization(scale=False, name="g_bn")(x)
    y = keras.layers.Conv2D(16, 1, name="shared")(x)
    z = keras.layers.BatchNormalization(name="shared_bn")(y)
    x = keras.layers.Add()([y, z])
    x = keras.layers.BatchNormalization(name="after_add")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5, name="fc")(x)
    outputs = keras.layers.BatchNormalization(name="fc_bn")(x)
    return keras.Model(inputs, outputs, name="small")


def bn_names(model):
    return sorted(l.name for l in model.layers if isinstance(l, keras.layers.BatchNormalization))


def test_folding_keeps_the_outputs_and_removes_the_foldable_bns():
    model = randomize_bn(small_net())
    assert sorted(bn.name for bn in foldable_pairs(model).values()) == [
        "c1_bn", "dw_bn", "fc_bn", "g_bn"]
    folded = fold_batchnorm(model)
    assert folded.name == "small"
    assert bn_names(folded) == ["after_add", "shared_bn"]
    assert foldable_pairs(folded) == {}
    x = np.random.default_rng(1).normal(0, 50, (3, 9, 9, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(folded(x)), np.asarray(model(x, training=False)),
                               rtol=1e-4, atol=1e-4)
    assert folded.get_layer("c1").use_bias and not model.get_layer("c1").use_bias
    assert isinstance(folded.get_layer("g_conv"), kerascnn.layers.GroupedConv2D)


def test_the_folded_kernel_and_bias_follow_the_formula():
    """W' = W s and b' = (b - mu) s + beta, s = gamma / sqrt(var + eps), computed here."""
    model = randomize_bn(small_net(), seed=3)
    folded = fold_batchnorm(model)
    for name in ("c1", "fc"):
        layer, bn = model.get_layer(name), model.get_layer(name + "_bn")
        gamma, beta, mean, var = (np.asarray(w, np.float64) for w in bn.get_weights())
        s = gamma / np.sqrt(var + bn.epsilon)
        bias = np.asarray(layer.bias) if layer.use_bias else 0.0
        np.testing.assert_allclose(np.asarray(folded.get_layer(name).kernel),
                                   np.asarray(layer.kernel) * s, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(folded.get_layer(name).bias),
                                   (bias - mean) * s + beta, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kept", [("resnet20", 0), ("densenet40_k12", 39)])
def test_registered_models(name, kept):
    """ResNet-20: every BN follows a convolution. DenseNet-40: every BN comes before a
    convolution or the final pooling (BN-ReLU-conv), so folding leaves them all."""
    model = randomize_bn(kerascnn.create_model(name, num_classes=7, input_shape=(8, 8, 3)))
    folded = fold_batchnorm(model)
    assert len(bn_names(folded)) == kept and foldable_pairs(folded) == {}
    x = np.random.default_rng(2).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(folded(x)), np.asarray(model(x, training=False)),
                               rtol=1e-4, atol=1e-4)


def test_a_subclassed_model_is_refused():
    class Net(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="functional keras.Model, got Net"):
        fold_batchnorm(Net())
