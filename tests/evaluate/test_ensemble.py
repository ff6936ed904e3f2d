"""Ensembles: softmax averaging, ECE (Guo et al. 2017) and Monte Carlo dropout, against NumPy."""

import numpy as np
import pytest

import keras
from kerascnn import create_model
from kerascnn.evaluate import ensemble

RNG = np.random.default_rng(0)


def np_softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_entropy(p):
    return np.array([-sum(v * np.log(v) for v in row if v > 0) for row in p])


def ece_loop(probs, labels, bins=15):
    """Guo et al. 2017, Eq. 3, written out: bins ((m-1)/M, m/M], |B_m|/n |acc - conf|."""
    n, total = len(labels), 0.0
    for m in range(1, bins + 1):
        lo, hi = (m - 1) / bins, m / bins
        members = [i for i in range(n) if lo < probs[i].max() <= hi]
        if not members:
            continue
        acc = np.mean([probs[i].argmax() == labels[i] for i in members])
        conf = np.mean([probs[i].max() for i in members])
        total += len(members) / n * abs(acc - conf)
    return total


def test_ece_matches_a_numpy_loop():
    logits = RNG.normal(scale=3.0, size=(500, 10))
    labels = RNG.integers(0, 10, size=500)
    probs = np_softmax(logits)
    assert ensemble.expected_calibration_error(probs, labels) == pytest.approx(
        ece_loop(probs, labels), abs=1e-12)
    one_hot = np.eye(10)[labels]
    assert ensemble.expected_calibration_error(probs, one_hot, num_bins=7) == pytest.approx(
        ece_loop(probs, labels, 7), abs=1e-12)
    # Confidences on the bin edges go to the bin they close: 0.4 = 6/15 is in (5/15, 6/15].
    edge = np.array([[0.4, 0.3, 0.3], [1.0, 0.0, 0.0], [0.6, 0.4, 0.0]])
    counts, _, _ = ensemble.calibration_bins(edge, [0, 1, 0])
    assert counts[5] == 1 and counts[14] == 1 and counts[8] == 1 and counts.sum() == 3
    assert ensemble.expected_calibration_error(edge, [0, 1, 0]) == pytest.approx(
        ece_loop(edge, [0, 1, 0]), abs=1e-12)
    # perfectly confident and right: 0; confident and wrong: 1
    assert ensemble.expected_calibration_error(np.eye(3), [0, 1, 2]) == 0.0
    assert ensemble.expected_calibration_error(np.eye(3), [1, 2, 0]) == 1.0


def test_average_softmax_and_entropy_match_numpy():
    logits = RNG.normal(scale=4.0, size=(3, 20, 5))
    expected = sum(np_softmax(z) for z in logits) / 3
    np.testing.assert_allclose(ensemble.average_softmax(logits), expected, rtol=1e-12)
    # large logits stay finite (the max is subtracted)
    assert np.isfinite(ensemble.average_softmax(logits * 1e3)).all()
    np.testing.assert_allclose(ensemble.predictive_entropy(expected), np_entropy(expected),
                               rtol=1e-12)
    # 0 for one-hot, ln C for uniform
    np.testing.assert_allclose(ensemble.predictive_entropy(np.eye(4)), 0.0)
    assert ensemble.predictive_entropy(np.full((1, 5), 0.2))[0] == pytest.approx(np.log(5))
    with pytest.raises(ValueError, match="members, examples, classes"):
        ensemble.average_softmax(logits[0])


def test_ensemble_report_scores_each_member_and_the_mean():
    logits = RNG.normal(scale=2.0, size=(2, 40, 8))
    labels = RNG.integers(0, 8, size=40)
    report = ensemble.ensemble_report(logits, labels, names=["a", "b"])
    mean = (np_softmax(logits[0]) + np_softmax(logits[1])) / 2
    assert report["ensemble"]["top1"] == np.mean(mean.argmax(-1) == labels)
    top5 = np.argsort(-mean, axis=-1)[:, :5]
    assert report["ensemble"]["top5"] == np.mean([labels[i] in top5[i] for i in range(40)])
    assert report["ensemble"]["nll"] == pytest.approx(-np.mean(np.log(mean[range(40), labels])))
    assert report["ensemble"]["ece"] == pytest.approx(ece_loop(mean, labels))
    for member, z in zip(report["members"], logits):
        assert member["top1"] == np.mean(z.argmax(-1) == labels)
        assert member["ece"] == pytest.approx(ece_loop(np_softmax(z), labels))
    assert report["best_member_top1"] == max(m["top1"] for m in report["members"])
    assert [m["name"] for m in report["members"]] == ["a", "b"]


def bn_dropout_model(rate=0.5):
    inputs = keras.Input((6,))
    x = keras.layers.BatchNormalization(name="bn")(inputs)
    x = keras.layers.Dropout(rate, name="drop")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(x))
    bn = model.get_layer("bn")
    bn.moving_mean.assign(np.linspace(-1, 2, 6).astype("float32"))
    bn.moving_variance.assign(np.linspace(0.5, 3, 6).astype("float32"))
    bn.gamma.assign(np.linspace(0.5, 1.5, 6).astype("float32"))
    bn.beta.assign(np.linspace(-0.2, 0.3, 6).astype("float32"))
    return model


