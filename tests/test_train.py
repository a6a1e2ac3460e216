"""train(): compiled loop = plain loop = the notes' loop; schedules, streams, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamopt import MLP, SGD, Adam, Momentum, RMSprop, TrainingDiverged, csv_batches, minibatches, schedules, train
from streamopt import reference as R
from streamopt.datasets import moons

X, Y = moons(150, seed=3)
DIMS = [2, 5, 2, 1]

OPTIMIZERS = {
    "sgd": lambda p: SGD(p, lr=0.05),
    "momentum": lambda p: Momentum(p, lr=0.05, beta=0.8),
    "momentum-sum-nesterov": lambda p: Momentum(p, lr=0.01, beta=0.9, form="sum", nesterov=True),
    "rmsprop-centered": lambda p: RMSprop(p, lr=0.005, beta=0.9, centered=True),
    "adam": lambda p: Adam(p, lr=0.01),
    "adamw-amsgrad": lambda p: Adam(p, lr=0.01, weight_decay=0.1, decoupled=True, amsgrad=True),
}


def _run(make, compiled, epochs=15, **kw):
    model = MLP(DIMS, seed=3)
    opt = make(model.params)
    history = train(model, (X, Y), opt, epochs=epochs, batch_size=32, record_every=4, progress=False,
                    compiled=compiled, **kw)
    return model, opt, history


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_compiled_loop_equals_plain_loop(name):
    m1, o1, h1 = _run(OPTIMIZERS[name], compiled=True)
    m2, o2, h2 = _run(OPTIMIZERS[name], compiled=False)
    assert h1.compiled and not h2.compiled
    np.testing.assert_allclose(m1.params.flat, m2.params.flat, rtol=1e-12, atol=0)
    for name_, b in o1.buffers.items():
        np.testing.assert_allclose(b, o2.buffers[name_], rtol=1e-12, atol=0)
    assert o1.t == o2.t == h1.steps == 15 * math.ceil(150 / 32)
    np.testing.assert_array_equal(h1.epochs, [0, 4, 8, 12])
    np.testing.assert_allclose(h1.cost, h2.cost, rtol=1e-12)
    np.testing.assert_allclose(h1.epoch_cost, h2.epoch_cost, rtol=1e-12)
    assert h1.accuracy == h2.accuracy


def test_compiled_shuffle_of_more_than_624_draws_equals_plain_loop():
    # 700 examples: one permutation needs more than 624 generator outputs, so the
    # compiled shuffle regenerates the Mersenne Twister mid-permutation; 6 epochs
    # from epoch 0 leave the last group of four epoch seeds incomplete.  The
    # plain loop shuffles with NumPy's own RandomState.
    Xb, Yb = moons(700, seed=5)
    results = []
    for compiled in (True, False):
        model = MLP(DIMS, seed=3)
        opt = Momentum(model.params, lr=0.05, beta=0.9)
        history = train(model, (Xb, Yb), opt, epochs=6, batch_size=100, record_every=1, progress=False,
                        compiled=compiled)
        results.append((model.params.flat.copy(), history))
    (f1, h1), (f2, h2) = results
    assert h1.compiled and not h2.compiled
    np.testing.assert_allclose(f1, f2, rtol=1e-12, atol=0)
    np.testing.assert_allclose(h1.cost, h2.cost, rtol=1e-12)
    np.testing.assert_allclose(h1.epoch_cost, h2.epoch_cost, rtol=1e-12)


@pytest.mark.parametrize("dims", [[3, 4, 2], [1, 3, 1], [2, 3, 3, 2]])
def test_compiled_loop_equals_plain_loop_for_other_shapes(dims):
    # inputs other than two and outputs other than one take the general batch
    # gather and the general layer passes
    rng = np.random.default_rng(len(dims) + dims[0])
    Xs = rng.normal(size=(dims[0], 90))
    Ys = (rng.random((dims[-1], 90)) > 0.5).astype(np.int64)
    results = []
    for compiled in (True, False):
        model = MLP(dims, seed=4)
        opt = Adam(model.params, lr=0.01)
        history = train(model, (Xs, Ys), opt, epochs=7, batch_size=32, record_every=2, progress=False,
                        compiled=compiled)
        results.append((model.params.flat.copy(), history))
    (f1, h1), (f2, h2) = results
    assert h1.compiled and not h2.compiled
    assert not np.array_equal(f1, MLP(dims, seed=4).params.flat)  # it trained
    np.testing.assert_allclose(f1, f2, rtol=1e-12, atol=0)
    np.testing.assert_allclose(h1.cost, h2.cost, rtol=1e-12)
    np.testing.assert_allclose(h1.epoch_cost, h2.epoch_cost, rtol=1e-12)


def _notes_loop_with_decay(epochs, lr0, decay_rate, interval):
    """The course's later model(): after epoch i, learning_rate = decay(lr0, i, decay_rate)."""
    params = R.initialize_parameters_he(DIMS, 3)
    lr, lrs = lr0, []
    for i in range(epochs):
        lrs.append(lr)
        for bx, by in R.random_mini_batches(X, Y, 32, 10 + 1 + i):
            AL, cache = R.forward_propagation(bx, params)
            params = R.gd_update(params, R.backward_propagation(bx, by, cache), lr)
        lr = lr0 / (1 + decay_rate * np.floor(i / interval))
    return params, np.array(lrs), lr


