"""Pictures of what is inside a network, as PNG. One subcommand per picture:

    python tools/inspect_net.py init_experiment [--output=init.png] [--width=4096] [--layers=6]

(Not `tools/inspect.py`: a script's folder comes first on sys.path, so a
tools/inspect.py would stand in for the standard library's `inspect` in every
tool, and absl's `import pdb` already fails on it.)

`init_experiment` is the notes' activation-statistics experiment: a 7-layer,
4096-wide MLP on 16 Gaussian inputs with tanh or ReLU, its weights drawn
N(0, 0.01^2), N(0, 0.05^2), Xavier (1 / D_in) or Kaiming (2 / D_in); one row
of per-layer histograms per run, and each layer's mean and std printed
(kerascnn.inspect.activations; docs/training.md).
"""

import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines
from absl import app, flags

_OUTPUT = flags.DEFINE_string("output", "init.png", "PNG file to write.")
_WIDTH = flags.DEFINE_integer("width", 4096, "init_experiment: units per layer.", lower_bound=1)
_LAYERS = flags.DEFINE_integer("layers", 6, "init_experiment: hidden layers.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the draws.")

SUBCOMMANDS = ("init_experiment",)


def init_experiment():
    from tqdm import tqdm

    from kerascnn.inspect import activations

    runs = {run: activations.activation_statistics(*run, width=_WIDTH.value,
                                                   layers=_LAYERS.value, seed=_SEED.value)
            for run in tqdm(activations.NOTES_RUNS, desc="runs", unit="run")}
    print(activations.format_statistics(runs))
    activations.plot_activation_statistics(runs, _OUTPUT.value)
    print(f"{_OUTPUT.value}: {len(runs)} runs x {_LAYERS.value} layers of histograms")


def main(argv):
    if len(argv) != 2 or argv[1] not in SUBCOMMANDS:
        raise app.UsageError(f"Usage: inspect_net.py SUBCOMMAND [flags]; subcommands: "
                             f"{', '.join(SUBCOMMANDS)}; got {argv[1:]}")
    {"init_experiment": init_experiment}[argv[1]]()


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
