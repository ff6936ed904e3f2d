"""`tools/benchmark.py tflite`: single-image latency of a model through Keras and LiteRT.

One image of the model's input size, batch 1. Keras three ways (an eager
`model(x)`, `model.predict`, a `tf.function` traced once) and LiteRT's
signature runner on the float32, float16, dynamic-range and full-integer int8
files of `kerascnn.export.to_tflite`. Each path is called a few times to warm
up, then `runs` times; the table gives the median milliseconds, the TFLite
file sizes and each path's time over LiteRT float32's. TensorFlow and LiteRT
use the same fixed thread count. The int8 file is calibrated on random
images: its speed does not depend on the calibration, its accuracy does (the
export's parity report measures that on real images).
"""

import os
import statistics
import time

WARMUP = 5
PATHS = ("keras model(x)", "keras predict", "tf.function", "litert float32", "litert float16",
         "litert dynamic", "litert int8")


def cpu_description():
    """The CPU's model name and whether it has int8 dot-product / matrix instructions."""
    name, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name == "unknown CPU":
                    name = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    has = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags]
    return f"{name} ({', '.join(has) or 'no AVX2 / VNNI / AMX flags read'})"


def median_ms(call, runs):
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def latencies(name, size, runs, threads):
    """{path: (ms, TFLite bytes or None)} for registered model `name` at size x size."""
    import numpy as np
    import tensorflow as tf
    import kerascnn
    import kerascnn_cli
    from kerascnn import export
    from kerascnn.export import parity

    model = kerascnn.create_model(name, input_shape=(size, size, 3))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    x = image.astype(np.float32)
    traced = tf.function(lambda batch: model(batch, training=False))
    results = {
        "keras model(x)": (median_ms(lambda: model(x, training=False), runs), None),
        "keras predict": (median_ms(lambda: model.predict(x, verbose=0), runs), None),
        "tf.function": (median_ms(lambda: traced(x), runs), None),
    }
    calibration = rng.integers(0, 256, (32, size, size, 3), dtype=np.uint8)
    for quantization in ("none", "float16", "dynamic", "int8"):
        with kerascnn_cli.filtered_stderr():  # the converter's and LiteRT's chatter
            content = export.to_tflite(
                model, quantization=quantization,
                representative_data=calibration if quantization == "int8" else None)
            interpreter, xnnpack = parity.interpreter(content, num_threads=threads)
            runner = interpreter.get_signature_runner()
        (input_name,) = runner.get_input_details()
        path = f"litert {'float32' if quantization == 'none' else quantization}"
        path += "" if xnnpack else " (no XNNPACK)"  # see parity.interpreter
        results[path] = (median_ms(lambda: runner(**{input_name: image}), runs), len(content))
    return results


def tflite(names, size, runs, threads=None):
    """Prints the latency table of each model."""
    import keras
    import tensorflow as tf
    import tqdm

    import kerascnn

    unknown = [n for n in names if n not in kerascnn.list_models()]
    if unknown:
        raise ValueError(f"--model {unknown}: not registered models (kerascnn.list_models()).")
    threads = threads or os.cpu_count()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf_threads = threads
    except RuntimeError:  # TensorFlow ran an op in this process already: its pools stay
        tf_threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    tables = {name: latencies(name, size, runs, threads)
              for name in tqdm.tqdm(names, desc="models", unit="model", disable=len(names) < 2)}
    print(f"\nSingle-image latency at {size}x{size}, median of {runs} runs after {WARMUP} "
          f"warm-up, {threads} LiteRT / {tf_threads} TensorFlow threads; {cpu_description()}; "
          f"TF {tf.__version__}, "
          f"Keras {keras.__version__}. ratio = time / LiteRT float32's")
    print(f"{'model':20} {'path':16} {'ms':>10} {'ratio':>7} {'TFLite MB':>10}")
    for name, rows in tables.items():
        base = rows["litert float32"][0]
        for path in PATHS:
            ms, size_bytes = rows[path]
            mb = f"{size_bytes / 2**20:10.2f}" if size_bytes else f"{'-':>10}"
            print(f"{name:20} {path:16} {ms:10.3f} {ms / base:7.2f} {mb}")
