"""kerascnn.train.distribute without several devices: the global batch's split, the linear
scaling rule, TF_CONFIG checks, the chief, and what --show_config says of them."""

import json

import pytest
import tensorflow as tf

from kerascnn.train import config as config_lib
from kerascnn.train import default_config, distribute, run_config, train_lib


def cfg(**runtime):
    c = run_config.config_to_dict(default_config())
    c["runtime"].update(runtime)
    return c


class Replicas:
    def __init__(self, n):
        self.num_replicas_in_sync = n


def test_the_global_batch_splits_evenly_or_the_error_names_the_numbers():
    c = cfg(strategy="mirrored")
    assert distribute.per_replica_batch(c, Replicas(4)) == 32  # the default batch 128
    with pytest.raises(ValueError, match=r"batch_size=128 .* 3 replicas .*42\.67.*"
                                         r"multiple of 3, e.g. 126 or 129"):
        distribute.per_replica_batch(c, Replicas(3))


def test_the_linear_scaling_rule_scales_every_rate_by_batch_over_256():
    c = cfg(scale_learning_rate=True)
    c["train"].update(batch_size=512, learning_rate=0.1, schedule="constant", warmup_epochs=0)
    assert distribute.learning_rate_scale(c) == 2.0
    assert distribute.learning_rate_scale(cfg()) == 1.0
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    train_lib.compile_model(model, c, steps_per_epoch=10, num_classes=2)
    rate = model.optimizer.learning_rate
    assert float(rate) == pytest.approx(0.1 * 512 / 256)
    assert "0.1 x 512 / 256 = 0.2 (runtime.scale_learning_rate" in config_lib.format_config(c)


def test_a_cluster_in_tf_config_needs_the_multi_worker_strategy(monkeypatch):
    cluster = {"cluster": {"worker": ["localhost:1", "localhost:2"]},
               "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    with pytest.raises(ValueError, match="TF_CONFIG describes a cluster of 2 tasks, but "
                                         "config.runtime.strategy='default'"):
        distribute.make_strategy(cfg()["runtime"])
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["localhost:1"]}}))
    assert distribute.make_strategy(cfg()["runtime"]).num_replicas_in_sync == 1


def test_cpu_devices_once_tensorflow_runs_is_refused_with_the_counts():
    tf.constant(1.0)  # TensorFlow has started in this process, with one CPU device
    have = len(tf.config.list_logical_devices("CPU"))
    distribute.configure_cpu_devices(have)  # what it has: nothing to do
    with pytest.raises(RuntimeError, match=rf"cpu_devices={have + 2}, but TensorFlow has "
                                           rf"already started with {have} CPU device"):
        distribute.configure_cpu_devices(have + 2)


@pytest.mark.parametrize("cluster, task, chief", [
    ({"worker": ["a:1", "b:1"]}, ("worker", 0), True),  # no chief: worker 0 writes
    ({"worker": ["a:1", "b:1"]}, ("worker", 1), False),
    ({"chief": ["c:1"], "worker": ["a:1"]}, ("chief", 0), True),
    ({"chief": ["c:1"], "worker": ["a:1"]}, ("worker", 0), False),
])
def test_the_chief_writes(cluster, task, chief):
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task[0], task_id=task[1])

    class Strategy:
        cluster_resolver = resolver

    assert distribute.is_chief(Strategy()) is chief
    assert distribute.worker_name(Strategy()) == ("chief" if chief else f"{task[0]}_{task[1]}")
    assert distribute.is_chief(tf.distribute.get_strategy())


def test_runtime_values_are_checked_before_training():
    for key, value, message in (
            ("strategy", "horovod", "runtime.strategy must be one of"),
            ("sync_bn", 1, "runtime.sync_bn must be True or False, got 1"),
            ("cpu_devices", -1, "runtime.cpu_devices must be an integer >= 0"),
            ("devices", ("/gpu:0",), "applies to config.runtime.strategy='mirrored', not 'default'"),
    ):
        with pytest.raises(ValueError, match=message):
            run_config.check_config(cfg(**{key: value}))


def test_the_tpu_strategy_without_a_tpu_stops_at_once_saying_so():
    with pytest.raises(RuntimeError, match="config.runtime.strategy='tpu', but no TPU was found"):
        distribute.make_strategy(cfg(strategy="tpu")["runtime"])


def test_xla_with_several_cpu_replicas_is_refused_before_the_model():
    c = cfg(strategy="mirrored", jit_compile=True)
    with pytest.raises(ValueError, match="jit_compile=True with the 2 CPU replicas of "
                                         "config.runtime.strategy='mirrored' fails"):
        distribute.check_jit_compile(c, Replicas(2))
    distribute.check_jit_compile(c, Replicas(1))
    distribute.check_jit_compile(cfg(strategy="mirrored"), Replicas(2))
