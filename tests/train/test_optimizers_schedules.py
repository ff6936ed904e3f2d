"""The optimizer's coupled weight decay and the schedules, against NumPy formulas."""

import math

import numpy as np
import pytest

import keras
from kerascnn.train import SGD, WarmupSchedule, make_optimizer


def numpy_sgd(w, grads, lr, momentum, l2, nesterov=False):
    """torch.optim.SGD semantics: g += l2 * w; v = m v + g; w -= lr v (Keras sign convention)."""
    v = np.zeros_like(w)
    for g in grads:
        g = g + l2 * w
        v = momentum * v - lr * g
        w = w + (momentum * v - lr * g if nesterov else v)
    return w


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_coupled_l2_matches_numpy(nesterov):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(4, 3)).astype("float32")
    grads = [rng.normal(size=(4, 3)).astype("float32") for _ in range(5)]
    var = keras.Variable(w0)
    opt = SGD(0.1, momentum=0.9, nesterov=nesterov, l2=0.01)
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
    expected = numpy_sgd(w0.astype(np.float64), grads, 0.1, 0.9, 0.01, nesterov)
    np.testing.assert_allclose(var.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_coupled_decay_differs_from_keras_decoupled():
    """With momentum, the paper's decay goes through the momentum buffer (~1/(1-m) stronger)."""
    w0 = np.ones((3,), "float32")
    ours, theirs = keras.Variable(w0), keras.Variable(w0)
    a = SGD(0.1, momentum=0.9, l2=0.1)
    b = keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=0.1)
    zero = keras.ops.zeros((3,))
    for _ in range(50):
        a.apply_gradients([(zero, ours)])
        b.apply_gradients([(zero, theirs)])
    assert ours.numpy()[0] < 0.5 * theirs.numpy()[0]


def test_sgd_serializes():
    opt = SGD(0.05, momentum=0.9, l2=5e-4)
    again = SGD.from_config(opt.get_config())
    assert again.l2 == 5e-4 and again.momentum == 0.9


def test_bad_optimizer_arguments():
    with pytest.raises(ValueError, match="Unknown optimizer 'adamax'"):
        make_optimizer("adamax", 0.1)
    with pytest.raises(ValueError, match="momentum must be in"):
        make_optimizer("sgd", 0.1, momentum=1.5)
    with pytest.raises(ValueError, match="l2 weight decay"):
        SGD(0.1, l2=-1.0)


def lr_at(schedule, steps):
    return np.array([float(schedule(s)) for s in steps])


def test_cosine_with_warmup_formula():
    s = WarmupSchedule(0.4, total_steps=100, warmup_steps=10, decay="cosine",
                       final_learning_rate=0.004)
    steps = np.arange(0, 101)
    expected = []
    for t in steps:
        if t < 10:
            expected.append(0.4 * t / 10)
        else:
            u = (t - 10) / 90
            expected.append(0.004 + (0.4 - 0.004) * 0.5 * (1 + math.cos(math.pi * u)))
    np.testing.assert_allclose(lr_at(s, steps), expected, rtol=1e-5, atol=1e-7)


def test_step_schedule_resnet_recipe():
    """He et al. 2016: 0.1, divided by 10 at 32k and 48k iterations."""
    s = WarmupSchedule(0.1, total_steps=64000, decay="step", boundaries=(32000, 48000))
    got = lr_at(s, [0, 31999, 32000, 47999, 48000, 63999])
    np.testing.assert_allclose(got, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)


def test_schedule_round_trip_and_errors():
    s = WarmupSchedule(0.1, 1000, warmup_steps=5, decay="step", boundaries=(10, 20))
    again = WarmupSchedule.from_config(s.get_config())
    np.testing.assert_allclose(lr_at(again, range(30)), lr_at(s, range(30)))
    with pytest.raises(ValueError, match="Unknown decay 'linear'"):
        WarmupSchedule(0.1, 100, decay="linear")
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupSchedule(0.1, 100, warmup_steps=100)
    with pytest.raises(ValueError, match="increasing"):
        WarmupSchedule(0.1, 100, decay="step", boundaries=(50, 10))


