"""Times kerascnn layers against their Keras equivalents; one suite per subcommand.

    python tools/benchmark.py norms [--shape=32,56,56,64] [--repeats=10]
    python tools/benchmark.py grouped_conv [--repeats=10]
    python tools/benchmark.py augment [--sizes=32,224] [--repeats=3] [--cases=RandAugment,...]
    python tools/benchmark.py augment_epoch [--repeats=3]
    python tools/benchmark.py augment_ops [--sizes=32,224] [--repeats=3]
    python tools/benchmark.py train --model=resnet50,densenet121,vgg16 [--batch=16] [--size=224]
    python tools/benchmark.py train --model=resnet20 --size=32 --batch=128 \
        --precision=float32,mixed_bfloat16 --jit_compile=false,true [--strategy=default,mirrored]
    python tools/benchmark.py tflite --model=mobilenet_v2 [--size=224] [--runs=100] [--threads=N]
    python tools/benchmark.py int8 --workdir=RUN [--runs=100] [--threads=N] [--test_images=1000]

Prints, per layer, the median ms of a forward call and of a forward+backward
call (gradients for the input and every trainable weight), each inside a
tf.function, and the ratio to the reference layer timed in alternation.
"""

import os
import sys
import time

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines

from absl import app, flags

_SHAPE = flags.DEFINE_list("shape", ["32", "56", "56", "64"], "NHWC input shape.")
_REPEATS = flags.DEFINE_integer("repeats", 10, "Timed calls per layer / passes per case (median).")
_SIZES = flags.DEFINE_list("sizes", ["32", "224"], "augment: square image sizes.")
_IMAGES = flags.DEFINE_integer("images", 5120, "augment: images per timed pass at 32x32 (1/2 at larger sizes).")
_CASES = flags.DEFINE_list("cases", [], "augment: run only the cases whose name contains one of these.")
_MODEL = flags.DEFINE_list("model", ["resnet50", "densenet121", "vgg16"],
                           "train: kerascnn models with a keras.applications counterpart; "
                           "tflite: any registered models.")
_COMPARE = flags.DEFINE_enum("compare", "keras.applications", ["keras.applications"],
                             "train: what ours is compared with.")
_BATCH = flags.DEFINE_integer("batch", 16, "train: images per step.", lower_bound=1)
_SIZE = flags.DEFINE_integer("size", 224, "train, tflite: square input size.", lower_bound=8)
_MEMORY = flags.DEFINE_bool("memory", True, "train: also measure each model's peak memory.")
_PRECISION = flags.DEFINE_list("precision", [], "train: dtype policies to compare, e.g. "
                               "float32,mixed_bfloat16 (config.runtime.precision); with "
                               "--jit_compile or --strategy, any registered --model.")
_JIT_COMPILE = flags.DEFINE_list("jit_compile", [], "train: false,true: without and with XLA "
                                 "(config.runtime.jit_compile).")
_STRATEGY = flags.DEFINE_list("strategy", [], "train: default,mirrored (config.runtime.strategy; "
                              "mirrored splits the CPU in 2 when there is no GPU).")
_RUNS = flags.DEFINE_integer("runs", 100,
                             "tflite, int8: timed single-image calls per path (median).",
                             lower_bound=50)
_THREADS = flags.DEFINE_integer("threads", None, "tflite, int8: TensorFlow and LiteRT threads "
                                "(default: the CPU count).", lower_bound=1)
_WORKDIR = flags.DEFINE_string("workdir", None, "int8: a run folder of tools/train.py.")
_TEST_IMAGES = flags.DEFINE_integer("test_images", 1000, "int8: test images compared (at most).",
                                    lower_bound=1)


def _compiled(layer, inputs):
    """forward() and forward_backward() of `layer` on fixed `inputs`, traced once."""
    import tensorflow as tf

    layer(inputs, training=True)  # build

    @tf.function
    def forward():
        return layer(inputs, training=True)

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(tf.square(layer(inputs, training=True)))
        return tape.gradient(loss, [inputs, layer.trainable_weights])

    return forward, forward_backward


