"""The `augment` and `augment_epoch` suites of tools/benchmark.py.

`augment`: images/s of augmentation inside a tf.data pipeline (AUTOTUNE
parallel map, batch 128, prefetch) on in-memory uint8 images, for kerascnn
and for the layers a Keras user would pick instead, at each size, in one run.
Each case gets a warm-up pass, then `repeats` timed passes taken in turn
with the other cases (so drift in the machine's load hits all alike); the
median is shown.
Every RandAugment / TrivialAugment runs in both call styles: per image (a
map before batching, as keras-cv documents its layer; ours goes through
`policy.augment`) and batched (the layer on each batch; ours through
`policy.augment_batch`, as the training pipeline runs it: each image draws
its own ops, each op runs once per batch on the images that drew it). The
ratios compare like with like.

`augment_epoch`: seconds per ResNet-20 training epoch on the digits with
flip + crop only, and with RandAugment / TrivialAugment on, as training
runs them: one `fit` over several epochs per setting and round (the
settings alternate round by round), each fit's first epoch (which starts
the pipeline) left out.

`augment_ops`: microseconds per image of each uint8 op, on batches and on
single images, at each size; and the two SMOOTH filters `sharpness` picks from.
"""

import os
import time

BATCH = 128


def _source(size, count=256):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    return tf.data.Dataset.from_tensor_slices(images).repeat()


