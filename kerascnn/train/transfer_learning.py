"""Transfer learning: a trained network's features under a new head, and the
nearest training images of a query in that feature space.

    model = transfer("runs/digits_0to4", num_classes=5, mode="fine_tune", fine_tune_stages=1)

The config path (config.transfer, docs/training.md "Transfer learning") runs
the same through `train_and_evaluate`; `nearest_neighbours` and
`retrieve_run` (tools/retrieve.py) search a run's training images by the
Euclidean distance of their features.
"""

import pathlib

import keras
import numpy as np

from kerascnn import _io
from kerascnn.models import backbone as backbone_lib
from kerascnn.train import train_lib


def transfer(backbone, num_classes, mode="linear_probe", fine_tune_stages=1, features="pooled"):
    """A trained network's features with a new `Dense(num_classes)` head.

    Args:
        backbone: a `keras.Model`, a `.keras` file, or a run folder of
            `train_and_evaluate` (its model.keras, `train_lib.load_run`).
        num_classes: the new task's classes.
        mode: "linear_probe": the whole backbone frozen (its
            BatchNormalization in inference mode), only the head trains;
            "fine_tune": the last `fine_tune_stages` stages train with the
            head (compile with `kerascnn.train.optimizers.TwoRateOptimizer` to
            give them a smaller rate than the head).
        fine_tune_stages: stages trained in "fine_tune" mode, counted from the
            top; `kerascnn.models.backbone.stage_names(model)` lists them.
        features: "pooled", the features the old classifier read, or "map",
            the last feature map before the global pooling, flattened (for
            the digits the better probe: the pooling forgets where strokes
            are; docs/training.md).

    Returns:
        An uncompiled `keras.Model` whose output layer is "predictions"
        (logits).
    """
    if not isinstance(backbone, keras.Model):
        backbone = train_lib.load_backbone(backbone)
    return backbone_lib.replace_head(backbone, num_classes, mode, fine_tune_stages, features)


def extract_features(model, dataset):
    """(features [N, D], labels [N]) of a batched (image, one-hot label) dataset,
    in its order: the input of `model`'s classifier (`backbone.feature_tensor`)."""
    extractor = backbone_lib.feature_extractor(model)
    features, labels = [], []
    for images, one_hot in dataset:
        features.append(keras.ops.convert_to_numpy(extractor(images, training=False)))
        labels.append(np.argmax(np.asarray(one_hot), axis=-1))
    return np.concatenate(features), np.concatenate(labels)


def nearest_neighbours(queries, database, k):
    """(indices [Q, k], distances [Q, k]) of each query's k nearest rows of
    `database` by Euclidean distance, nearest first (ties: lower index first).

    Distances come from |q|^2 - 2 q.d + |d|^2 in float64, clipped at 0.
    """
    queries = np.asarray(queries, np.float64)
    database = np.asarray(database, np.float64)
    if queries.ndim != 2 or database.ndim != 2 or queries.shape[1] != database.shape[1]:
        raise ValueError(f"queries and database must be [Q, D] and [N, D] arrays, got shapes "
                         f"{queries.shape} and {database.shape}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(database):
        raise ValueError(f"k must be an integer in [1, {len(database)}] (the database's size), "
                         f"got {k!r}.")
    squared = ((queries ** 2).sum(1)[:, None] - 2.0 * queries @ database.T
               + (database ** 2).sum(1)[None, :])
    distances = np.sqrt(np.maximum(squared, 0.0))
    indices = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return indices, np.take_along_axis(distances, indices, axis=1)


def plot_retrieval(path, query_images, query_labels, neighbour_images, neighbour_labels,
                   distances, class_names=None, title=None):
    """A PNG grid: one row per query, the query then its neighbours, each titled
    with its class (and, for a neighbour, its distance); a neighbour of another
    class than its query is titled in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, k = np.asarray(neighbour_labels).shape
    name = (lambda c: class_names[c]) if class_names else str
    fig, axes = plt.subplots(rows, k + 1, figsize=(1.3 * (k + 1), 1.45 * rows + 0.4),
                             squeeze=False)
    for r in range(rows):
        cells = [(query_images[r], f"query: {name(query_labels[r])}", "black")]
        for j in range(k):
            same = neighbour_labels[r][j] == query_labels[r]
            cells.append((neighbour_images[r][j],
                          f"{name(neighbour_labels[r][j])}  d={distances[r][j]:.2f}",
                          "black" if same else "red"))
        for ax, (image, text, colour) in zip(axes[r], cells):
            image = np.asarray(image)
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image.astype(np.uint8),
                      cmap="gray" if image.shape[-1] == 1 else None)
            ax.set_title(text, fontsize=7, color=colour)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].patch.set_edgecolor("tab:blue")
    fig.suptitle(title or f"query, then its {k} nearest training images (L2 on features)",
                 fontsize=9)
    fig.tight_layout()
    _io.write_figure_atomic(path, fig)
    plt.close(fig)


def retrieve_run(workdir, output, k=5, num_queries=8, split=None, seed=0, checkpoint=None):
    """Draws each of `num_queries` images of `split` (default the test split)
    beside its k nearest training images by the features of a run's model.

    Args:
        workdir: a run folder of `train_and_evaluate`.
        output: the PNG to write.
        k: neighbours per query.
        num_queries: queries, drawn without replacement with `seed`.
        split: where the queries come from.
        checkpoint: a .keras file to use instead of workdir/model.keras.

    Returns:
        {"png", "k", "queries": [{"index", "label", "neighbours", "labels",
        "distances"}], "label_agreement": the fraction of neighbours of the
        query's class}.
    """
    cfg, model = train_lib.load_run(workdir, checkpoint)
    info = train_lib.dataset_info(cfg)
    split = split or cfg["data"]["test_split"]
    train_split = cfg["data"]["train_split"]
    database, database_labels = extract_features(
        model, train_lib.eval_dataset(cfg, info, train_split))
    query_features, query_labels = extract_features(model, train_lib.eval_dataset(cfg, info, split))
    if not 1 <= num_queries <= len(query_features):
        raise ValueError(f"num_queries must be in [1, {len(query_features)}] (split {split!r}), "
                         f"got {num_queries!r}.")
    chosen = np.sort(np.random.default_rng(seed).choice(len(query_features), num_queries,
                                                        replace=False))
    indices, distances = nearest_neighbours(query_features[chosen], database, k)
    train_images = _images_at(train_lib.load_split(cfg, train_split), indices.ravel())
    test_images = _images_at(train_lib.load_split(cfg, split), chosen)
    plot_retrieval(output, [test_images[i] for i in chosen], query_labels[chosen],
                   [[train_images[i] for i in row] for row in indices], database_labels[indices], distances, class_names=list(info.class_names),
                   title=f"{pathlib.Path(workdir).name}: {split} queries, nearest {train_split} "
                         f"images (L2 on the classifier's input features)")
    return {
        "png": str(output), "k": k,
        "queries": [{"index": int(i), "label": int(query_labels[i]),
                     "neighbours": [int(n) for n in row], "labels": database_labels[row].tolist(),
                     "distances": [round(float(d), 4) for d in dist]}
                    for i, row, dist in zip(chosen, indices, distances)],
        "label_agreement": float(np.mean(database_labels[indices] == query_labels[chosen, None])),
    }


def _images_at(ds, indices):
    """{index: uint8 image} of the examples of an unbatched dataset at `indices`."""
    wanted = {int(i) for i in indices}
    found = {}
    for i, (image, _) in enumerate(ds.as_numpy_iterator()):
        if i in wanted:
            found[i] = image
            if len(found) == len(wanted):
                break
    return found
