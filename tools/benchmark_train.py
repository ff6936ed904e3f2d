"""`tools/benchmark.py train`: ours and keras.applications' same network, trained side by side.

Both models are built in one process with random initialization and the
same head (logits, `classes` outputs), compiled with the same SGD optimizer
and cross-entropy loss, and trained on one cached random batch. After a
warm-up the training steps alternate, ours then theirs, so that drift in
the machine's load hits both alike; images/s is the batch size over the
median step time. Peak memory is measured apart, in a fresh process per
model (its peak resident set size while it trains a few steps, minus the
process's size before the model was built), because one process's peak
cannot be split between two models.

A ratio above 1 means ours trains faster (or, for memory, uses more).
"""

import multiprocessing
import time

# kerascnn name -> keras.applications constructor of the same network.
PAIRS = {
    "resnet50": "ResNet50",
    "resnet101": "ResNet101",
    "resnet152": "ResNet152",
    "resnet50_v2": "ResNet50V2",
    "resnet101_v2": "ResNet101V2",
    "resnet152_v2": "ResNet152V2",
    "vgg16": "VGG16",
    "vgg19": "VGG19",
    "densenet121": "DenseNet121",
    "densenet169": "DenseNet169",
    "densenet201": "DenseNet201",
}
CLASSES = 1000
WARMUP_STEPS = 2


def build(side, name, size):
    """The compiled model of one side ("kerascnn" or "keras.applications")."""
    import keras

    import kerascnn

    shape = (size, size, 3)
    if side == "kerascnn":
        model = kerascnn.create_model(name, input_shape=shape, classes=CLASSES)
    else:
        model = getattr(keras.applications, PAIRS[name])(
            weights=None, input_shape=shape, classes=CLASSES, classifier_activation=None)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def batch(size, batch_size, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (batch_size, size, size, 3)).astype("float32")
    y = rng.integers(0, CLASSES, batch_size).astype("int32")
    return x, y


def step_times(models, x, y, repeats):
    """Seconds of each training step, per model, the models' steps alternated."""
    for model in models:
        for _ in range(WARMUP_STEPS):
            model.train_on_batch(x, y)
    times = [[] for _ in models]
    for _ in range(repeats):
        for model, ts in zip(models, times):
            start = time.perf_counter()
            model.train_on_batch(x, y)
            ts.append(time.perf_counter() - start)
    return times


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _peak_rss_child(side, name, size, batch_size, queue):
    """In a fresh process: MB of resident memory that building and training the
    model added at its peak (sampled every 5 ms) over the size after imports."""
    import threading

    import kerascnn_cli

    kerascnn_cli.quiet_tensorflow()
    import keras  # noqa: F401  (TensorFlow's own memory is not the model's)
    import psutil

    import kerascnn  # noqa: F401

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak, done = [baseline], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    model = build(side, name, size)
    x, y = batch(size, batch_size)
    for _ in range(WARMUP_STEPS + 1):
        model.train_on_batch(x, y)
    done.set()
    sampler.join()
    queue.put((max(peak[0], process.memory_info().rss) - baseline) / 2**20)


def peak_memory_mb(side, name, size, batch_size):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_peak_rss_child, args=(side, name, size, batch_size, queue))
    process.start()
    while True:  # the child's answer, or its failure (it prints its own traceback)
        try:
            result = queue.get(timeout=1)
            break
        except Exception:  # noqa: BLE001  (queue.Empty)
            if not process.is_alive():
                raise RuntimeError(
                    f"The process measuring {side} {name}'s memory failed "
                    f"(exit code {process.exitcode}).") from None
    process.join()
    return result


def check_models(names):
    import kerascnn

    unknown = [n for n in names if n not in PAIRS]
    if unknown:
        raise ValueError(f"--model {unknown}: no keras.applications counterpart; "
                         f"choose from {sorted(PAIRS)}.")
    missing = [n for n in names if n not in kerascnn.list_models()]
    if missing:
        raise ValueError(f"--model {missing} is not registered in this kerascnn "
                         f"(kerascnn.list_models()).")


def train(names, size, batch_size, repeats, memory=True):
    """Prints, per model, images/s and peak memory of ours and keras.applications'."""
    import os

    import keras
    import tensorflow as tf
    import tqdm

    check_models(names)
    rows = []
    for name in tqdm.tqdm(names, desc="models", unit="model", disable=len(names) < 2):
        models = [build("kerascnn", name, size), build("keras.applications", name, size)]
        x, y = batch(size, batch_size)
        ours, theirs = (batch_size / median(ts) for ts in step_times(models, x, y, repeats))
        del models
        keras.backend.clear_session()
        mem = ([peak_memory_mb(side, name, size, batch_size)
                for side in ("kerascnn", "keras.applications")] if memory else [None, None])
        rows.append((name, PAIRS[name], ours, theirs, *mem))

    print(f"\nTraining steps, batch {batch_size} at {size}x{size}, float32, {repeats} alternated "
          f"steps after {WARMUP_STEPS} warm-up (median); {os.cpu_count()} CPUs, "
          f"TF {tf.__version__}, Keras {keras.__version__}. ratio = kerascnn / keras.applications")
    print(f"{'model':14} {'keras.applications':19} {'img/s':>8} {'theirs':>8} {'ratio':>6}"
          f" {'peak MB':>8} {'theirs':>8} {'ratio':>6}")
    for name, app_name, ours, theirs, mem_ours, mem_theirs in rows:
        mem = (f" {mem_ours:8.0f} {mem_theirs:8.0f} {mem_ours / mem_theirs:6.2f}"
               if mem_ours is not None else "")
        print(f"{name:14} {app_name:19} {ours:8.2f} {theirs:8.2f} {ours / theirs:6.2f}{mem}")
    return rows
