"""MLP.gradients / predict_proba / state_dict: the pieces online training is built from."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamopt import MLP, Adam, epochs, train
from streamopt.datasets import moons
from streamopt.state import StateError

X, Y = moons(300, seed=3)
DIMS = [2, 5, 2, 1]


def test_batch_by_batch_training_is_train_bit_for_bit():
    """``loss, g = model.gradients(Xb, Yb); opt.step(g)`` over train's batches = train's Python loop."""
    n_epochs = 20
    offline = MLP(DIMS, seed=3)
    opt = Adam(offline.params, lr=0.0007)
    losses = []
    for batches in epochs(X, Y, 64, seed=10, n_epochs=n_epochs, axis=1):
        for xb, yb in batches:
            loss, g = offline.gradients(xb, yb)
            opt.step(g)
            losses.append(loss)
    plain, compiled = MLP(DIMS, seed=3), MLP(DIMS, seed=3)
    o_plain, o_comp = Adam(plain.params, lr=0.0007), Adam(compiled.params, lr=0.0007)
    train(plain, (X, Y), o_plain, epochs=n_epochs, batch_size=64, progress=False, compiled=False)
    train(compiled, (X, Y), o_comp, epochs=n_epochs, batch_size=64, progress=False, compiled=True)
    assert opt.t == o_plain.t == n_epochs * 5
    np.testing.assert_array_equal(offline.params.flat, plain.params.flat)
    for name, b in opt.buffers.items():
        np.testing.assert_array_equal(b, o_plain.buffers[name])
    np.testing.assert_allclose(offline.params.flat, compiled.params.flat, rtol=1e-12, atol=0)
    assert losses[-1] < losses[0]


def test_gradients_loss_is_the_cost_before_the_step_and_matches_loss_and_grad():
    model = MLP(DIMS, seed=3)
    xb, yb = X[:, :64], Y[:, :64]
    before = model.cost(xb, yb)
    loss, g = model.gradients(xb, yb)
    assert loss == before
    loss2, g2 = model.loss_and_grad(xb, yb)
    assert loss2 == loss
    np.testing.assert_array_equal(g.flat, g2.flat)
    assert g.names == model.params.names
    # the gradient is a new buffer: changing it leaves the model alone
    g.flat[:] = 0
    np.testing.assert_array_equal(model.gradients(xb, yb)[1].flat, g2.flat)


def test_predict_proba_is_the_sigmoid_output():
    model = MLP(DIMS, seed=3)
    p = model.predict_proba(X)
    assert p.shape == (1, X.shape[1])
    assert ((p > 0) & (p < 1)).all()
    np.testing.assert_array_equal(model.predict(X), (p > 0.5).astype(np.int64))
    # by hand from the parameters
    a = X
    for l in range(1, 4):
        z = model.params[f"W{l}"] @ a + model.params[f"b{l}"]
        a = np.maximum(z, 0) if l < 3 else 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(p, a, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_state_round_trips_bit_for_bit_through_json(dtype):
    model = MLP([2, 4, 3, 1], seed=7, dtype=dtype)
    opt = Adam(model.params, lr=0.01)
    for xb, yb in next(iter(epochs(X, Y, 50, n_epochs=1, axis=1))):
        opt.step(model.gradients(xb, yb)[1])
    state = json.loads(json.dumps(model.state_dict()))
    assert state["format"] == "streamopt.MLP" and state["version"] == 1
    again = MLP.from_state(state)
    assert again.layer_dims == (2, 4, 3, 1) and again.dtype == np.dtype(dtype)
    assert again.params.flat.tobytes() == model.params.flat.tobytes()
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    # independent buffers
    again.params.flat[:] = 0
    assert model.params.flat.any()


def _good():
    return MLP(DIMS).state_dict()


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(format="streamopt.Adam"), "format"),
    (lambda s: s.update(version=2), "version"),
    (lambda s: s.pop("params"), "missing 'params'"),
    (lambda s: s.update(extra=1), "unknown field"),
    (lambda s: s.update(layer_dims=[2]), "layer_dims"),
    (lambda s: s.update(layer_dims=[2, 0, 1]), "layer_dims"),
    (lambda s: s.update(layer_dims=[2, True, 1]), "layer_dims"),
    (lambda s: s.update(dtype="int64"), "dtype"),
    (lambda s: s.update(layer_dims=[2, 4, 1]), "params"),
    (lambda s: s["params"].update(data="!!"), "params"),
])
def test_bad_state_is_named(change, message):
    state = _good()
    change(state)
    with pytest.raises(StateError, match=message):
        MLP.from_state(state)


def test_state_that_is_not_a_dict():
    with pytest.raises(TypeError, match="dict"):
        MLP.from_state([1, 2])
