"""Exporting a training run: its model, config, metrics and test images."""

import json
import pathlib

from kerascnn.export.exporter import export_model
from kerascnn.train import export_config, train_lib


def export_run(workdir, export_root=None, checkpoint=None, version=None, name=None,
               quantizations=None, io_dtype=None):
    """Exports a run folder's model to `export_root/<name>/<version>/`.

    The metadata holds the run's config and test metrics, and the dataset's
    class names (also in the SavedModel); the parity report compares the
    SavedModel and TFLite logits with Keras on the first
    `config.export.num_parity_images` test images.

    Args:
        workdir: a folder written by `kerascnn.train.train_and_evaluate`.
        export_root: default `config.export.root`.
        checkpoint: a .keras file to export instead of workdir/model.keras.
        version: default the next free version number.
        name: default `config.export.name`, else `<model>_<dataset>` (e.g.
            "resnet20_digits").
        quantizations: the quantized TFLite files (any of "float16",
            "dynamic", "int8"); default `config.export.quantization`.
        io_dtype: the int8 file's input and output type; default
            `config.export.io_dtype`.

    Returns:
        The `ExportResult`.
    """
    workdir = pathlib.Path(workdir)
    cfg, model = train_lib.load_run(workdir, checkpoint)
    if io_dtype is not None and "int8" not in (quantizations or cfg["export"]["quantization"]):
        raise ValueError(f"io_dtype={io_dtype!r} is the int8 file's input and output type; "
                         f"add int8 to the quantizations (--quantization=int8).")
    if quantizations is not None or io_dtype is not None:
        cfg = {**cfg, "export": {**cfg["export"]}}
        if quantizations is not None:
            cfg["export"]["quantization"] = tuple(quantizations)
        if io_dtype is not None:
            cfg["export"]["io_dtype"] = io_dtype
    metrics_path = workdir / train_lib.METRICS_FILE
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else None
    kwargs = export_config.export_kwargs(cfg)
    if export_root is not None:
        kwargs["export_root"] = export_root
    if name is not None:
        kwargs["name"] = name
    return export_model(
        model, version=version,
        metadata={"config": cfg, "metrics": metrics, "workdir": str(workdir.resolve())},
        **kwargs,
    )


def describe(result):
    """Lines naming each artifact of an export and its parity with Keras."""
    lines = [
        f"\nExported {result.name} version {result.version} to {result.directory}",
        f"  name:       {result.name}  (the TF Serving model name; its versions share "
        f"input, output and classes)",
        f"  classes:    {result.classes}  ({_names(result.class_names)})",
        f"  SavedModel: {result.saved_model}  (serving_default: uint8 images -> logits"
        f"{'' if result.class_names is None else '; class_names'})",
        f"  Keras:      {result.keras_path}",
    ]
    if result.tflite_path:
        lines.append(f"  TFLite:     {result.tflite_path}")
    for quantization, path in result.quantized_paths.items():
        lines.append(f"  TFLite {quantization}: {path}")
    lines.append(f"  metadata:   {result.metadata_path}")
    kinds = ["saved_model", "tflite"] + [f"tflite_{q}" for q in result.quantized_paths]
    for kind in kinds:
        report = result.parity.get(kind)
        if report:
            accuracy = (f", top-1 {report['top1']:.4f} (Keras {result.parity['keras_top1']:.4f})"
                        if "top1" in report else "")
            size = f", {report['bytes']:,} bytes" if "bytes" in report else ""
            lines.append(
                f"  parity {kind} vs Keras on {report['num_images']} test images: "
                f"max |diff| {report['max_abs_diff']:.2e}, "
                f"top-1 agreement {report['top1_agreement']:.4f}{accuracy}{size}"
            )
    return "\n".join(lines)


def _names(class_names, shown=5):
    if class_names is None:
        return "no class names"
    more = f", ... {len(class_names) - shown} more" if len(class_names) > shown else ""
    return ", ".join(class_names[:shown]) + more
