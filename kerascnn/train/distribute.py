"""config.runtime's tf.distribute strategy: devices, replicas, the global batch, and
which worker writes the run folder.

    strategy = make_strategy(cfg["runtime"])          # before the model
    per_replica = per_replica_batch(cfg, strategy)    # the global batch / replicas
    with strategy.scope():
        model = ...; model.compile(...)

The config's `train.batch_size` is the global batch: each of the R replicas
gets batch_size / R images per step, and R must divide it. With
`runtime.scale_learning_rate` the learning rates are multiplied by
batch_size / 256 (the linear scaling rule of Goyal et al. 2017).
"""

import contextlib
import json
import os
import pathlib
import shutil
import tempfile

import tensorflow as tf

from kerascnn import _checks

REFERENCE_BATCH = 256  # the linear scaling rule's batch of the base learning rate


def configure_cpu_devices(count):
    """Splits the CPU into `count` logical devices (0: leave it as it is).

    TensorFlow fixes its devices when it first runs an op, so this must come
    first; later, a process that already has `count` CPU devices passes and any
    other count raises, naming both.
    """
    _checks.check_int("config.runtime.cpu_devices", count, minimum=0)
    if not count:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        if have != count:
            raise RuntimeError(
                f"config.runtime.cpu_devices={count}, but TensorFlow has already started with "
                f"{have} CPU device(s) in this process; the CPU can be split only before "
                "TensorFlow runs its first op (start a new process, e.g. tools/train.py)."
            ) from None


def make_strategy(runtime):
    """The `tf.distribute` strategy of config.runtime (a dict)."""
    name = runtime["strategy"]
    configure_cpu_devices(runtime["cpu_devices"])
    tf_config = os.environ.get("TF_CONFIG")
    if tf_config and name != "multi_worker" and _cluster_size(tf_config) > 1:
        raise ValueError(
            f"TF_CONFIG describes a cluster of {_cluster_size(tf_config)} tasks, but "
            f"config.runtime.strategy={name!r}: each worker would train alone and write the "
            "same run folder. Set --config.runtime.strategy=multi_worker, or unset TF_CONFIG.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = list(runtime["devices"]) or None
        if devices is None and not tf.config.list_logical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as error:
            raise RuntimeError(
                f"config.runtime.strategy='tpu', but no TPU was found ({error}).") from None
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"config.runtime.strategy must be one of default, mirrored, multi_worker, "
                     f"tpu; got {name!r}.")


def _cluster_size(tf_config):
    cluster = json.loads(tf_config).get("cluster", {})
    return sum(len(tasks) for tasks in cluster.values())


def per_replica_batch(cfg, strategy):
    """config.train.batch_size (the global batch) / the replicas; R must divide it."""
    batch = cfg["train"]["batch_size"]
    replicas = strategy.num_replicas_in_sync
    if batch % replicas:
        lower, upper = batch - batch % replicas, batch + replicas - batch % replicas
        raise ValueError(
            f"config.train.batch_size={batch} is the global batch and must split evenly over "
            f"the {replicas} replicas of config.runtime.strategy={cfg['runtime']['strategy']!r} "
            f"({batch / replicas:.2f} each); use a multiple of {replicas}, e.g. "
            f"{lower or upper} or {upper}.")
    return batch // replicas


def learning_rate_scale(cfg):
    """global batch / 256 with config.runtime.scale_learning_rate, else 1."""
    if not cfg["runtime"]["scale_learning_rate"]:
        return 1.0
    return cfg["train"]["batch_size"] / REFERENCE_BATCH


def is_chief(strategy):
    """Whether this process writes the run folder: always, except for the non-chief
    workers of a multi-worker strategy (the chief, else worker 0, writes)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_name(strategy):
    """'chief', or '<task type>_<task id>' of a multi-worker task."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if is_chief(strategy) or resolver is None:
        return "chief"
    return f"{resolver.task_type}_{resolver.task_id}"


def summary(cfg, strategy):
    """What the strategy made of the config: replicas, batches, the learning-rate scale."""
    return {
        "strategy": cfg["runtime"]["strategy"],
        "replicas": int(strategy.num_replicas_in_sync),
        "global_batch_size": cfg["train"]["batch_size"],
        "per_replica_batch_size": per_replica_batch(cfg, strategy),
        "learning_rate_scale": learning_rate_scale(cfg),
        "learning_rate": cfg["train"]["learning_rate"] * learning_rate_scale(cfg),
        "sync_bn": cfg["runtime"]["sync_bn"],
    }


@contextlib.contextmanager
def output_folder(workdir, strategy, resume_state=("backup", "early_stopping")):
    """Where this process writes: `workdir` for the chief; for another worker of a
    multi-worker run a scratch folder (which `fit` needs, every worker saving in
    step) holding a copy of the chief's resume state, so that every worker
    resumes from the same epoch. The scratch folder is removed at the end of
    the block, also when training fails."""
    if is_chief(strategy):
        yield pathlib.Path(workdir)
        return
    scratch = pathlib.Path(tempfile.mkdtemp(prefix=f"kerascnn_{worker_name(strategy)}_"))
    try:
        for name in resume_state:
            if (pathlib.Path(workdir) / name).is_dir():
                shutil.copytree(pathlib.Path(workdir) / name, scratch / name)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_jit_compile(cfg, strategy):
    """XLA with several replicas on CPU devices fails at the first step (measured, TF 2.21:
    "Trying to access resource .../replica_1 located in device CPU:1 from device ...CPU:0"),
    so it is refused before the model is built."""
    replicas = strategy.num_replicas_in_sync
    if (cfg["runtime"]["jit_compile"] and replicas > 1
            and not tf.config.list_logical_devices("GPU")):
        raise ValueError(
            f"config.runtime.jit_compile=True with the {replicas} CPU replicas of "
            f"config.runtime.strategy={cfg['runtime']['strategy']!r} fails at the first step "
            "(XLA reads a variable of another CPU device); set config.runtime.jit_compile=False, "
            "or run on GPUs.")
