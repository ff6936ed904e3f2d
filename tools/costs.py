"""Prints the parameters and multiply-adds of a model, per layer and in total.

    python tools/costs.py --model=resnet50 [--input_shape=224,224,3] [--classes=1000] [--top=10]
    python tools/costs.py --keras_application=ResNet50 [--top=10]

One multiply-add counts 1, as in the papers; TensorFlow's profiler counts 2
FLOPs per multiply-add. Bias additions are not counted (docs/costs.md).
"""

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
_CLASSES = flags.DEFINE_integer("classes", 1000, "Number of classes of the classifier.")
_TOP = flags.DEFINE_integer("top", None, "Show only the N layers with the most multiply-adds.")
flags.mark_flags_as_mutual_exclusive(["model", "keras_application"], required=True)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    import keras

    import kerascnn
    from kerascnn.inspect import costs

    kwargs = {"classes": _CLASSES.value}
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


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
