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

With --precision, --jit_compile or --strategy (`configurations`), any
registered model is trained instead in each configuration of their cross
product (config.runtime's precision, XLA, tf.distribute strategy), all built
in one process and their steps alternated the same way; "mirrored" on a
machine without GPUs splits the CPU into 2 logical devices (the process is
split before TensorFlow starts, and the default strategy runs on the first
of them), and the global batch --batch is split over the replicas. The ratio
is against the first configuration.
"""

import collections
import itertools
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
STRATEGIES = ("default", "mirrored")  # of config.runtime.strategy, on one machine
MIRRORED_CPUS = 2  # logical CPU devices "mirrored" gets on a machine without GPUs


def build(side, name, size):
    """The compiled model of one side ("kerascnn" or "keras.applications")."""
    import keras

    import kerascnn

    shape = (size, size, 3)
    if isinstance(side, tuple):  # a Configuration (a plain tuple in a child process)
        return build_configuration(Configuration(*side), name, shape)
    if side == "kerascnn":
        model = kerascnn.create_model(name, input_shape=shape, classes=CLASSES)
    else:
        model = getattr(keras.applications, PAIRS[name])(
            weights=None, input_shape=shape, classes=CLASSES, classifier_activation=None)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


# One benchmarked configuration: config.runtime's precision, jit_compile and strategy.
Configuration = collections.namedtuple("Configuration", "precision jit_compile strategy")


def configurations(precisions, jit_compiles, strategies):
    """The cross product of the three lists (of strings, as the flags give them), checked."""
    from kerascnn.train import config as config_lib

    jit = {"false": False, "true": True}
    for flag, values, allowed in (("--precision", precisions, config_lib.PRECISIONS),
                                  ("--jit_compile", jit_compiles, tuple(jit)),
                                  ("--strategy", strategies, STRATEGIES)):
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise ValueError(f"{flag}={','.join(values)}: each value must be one of "
                             f"{', '.join(allowed)}{f'; got {bad}' if bad else ''}.")
    return [Configuration(p, jit[j], s)
            for p, j, s in itertools.product(precisions, jit_compiles, strategies)]


def start_devices(configs):
    """The CPU split in MIRRORED_CPUS logical devices when a configuration mirrors
    (before TensorFlow starts); {strategy name: its tf.distribute strategy}."""
    from kerascnn.train import distribute

    split = any(c.strategy == "mirrored" for c in configs)
    strategies = {}
    for name in dict.fromkeys(c.strategy for c in configs):
        strategies[name] = distribute.make_strategy(
            {"strategy": name, "devices": (), "cpu_devices": MIRRORED_CPUS if split else 0})
    return strategies


def build_configuration(config, name, shape, strategies=None):
    """`name` compiled as the spine compiles it in `config` (random weights)."""
    import keras

    import kerascnn
    from kerascnn.train import precision

    strategy = (strategies or start_devices([config]))[config.strategy]
    with strategy.scope():
        model = precision.build(config.precision, kerascnn.create_model, name,
                                input_shape=shape, classes=CLASSES)
        model.compile(optimizer=precision.loss_scaled(keras.optimizers.SGD(0.01, momentum=0.9),
                                                      config.precision),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=config.jit_compile)
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


def train(names, size, batch_size, repeats, memory=True, configs=None):
    """Prints, per model, images/s and peak memory of ours and keras.applications',
    or, given `configs` (`configurations`), of ours in each configuration."""
    import os

    if configs:
        return train_configurations(names, size, batch_size, repeats, configs, memory)

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


def train_configurations(names, size, batch_size, repeats, configs, memory=True):
    """Prints, per model and configuration, images/s and peak memory, and their
    ratios to the first configuration's."""
    import os

    import keras
    import tensorflow as tf
    import tqdm

    import kerascnn

    missing = [n for n in names if n not in kerascnn.list_models()]
    if missing:
        raise ValueError(f"--model {missing} is not registered (kerascnn.list_models()).")
    strategies = start_devices(configs)  # first: the CPU is split before TensorFlow starts
    replicas = {c.strategy: strategies[c.strategy].num_replicas_in_sync for c in configs}
    for config in configs:
        if batch_size % replicas[config.strategy]:
            raise ValueError(f"--batch={batch_size} is the global batch and must split evenly "
                             f"over the {replicas[config.strategy]} replicas of {config.strategy}.")
    rows = []
    for name in tqdm.tqdm(names, desc="models", unit="model", disable=len(names) < 2):
        shape = (size, size, 3)
        x, y = batch(size, batch_size)
        models, failed = {}, {}
        for c in configs:  # a configuration that cannot train is reported, not fatal
            try:
                models[c] = build_configuration(c, name, shape, strategies)
                models[c].train_on_batch(x, y)
            except (tf.errors.OpError, ValueError, RuntimeError) as error:
                models.pop(c, None)
                failed[c] = f"fails: {type(error).__name__}: {_first_line(error)}"
        rates = dict(zip(models, (batch_size / median(ts) for ts in
                                  step_times(list(models.values()), x, y, repeats))))
        del models
        keras.backend.clear_session()
        mem = {c: peak_memory_mb(tuple(c), name, size, batch_size) if memory else None
               for c in configs if c in rates}
        rows += [(name, c, rates.get(c), mem.get(c), failed.get(c)) for c in configs]

    print(f"\nTraining steps, global batch {batch_size} at {size}x{size}, {repeats} steps per "
          f"configuration alternated after {WARMUP_STEPS} warm-up (median); {os.cpu_count()} "
          f"CPUs{f' ({MIRRORED_CPUS} logical devices)' if 'mirrored' in replicas else ''}, "
          f"TF {tf.__version__}, Keras {keras.__version__}. ratio = / the first configuration")
    print(f"{'model':14} {'precision':15} {'jit_compile':11} {'strategy':9} {'img/s':>8} "
          f"{'ratio':>6} {'peak MB':>8} {'ratio':>6}")
    first = {}
    for name, c, rate, m, failure in rows:
        row = f"{name:14} {c.precision:15} {str(c.jit_compile).lower():11} {c.strategy:9}"
        if failure:
            print(f"{row} {failure}")
            continue
        base_rate, base_mem = first.setdefault(name, (rate, m))
        mem = f" {m:8.0f} {m / base_mem:6.2f}" if m is not None else ""
        print(f"{row} {rate:8.2f} {rate / base_rate:6.2f}{mem}")
    return rows


def _first_line(error, width=160):
    import re

    line = re.sub(r" \(defined @ [^)]*\)", "", (str(error).strip().splitlines() or [""])[0])
    return line if len(line) <= width else line[:width - 3] + "..."
