"""Export: SavedModel (TF Serving layout), `.keras`, float32 TFLite, parity.

    result = kerascnn.export.export_model(model, "saved_models", sample_images=x)

writes `saved_models/<name>/<version>/` atomically; see docs/export.md.
"""

from kerascnn import _compat

_compat.require_tensorflow("kerascnn.export")

from kerascnn.export.exporter import (  # noqa: E402
    ExportResult,
    TFLiteConversionError,
    export_model,
    next_version,
    tflite_ops,
)
from kerascnn.export.fold import fold_batchnorm  # noqa: E402
from kerascnn.export.parity import parity_report, tflite_predict  # noqa: E402

__all__ = [
    "ExportResult",
    "TFLiteConversionError",
    "export_model",
    "fold_batchnorm",
    "next_version",
    "parity_report",
    "tflite_ops",
    "tflite_predict",
]
