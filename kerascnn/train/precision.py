"""config.runtime.precision and jit_compile: the model's dtype policy, loss scaling, XLA.

    model = build_model(...)                   # train_lib: inside, with_precision(model, p)
    optimizer = loss_scaled(optimizer, p)      # mixed_float16: a LossScaleOptimizer
    model.compile(..., jit_compile=cfg["runtime"]["jit_compile"])

Mixed precision (Micikevicius et al. 2018, https://arxiv.org/abs/1710.03740):
every layer keeps float32 variables and computes in bfloat16 or float16,
except the layers that produce the model's outputs, which compute in float32,
so the logits, the softmax and the loss are float32 whatever the family.
float16's narrow range needs loss scaling (the loss is multiplied by a
dynamic factor before the gradients and the gradients divided after;
Keras's `LossScaleOptimizer`); bfloat16 has float32's range and needs none.

The policy travels in each layer's config, so a saved model.keras loads with
the precision it was trained in, whatever the global policy is then; the
global policy is set only while a model is built and restored after.

jit_compile (Keras 3.15, keras/src/trainers/trainer.py): `compile(jit_compile=True)`
compiles the training, evaluation and prediction steps with XLA on every
device, CPU included, and also under a tf.distribute strategy; it falls back to
False (with a warning) only when a layer says it does not support XLA or op
determinism is on. Keras's own default "auto" turns XLA off on a machine
without GPUs and under a tf.distribute strategy
(`_resolve_auto_jit_compile`) and on otherwise; config.runtime.jit_compile is
passed as it is, so its default False also keeps XLA off on a GPU.
"""

import contextlib

import keras

from kerascnn.train import config as config_lib

OUTPUT_DTYPE = "float32"  # the output layers' policy: logits, softmax and loss


def check_precision(precision):
    if precision not in config_lib.PRECISIONS:
        raise ValueError(f"precision must be one of {config_lib.PRECISIONS}, got {precision!r}.")


@contextlib.contextmanager
def policy_scope(precision):
    """Keras's global dtype policy is `precision` inside, the previous one after."""
    check_precision(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build(precision, builder, *args, **kwargs):
    """`builder(*args, **kwargs)`'s model under `precision` (`with_precision`), the
    global policy set only while it is built."""
    with policy_scope(precision):
        return with_precision(builder(*args, **kwargs), precision)


def with_precision(model, precision):
    """`model` whose layers compute in `precision` and whose output layers in float32.

    Every layer but the inputs gets the policy `precision` (float32 variables,
    bfloat16 / float16 computation) and the layers that produce the outputs get
    float32, which their inputs are cast to. One mechanism for every model:
    the functional model is rebuilt from its config with these policies (the
    same layers, names, trainable flags and weights), so a model loaded from a
    file (a transfer backbone) gets the run's precision too. A model that
    already has them is returned as it is: float32 models are never rebuilt.
    """
    check_precision(precision)
    outputs = {_producer(t).name for t in model.outputs}
    wanted = {layer.name: OUTPUT_DTYPE if layer.name in outputs else precision
              for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)}
    if all(model.get_layer(name).dtype_policy.name == policy for name, policy in wanted.items()):
        return model
    config = model.get_config()
    for layer_config in config["layers"]:
        name = layer_config["config"]["name"]
        if name in wanted:
            _set_policy(layer_config, wanted[name])
    with policy_scope(precision):
        rebuilt = model.__class__.from_config(config)
    rebuilt.set_weights(model.get_weights())
    for old, new in zip(model.layers, rebuilt.layers):
        new.trainable = old.trainable  # an InputLayer's is not in its config
    return rebuilt


def _producer(tensor):
    return tensor._keras_history.operation  # as kerascnn.models.backbone reads it


def _set_policy(layer_config, policy):
    """The layer's policy, and that of the layers nested in it (a model inside a model)."""
    inner = layer_config["config"]
    if "dtype" in inner:
        inner["dtype"] = keras.dtype_policies.serialize(keras.dtype_policies.get(policy))
    for nested in inner.get("layers", []):
        if nested.get("class_name") != "InputLayer":
            _set_policy(nested, policy)


def loss_scaled(optimizer, precision):
    """`optimizer` in a `LossScaleOptimizer` (dynamic loss scaling) under mixed_float16.

    Keras's compile wraps the optimizer itself when the model's policy is
    mixed_float16; wrapping here ties the scaling to the config, not to how the
    model was built (Keras does not wrap it twice).
    """
    check_precision(precision)
    if precision != "mixed_float16" or isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer, name="loss_scale_optimizer")


def compute_dtypes(model):
    """{layer name: compute dtype} of `model`'s layers (the inputs left out)."""
    return {layer.name: layer.compute_dtype for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer)}
