"""Export: SavedModel (TF Serving layout), `.keras`, TFLite (float32, float16, dynamic range,
full-integer int8), parity, BatchNorm folding.

    result = kerascnn.export.export_model(model, "saved_models", sample_images=x)

writes `saved_models/<name>/<version>/` atomically; see docs/export.md.
"""

from kerascnn import _compat

_compat.require_tensorflow("kerascnn.export")

from kerascnn.export.exporter import ExportResult, export_model, next_version  # noqa: E402
from kerascnn.export.fold import fold_batchnorm  # noqa: E402
from kerascnn.export.parity import parity_report, tflite_predict  # noqa: E402
from kerascnn.export.tflite import (  # noqa: E402
    IO_DTYPES,
    QUANTIZATIONS,
    TFLiteConversionError,
    tflite_ops,
    to_tflite,
)

__all__ = [
    "ExportResult",
    "TFLiteConversionError",
    "export_model",
    "fold_batchnorm",
    "IO_DTYPES",
    "QUANTIZATIONS",
    "next_version",
    "parity_report",
    "tflite_ops",
    "tflite_predict",
    "to_tflite",
]
