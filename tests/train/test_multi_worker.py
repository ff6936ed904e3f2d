"""config.runtime.strategy = "multi_worker": two worker processes on localhost (TF_CONFIG, free
ports) train one run with MultiWorkerMirroredStrategy (docs/distributed.md)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

WORKER = r"""
import sys
import numpy as np
from kerascnn.train import default_config, train_and_evaluate

c = default_config()
c.model.name = "resnet20"
c.data.image_size = 8
c.data.classes = (0, 1)  # 288 training images: 9 global batches of 32, 16 per worker
c.train.epochs = 1
c.train.batch_size = 32
c.train.learning_rate = 0.01
c.runtime.strategy = "multi_worker"
c.runtime.sync_bn = True
c.export.tflite = False
result = train_and_evaluate(c, sys.argv[1], verbose=0)
np.savez(sys.argv[2], *[w.numpy() for w in result.model.weights])
print("RUNTIME", result.metrics["runtime"]["replicas"], result.metrics["num_examples"])
"""


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_one_run_to_the_same_weights(tmp_path):
    ports = free_ports(2)
    workdir = tmp_path / "run"
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                     "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "TMPDIR": str(tmp_path)}
        processes.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, str(workdir), str(tmp_path / f"weights_{index}.npz")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=300) for p in processes]
    for p, (out, err) in zip(processes, outputs):
        assert p.returncode == 0, err[-4000:]
        # Two replicas, one per worker, and every test image of the two classes once.
        assert "RUNTIME 2 72" in out, out
    weights = [np.load(tmp_path / f"weights_{i}.npz") for i in range(2)]
    assert len(weights[0].files) == 97  # ResNet-20: 65 trainable + 2 x 19 BN moving statistics
    for key in weights[0].files:
        np.testing.assert_array_equal(weights[0][key], weights[1][key])
    # The chief (worker 0) wrote the run folder; worker 1's scratch folder is gone.
    assert {"config.json", "model.keras", "metrics.json", "checkpoint.keras"} <= {
        p.name for p in workdir.iterdir()}
    assert not list(tmp_path.glob("kerascnn_worker_1_*"))
