"""The MLP against the notes' NumPy formulas (reference), finite differences and NumPy's sums."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamopt import MLP, Adam
from streamopt import reference as R
from streamopt._kernels.mlp import pairwise_sum, vec_dot, vec_sum
from streamopt.datasets import moons

# [1, 3, 1] and [2, 1, 2, 1]: hidden layers fed by one input (the one-pass kernels for one or two
# terms), back-propagation through one and two units
DIMS = [[2, 5, 2, 1], [3, 4, 1], [4, 7, 3, 3, 2], [1, 1], [1, 3, 1], [2, 1, 2, 1]]


@pytest.mark.parametrize("dims", DIMS)
def test_he_initialisation_is_the_notes(dims):
    state = np.random.get_state()[1].copy()
    model = MLP(dims, seed=7)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global RNG untouched
    expected = R.initialize_parameters_he(dims, 7)
    assert model.params.names == tuple(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(model.params[name], value)
    assert model.params["W1"].base is not None  # a view into the flat buffer
    model.params.flat[0] = 123.0
    assert model.params["W1"][0, 0] == 123.0


def _data(dims, m, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(dims[0], m))
    Y = (rng.random((dims[-1], m)) > 0.5).astype(np.int64)
    return X, Y


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("m", [1, 5, 64, 300])
def test_forward_backward_cost_match_the_reference(dims, m):
    model = MLP(dims, seed=1)
    rng = np.random.default_rng(len(dims))
    for name in model.params.names:  # He initialisation leaves b = 0: give the biases values
        if name.startswith("b"):
            model.params[name][...] = rng.normal(scale=0.5, size=model.params[name].shape)
    X, Y = _data(dims, m)
    params = model.params.to_dict()
    AL, cache = R.forward_propagation(X, params)
    np.testing.assert_allclose(model.forward(X), AL, rtol=1e-13, atol=1e-15)
    cost, grads = model.loss_and_grad(X, Y)
    expected = R.backward_propagation(X, Y, cache)
    for name in model.params.names:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-11, atol=1e-15)
    assert cost == pytest.approx(R.compute_cost(AL, Y), rel=1e-13)
    assert model.cost(X, Y) == pytest.approx(R.compute_cost(AL, Y), rel=1e-13)
    np.testing.assert_array_equal(model.predict(X), R.predict(X, params))
    assert model.accuracy(X, Y) == np.mean(R.predict(X, params) == Y)


def test_gradient_is_the_mean_gradient_by_finite_differences():
    model = MLP([3, 4, 2], seed=2)
    X, Y = _data([3, 4, 2], 9, seed=3)
    _, grads = model.loss_and_grad(X, Y)
    flat = model.params.flat
    h = 1e-6
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = model.cost(X, Y)
        flat[i] = keep - h
        down = model.cost(X, Y)
        flat[i] = keep
        assert grads.flat[i] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8)


def test_soft_labels_use_both_terms():
    model = MLP([2, 3, 1], seed=0)
    X, _ = _data([2, 3, 1], 20)
    Y = np.linspace(0, 1, 20).reshape(1, 20)
    AL, _ = R.forward_propagation(X, model.params.to_dict())
    assert model.cost(X, Y) == pytest.approx(R.compute_cost(AL, Y), rel=1e-13)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 1900), seed=st.integers(0, 1000))
def test_kernel_sums(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n) * 10.0 ** rng.uniform(-5, 5, n)
    b = rng.normal(size=n)
    assert pairwise_sum(a) == np.sum(a)  # the cost: NumPy's bits
    # the gradient's vectorised sums: exact up to rounding, deterministic
    bound = 1e-15 * max(n, 1) * np.sum(np.abs(a * b))
    assert abs(vec_dot(a, b) - np.sum(a * b)) <= bound
    assert abs(vec_sum(a) - np.sum(a)) <= 1e-15 * max(n, 1) * np.sum(np.abs(a))
    assert vec_dot(a, b) == vec_dot(a.copy(), b.copy())


def test_float32_model_follows_the_float64_one():
    X, Y = moons(100)
    m64, m32 = MLP([2, 5, 2, 1]), MLP([2, 5, 2, 1], dtype=np.float32)
    assert m32.params.flat.dtype == np.float32
    np.testing.assert_allclose(m32.forward(X), m64.forward(X), rtol=1e-5)
    c32, g32 = m32.loss_and_grad(X, Y)
    c64, g64 = m64.loss_and_grad(X, Y)
    assert c32 == pytest.approx(c64, rel=1e-5)
    np.testing.assert_allclose(g32.flat, g64.flat, rtol=1e-3, atol=1e-6)


def test_optimizer_trains_model_params_in_place():
    X, Y = moons(64)
    model = MLP([2, 5, 2, 1])
    opt = Adam(model.params, lr=0.01)
    first = model.cost(X, Y)
    for _ in range(50):
        _, g = model.loss_and_grad(X, Y)
        opt.step(g)
    assert model.cost(X, Y) < first


@pytest.mark.parametrize(
    "dims, exc, words",
    [
        ([2], ValueError, ["layer_dims"]),
        ([2, 0, 1], ValueError, ["layer_dims[1]", "0"]),
        ([2, 2.5, 1], TypeError, ["layer_dims[1]"]),
        ("21", TypeError, ["layer_dims"]),
    ],
)
def test_bad_layer_dims(dims, exc, words):
    with pytest.raises(exc) as info:
        MLP(dims)
    for w in words:
        assert w in str(info.value)


def test_bad_inputs_are_refused_and_never_written():
    model = MLP([2, 3, 1])
    X, Y = _data([2, 3, 1], 10)
    X_before = X.copy()
    with pytest.raises(ValueError, match=r"X must have shape \(2, m\)"):
        model.forward(X.T)
    with pytest.raises(ValueError, match="no examples"):
        model.forward(np.zeros((2, 0)))
    bad = X.copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.forward(bad)
    with pytest.raises(ValueError, match=r"Y must have shape \(1, 10\)"):
        model.cost(X, Y[:, :5])
    with pytest.raises(ValueError, match=r"labels in \[0, 1\]"):
        model.cost(X, Y * 3)
    with pytest.raises(TypeError, match="X"):
        model.forward(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="dtype"):
        MLP([2, 1], dtype=np.int64)
    model.loss_and_grad(X, Y)
    np.testing.assert_array_equal(X, X_before)


@pytest.mark.parametrize("dims", [[2, 5, 2, 1], [3, 1], [1, 4, 4, 4, 2]])
def test_kernel_offsets_are_the_flat_layout(dims):
    # the kernels find W_l and b_l where FlatParams put them: a view written through the flat buffer
    model = MLP(dims, seed=1)
    flat = model.params.flat
    _, w_off, b_off = model._layout()
    for l in range(1, len(dims)):
        W, b = model.params[f"W{l}"], model.params[f"b{l}"]
        np.testing.assert_array_equal(flat[w_off[l]:w_off[l] + W.size], W.ravel())
        assert np.shares_memory(flat[w_off[l]:w_off[l] + W.size], W)
        assert np.shares_memory(flat[b_off[l]:b_off[l] + b.size], b)
    assert b_off[-1] + dims[-1] == flat.size
