"""Every private Keras / TensorFlow internal kerascnn relies on, each with its reason.

Keras and TensorFlow are pinned in pyproject.toml to the versions the test
suite has passed on; a rename in a new release breaks one function here
(and its test), not a user's run. Nothing else in the package touches a
private name of Keras or TensorFlow.
"""

import contextlib
import functools
import importlib

import keras


def require_tensorflow(what):
    """The `tensorflow` module, or an ImportError saying that `what` needs it.

    `what` names the part of kerascnn, e.g. "kerascnn.data".

    Models, layers and `inspect.costs` run under any Keras backend; tf.data,
    the augmentation pipelines, training and export need TensorFlow.
    """
    try:
        return importlib.import_module("tensorflow")
    except ImportError as err:
        raise ImportError(
            f"{what} needs TensorFlow (tf.data, tf.image, the TensorFlow backend), "
            "which is not installed here. Install kerascnn with its dependencies "
            "(pip install kerascnn), or use only the models, layers and "
            "kerascnn.inspect.costs, which run under KERAS_BACKEND=jax without it."
        ) from err


# Reason: the policy layers call require_tensorflow inside tf.data functions,
# and AutoGraph, converting them, would try to convert importlib too and log
# a warning on every run ("AutoGraph could not transform <function
# _gcd_import>"). This attribute is how tf.autograph.experimental.do_not_convert
# marks a function AutoGraph calls as it is (tensorflow/python/autograph/impl/api.py,
# is_autograph_artifact); the decorator itself would need TensorFlow at import.
require_tensorflow.autograph_info__ = {}


# --------------------------------------------------------------------- training


def set_initial_epoch(model, epoch):
    """Makes the running `fit()` start its epoch loop at `epoch`.

    Reason: Keras has no public way for a callback to move `fit()`'s first
    epoch; its own `BackupAndRestore` sets `model._initial_epoch` in
    `on_train_begin`, and every backend's `fit()` reads it. `ResumableBackup`
    checks in `on_epoch_begin` that it took effect.
    """
    if not hasattr(model, "_initial_epoch"):
        raise RuntimeError(
            f"keras {keras.__version__}: Model has no `_initial_epoch`, the hook "
            "resumed runs use to start at their epoch; kerascnn supports the Keras "
            "versions pinned in its pyproject.toml."
        )
    model._initial_epoch = epoch


# ----------------------------------------------------------------------- layers


def allow_non_tensor_positional_args(layer):
    """Lets `layer` be called on NumPy images and Python values positionally.

    Reason: Keras 3 refuses any positional argument that is not a backend
    tensor unless the layer sets `_allow_non_tensor_positional_args`, and the
    augmentation policy layers are called on uint8 NumPy images in tf.data.
    """
    layer._allow_non_tensor_positional_args = True


# ------------------------------------------------------------- walking a model


def trace_output_spec(fn, *args, **kwargs):
    """Runs `fn` on symbolic inputs under any backend and returns its output spec.

    Reason: `kerascnn.inspect.costs` traces a subclassed layer's `call` to see
    its sub-layers; Keras's public `Layer.compute_output_spec` skips the trace
    when a layer defines `compute_output_shape`, and only
    `keras.src.backend.compute_output_spec` always traces.
    """
    from keras.src.backend import compute_output_spec

    return compute_output_spec(fn, *args, **kwargs)


def functional_graph(layer):
    """The Functional model to walk for a Functional model or built Sequential, or None.

    Reason: a Sequential keeps its graph in the private `_functional`; a
    Functional is recognised by the private graph it walks (`_nodes_by_depth`,
    `_run_through_graph`), which also covers Functional subclasses.
    """
    if isinstance(layer, keras.Sequential):
        return getattr(layer, "_functional", None)
    if hasattr(layer, "_nodes_by_depth") and hasattr(layer, "_run_through_graph"):
        return layer
    return None


def run_through_graph(functional, inputs, operation_fn):
    """Runs a Functional graph node by node, calling `operation_fn(op)(*args, **kwargs)`.

    Reason: the only way to see every layer call of a Functional model with
    the shapes of that call, without adding nodes to the graph, is the
    private `Functional._run_through_graph` that `Functional.call` uses.
    """
    return functional._run_through_graph(inputs, operation_fn=operation_fn)


def sublayers(layer, recursive=False):
    """The layers tracked inside `layer` (not itself), in creation order.

    Reason: Keras 3's public `Layer.layers` exists on models only; every
    Layer has the private `_flatten_layers`, which `Model.layers` uses.
    A keras.ops operation in a Functional graph has none: [].
    """
    if not hasattr(layer, "_flatten_layers"):
        return []
    return list(layer._flatten_layers(include_self=False, recursive=recursive))