@pytest.mark.parametrize("interval", [1, 4])
def test_schedule_follows_the_course(interval):
    epochs, lr0, rate = 12, 0.5, 0.7
    params, lrs, lr_after = _notes_loop_with_decay(epochs, lr0, rate, interval)
    schedule = schedules.inverse_time(lr0, rate, interval)
    for compiled in (True, False):
        model = MLP(DIMS, seed=3)
        opt = SGD(model.params, lr=lr0)
        h = train(model, (X, Y), opt, epochs=epochs, batch_size=32, schedule=schedule, progress=False,
                  compiled=compiled)
        np.testing.assert_allclose(h.lr, lrs, rtol=1e-15)
        assert opt.lr == pytest.approx(lr_after, rel=1e-15)
        for name in model.params.names:
            np.testing.assert_allclose(model.params[name], params[name], rtol=1e-10, atol=1e-13)


def test_adam_t_counts_mini_batches_and_training_resumes():
    model = MLP(DIMS)
    opt = Adam(model.params, lr=0.01)
    train(model, (X, Y), opt, epochs=3, batch_size=64, progress=False)
    assert opt.t == 3 * 3
    # a second call continues from t = 9 (its own epochs restart at seed + 1)
    t_before = opt.t
    train(model, (X, Y), opt, epochs=2, batch_size=64, progress=False)
    assert opt.t == t_before + 2 * 3


def test_streamed_batches_train_like_the_same_batches_in_memory(tmp_path):
    path = tmp_path / "moons.csv"
    import pandas as pd

    pd.DataFrame({"x1": X[0], "x2": X[1], "y": Y[0]}).to_csv(path, index=False)
    stream = lambda epoch: csv_batches(path, ["x1", "x2"], "y", batch_size=40, chunksize=25, axis=1)  # noqa: E731
    in_memory = list(minibatches(X, Y, 40, shuffle=False, axis=1))
    results = []
    for data in (stream, in_memory):
        model = MLP(DIMS)
        opt = Momentum(model.params, lr=0.05)
        h = train(model, data, opt, epochs=6, record_every=2, progress=False)
        results.append((model.params.flat.copy(), h))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1].cost, results[1][1].cost)
    assert results[0][1].accuracy == results[1][1].accuracy is not None
    # the epoch average is the per-example mean over the epoch's batches
    model = MLP(DIMS)
    h = train(model, in_memory, SGD(model.params, lr=1e-12), epochs=1, progress=False)
    assert h.epoch_cost[0] == pytest.approx(MLP(DIMS).cost(X, Y), rel=1e-9)


def test_one_shot_iterator_feeds_one_epoch_only():
    model = MLP(DIMS)
    opt = SGD(model.params, lr=0.1)
    h = train(model, iter(list(minibatches(X, Y, 50, seed=1, axis=1))), opt, epochs=1, progress=False)
    assert h.accuracy is None and h.steps == 3
    with pytest.raises(ValueError, match="one-shot iterator"):
        train(model, (b for b in minibatches(X, Y, 50, axis=1)), opt, epochs=2, progress=False)


def test_nan_in_a_batch_is_named():
    Xn = X.copy()
    Xn[1, 7] = np.nan
    model = MLP(DIMS)
    with pytest.raises(ValueError, match="NaN"):
        train(model, (Xn, Y), SGD(model.params, lr=0.1), epochs=1, progress=False)
    batches = list(minibatches(Xn, Y, 50, shuffle=False, axis=1))
    with pytest.raises(ValueError, match="batch 0 of epoch 0"):
        train(model, batches, SGD(model.params, lr=0.1), epochs=1, progress=False)


@pytest.mark.parametrize("compiled", [True, False])
def test_divergence_is_an_error_not_garbage(compiled):
    model = MLP(DIMS)
    opt = SGD(model.params, lr=1e300)
    with pytest.raises(TrainingDiverged, match="epoch"):
        train(model, (X, Y), opt, epochs=50, progress=False, compiled=compiled)
    assert np.isfinite(model.params.flat).all()


def test_argument_errors():
    model = MLP(DIMS)
    other = MLP(DIMS)
    opt = SGD(model.params, lr=0.1)
    with pytest.raises(ValueError, match="model.params"):
        train(model, (X, Y), SGD(other.params, lr=0.1), epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        train(model, (X, Y), opt, epochs=0)
    with pytest.raises(ValueError, match="record_every"):
        train(model, (X, Y), opt, epochs=1, record_every=0)
    with pytest.raises(ValueError, match="batch_size"):
        train(model, (X, Y), opt, epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="shape"):
        train(model, (X.T, Y), opt, epochs=1)
    with pytest.raises(ValueError, match=r"schedule\(0\)"):
        train(model, (X, Y), opt, epochs=3, schedule=lambda i: -1.0)
    with pytest.raises(TypeError, match="model"):
        train("model", (X, Y), opt, epochs=1)
    with pytest.raises(ValueError, match="compiled=True"):
        train(model, [(X, Y)], opt, epochs=1, compiled=True)


def test_progress_bar_only_on_a_terminal(capsys, monkeypatch):
    import importlib

    train_module = importlib.import_module("streamopt.train")  # the module, not the function

    model = MLP(DIMS)
    opt = SGD(model.params, lr=0.1)
    train(model, (X, Y), opt, epochs=20, record_every=5)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(train_module, "_is_tty", lambda: True)
    train(model, (X, Y), opt, epochs=20, record_every=5)
    err = capsys.readouterr().err
    assert "epoch" in err and "cost=" in err
    train(model, (X, Y), opt, epochs=20, record_every=5, progress=False)
    assert capsys.readouterr().err == ""
