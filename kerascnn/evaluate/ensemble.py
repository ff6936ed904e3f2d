"""Ensembles: softmax averaging over models or checkpoints, Monte Carlo dropout, calibration.

    logits, labels = member_logits([model_a, model_b], test_ds)
    report = ensemble_report(logits, labels, names=["a", "b"])     # each member and the mean
    mc = mc_dropout_predict(model, test_ds, passes=30)              # T stochastic passes
    expected_calibration_error(mc.mean_probs, mc.labels)            # ECE, 15 bins

An ensemble's prediction is the mean of its members' softmax probabilities
(not of their logits), as in the ResNet and Inception papers' ensembles and
the notes' "train multiple models and average their results" (seed 003).
Monte Carlo dropout (Gal & Ghahramani 2016, https://arxiv.org/abs/1506.02142)
keeps the dropout layers sampling at inference and averages T passes; the
predictive entropy of the mean is each example's uncertainty. Calibration
is the expected calibration error of Guo et al. 2017
(https://arxiv.org/abs/1706.04599, Eq. 3). Everything here is NumPy on
top of `model.predict_on_batch`; no TensorFlow is needed.
"""

import dataclasses

import keras
import numpy as np

from kerascnn import _checks
from kerascnn.layers.regularization import StochasticDepth
from kerascnn.evaluate.metrics import softmax
from kerascnn.models import main_head

# Guo et al. 2017 use M = 15 equal-width confidence bins.
ECE_BINS = 15
# The layers that Monte Carlo dropout keeps sampling at inference: Keras's
# Dropout (and its subclasses SpatialDropout1D/2D/3D and kerascnn's
# MCDropout), GaussianDropout, AlphaDropout, and kerascnn's StochasticDepth
# (drop path). Every other layer runs in inference mode.
DROPOUT_LAYERS = (keras.layers.Dropout, keras.layers.GaussianDropout, keras.layers.AlphaDropout,
                  StochasticDepth)


def average_softmax(logits):
    """The ensemble's probabilities: the mean over members of softmax(logits).

    Args:
        logits: [M, N, C], M members' logits for the same N examples in the same order.

    Returns:
        [N, C] float64.
    """
    logits = np.asarray(logits)
    if logits.ndim != 3 or logits.shape[0] < 1:
        raise ValueError(f"Need logits [members, examples, classes]; got shape {logits.shape}.")
    return softmax(logits).mean(axis=0)


def predictive_entropy(probs):
    """H[p] = -sum_c p_c ln p_c per row, in nats (0 ln 0 = 0): 0 for a one-hot
    prediction, ln C for the uniform one."""
    probs = np.asarray(probs, dtype=np.float64)
    logs = np.log(np.where(probs > 0, probs, 1.0))
    return -(probs * logs).sum(axis=-1)


