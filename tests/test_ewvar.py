"""EW variance and standard deviation: pandas and the definition (`reference.ewvar`) as oracles,
never negative, exactly 0 on a constant series, accurate with a large offset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamopt
from conftest import SETTINGS, close, random_data
from streamopt import reference as R

# Below β ≈ 1e-3 the oracles' (Σw)² − Σw² cancels (relative error ~1e-16/β); see test_small_beta_exact.
betas = st.one_of(st.sampled_from([0.0, 0.5, 0.9, 0.99]), st.floats(1e-3, 0.995))


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.floats(0, 0.4), betas, st.booleans())
def test_equals_pandas(seed, n, nan_fraction, beta, bias):
    x = random_data(seed, n, nan_fraction, offset=5.0)
    want = pd.Series(x).ewm(alpha=1 - beta, adjust=True, ignore_na=True).var(bias=bias).to_numpy()
    close(streamopt.ewvar(x, beta, bias=bias), want, rtol=1e-12, scale=0.0, atol=1e-14)
    close(streamopt.ewstd(x, beta, bias=bias), np.sqrt(want), rtol=1e-12, scale=0.0, atol=1e-7)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 80), st.floats(0, 0.3), betas, st.booleans())
def test_equals_the_definition(seed, n, nan_fraction, beta, bias):
    x = random_data(seed, n, nan_fraction, offset=-3.0, scale=2.0)
    close(streamopt.ewvar(x, beta, bias=bias), R.ewvar(x, beta, bias=bias), rtol=1e-9, scale=0.0, atol=1e-12)


@pytest.mark.parametrize("beta", [1e-8, 1e-4, 0.3])
def test_small_beta_exact(beta):
    # the definition in exact rational arithmetic (weights β^k of the float β)
    from fractions import Fraction

    x = random_data(12, 8, 0.0, offset=1.0)
    got = streamopt.ewvar(x, beta)
    b = Fraction(beta)
    for t in range(2, len(x) + 1):
        w = [b ** (t - 1 - i) for i in range(t)]
        xs = [Fraction(v) for v in x[:t]]
        sw, sw2 = sum(w), sum(wi * wi for wi in w)
        mu = sum(wi * xi for wi, xi in zip(w, xs)) / sw
        var = sum(wi * (xi - mu) ** 2 for wi, xi in zip(w, xs)) / sw * sw * sw / (sw * sw - sw2)
        assert got[t - 1] == pytest.approx(float(var), rel=1e-13)


def test_dataframe_and_accessor_equal_pandas():
    rng = np.random.default_rng(4)
    df = pd.DataFrame(rng.normal(size=(200, 3)), columns=["p", "q", "r"])
    df.iloc[rng.random(200) < 0.1, 0] = np.nan
    want = df.ewm(halflife=10, adjust=True, ignore_na=True).var()
    for got in (streamopt.ewvar(df, halflife=10), df.streamopt.ewvar(halflife=10)):
        pd.testing.assert_index_equal(got.columns, df.columns)
        close(got.to_numpy(), want.to_numpy(), rtol=1e-12, scale=0.0)
    std = df.streamopt.ewstd(halflife=10, bias=True)
    close(std.to_numpy(), df.ewm(halflife=10, ignore_na=True).std(bias=True).to_numpy(), rtol=1e-12, scale=0.0)
    f = np.asfortranarray(df.to_numpy())
    np.testing.assert_array_equal(streamopt.ewvar(f, halflife=10), streamopt.ewvar(np.ascontiguousarray(f),
                                                                                    halflife=10))


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), betas, st.floats(-1e12, 1e12), st.floats(1e-6, 1e3),
       st.booleans())
def test_never_negative(seed, n, beta, offset, scale, bias):
    x = random_data(seed, n, 0.1, offset=offset, scale=scale)
    got = streamopt.ewvar(x, beta, bias=bias)
    assert not (got < 0).any()


@SETTINGS
@given(st.floats(-1e15, 1e15), st.integers(1, 500), betas, st.booleans())
def test_exactly_zero_on_a_constant_series(c, n, beta, bias):
    x = np.full(n, c)
    got = streamopt.ewvar(x, beta, bias=bias)
    expected = np.zeros(n)
    if not bias:
        expected[0] = np.nan  # undefined after one observation
        if beta == 0.0:
            expected[:] = np.nan  # only the last value has weight
    np.testing.assert_array_equal(got, expected)


def test_large_offset_keeps_the_noise_variance():
    noise = random_data(5, 2000, 0.0, scale=1e-3)
    for beta in (0.5, 0.9, 0.999):
        shifted = streamopt.ewvar(1e9 + noise, beta)
        plain = pd.Series(noise).ewm(alpha=1 - beta).var().to_numpy()
        # float64 holds 1e9 + noise to ~1e-7 absolute, i.e. the noise (1e-3) to ~1e-4 relative
        close(shifted[1:], plain[1:], rtol=2e-3, scale=0.0)


def test_skipna_false_propagates_and_float32_stays_float32():
    x = np.array([1.0, 2.0, np.nan, 3.0])
    got = streamopt.ewvar(x, 0.5, skipna=False)
    assert np.isfinite(got[1]) and np.isnan(got[2:]).all()
    assert streamopt.ewvar(x.astype(np.float32), 0.5).dtype == np.float32
    assert streamopt.ewstd(np.array([1, 2, 3]), 0.5).dtype == np.float64


def test_out_and_axis():
    x = np.random.default_rng(6).normal(size=(5, 40))
    out = np.empty_like(x)
    assert streamopt.ewstd(x, 0.9, axis=1, out=out) is out
    want = np.vstack([np.sqrt(R.ewvar(row, 0.9)) for row in x])
    close(out, want, rtol=1e-9, scale=0.0)
    with pytest.raises(ValueError, match="out"):
        streamopt.ewvar(x, 0.9, out=np.empty(3))
