"""Exports a trained run: SavedModel (TF Serving layout), .keras, TFLite, metadata.

    python tools/export.py --workdir=runs/digits [--export_root=saved_models] [--checkpoint=...]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", None, "A folder written by tools/train.py.")
_EXPORT_ROOT = flags.DEFINE_string("export_root", None, "Default: the config's export.root.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A .keras file (default: workdir/model.keras).")
_VERSION = flags.DEFINE_integer("version", None, "Version number (default: the next free one).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # TF's INFO lines would bury the results
    from kerascnn.export import runs

    result = runs.export_run(_WORKDIR.value, _EXPORT_ROOT.value, _CHECKPOINT.value, _VERSION.value)
    print(runs.describe(result))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