@pytest.mark.parametrize("decay", ["exponential", "inverse_time"])
@pytest.mark.parametrize("warmup", [0, 20])
def test_exponential_and_inverse_time_closed_forms(decay, warmup):
    """lr0 e^(-k t) and lr0 / (1 + k t), t counted from the end of warmup, at t = 0, the
    warmup boundary, T/2 and T (the notes' decays)."""
    T, lr0, k = 200, 0.3, 0.01
    s = WarmupSchedule(lr0, total_steps=T, warmup_steps=warmup, decay=decay, decay_k=k)

    def closed(t):
        if t < warmup:
            return lr0 * t / warmup
        after = t - warmup
        return lr0 * math.exp(-k * after) if decay == "exponential" else lr0 / (1 + k * after)

    points = [0, warmup, T // 2, T]
    np.testing.assert_allclose(lr_at(s, points), [closed(t) for t in points], rtol=1e-5,
                               atol=1e-8)
    again = WarmupSchedule.from_config(s.get_config())
    np.testing.assert_allclose(lr_at(again, points), lr_at(s, points))
    with pytest.raises(ValueError, match="decay_k must be >= 0, got -1"):
        WarmupSchedule(lr0, T, decay=decay, decay_k=-1)


def test_every_decay_at_zero_boundary_half_and_end():
    """Each schedule against its closed form at t = 0, the warmup boundary, T/2 and T."""
    T, W, lr0 = 100, 10, 0.2
    closed = {
        "constant": lambda u: lr0,
        "cosine": lambda u: 0.002 + (lr0 - 0.002) * (1 + math.cos(math.pi * u / (T - W))) / 2,
        "step": lambda u: lr0 * 0.1 ** ((u + W >= 50) + (u + W >= 75)),
        "exponential": lambda u: lr0 * math.exp(-0.05 * u),
        "inverse_time": lambda u: lr0 / (1 + 0.05 * u),
    }
    for decay, f in closed.items():
        s = WarmupSchedule(lr0, T, warmup_steps=W, decay=decay, boundaries=(50, 75),
                           final_learning_rate=0.002, decay_k=0.05)
        want = [0.0] + [f(t - W) for t in (W, T // 2, T)]
        np.testing.assert_allclose(lr_at(s, [0, W, T // 2, T]), want, rtol=1e-5, atol=1e-8,
                                   err_msg=decay)


def _steps(opt, w0, grads):
    var = keras.Variable(w0)
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
    return var.numpy()


def _problem(steps=3):
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(5,)).astype("float32")
    return w0, [rng.normal(size=(5,)).astype("float32") for _ in range(steps)]


def test_rmsprop_matches_numpy():
    """v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + eps), g with coupled L2."""
    w0, grads = _problem()
    w, v = w0.astype(np.float64), np.zeros(5)
    for g in grads:
        g = g + 0.01 * w
        v = 0.9 * v + 0.1 * g * g
        w = w - 0.01 * g / np.sqrt(v + 1e-7)
    got = _steps(make_optimizer("rmsprop", 0.01, weight_decay=0.01), w0, grads)
    np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_and_adamw_match_numpy(name):
    """Kingma & Ba's Adam with bias correction; "adam" adds wd * w to g (coupled), "adamw"
    subtracts lr * wd * w from w (decoupled, Loshchilov & Hutter)."""
    w0, grads = _problem()
    lr, wd, b1, b2, eps = 0.01, 0.1, 0.9, 0.999, 1e-7
    w, m, v = w0.astype(np.float64), np.zeros(5), np.zeros(5)
    for t, g in enumerate(grads, start=1):
        if name == "adam":
            g = g + wd * w
        else:
            w = w - lr * wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w = w - alpha * m / (np.sqrt(v) + eps)
    got = _steps(make_optimizer(name, lr, weight_decay=wd), w0, grads)
    np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_coupled_and_decoupled_decay_coincide_for_sgd_and_differ_for_adam():
    """The notes: for plain SGD, L2 in the loss (coupled) and weight decay (decoupled) are the
    same update; for Adam the coupled decay is divided by sqrt(v), so they differ."""
    w0, grads = _problem(steps=5)
    coupled = _steps(make_optimizer("sgd", 0.1, momentum=0.0, weight_decay=0.05), w0, grads)
    decoupled = _steps(keras.optimizers.SGD(0.1, weight_decay=0.05), w0, grads)
    np.testing.assert_allclose(coupled, decoupled, rtol=1e-6, atol=1e-7)
    adam = _steps(make_optimizer("adam", 0.1, weight_decay=0.05), w0, grads)
    adamw = _steps(make_optimizer("adamw", 0.1, weight_decay=0.05), w0, grads)
    assert np.abs(adam - adamw).max() > 1e-3


def test_optimizers_serialize_with_their_decay():
    for opt in (make_optimizer("rmsprop", 0.01, weight_decay=1e-4),
                make_optimizer("adam", 0.01, weight_decay=1e-4)):
        again = type(opt).from_config(opt.get_config())
        assert again.l2 == 1e-4
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        make_optimizer("adamw", 0.1, weight_decay=-1.0)


def test_l1_elastic_net_and_clipping_match_numpy():
    """g += l2 w + l1 sign(w) (elastic net), then the global norm clipped to 1; SGD."""
    w0, grads = _problem()
    grads = [5 * g for g in grads]  # norms above 1: the clipping acts
    w = w0.astype(np.float64)
    for g in grads:
        g = g * min(1.0, 1.0 / np.linalg.norm(g))  # Keras clips the raw gradients
        g = g + 0.01 * w + 0.02 * np.sign(w)
        w = w - 0.1 * g
    opt = make_optimizer("sgd", 0.1, momentum=0.0, weight_decay=0.01, l1=0.02, clip_norm=1.0)
    np.testing.assert_allclose(_steps(opt, w0, grads), w, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="clip_norm must be > 0"):
        make_optimizer("sgd", 0.1, clip_norm=0)
    with pytest.raises(ValueError, match="l1 regularization must be >= 0"):
        make_optimizer("adam", 0.1, l1=-1)
    with pytest.raises(ValueError, match="adamw's decay is decoupled L2 only"):
        make_optimizer("adamw", 0.1, l1=0.1)
