"""Training a model with auxiliary classifiers (GoogLeNet's `aux_logits=True`).

Such a model lists its main head first, then the auxiliary ones
(`[main, aux1, aux2]`). It trains on the main head's loss plus each
auxiliary head's times `aux_loss_weight` (Szegedy et al. 2014, Sec. 5:
0.3), every head against the same labels; it is evaluated and saved by its
main head (`kerascnn.models.main_head`), as the paper discards the
auxiliary networks at inference. A one-output model passes through unchanged.
"""


def compile_arguments(model, loss, metrics, aux_loss_weight):
    """`model.compile`'s loss, loss_weights and metrics: the metrics on the main head only."""
    heads = len(model.outputs)
    if heads == 1:
        return {"loss": loss, "metrics": metrics}
    return {"loss": [loss] * heads,
            "loss_weights": [1.0] + [float(aux_loss_weight)] * (heads - 1),
            "metrics": [metrics] + [None] * (heads - 1)}


def targets_per_head(model, *datasets):
    """The (images, labels) datasets as (images, (labels,) * heads) for `model.fit`."""
    heads = len(model.outputs)
    if heads == 1:
        return datasets
    return tuple(ds.map(lambda x, y: (x, (y,) * heads)) for ds in datasets)
