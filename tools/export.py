"""Exports a trained run: SavedModel (TF Serving layout), .keras, TFLite, metadata.

    tools/export.py --workdir=runs/digits [--name=NAME] [--export_root=saved_models] \
        [--quantization=float16,dynamic,int8] [--io_dtype=uint8]

Writes EXPORT_ROOT/NAME/VERSION/. NAME defaults to the config's export.name,
else MODEL_DATASET (e.g. resnet20_digits); a new version under a name whose
previous version has another input shape or class list is refused. Each
--quantization adds model_<quantization>.tflite; int8 is calibrated on the
run's training images (evaluation pipeline, no augmentation). metadata.json's
parity report compares every file with Keras on held-out test images.
"""

import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import flags

_WORKDIR = flags.DEFINE_string("workdir", None, "A folder written by tools/train.py.")
_NAME = flags.DEFINE_string(
    "name", None, "The export's name (default: config.export.name, else MODEL_DATASET).")
_EXPORT_ROOT = flags.DEFINE_string("export_root", None, "Default: the config's export.root.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A .keras file (default: workdir/model.keras).")
_VERSION = flags.DEFINE_integer("version", None, "Version number (default: the next free one).",
                                lower_bound=1)
_QUANTIZATION = flags.DEFINE_list(
    "quantization", None,
    "Quantized TFLite files, any of float16,dynamic,int8 (default: config.export.quantization).")
_IO_DTYPE = flags.DEFINE_enum("io_dtype", None, ["uint8", "int8", "float32"],
                              "The int8 file's input and output type (default: config.export.io_dtype).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise kerascnn_cli.UserError(f"Unexpected arguments: {argv[1:]}")
    from kerascnn.export import runs

    with kerascnn_cli.filtered_stderr():  # the converter's and LiteRT's chatter
        result = runs.export_run(_WORKDIR.value, _EXPORT_ROOT.value, _CHECKPOINT.value,
                                 _VERSION.value, name=_NAME.value,
                                 quantizations=_QUANTIZATION.value, io_dtype=_IO_DTYPE.value)
    print(runs.describe(result))


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