def _median_ms(fns, repeats):
    """Median ms of each function, called in turn so load drift hits all alike."""
    for fn in fns:
        fn(), fn()  # trace and warm up
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            start = time.perf_counter()
            fn()
            ts.append(1e3 * (time.perf_counter() - start))
    return [sorted(ts)[len(ts) // 2] for ts in times]


def _ratio(times):
    """ours / reference, or '-' when there is no reference."""
    return f"{times[0] / times[1]:6.2f}" if len(times) == 2 else f"{'-':>6}"


def norms(shape, repeats):
    """kerascnn.layers.normalization vs the closest Keras (or tf.nn) layer."""
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from kerascnn.layers import normalization as norm

    x = tf.random.normal(shape)
    style = tf.nn.softmax(tf.random.normal([shape[0], 8]))
    lrn = dict(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    cases = [  # (ours, inputs, reference name, reference)
        (norm.BatchNormalization(), x, "(is Keras's)", None),
        (norm.GroupNormalization(32), x, "keras GroupNormalization(32)",
         keras.layers.GroupNormalization(32)),
        (norm.LayerNormalization(), x, "keras LayerNormalization([1,2,3])",
         keras.layers.LayerNormalization(axis=[1, 2, 3])),
        (norm.InstanceNormalization(), x, "keras GroupNormalization(-1)",
         keras.layers.GroupNormalization(-1)),
        (norm.AdaIN(), [x, x[::-1]], "keras GroupNormalization(-1)",
         keras.layers.GroupNormalization(-1)),
        (norm.ConditionalInstanceNormalization(8), [x, style],
         "keras GroupNormalization(-1)", keras.layers.GroupNormalization(-1)),
        (norm.LocalResponseNormalization(), x, "tf.nn.local_response_norm",
         keras.layers.Lambda(lambda t: tf.nn.local_response_normalization(t, **lrn))),
    ]
    rows = []
    for ours, inputs, ref_name, ref in tqdm(cases, desc="norms", unit="layer"):
        fns = [_compiled(ours, inputs)] + ([_compiled(ref, x)] if ref else [])
        fwd = _median_ms([f for f, _ in fns], repeats)
        bwd = _median_ms([b for _, b in fns], repeats)
        rows.append((type(ours).__name__, ref_name, fwd, bwd))

    print(f"\ninput {shape} float32, {repeats} calls, median ms, "
          f"{os.cpu_count()} CPUs, TF {tf.__version__}, Keras {keras.__version__}")
    print(f"{'layer':34} {'reference':34} {'fwd':>7} {'ratio':>6} {'fwd+bwd':>8} {'ratio':>6}")
    for name, ref_name, fwd, bwd in rows:
        print(f"{name:34} {ref_name:34} {fwd[0]:7.1f} {_ratio(fwd)} "
              f"{bwd[0]:8.1f} {_ratio(bwd)}")


def grouped_conv(shape, repeats):
    """kerascnn GroupedConv2D (split -> convs -> concat) vs keras Conv2D(groups=g).

    The grouped layers of ShuffleNet, AlexNet and ResNeXt; `shape` is unused.
    """
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from kerascnn.layers import GroupedConv2D

    cases = [  # (name, batch, H = W, C_in, filters, k, groups)
        ("ShuffleNet 1x1 g=3", 32, 28, 240, 240, 1, 3),
        ("ShuffleNet 1x1 g=8", 32, 28, 384, 384, 1, 8),
        ("AlexNet conv2 5x5 g=2", 16, 27, 96, 256, 5, 2),
        ("ResNeXt 3x3 g=32", 16, 28, 256, 256, 3, 32),
    ]
    rows = []
    for name, n, h, c_in, filters, k, g in tqdm(cases, desc="grouped_conv", unit="case"):
        x = tf.random.normal([n, h, h, c_in])
        ours = GroupedConv2D(filters, k, groups=g, padding="same", use_bias=False)
        ref = keras.layers.Conv2D(filters, k, groups=g, padding="same", use_bias=False)
        fns = [_compiled(ours, x), _compiled(ref, x)]
        fwd = _median_ms([f for f, _ in fns], repeats)
        bwd = _median_ms([b for _, b in fns], repeats)
        rows.append((name, fwd, bwd))

    print(f"\n{repeats} calls, median ms, {os.cpu_count()} CPUs, TF {tf.__version__}, "
          f"Keras {keras.__version__}; ratio = GroupedConv2D / keras Conv2D(groups)")
    print(f"{'case':24} {'fwd':>8} {'keras':>8} {'ratio':>6} {'fwd+bwd':>9} {'keras':>9} {'ratio':>6}")
    for name, fwd, bwd in rows:
        print(f"{name:24} {fwd[0]:8.1f} {fwd[1]:8.1f} {_ratio(fwd)} "
              f"{bwd[0]:9.1f} {bwd[1]:9.1f} {_ratio(bwd)}")


def augment(shape, repeats):
    """Images/s of kerascnn's augmentation vs Keras's and keras-cv's, in tf.data."""
    _augment_suites().augment([int(s) for s in _SIZES.value], repeats, _IMAGES.value,
                              _CASES.value)


def augment_epoch(shape, repeats):
    """ResNet-20 digits epoch time with and without a policy."""
    _augment_suites().augment_epoch(repeats)


def augment_ops(shape, repeats):
    """Microseconds per image of each augmentation op, batched and on one image."""
    _augment_suites().augment_ops([int(s) for s in _SIZES.value], repeats)


def train(shape, repeats):
    """Images/s and peak memory training ours and keras.applications' same network, or
    ours in each configuration of --precision x --jit_compile x --strategy."""
    suite = _suite("benchmark_train")
    configs = None
    if _PRECISION.value or _JIT_COMPILE.value or _STRATEGY.value:
        configs = suite.configurations(_PRECISION.value or ["float32"],
                                       _JIT_COMPILE.value or ["false"],
                                       _STRATEGY.value or ["default"])
    suite.train(_MODEL.value, _SIZE.value, _BATCH.value, repeats, memory=_MEMORY.value,
                configs=configs)


def tflite(shape, repeats):
    """Single-image latency: Keras three ways and LiteRT float32 / float16 / dynamic / int8."""
    _suite("benchmark_tflite").tflite(_MODEL.value, _SIZE.value, _RUNS.value, _THREADS.value)


def int8(shape, repeats):
    """The converter's and litert-quantizer's full-integer int8 files of a trained run."""
    if not _WORKDIR.value:
        raise app.UsageError(
            "benchmark.py int8 needs --workdir=RUN, a run folder of tools/train.py.")
    _suite("benchmark_int8").int8(_WORKDIR.value, _RUNS.value, _THREADS.value, _TEST_IMAGES.value)


def _suite(module):
    import importlib

    try:
        return importlib.import_module(module)  # run as tools/benchmark.py
    except ImportError:
        return importlib.import_module(f"kerascnn.tools.{module}")


def _augment_suites():
    return _suite("benchmark_augment")


# subcommand -> function(shape, repeats)
SUITES = {"norms": norms, "grouped_conv": grouped_conv, "augment": augment,
          "augment_epoch": augment_epoch, "augment_ops": augment_ops, "train": train,
          "tflite": tflite, "int8": int8}


def main(argv):
    if len(argv) != 2 or argv[1] not in SUITES:
        raise app.UsageError(f"Usage: benchmark.py SUITE [flags]; suites: {sorted(SUITES)}")
    SUITES[argv[1]]([int(s) for s in _SHAPE.value], _REPEATS.value)


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