def _per_image_seeded(fn):
    """A per-image step (uint8 image, stateless seed) -> float32, seeds zipped in."""
    import tensorflow as tf

    def build(ds):
        seeds = tf.data.Dataset.random(seed=0).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(fn, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(BATCH)

    return build


def _policy_batched(policy, before=None):
    """Our policies: each image draws its own ops; applied to the batch (one seed per batch).

    `before`: an optional per-image (uint8 image, seed) -> uint8 step (flip + crop).
    """
    import tensorflow as tf

    def build(ds):
        if before is not None:
            seeds = tf.data.Dataset.random(seed=1).batch(2)
            ds = tf.data.Dataset.zip(ds, seeds).map(before, num_parallel_calls=tf.data.AUTOTUNE)
        seeds = tf.data.Dataset.random(seed=0).batch(2)
        return tf.data.Dataset.zip(ds.batch(BATCH), seeds).map(
            lambda x, s: tf.cast(policy.augment_batch(x, s), tf.float32),
            num_parallel_calls=tf.data.AUTOTUNE)

    return build


def _per_image_layer(layer):
    import tensorflow as tf

    def build(ds):
        ds = ds.map(lambda x: layer(tf.cast(x, tf.float32)), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(BATCH)

    return build


def _batched_layer(layer):
    import tensorflow as tf

    def build(ds):
        ds = ds.batch(BATCH).map(lambda x: tf.cast(x, tf.float32))
        return ds.map(layer, num_parallel_calls=tf.data.AUTOTUNE)

    return build


def _batched_mix(fn, with_seed):
    """Mixers on (images, one-hot labels) batches."""
    import tensorflow as tf

    def build(ds):
        labels = tf.data.Dataset.range(10).repeat().map(lambda i: tf.one_hot(i, 10))
        ds = tf.data.Dataset.zip(ds.map(lambda x: tf.cast(x, tf.float32)), labels).batch(BATCH)
        if with_seed:
            seeds = tf.data.Dataset.random(seed=0).batch(2)
            return tf.data.Dataset.zip(ds, seeds).map(
                lambda b, s: fn(b[0], b[1], s), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.map(lambda x, y: fn(x, y), num_parallel_calls=tf.data.AUTOTUNE)

    return build


def _keras_mix(layer):
    def mix(images, labels):
        out = layer({"images": images, "labels": labels})
        return out["images"], out["labels"]

    return mix


def _pass(ds, batches):
    """Images/s of one pass of `batches` batches through a fresh iterator."""
    it = iter(ds)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * BATCH / (time.perf_counter() - start)


def cases(size):
    """(name, reference-or-ours, builder) for images of `size` x `size`."""
    import keras
    import tensorflow as tf

    from kerascnn.augment import RandAugment, TrivialAugmentWide, crops, mix

    rand2 = RandAugment(num_ops=2, magnitude=9 / 30)
    rand1 = RandAugment(num_ops=1, magnitude=9 / 30)
    trivial = TrivialAugmentWide()
    pad = 4 if size <= 64 else 16

    def flip_crop(x, seed):
        crop_seed, flip_seed = tf.unstack(tf.random.split(seed, 2))
        x = crops.pad_crop(x, (size, size), pad, crop_seed)
        return tf.image.stateless_random_flip_left_right(x, flip_seed)

    def flip_crop_float(x, seed):
        return tf.cast(flip_crop(x, seed), tf.float32)

    out = [
        ("kerascnn flip + pad-crop", "ours", _per_image_seeded(flip_crop_float)),
        ("kerascnn flip + pad-crop + RandAugment", "ours", _policy_batched(rand2, flip_crop)),
        ("kerascnn RandAugment N=2 m=0.3", "ours", _policy_batched(rand2)),
        ("kerascnn RandAugment N=1 m=0.3", "ours", _policy_batched(rand1)),
        ("kerascnn TrivialAugmentWide", "ours", _policy_batched(trivial)),
        ("kerascnn RandAugment N=2 (per image)", "ours", _per_image_seeded(
            lambda x, s: tf.cast(rand2.augment(x, s), tf.float32))),
        ("kerascnn TrivialAugmentWide (per image)", "ours", _per_image_seeded(
            lambda x, s: tf.cast(trivial.augment(x, s), tf.float32))),
        ("keras RandAugment (per image)", "keras",
         _per_image_layer(keras.layers.RandAugment(value_range=(0, 255), num_ops=2))),
        ("keras RandAugment (batched)", "keras",
         _batched_layer(keras.layers.RandAugment(value_range=(0, 255), num_ops=2))),
        ("kerascnn Mixup (batch)", "ours", _batched_mix(
            lambda x, y, s: mix.mixup(x, y, s, alpha=0.2), True)),
        ("kerascnn CutMix (batch)", "ours", _batched_mix(
            lambda x, y, s: mix.cutmix(x, y, s, alpha=1.0), True)),
        ("keras MixUp (batch)", "keras", _batched_mix(_keras_mix(keras.layers.MixUp(alpha=0.2)), False)),
        ("keras CutMix (batch)", "keras", _batched_mix(_keras_mix(keras.layers.CutMix(factor=1.0)), False)),
    ]
    try:
        import keras_cv
    except ImportError:
        print("keras-cv not installed: its cases are skipped (pip install 'kerascnn[keras-cv]').")
        return out
    kcv = keras_cv.layers
    out += [
        ("keras-cv RandAugment (per image)", "keras-cv", _per_image_layer(
            kcv.RandAugment(value_range=(0, 255), augmentations_per_image=2, magnitude=0.3))),
        ("keras-cv RandAugment (batched)", "keras-cv", _batched_layer(
            kcv.RandAugment(value_range=(0, 255), augmentations_per_image=2, magnitude=0.3))),
        ("keras-cv MixUp (batch)", "keras-cv", _batched_mix(_keras_mix(kcv.MixUp(alpha=0.2)), False)),
        ("keras-cv CutMix (batch)", "keras-cv", _batched_mix(_keras_mix(kcv.CutMix(alpha=1.0)), False)),
    ]
    return out


def augment(sizes, repeats, images, only=()):
    """Images/s per case and size; `only`: substrings, a case runs if its name has one."""
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    results = {}
    for size in sizes:
        count = images if size <= 64 else max(BATCH, images // 2)
        batches = max(1, count // BATCH)
        chosen = [(name, build) for name, _, build in cases(size)
                  if not only or any(word.lower() in name.lower() for word in only)]
        pipelines = {name: build(_source(size)).prefetch(tf.data.AUTOTUNE) for name, build in chosen}
        rates = {name: [] for name in pipelines}
        # A warm-up pass each (tracing, thread pools), then the timed passes
        # in turn, so that load drift on the machine hits every case alike.
        with tqdm(total=(repeats + 1) * len(pipelines), desc=f"augment {size}x{size}",
                  unit="pass") as bar:
            for i in range(repeats + 1):
                for name, ds in pipelines.items():
                    rate = _pass(ds, batches)
                    if i:
                        rates[name].append(rate)
                    bar.update()
        for name, values in rates.items():
            results[size, name] = sorted(values)[len(values) // 2]

    print(f"\nimages/s in tf.data (AUTOTUNE map, batch {BATCH}), median of {repeats}, "
          f"{os.cpu_count()} CPUs, TF {tf.__version__}, Keras {keras.__version__}")
    names = list(dict.fromkeys(name for _, name in results))
    print(f"{'case':39} " + " ".join(f"{f'{s}x{s}':>10}" for s in sizes))
    for name in names:
        print(f"{name:39} " + " ".join(f"{results.get((s, name), float('nan')):10.0f}" for s in sizes))
    print("\nratios (ours / theirs):")
    pairs = [
        ("kerascnn flip + pad-crop + RandAugment", "kerascnn flip + pad-crop"),
        ("kerascnn RandAugment N=2 (per image)", "keras-cv RandAugment (per image)"),
        ("kerascnn TrivialAugmentWide (per image)", "keras-cv RandAugment (per image)"),
        ("kerascnn RandAugment N=2 m=0.3", "keras-cv RandAugment (batched)"),
        ("kerascnn RandAugment N=2 (per image)", "keras RandAugment (per image)"),
        ("kerascnn RandAugment N=2 m=0.3", "keras RandAugment (batched)"),
        ("kerascnn TrivialAugmentWide", "kerascnn RandAugment N=1 m=0.3"),
        ("kerascnn Mixup (batch)", "keras MixUp (batch)"),
        ("kerascnn CutMix (batch)", "keras CutMix (batch)"),
        ("kerascnn Mixup (batch)", "keras-cv MixUp (batch)"),
        ("kerascnn CutMix (batch)", "keras-cv CutMix (batch)"),
    ]
    for ours, theirs in pairs:
        if not any((s, ours) in results and (s, theirs) in results for s in sizes):
            continue
        ratios = [results.get((s, ours), float("nan")) / results.get((s, theirs), float("nan"))
                  for s in sizes]
        print(f"{ours:39} / {theirs:34} " + " ".join(f"{r:9.2f}x" for r in ratios))


def augment_epoch(repeats, epochs=3):
    """Seconds per ResNet-20 epoch on the digits (batch 64), by augmentation.

    Each round fits every setting for `epochs` + 1 epochs in one `fit`, as
    training does (the pipeline holds all epochs), and keeps the epochs after
    the first; the settings take turns, so load drift hits all alike.
    """
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from kerascnn import create_model, data

    raw = data.load("digits", "train")
    n = int(raw.cardinality())
    steps = data.steps_per_epoch(n, 64)
    settings = {
        "flip + pad-crop only": {},
        "+ RandAugment N=2 m=0.3": {"policy": "rand_augment"},
        "+ TrivialAugmentWide": {"policy": "trivial_augment"},
    }

    class EpochTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    models = {}
    for name, extra in settings.items():
        model = create_model("resnet20", input_shape=(32, 32, 3), classes=10)
        model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                      loss=keras.losses.CategoricalCrossentropy(from_logits=True))
        models[name] = (model, extra)
    times = {name: [] for name in settings}
    with tqdm(total=repeats * len(settings), desc="augment_epoch", unit="fit") as bar:
        for r in range(repeats):
            for name, (model, extra) in models.items():  # alternate settings
                ds = data.train_pipeline(raw, batch_size=64, image_size=32, num_classes=10,
                                         padding=2, flip=True, seed=r, epochs=epochs + 1,
                                         **extra)
                timer = EpochTimes()
                model.fit(ds, epochs=epochs + 1, steps_per_epoch=steps, verbose=0,
                          callbacks=[timer])
                times[name] += timer.times[1:]
                bar.update()
    medians = {name: sorted(ts)[len(ts) // 2] for name, ts in times.items()}
    base = medians["flip + pad-crop only"]
    print(f"\nResNet-20 on digits ({n} images, batch 64, {steps} steps), median s per epoch "
          f"of {repeats} x {epochs}, {os.cpu_count()} CPUs, TF {tf.__version__}")
    for name, median in medians.items():
        print(f"{name:28} {median:7.2f} s  ({median / base:5.2f}x flip + crop)")


def augment_ops(sizes, repeats):
    """Microseconds per image of each op of `policies.ALL_OPS`, batched and single."""
    import numpy as np
    import tensorflow as tf
    from tqdm import tqdm

    from kerascnn import _compat
    from kerascnn.augment import ops, policies

    def per_image_us(fn, x, loops=20):
        @tf.function
        def run(x):
            return tf.while_loop(lambda i, y: i < loops, lambda i, y: (i + 1, fn(y)), (0, x))[1]

        run(x)  # trace, warm up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            run(x)
            best = min(best, time.perf_counter() - start)
        count = x.shape[0] if x.shape.rank == 4 else 1
        return 1e6 * best / loops / count

    rows = {}
    seed = tf.constant([1, 2])
    for size in sizes:
        batch = 64 if size <= 64 else 8
        images = tf.constant(np.random.default_rng(0).integers(0, 256, (batch, size, size, 3),
                                                               dtype=np.uint8))
        for name, spec in tqdm(list(policies.ALL_OPS.items()), desc=f"ops {size}x{size}"):
            kwargs = {"fill": 0} if policies.takes_fill(spec.function) else {}
            level = 1.0 if spec.max_level is None else 0.3 * spec.max_level
            for shape, x in (("batch", images), ("single", images[0])):
                fn = lambda y, s=spec, k=kwargs, lv=level: s.function(y, lv, seed, **k)  # noqa: E731
                rows[name, size, shape] = per_image_us(fn, x)
        floats = tf.cast(images, tf.float32)
        for depthwise in (True, False):
            label = "SMOOTH " + ("depthwise conv" if depthwise else "shifted sums")
            for shape, x in (("batch", floats), ("single", floats[0])):
                fn = lambda y, d=depthwise: ops.smooth_filter(y, depthwise=d) * 0.5  # noqa: E731
                rows[label, size, shape] = per_image_us(fn, x)
    print(f"\nus per image (best of {repeats}), batch 64 at 32x32 and 8 at larger sizes; "
          f"oneDNN kernels: {_compat.onednn_enabled()}, {os.cpu_count()} CPUs, "
          f"TF {tf.__version__}")
    print(f"{'op':26} " + " ".join(f"{f'{s} batch':>11} {f'{s} single':>11}" for s in sizes))
    for name in dict.fromkeys(n for n, _, _ in rows):
        print(f"{name:26} " + " ".join(
            f"{rows[name, s, 'batch']:11.1f} {rows[name, s, 'single']:11.1f}" for s in sizes))
