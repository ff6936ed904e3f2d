"""Draws test images beside their nearest training images by a run's features (L2).

    python tools/retrieve.py --workdir=runs/digits_0to4 --k=5 --queries=8 --output=retrieval.png

The features are the input of the run's classifier (the global-pool output
for most families); each row of the PNG is a query, then its k nearest
training images with their classes and distances (a neighbour of another
class is titled in red). Prints the neighbours and the fraction of them that
share their query's class.
"""

import json
import sys

import kerascnn_cli  # first: it quiets TensorFlow's start-up lines

from absl import app, flags

_WORKDIR = flags.DEFINE_string("workdir", None, "A folder written by tools/train.py.")
_OUTPUT = flags.DEFINE_string("output", None, "The PNG (default: WORKDIR/retrieval_SPLIT.png).")
_K = flags.DEFINE_integer("k", 5, "Neighbours per query.", lower_bound=1)
_QUERIES = flags.DEFINE_integer("queries", 8, "Query images, drawn with --seed.", lower_bound=1)
_SPLIT = flags.DEFINE_string("split", None, "The queries' split (default: the config's test split).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the draw of the queries.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A .keras file (default: workdir/model.keras).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    import pathlib

    from kerascnn.train import transfer_learning

    output = _OUTPUT.value or str(pathlib.Path(_WORKDIR.value) /
                                  f"retrieval_{_SPLIT.value or 'test'}.png")
    report = transfer_learning.retrieve_run(
        _WORKDIR.value, output, k=_K.value, num_queries=_QUERIES.value, split=_SPLIT.value,
        seed=_SEED.value, checkpoint=_CHECKPOINT.value)
    print(json.dumps(report, indent=2))


def run():
    kerascnn_cli.run(main, sys.modules[__name__])


if __name__ == "__main__":
    run()
