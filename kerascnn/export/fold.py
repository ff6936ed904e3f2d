"""BatchNorm folding: each BN after a Conv2D / DepthwiseConv2D / Dense merged into that layer.

At inference a BatchNormalization computes y = gamma (z - mu) / sqrt(var + eps) + beta
on z = W x + b, which is again affine in x:

    W' = W * s,    b' = (b - mu) * s + beta,    s = gamma / sqrt(var + eps)

per output channel. `fold_batchnorm(model)` returns a model without those BN
layers whose outputs equal the original's in inference (training-mode BN,
with batch statistics, cannot be folded). A BN is folded only where it is
the only consumer of a layer without an activation of its own, along that
layer's channel axis; every other BN (pre-activation networks' BN before a
convolution, BN after a concatenation or a sum) is kept as it is.
"""

import keras
import numpy as np

FOLDABLE = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)


def _producer(bn):
    """The layer whose output is `bn`'s only input, or None."""
    if len(bn._inbound_nodes) != 1:
        return None
    inputs = bn._inbound_nodes[0].input_tensors
    if len(inputs) != 1:
        return None
    return inputs[0]._keras_history.operation, inputs[0]


def foldable_pairs(model):
    """{layer: its BatchNormalization} for every BN `fold_batchnorm` folds in `model`."""
    pairs = {}
    for bn in model.layers:
        if not isinstance(bn, keras.layers.BatchNormalization):
            continue
        found = _producer(bn)
        if found is None:
            continue
        layer, tensor = found
        rank = len(tensor.shape)
        axes = [bn.axis] if isinstance(bn.axis, int) else list(bn.axis)
        if (isinstance(layer, FOLDABLE)
                and keras.activations.serialize(layer.activation) in ("linear", None)
                and len(layer._inbound_nodes) == 1 and len(layer._outbound_nodes) == 1
                and [a % rank for a in axes] == [rank - 1]
                and getattr(layer, "data_format", "channels_last") == "channels_last"):
            pairs[layer] = bn
    return pairs


def _folded_weights(layer, bn):
    """(kernel, bias) of `layer` with `bn` folded in, in float64."""
    kernel = np.asarray(layer.kernel, np.float64)
    channels = kernel.shape[-1] * (kernel.shape[-2] if isinstance(
        layer, keras.layers.DepthwiseConv2D) else 1)
    bias = np.asarray(layer.bias, np.float64) if layer.use_bias else np.zeros(channels)
    gamma = np.asarray(bn.gamma, np.float64) if bn.scale else np.ones(channels)
    beta = np.asarray(bn.beta, np.float64) if bn.center else np.zeros(channels)
    mean = np.asarray(bn.moving_mean, np.float64)
    var = np.asarray(bn.moving_variance, np.float64)
    scale = gamma / np.sqrt(var + bn.epsilon)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        # Output channel i * multiplier + m comes from input channel i, multiplier m.
        kernel = kernel * scale.reshape(kernel.shape[-2], kernel.shape[-1])
    else:
        kernel = kernel * scale
    return kernel, (bias - mean) * scale + beta


def fold_batchnorm(model):
    """A model equal to `model` in inference, with each foldable BatchNormalization
    merged into the Conv2D, DepthwiseConv2D or Dense layer before it.

    The folded layers are new layers of the same class and name with a bias;
    every other layer is shared with `model` (not copied). The model must be a
    functional model (every kerascnn model is).

    Returns:
        The folded `keras.Model` (named as `model`).
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
        raise ValueError(f"fold_batchnorm needs a functional keras.Model, got {type(model).__name__}.")
    pairs = foldable_pairs(model)
    folded_bns = set(pairs.values())

    def call(layer, *args, **kwargs):
        if layer in folded_bns:
            return args[0]  # folded into the layer before it
        if layer not in pairs:
            return layer(*args, **kwargs)
        config = layer.get_config()
        config["use_bias"] = True
        new = layer.__class__.from_config(config)
        out = new(*args, **kwargs)
        kernel, bias = _folded_weights(layer, pairs[layer])
        new.kernel.assign(kernel.astype(new.kernel.dtype))
        new.bias.assign(bias.astype(new.bias.dtype))
        return out

    folded = keras.models.clone_model(model, clone_function=lambda layer: layer,
                                      call_function=call)
    inputs = folded.inputs[0] if len(folded.inputs) == 1 else folded.inputs
    outputs = folded.outputs[0] if len(folded.outputs) == 1 else folded.outputs
    return keras.Model(inputs, outputs, name=model.name)
