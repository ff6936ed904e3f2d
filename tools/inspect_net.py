"""Pictures of what is inside a network, as PNG. One subcommand per picture:

    python tools/inspect_net.py init_experiment [--output=init.png] [--width=4096] [--layers=6]
    python tools/inspect_net.py filters --workdir=RUN [--output=filters.png]
    python tools/inspect_net.py feature_maps --workdir=RUN --layer=NAME [--index=0] [--max_channels=16]

(Not `tools/inspect.py`: a script's folder comes first on sys.path, so a
tools/inspect.py would stand in for the standard library's `inspect` in every
tool, and absl's `import pdb` already fails on it.)

`init_experiment` is the notes' activation-statistics experiment: a 7-layer,
4096-wide MLP on 16 Gaussian inputs with tanh or ReLU, its weights drawn
N(0, 0.01^2), N(0, 0.05^2), Xavier (1 / D_in) or Kaiming (2 / D_in); one row
of per-layer histograms per run, and each layer's mean and std printed
(kerascnn.inspect.activations; docs/training.md).

`filters` draws the first convolution's kernels of a trained run (or of a
registered `--model`, untrained), `feature_maps` the first channels of a
named layer's output for one test image of the run's dataset
(kerascnn.inspect.pictures).
"""

import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import app, flags

_OUTPUT = flags.DEFINE_string("output", "init.png", "PNG file to write.")
_WIDTH = flags.DEFINE_integer("width", 4096, "init_experiment: units per layer.", lower_bound=1)
_LAYERS = flags.DEFINE_integer("layers", 6, "init_experiment: hidden layers.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the draws.")
_WORKDIR = flags.DEFINE_string("workdir", None, "filters, feature_maps: a run folder.")
_MODEL = flags.DEFINE_string("model", None, "filters: a registered model instead (untrained).")
_LAYER = flags.DEFINE_string("layer", None, "feature_maps: the layer's name.")
_INDEX = flags.DEFINE_integer("index", 0, "feature_maps: which test image.", lower_bound=0)
_MAX_CHANNELS = flags.DEFINE_integer("max_channels", 16, "feature_maps: channels shown.",
                                     lower_bound=1)

SUBCOMMANDS = ("init_experiment", "filters", "feature_maps")


def init_experiment():
    from tqdm import tqdm

    from kerascnn.inspect import activations

    runs = {run: activations.activation_statistics(*run, width=_WIDTH.value,
                                                   layers=_LAYERS.value, seed=_SEED.value)
            for run in tqdm(activations.NOTES_RUNS, desc="runs", unit="run")}
    print(activations.format_statistics(runs))
    activations.plot_activation_statistics(runs, _OUTPUT.value)
    print(f"{_OUTPUT.value}: {len(runs)} runs x {_LAYERS.value} layers of histograms")


def _run():
    if not _WORKDIR.value:
        raise kerascnn_cli.UserError("--workdir=RUN is required (a run folder of tools/train.py).")
    from kerascnn.train import train_lib

    return train_lib.load_run(_WORKDIR.value)


def filters():
    from kerascnn import _io
    from kerascnn.inspect import pictures

    if _MODEL.value and not _WORKDIR.value:
        import kerascnn

        model = kerascnn.create_model(_MODEL.value)
    else:
        model = _run()[1]
    pixels = pictures.first_layer_filters(model)
    _io.write_png_atomic(_OUTPUT.value, pixels)
    layer = pictures.first_convolution(model)
    print(f"{_OUTPUT.value}: the {layer.filters} kernels of {layer.name!r} "
          f"({'x'.join(map(str, layer.kernel_size))}), {pixels.shape[1]}x{pixels.shape[0]} pixels")


def feature_maps():
    if not _LAYER.value:
        raise kerascnn_cli.UserError("feature_maps needs --layer=NAME (a layer of the model).")
    import numpy as np

    from kerascnn import _io
    from kerascnn.inspect import pictures
    from kerascnn.train import train_lib

    cfg, model = _run()
    info = train_lib.dataset_info(cfg)
    images, labels = next(iter(train_lib.eval_dataset(cfg, info, batch_size=_INDEX.value + 1)))
    if _INDEX.value >= len(images):
        raise kerascnn_cli.UserError(f"--index={_INDEX.value}: the test split has "
                                     f"{len(images)} images.")
    pixels = pictures.feature_maps(model, _LAYER.value, np.asarray(images[_INDEX.value]),
                                   max_channels=_MAX_CHANNELS.value)
    _io.write_png_atomic(_OUTPUT.value, pixels)
    print(f"{_OUTPUT.value}: the first {_MAX_CHANNELS.value} channels of {_LAYER.value!r} "
          f"for test image {_INDEX.value}")


def main(argv):
    if len(argv) != 2 or argv[1] not in SUBCOMMANDS:
        raise app.UsageError(f"Usage: inspect_net.py SUBCOMMAND [flags]; subcommands: "
                             f"{', '.join(SUBCOMMANDS)}; got {argv[1:]}")
    {"init_experiment": init_experiment, "filters": filters,
     "feature_maps": feature_maps}[argv[1]]()


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