def build_shapes(layer):
    """{argument: shape} that a layer (or subclassed model) was first built with.

    Reason: a subclassed model remembers its build shape only in the private
    `_build_shapes_dict`; `inspect.costs` uses it as the default input shape.
    """
    return getattr(layer, "_build_shapes_dict", None) or {}


@functools.cache
def onednn_enabled():
    """Whether TensorFlow runs its oneDNN CPU kernels in this process.

    Reason: some ops are several times faster one way on oneDNN and another
    way on TensorFlow's own (Eigen) kernels, which it uses on AVX2-only CPUs
    or with TF_ENABLE_ONEDNN_OPTS=0; TensorFlow decides at start-up and
    reports it only through the private `_pywrap_util_port.IsMklEnabled`.
    """
    require_tensorflow("Choosing a CPU kernel")
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def switch_case_as_call(branch_index, branch_fns):
    """`tf.switch_case` that runs as one call of the chosen branch's function.

    Reason: inside `tf.function` and `tf.data`, `tf.switch_case` is lowered
    to Switch / Merge nodes, and the executor then propagates dead tensors
    through every branch not taken; for a policy's op table on one 32 x 32
    image that costs more than the op itself (RandAugment per image: 2x
    slower). Only the private `cond_v2.indexed_case` can keep the Case op as
    a function call (`lower_using_switch_merge=False`).
    """
    tf = require_tensorflow("Per-image augmentation")
    if tf.executing_eagerly():  # eagerly only the chosen branch runs anyway
        return tf.switch_case(branch_index, branch_fns)
    from tensorflow.python.ops import cond_v2

    return cond_v2.indexed_case(branch_index, branch_fns, lower_using_switch_merge=False)


# ---------------------------------------------------------------------- tf.data


def shuffle_with_tensor_seed(ds, buffer_size, seed):
    """`ds.shuffle(buffer_size)` seeded by a tensor [2], e.g. one derived per epoch.

    Reason: `Dataset.shuffle` takes Python seeds only, and a seed per epoch
    (so that a resumed run sees the epochs an uninterrupted one would) needs
    a tensor; this calls the raw `ShuffleDatasetV3` kernel that
    `Dataset.shuffle` calls, through the public variant round trip.
    """
    tf = require_tensorflow("Seeded shuffling")
    specs = tf.nest.flatten(ds.element_spec)
    seed = tf.cast(seed, tf.int64)
    # (0, 0) would mean "nondeterministic" to the kernel.
    seed2 = tf.where(tf.equal(seed[1], 0), tf.constant(1, tf.int64), seed[1])
    variant = tf.raw_ops.ShuffleDatasetV3(
        input_dataset=tf.data.experimental.to_variant(ds),
        buffer_size=tf.constant(buffer_size, tf.int64), seed=seed[0], seed2=seed2,
        seed_generator=tf.raw_ops.DummySeedGenerator(), reshuffle_each_iteration=False,
        output_types=[s.dtype for s in specs], output_shapes=[s.shape for s in specs],
    )
    return tf.data.experimental.from_variant(variant, ds.element_spec)


@contextlib.contextmanager
def multi_worker_keras(model, strategy):
    """Works around Keras's multi-worker bugs while `model` trains and predicts;
    use inside `strategy.scope()`. Nothing changes under other strategies.

    Keras 3 (3.15 measured) fails under a MultiWorkerMirroredStrategy with two
    or more workers (keras-team/keras#20585, open):
    - at the start of `fit`, `_maybe_symbolic_build` reduces the first
      (images, labels) batch with `strategy.reduce`, whose collective path
      cannot take a tuple ("Attempt to convert a value (PerReplica ...) to a
      Tensor"). A model without its own strategy skips that step, builds when
      the step is traced, and takes the scope's strategy for everything else;
    - after every step, `reduce_per_replica(..., "auto")` reduces the scalar
      logs (loss, metrics) with `strategy.reduce("MEAN", v, axis=0)`, which
      fails on a scalar ("Invalid reduction dimension 0"). Here they are
      averaged over the replicas (axis=None), as Keras does on one worker.
    """
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction == "auto" and trainer._collective_all_reduce_multi_worker(strategy):
            return keras.tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None),
                                            values)
        return original(values, strategy, reduction)

    own, model._distribute_strategy = model._distribute_strategy, None
    trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        trainer.reduce_per_replica = original
        model._distribute_strategy = own