def test_mc_dropout_samples_the_masks_and_keeps_batchnorm_in_inference_mode():
    model = bn_dropout_model(rate=0.5)
    bn = model.get_layer("bn")
    x = RNG.normal(loc=3.0, scale=2.0, size=(16, 6)).astype("float32")
    # BN in inference mode: gamma (x - moving mean) / sqrt(moving var + eps) + beta.
    normalized = (bn.gamma.numpy() * (x - bn.moving_mean.numpy())
                  / np.sqrt(bn.moving_variance.numpy() + bn.epsilon) + bn.beta.numpy())
    moving = (bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy())
    sampling = ensemble.mc_dropout_model(model, seed=1)
    features = keras.Model(sampling.inputs, sampling.get_layer("drop").output)
    a, b = np.asarray(features.predict_on_batch(x)), np.asarray(features.predict_on_batch(x))
    for out in (a, b):
        kept = out != 0
        # each unit is dropped (0) or kept and scaled by 1 / (1 - rate): never batch statistics
        np.testing.assert_allclose(out[kept], 2.0 * normalized[kept], rtol=1e-5)
        assert 0.3 < kept.mean() < 0.7
    assert np.any(a != b)  # two passes, two masks
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving[0])
    np.testing.assert_array_equal(bn.moving_variance.numpy(), moving[1])
    # the copy shares the weights; the model itself stays deterministic
    assert sampling.get_layer("dense") is model.get_layer("dense")
    np.testing.assert_array_equal(np.asarray(model.predict_on_batch(x)),
                                  np.asarray(model.predict_on_batch(x)))
    # the same seed, the same masks
    first = np.asarray(ensemble.mc_dropout_model(model, seed=1).predict_on_batch(x))
    np.testing.assert_array_equal(
        first, np.asarray(ensemble.mc_dropout_model(model, seed=1).predict_on_batch(x)))


def test_mc_dropout_predict_averages_the_passes():
    """mean p, H[mean p] and H[mean p] - mean H[p_t] against the passes recomputed in NumPy."""
    model = bn_dropout_model(rate=0.4)
    x = RNG.normal(size=(10, 6)).astype("float32")
    y = RNG.integers(0, 3, size=10)
    passes = 6
    twin = ensemble.mc_dropout_model(model, seed=7)  # the same masks as the seed-7 run
    p = np.stack([np_softmax(twin.predict_on_batch(x)) for _ in range(passes)])
    mean = p.mean(axis=0)
    result = ensemble.mc_dropout_predict(model, [(x, y)], passes=passes, seed=7)
    np.testing.assert_allclose(result.mean_probs, mean, rtol=1e-6)
    np.testing.assert_allclose(result.entropy, np_entropy(mean), rtol=1e-6)
    expected_mi = np_entropy(mean) - np.mean([np_entropy(pt) for pt in p], axis=0)
    np.testing.assert_allclose(result.mutual_information, expected_mi, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(result.deterministic_logits, model.predict_on_batch(x), rtol=1e-6)
    np.testing.assert_array_equal(result.labels, y)
    report = ensemble.mc_dropout_report(result)
    assert report["mc_dropout"]["ece"] == pytest.approx(ece_loop(mean, y))
    assert report["single"]["top1"] == np.mean(np.argmax(model.predict_on_batch(x), -1) == y)


def test_mc_dropout_needs_a_dropout_layer():
    with pytest.raises(ValueError, match=r"Model 'resnet20' has no Dropout layer"):
        ensemble.mc_dropout_model(create_model("resnet20", input_shape=(8, 8, 3), classes=3))
    mlp = create_model("mlp", widths=(8,), dropout_rate=0.2, input_shape=(4, 4, 1), classes=3)
    assert [layer.name for layer in ensemble.dropout_layers(mlp)] == ["fc1_dropout"]


def test_member_logits_pairs_the_members():
    models = [create_model("mlp", widths=(4,), input_shape=(2, 2, 1), classes=3) for _ in range(2)]
    x = RNG.uniform(0, 255, size=(7, 2, 2, 1)).astype("float32")
    y = np.eye(3)[[0, 1, 2, 0, 1, 2, 1]]
    batches = [(x[:4], y[:4]), (x[4:], y[4:])]
    logits, labels = ensemble.member_logits(models, batches)
    assert logits.shape == (2, 7, 3)
    np.testing.assert_array_equal(labels, y.argmax(-1))
    for z, model in zip(logits, models):
        np.testing.assert_allclose(z, model.predict_on_batch(x), rtol=1e-5, atol=1e-6)
    apart, _ = ensemble.member_logits(models, [batches, batches], per_member=True)
    np.testing.assert_allclose(apart, logits, rtol=1e-6)
    shuffled = [(x[::-1][:4], y[::-1][:4]), (x[::-1][4:], y[::-1][4:])]
    with pytest.raises(ValueError, match="same examples in the same order"):
        ensemble.member_logits(models, [batches, shuffled], per_member=True)
