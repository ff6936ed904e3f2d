"""Prints the parameters and multiply-adds of a model, per layer and in total.

    python tools/costs.py --model=resnet50 [--input_shape=224,224,3] [--classes=1000] [--top=10]
    python tools/costs.py --keras_application=ResNet50 [--top=10]
    python tools/costs.py --all [--format=markdown] [--models=resnet18,vgg11]
    python tools/costs.py --all --update_docs=docs/models.md

`--all` builds every registered model (or those of --models) at its default
input, with the class count of its paper's figures, and prints one row per
model beside those figures (kerascnn.models.papers.PAPERS), in about 75 s on
2 CPU cores. `--update_docs` writes that table into docs/models.md.

One multiply-add counts 1, as in the papers; TensorFlow's profiler counts 2
FLOPs per multiply-add. Bias additions are not counted (docs/costs.md).
"""

import pathlib
import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import app, flags

_MODEL = flags.DEFINE_string("model", None, "A registered kerascnn model (kerascnn.list_models()).")
_KERAS_APPLICATION = flags.DEFINE_string(
    "keras_application", None,
    "A keras.applications model instead (e.g. ResNet50), built with weights=None.",
)
_INPUT_SHAPE = flags.DEFINE_list(
    "input_shape", None, "H,W,C of one image; default: the model's own (224,224,3 for ImageNet)."
)
_CLASSES = flags.DEFINE_integer("classes", None,
                                "Number of classes of the classifier (default 1000).")
_TOP = flags.DEFINE_integer("top", None, "Show only the N layers with the most multiply-adds.")
_ALL = flags.DEFINE_bool(
    "all", False, "One row per registered model (costs at its default input, paper's figures).")
_MODELS = flags.DEFINE_list("models", None, "With --all: only these models, in this order.")
_FORMAT = flags.DEFINE_enum("format", None, ["text", "markdown"],
                            "With --all: an aligned text table (default) or a Markdown one.")
_UPDATE_DOCS = flags.DEFINE_string(
    "update_docs", None,
    "With --all: write the Markdown table into this file (docs/models.md) between its "
    "<!-- models-table:start --> and <!-- models-table:end --> lines instead of printing it.")


def check_flags():
    """One of --model, --keras_application, --all, and only the flags that go with it."""
    v = {name: flags.FLAGS[name].value for name in (
        "model", "keras_application", "all", "models", "format", "update_docs", "input_shape",
        "classes", "top")}
    given = [f"--{k}" for k in ("model", "keras_application", "all") if v[k]]
    if len(given) != 1:
        raise app.UsageError("give exactly one of --model, --keras_application, --all"
                             + (f"; got {' and '.join(given)}." if given else "."))
    mode, other = ("--all", ("input_shape", "classes", "top")) if v["all"] else (
        given[0], ("models", "format", "update_docs"))
    for name in other:
        if v[name] is not None:
            raise app.UsageError(f"--{name} does not go with {mode}.")
    if v["update_docs"] and (v["models"] or v["format"] == "text"):
        raise app.UsageError("--update_docs writes the whole Markdown table: "
                             "leave out --models and --format=text.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    check_flags()
    if _ALL.value:
        return print_all()
    import keras

    import kerascnn
    from kerascnn.inspect import costs

    kwargs = {"classes": 1000 if _CLASSES.value is None else _CLASSES.value}
    if _INPUT_SHAPE.value:
        try:
            kwargs["input_shape"] = tuple(int(d) for d in _INPUT_SHAPE.value)
        except ValueError:
            raise app.UsageError(f"--input_shape takes integers H,W,C, got {_INPUT_SHAPE.value}.")
    if _MODEL.value:
        model = kerascnn.create_model(_MODEL.value, **kwargs)
    else:
        builder = getattr(keras.applications, _KERAS_APPLICATION.value, None)
        if not callable(builder):
            raise app.UsageError(
                f"keras.applications has no model {_KERAS_APPLICATION.value!r}."
            )
        model = builder(weights=None, **kwargs)
    print(costs(model).table(top=_TOP.value))


def print_all():
    import tqdm

    from kerascnn import _io
    from kerascnn.inspect import zoo

    try:
        names = zoo.model_names(_MODELS.value)
    except ValueError as err:
        raise app.UsageError(f"--models: {err}")
    docs = pathlib.Path(_UPDATE_DOCS.value) if _UPDATE_DOCS.value else None
    if docs is not None and not docs.is_file():
        raise FileNotFoundError(f"--update_docs: no file {docs}.")
    # disable=None: a bar on a terminal only, not in a log or a pipe.
    rows = [zoo.model_row(name) for name in tqdm.tqdm(names, unit="model", disable=None)]
    if docs is not None:
        text = zoo.replace_between_markers(docs.read_text(), zoo.markdown_table(rows))
        _io.write_text_atomic(docs, text)
        print(f"Wrote the table of {len(rows)} models into {docs}.")
    elif _FORMAT.value == "markdown":
        print(zoo.markdown_table(rows))
    else:
        print(zoo.text_table(rows))


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
