"""The oracle itself is checked against independent ones: pandas, finite differences, closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import close

from streamopt import reference as R


def test_ewa_bias_corrected_equals_pandas_adjusted_mean():
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    x[[0, 5, 6, 50]] = np.nan
    for beta in (0.0, 0.5, 0.9, 0.98):
        expected = pd.Series(x).ewm(alpha=1 - beta, adjust=True, ignore_na=True).mean().to_numpy()
        close(R.ewa(x, beta, bias_correction_=True), expected, rtol=1e-12, scale=0.0)


def test_ewa_constant_series_closed_form_and_nan_propagation():
    beta, c = 0.9, 3.0
    t = np.arange(1, 101)
    close(R.ewa(np.full(100, c), beta), c * (1 - beta**t), rtol=1e-12, scale=0.0)
    x = np.ones(5)
    x[2] = np.nan
    out = R.ewa(x, 0.5, skipna=False)
    assert np.isfinite(out[:2]).all() and np.isnan(out[2:]).all()


def test_ewvar_equals_pandas():
    rng = np.random.default_rng(2)
    x = 1e3 + rng.normal(size=120)
    x[[3, 40]] = np.nan
    for beta in (0.5, 0.9):
        for bias in (False, True):
            expected = pd.Series(x).ewm(alpha=1 - beta, adjust=True, ignore_na=True).var(bias=bias).to_numpy()
            close(R.ewvar(x, beta, bias=bias), expected, rtol=1e-9, scale=0.0)


def test_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    params = R.initialize_parameters_he([3, 4, 3, 1], seed=5)
    params = {k: v + 0.1 * rng.normal(size=v.shape) for k, v in params.items()}  # nonzero biases too
    X = rng.normal(size=(3, 7))
    Y = (rng.random((1, 7)) > 0.5).astype(float)
    AL, cache = R.forward_propagation(X, params)
    grads = R.backward_propagation(X, Y, cache)
    h = 1e-6
    for name, p in params.items():
        for idx in np.ndindex(p.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            numeric = (R.compute_cost(R.forward_propagation(X, plus)[0], Y)
                       - R.compute_cost(R.forward_propagation(X, minus)[0], Y)) / (2 * h)
            assert grads[name][idx] == pytest.approx(numeric, rel=1e-5, abs=1e-8), (name, idx)


def test_he_init_is_the_notes_draw_order():
    p = R.initialize_parameters_he([2, 5, 2, 1], seed=3)
    np.random.seed(3)
    W1 = np.random.randn(5, 2) * np.sqrt(2 / 2)
    W2 = np.random.randn(2, 5) * np.sqrt(2 / 5)
    W3 = np.random.randn(1, 2) * np.sqrt(2 / 2)
    for got, want in zip((p["W1"], p["W2"], p["W3"]), (W1, W2, W3)):
        np.testing.assert_array_equal(got, want)
    assert all(not p[f"b{l}"].any() for l in (1, 2, 3))


def test_random_mini_batches_partition():
    X = np.arange(2 * 150, dtype=float).reshape(2, 150)
    Y = np.arange(150).reshape(1, 150)
    batches = R.random_mini_batches(X, Y, 64, seed=11)
    assert [b[0].shape[1] for b in batches] == [64, 64, 22]
    cols = np.concatenate([b[1][0] for b in batches])
    np.testing.assert_array_equal(cols, np.random.RandomState(11).permutation(150))
    for bx, by in batches:
        np.testing.assert_array_equal(bx[0], 2 * 0 + by[0])  # X column j is (j, 150 + j)


def test_update_rules_degenerate_cases():
    rng = np.random.default_rng(4)
    p = {"w": rng.normal(size=6)}
    g = {"w": rng.normal(size=6)}
    zero = {"w": np.zeros(6)}
    gd = R.gd_update(p, g, 0.1)
    for form in ("ema", "sum"):
        mom, _ = R.momentum_update(p, g, zero, 0.1, beta=0.0, form=form)
        np.testing.assert_allclose(mom["w"], gd["w"], rtol=1e-15)
    # Adam's first step moves every coordinate by lr·|g|/(|g| + eps) (bias-corrected moments)
    new, *_ = R.adam_update(p, g, zero, zero, 1, 0.01)
    np.testing.assert_allclose(np.abs(new["w"] - p["w"]), 0.01 * np.abs(g["w"]) / (np.abs(g["w"]) + 1e-8), rtol=1e-9)
    assert not np.shares_memory(new["w"], p["w"])