def calibration_bins(probs, labels, num_bins=ECE_BINS):
    """Each equal-width confidence bin's count, accuracy and mean confidence.

    The confidence of a prediction is its largest probability; bin m holds the
    confidences in ((m - 1) / M, m / M] (Guo et al. 2017, Sec. 2).

    Args:
        probs: [N, C] probabilities.
        labels: [N] integer labels, or [N, C] one-hot.
        num_bins: M, >= 1.

    Returns:
        (counts [M] int, accuracy [M], confidence [M]); the accuracy and the
        confidence of an empty bin are nan.
    """
    probs, labels = _probs_and_labels(probs, labels)
    _checks.check_int("num_bins", num_bins, minimum=1)
    confidence = probs.max(axis=-1)
    correct = (probs.argmax(axis=-1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    # searchsorted(side="left") on the inner edges puts a confidence equal to an
    # edge into the bin it closes: intervals open on the left, closed on the right.
    index = np.searchsorted(edges[1:-1], confidence, side="left")
    counts = np.bincount(index, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(index, correct, num_bins) / counts
        mean_confidence = np.bincount(index, confidence, num_bins) / counts
    return counts, accuracy, mean_confidence


def expected_calibration_error(probs, labels, num_bins=ECE_BINS):
    """ECE = sum_m |B_m| / n * |acc(B_m) - conf(B_m)|  (Guo et al. 2017, Eq. 3).

    Args:
        probs: [N, C] probabilities (softmax of logits, or an ensemble's mean).
        labels: [N] integer labels, or [N, C] one-hot.
        num_bins: M equal-width confidence bins (Guo et al.: 15).

    Returns:
        A float in [0, 1].
    """
    counts, accuracy, confidence = calibration_bins(probs, labels, num_bins)
    full = counts > 0
    return float(np.sum(counts[full] / counts.sum() * np.abs(accuracy[full] - confidence[full])))


def scores(probs, labels, num_bins=ECE_BINS):
    """Top-1 (and top-5 with more than 5 classes), negative log-likelihood, ECE
    and mean predictive entropy of probabilities."""
    from kerascnn.evaluate.metrics import topk_accuracy

    probs, labels = _probs_and_labels(probs, labels)
    result = {"top1": topk_accuracy(probs, labels, 1)}
    if probs.shape[1] > 5:
        result["top5"] = topk_accuracy(probs, labels, 5)
    picked = probs[np.arange(len(labels)), labels]
    result["nll"] = float(-np.mean(np.log(np.maximum(picked, np.finfo(np.float64).tiny))))
    result["ece"] = expected_calibration_error(probs, labels, num_bins)
    result["mean_entropy"] = float(predictive_entropy(probs).mean())
    return result


def member_logits(models, dataset, per_member=False):
    """Each model's logits on the same examples, in the same order.

    Args:
        models: a list of Keras models returning logits [B, C] (a model with
            auxiliary classifiers is scored by its main head).
        dataset: a batched dataset of (images, labels) (or any iterable of
            such pairs), which every model sees batch by batch: one pass, so
            even a dataset with randomness pairs the members' logits.
        per_member: `dataset` is instead a list with one dataset per model,
            for members whose pipelines differ (e.g. in image size); their
            labels must agree in order.

    Returns:
        (logits [M, N, C] float32, labels [N] int).
    """
    models = [main_head(m) for m in models]
    if not models:
        raise ValueError("An ensemble needs at least one model; got none.")
    if per_member:
        datasets = list(dataset)
        if len(datasets) != len(models):
            raise ValueError(f"Got {len(models)} models but {len(datasets)} datasets; "
                             "per_member=True needs one dataset per model.")
        from kerascnn.evaluate.metrics import predict_logits

        outputs = [predict_logits(m, ds) for m, ds in zip(models, datasets)]
        labels = outputs[0][1]
        for model, (_, other) in zip(models[1:], outputs[1:]):
            if other.shape != labels.shape or np.any(other != labels):
                raise ValueError(f"The dataset of member {model.name!r} gives other labels than "
                                 f"that of {models[0].name!r}: the members must see the same "
                                 "examples in the same order.")
        logits = [out for out, _ in outputs]
    else:
        logits, targets = [[] for _ in models], []
        for images, batch_labels in dataset:
            for out, model in zip(logits, models):
                out.append(np.asarray(model.predict_on_batch(images)))
            targets.append(_integer_labels(batch_labels))
        if not targets:
            raise ValueError("The evaluation dataset is empty.")
        logits = [np.concatenate(out) for out in logits]
        labels = np.concatenate(targets)
    shapes = {out.shape for out in logits}
    if len(shapes) != 1:
        raise ValueError(f"The members' logits differ in shape: {sorted(shapes)}; an ensemble "
                         "needs models of the same classes.")
    return np.stack(logits), labels


def ensemble_report(logits, labels, names=None, num_bins=ECE_BINS):
    """Each member's scores and those of the softmax average.

    Args:
        logits: [M, N, C] members' logits (`member_logits`).
        labels: [N] integer labels.
        names: M member names (default member_0, ...).

    Returns:
        {"members": [{"name", "top1", ["top5"], "nll", "ece", "mean_entropy"}],
         "ensemble": {... the same of the mean probabilities},
         "best_member_top1", "num_members", "num_examples", "ece_bins"}.
    """
    logits = np.asarray(logits)
    probs = average_softmax(logits)
    names = list(names) if names is not None else [f"member_{i}" for i in range(len(logits))]
    if len(names) != len(logits):
        raise ValueError(f"Got {len(names)} names for {len(logits)} members.")
    members = [{"name": str(n), **scores(softmax(z), labels, num_bins)}
               for n, z in zip(names, logits)]
    return {
        "members": members,
        "ensemble": scores(probs, labels, num_bins),
        "best_member_top1": max(m["top1"] for m in members),
        "num_members": len(members),
        "num_examples": int(len(probs)),
        "ece_bins": num_bins,
    }


def dropout_layers(model):
    """The layers of `model` (nested models included) that Monte Carlo dropout samples."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += dropout_layers(layer)
        elif isinstance(layer, DROPOUT_LAYERS):
            found.append(layer)
    return found


class _AlwaysSampling(keras.layers.Layer):
    """A dropout-like layer that samples whatever `training` says."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=layer.name, **kwargs)
        self.layer = layer

    def call(self, inputs, training=None):
        return self.layer(inputs, training=True)

    def compute_output_shape(self, input_shape):
        return input_shape


def mc_dropout_model(model, seed=None):
    """A copy of `model` whose dropout layers sample at inference and nothing else does.

    `model(x, training=True)` would also put BatchNormalization on the batch's
    statistics (and update its moving averages) and turn on any other
    training-only behaviour; Monte Carlo dropout samples only the masks
    (Gal & Ghahramani 2016). So the model is cloned with every
    `DROPOUT_LAYERS` layer replaced by a fresh copy (same configuration)
    that always samples; every other layer is the model's own (shared
    weights, inference mode). The copy is for prediction only.

    Args:
        model: a functional or Sequential Keras model with at least one
            `DROPOUT_LAYERS` layer in its graph (or in nested models).
        seed: int seed of the copies' masks (the i-th dropout layer gets
            seed + i); None draws them.

    Raises:
        ValueError: the model has no dropout layer.
    """
    model = main_head(model)
    found = dropout_layers(model)
    if not found:
        raise ValueError(
            f"Model {model.name!r} has no Dropout layer (nor SpatialDropout, GaussianDropout, "
            "AlphaDropout or StochasticDepth), so Monte Carlo dropout would repeat one "
            "deterministic pass. Train a model with dropout: e.g. mlp, wrn16_8 or densenet40_k12 "
            "with dropout_rate > 0, or alexnet / vgg16 (dropout_rate 0.5 by default).")
    order = {id(layer): i for i, layer in enumerate(found)}

    def clone(layer):
        if id(layer) not in order:
            return layer  # shared: its weights, in inference mode
        config = layer.get_config()
        if seed is not None and "seed" in config:
            config["seed"] = seed + order[id(layer)]
        return _AlwaysSampling(layer.__class__.from_config(config))

    return keras.models.clone_model(model, clone_function=clone, recursive=True)


@dataclasses.dataclass
class MCDropoutResult:
    """What `mc_dropout_predict` gives per example."""

    mean_probs: np.ndarray          # [N, C] mean over the T passes of softmax(logits)
    entropy: np.ndarray             # [N] H[mean p], the predictive entropy (nats)
    mutual_information: np.ndarray  # [N] H[mean p] - mean_t H[p_t] (BALD), >= 0
    deterministic_logits: np.ndarray  # [N, C] one pass with dropout off (the usual prediction)
    labels: np.ndarray              # [N] integer labels
    passes: int


def mc_dropout_predict(model, dataset, passes=30, seed=None):
    """Monte Carlo dropout: T passes with the dropout layers sampling, averaged.

    p_mean = 1/T sum_t softmax(f(x; mask_t)); the predictive entropy is
    H[p_mean] and the mutual information between the prediction and the
    masks is H[p_mean] - 1/T sum_t H[softmax(f(x; mask_t))] (Gal 2016,
    Sec. 3.3). Per batch: one deterministic pass (dropout off) and T sampled
    ones, accumulated, so memory does not grow with T.

    Args:
        model: a Keras model returning logits, with dropout layers.
        dataset: batched (images, labels), labels integer or one-hot (any
            iterable of such pairs, e.g. a list of NumPy arrays).
        passes: T, >= 1 (Gal & Ghahramani: tens).
        seed: int seed of the masks (`mc_dropout_model`).

    Returns:
        An `MCDropoutResult`.
    """
    _checks.check_int("passes", passes, minimum=1)
    model = main_head(model)
    sampling = mc_dropout_model(model, seed=seed)
    means, entropies, infos, plain, targets = [], [], [], [], []
    for images, batch_labels in dataset:
        plain.append(np.asarray(model.predict_on_batch(images)))
        total = 0.0
        total_entropy = 0.0
        for _ in range(passes):
            p = softmax(np.asarray(sampling.predict_on_batch(images)))
            total = total + p
            total_entropy = total_entropy + predictive_entropy(p)
        mean = total / passes
        entropy = predictive_entropy(mean)
        means.append(mean)
        entropies.append(entropy)
        infos.append(np.maximum(entropy - total_entropy / passes, 0.0))  # >= 0 by concavity
        targets.append(_integer_labels(batch_labels))
    if not targets:
        raise ValueError("The evaluation dataset is empty.")
    return MCDropoutResult(np.concatenate(means), np.concatenate(entropies),
                           np.concatenate(infos), np.concatenate(plain),
                           np.concatenate(targets), passes)


def mc_dropout_report(result, num_bins=ECE_BINS):
    """Scores of the deterministic model ("single") and of the T-pass mean ("mc_dropout"),
    with the mean predictive entropy and mutual information."""
    report = {
        "single": scores(softmax(result.deterministic_logits), result.labels, num_bins),
        "mc_dropout": scores(result.mean_probs, result.labels, num_bins),
        "passes": result.passes,
        "num_examples": int(len(result.labels)),
        "ece_bins": num_bins,
    }
    report["mc_dropout"]["mean_mutual_information"] = float(result.mutual_information.mean())
    return report


def _integer_labels(labels):
    labels = np.asarray(labels)
    return labels.argmax(axis=-1) if labels.ndim == 2 else labels.astype(np.int64)


def _probs_and_labels(probs, labels):
    probs = np.asarray(probs, dtype=np.float64)
    labels = _integer_labels(labels)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise ValueError(f"Need probabilities [N, C] and labels [N]; got {probs.shape} and "
                         f"{labels.shape}.")
    return probs, labels
