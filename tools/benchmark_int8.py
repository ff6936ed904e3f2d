"""`tools/benchmark.py int8 --workdir=RUN`: the two full-integer int8 quantizers on a trained run.

The TFLiteConverter's full-integer path (what `kerascnn.export.to_tflite`
and `tools/export.py --quantization=int8` use: a representative dataset) and
litert-quantizer's static int8 recipe (`recipe.static_wi8_ai8()`: int8
weights and activations, calibrated from the float32 file), both calibrated
on the same first `export.num_calibration_images` training images of the
run's evaluation pipeline, both compared with the run's Keras model on its
first test images: top-1 accuracy, top-1 agreement with Keras, the largest
logit difference, whether every op is a TFLite builtin, the file size and
the single-image LiteRT latency (median of `runs` calls after warm-up).

litert-quantizer is the maintained LiteRT post-training quantizer
(`pip install litert-quantizer`; formerly ai-edge-quantizer). docs/export.md
gives the measurements behind keeping the converter's path as the export's.
"""

import dataclasses
import os

try:  # run as tools/benchmark.py
    from benchmark_tflite import cpu_description, median_ms
except ImportError:  # installed, as kerascnn.tools
    from kerascnn.tools.benchmark_tflite import cpu_description, median_ms


@dataclasses.dataclass
class Row:
    path: str
    top1: float
    agreement: float  # with the Keras model's top-1
    max_abs_diff: float
    ms: float
    bytes: int
    builtin_only: bool
    xnnpack: bool  # LiteRT's XNNPACK delegate runs it (else the builtin kernels do)


def litert_quantizer():
    """The `litert_quantizer` package, or an ImportError that says how to install it."""
    try:
        from litert_quantizer import quantizer, recipe
    except ImportError as err:
        raise ImportError(
            "benchmark.py int8 needs litert-quantizer (the LiteRT post-training quantizer): "
            "pip install litert-quantizer") from err
    return quantizer, recipe


def quantize_with_litert(float32_tflite, images):
    """litert-quantizer's static int8 (weights and activations) file of a float32 file,
    calibrated on `images` (uint8, one at a time through the serving signature)."""
    quantizer, recipe = litert_quantizer()
    from kerascnn.export.tflite import SIGNATURE_KEY

    qt = quantizer.Quantizer(bytearray(float32_tflite), recipe.static_wi8_ai8())
    (input_name,) = _input_names(float32_tflite)
    calibration = qt.calibrate({SIGNATURE_KEY: [{input_name: image[None]} for image in images]})
    return bytes(qt.quantize(calibration).quantized_model)


def _input_names(content):
    from kerascnn.export import parity

    return list(parity.interpreter(content)[0].get_signature_runner().get_input_details())


def compare(workdir, runs=100, threads=None, num_test_images=1000):
    """[Row] for Keras, LiteRT float32 and the two int8 files of the run in `workdir`."""
    import numpy as np

    import kerascnn_cli
    from kerascnn import export
    from kerascnn.export import parity
    from kerascnn.train import train_lib
    from kerascnn.train.export_config import _first_images

    litert_quantizer()  # before the minutes of work, a clear error if it is missing
    cfg, model = train_lib.load_run(workdir)
    info = train_lib.dataset_info(cfg)
    test, labels = _first_images(cfg, info, None, num_test_images)
    calibration, _ = _first_images(cfg, info, cfg["data"]["train_split"],
                                   cfg["export"]["num_calibration_images"])
    reference = np.asarray(model.predict(test.astype(np.float32), batch_size=64, verbose=0))
    single = test[:1].astype(np.float32)
    rows = [Row("keras float32", float(np.mean(reference.argmax(-1) == labels)), 1.0, 0.0,
                median_ms(lambda: model(single, training=False), runs), 0, True, None)]
    with kerascnn_cli.filtered_stderr():  # the converter's and LiteRT's chatter
        float32 = export.to_tflite(model)
        files = {
            "litert float32": float32,
            "converter int8": export.to_tflite(model, quantization="int8",
                                               representative_data=calibration),
            "litert-quantizer int8": quantize_with_litert(float32, calibration),
        }
        for path, content in files.items():
            logits = export.tflite_predict(content, test)
            interpreter, xnnpack = parity.interpreter(content, threads or os.cpu_count())
            runner = interpreter.get_signature_runner()
            (input_name,) = runner.get_input_details()
            image = {input_name: test[:1].astype(runner.get_input_details()[input_name]["dtype"])}
            rows.append(Row(
                path, float(np.mean(logits.argmax(-1) == labels)),
                float(np.mean(logits.argmax(-1) == reference.argmax(-1))),
                float(np.abs(logits - reference).max()), median_ms(lambda: runner(**image), runs),
                len(content), not export.tflite_ops(content)["custom"], xnnpack))
    return cfg, len(test), len(calibration), rows


def int8(workdir, runs=100, threads=None, num_test_images=1000):
    """Prints the comparison table of the run in `workdir`."""
    cfg, n_test, n_calibration, rows = compare(workdir, runs, threads, num_test_images)
    print(f"\nFull-integer int8 of {cfg['model']['name']} on {cfg['data']['name']} ({workdir}): "
          f"calibrated on {n_calibration} training images, compared on {n_test} test images; "
          f"single-image latency, median of {runs} runs, {threads or os.cpu_count()} threads; "
          f"{cpu_description()}")
    print(f"{'path':22} {'top-1':>7} {'agree':>7} {'max|dlogit|':>12} {'ms':>8} {'MB':>7} "
          f"{'XNNPACK':>7} builtin ops only")
    for r in rows:
        mb = f"{r.bytes / 2**20:7.3f}" if r.bytes else f"{'-':>7}"
        xnnpack = {None: "-", True: "yes", False: "no"}[r.xnnpack]
        print(f"{r.path:22} {r.top1:7.4f} {r.agreement:7.4f} {r.max_abs_diff:12.4f} "
              f"{r.ms:8.3f} {mb} {xnnpack:>7} {'yes' if r.builtin_only else 'no'}")
