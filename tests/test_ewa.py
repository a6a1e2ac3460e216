"""Batch EWA (`streamopt.ewa`): properties on random data and random β, and the oracles
(`streamopt.reference`, pandas, closed forms, exact sums)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamopt
from conftest import SETTINGS, close
from streamopt import reference as R

betas = st.one_of(st.sampled_from([0.0, 0.5, 0.9, 0.98, 0.999]), st.floats(0.0, 0.999))


@st.composite
def series(draw, min_size=1, max_size=300, nan=True, scale=None):
    """A random float64 series (optionally with NaNs), from a drawn seed."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(min_size, max_size))
    rng = np.random.default_rng(seed)
    mag = scale if scale is not None else 10.0 ** draw(st.integers(-3, 6))
    x = rng.normal(draw(st.floats(-2, 2)) * mag, mag, size=n)
    if nan and n and draw(st.booleans()):
        x[rng.random(n) < draw(st.floats(0.0, 0.5))] = np.nan
    return x


# ------------------------------------------------------------- the oracles
@SETTINGS
@given(series(), betas, st.booleans())
def test_uncorrected_equals_reference(x, beta, skipna):
    # the kernel fuses β·V + α·θ into one rounding; the reference rounds twice
    close(streamopt.ewa(x, beta, skipna=skipna), R.ewa(x, beta, skipna=skipna), rtol=1e-13)


@SETTINGS
@given(series(), betas, st.booleans())
def test_corrected_equals_reference(x, beta, skipna):
    got = streamopt.ewa(x, beta, bias_correction=True, skipna=skipna)
    close(got, R.ewa(x, beta, bias_correction_=True, skipna=skipna), rtol=1e-13)


@SETTINGS
@given(series(), betas)
def test_corrected_equals_pandas_adjusted_mean(x, beta):
    want = pd.Series(x).ewm(alpha=1 - beta, adjust=True, ignore_na=True).mean().to_numpy()
    close(streamopt.ewa(x, beta, bias_correction=True), want)


def test_dataframe_equals_pandas_with_nans_and_keeps_labels():
    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"],
                      index=pd.date_range("2020-01-01", periods=400, freq="D"))
    df.iloc[rng.random(400) < 0.1, 1] = np.nan
    df.iloc[:3, 2] = np.nan
    got = streamopt.ewa(df, 0.95, bias_correction=True)
    want = df.ewm(alpha=0.05, adjust=True, ignore_na=True).mean()
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_index_equal(got.index, df.index)
    pd.testing.assert_index_equal(got.columns, df.columns)
    close(got.to_numpy(), want.to_numpy())
    accessor = df.streamopt.ewa(0.95, bias_correction=True)
    pd.testing.assert_frame_equal(accessor, got)


def test_series_keeps_index_and_name_and_accessor():
    s = pd.Series([1.0, np.nan, 3.0, 4.0], index=list("wxyz"), name="temp")
    got = streamopt.ewa(s, 0.5, bias_correction=True)
    assert isinstance(got, pd.Series) and got.name == "temp"
    pd.testing.assert_index_equal(got.index, s.index)
    close(got.to_numpy(), s.ewm(alpha=0.5, ignore_na=True).mean().to_numpy())
    pd.testing.assert_series_equal(s.streamopt.ewa(0.5, bias_correction=True), got)


def test_nullable_pandas_dtypes_treat_na_as_nan():
    s = pd.Series([1.0, None, 3.0], dtype="Float64")
    got = streamopt.ewa(s, 0.5)
    np.testing.assert_array_equal(got.to_numpy(dtype=float), R.ewa([1.0, np.nan, 3.0], 0.5))


@pytest.mark.parametrize(("kw", "alpha"), [({"span": 9}, 0.2), ({"com": 4}, 0.2), ({"alpha": 0.3}, 0.3),
                                           ({"halflife": 5}, 1 - math.exp(-math.log(2) / 5))])
def test_pandas_decay_conventions(kw, alpha):
    x = np.random.default_rng(6).normal(size=200)
    want = pd.Series(x).ewm(**kw, adjust=True).mean().to_numpy()
    close(streamopt.ewa(x, **kw, bias_correction=True), want)
    assert streamopt.beta_from(**kw) == pytest.approx(1 - alpha, rel=1e-15)


# -------------------------------------------------------------- properties
@SETTINGS
@given(series(nan=False))
def test_beta_zero_returns_input_exactly(x):
    np.testing.assert_array_equal(streamopt.ewa(x, 0.0), x)
    np.testing.assert_array_equal(streamopt.ewa(x, 0.0, bias_correction=True), x)


@SETTINGS
@given(st.floats(-1e6, 1e6).filter(lambda c: abs(c) > 1e-6), betas, st.integers(1, 3000))
def test_constant_series_closed_form(c, beta, n):
    t = np.arange(1, n + 1)
    x = np.full(n, c)
    # c·(1 − β^t), with 1 − β^t from expm1 (exact to an ulp or two)
    with np.errstate(divide="ignore"):  # β so small that log1p(−(1 − β)) = −inf: then β^t = 0
        want = c * -np.expm1(t * np.log1p(-(1.0 - beta)))
    close(streamopt.ewa(x, beta), want, scale=0.0)
    close(streamopt.ewa(x, beta, bias_correction=True), x, scale=0.0)


coefficients = st.floats(-10, 10).filter(lambda c: c == 0 or abs(c) > 1e-100)  # no subnormal products


@SETTINGS
@given(series(nan=False, scale=1.0), series(nan=False, scale=1.0), betas,
       coefficients, coefficients, st.booleans())
def test_linearity(x, y, beta, a, b, bias):
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    lhs = streamopt.ewa(a * x + b * y, beta, bias_correction=bias)
    rhs = a * streamopt.ewa(x, beta, bias_correction=bias) + b * streamopt.ewa(y, beta, bias_correction=bias)
    close(lhs, rhs, rtol=1e-12, scale=float(np.abs(a * x).max() + np.abs(b * y).max()))


@SETTINGS
@given(st.floats(0.5, 1 - 1e-6))
def test_horizon_weight_is_just_below_one_over_e(beta):
    h = streamopt.horizon(beta)
    assert h == 1.0 / (1.0 - beta)
    weight = beta**h
    assert weight < 1.0 / math.e
    gap = weight * math.e - 1.0          # relative gap to 1/e
    a = 1.0 - beta
    # ln(1 − a)/a = −1 − a/2 − a²/3 − …: the gap is −a/2 + O(a²)
    assert abs(gap + a / 2) <= a * a + 1e-12


@SETTINGS
@given(series(max_size=200, scale=1.0), betas, st.booleans(), st.booleans())
def test_float32_within_1e5_of_float64(x, beta, bias, skipna):
    x32 = x.astype(np.float32)
    got = streamopt.ewa(x32, beta, bias_correction=bias, skipna=skipna)
    assert got.dtype == np.float32
    want = streamopt.ewa(x32.astype(np.float64), beta, bias_correction=bias, skipna=skipna)
    close(got, want, rtol=1e-5)


def test_beta_close_to_one_over_a_million_steps():
    beta = 1 - 1e-9
    a = 1.0 - beta
    n = 10**6
    c = 2.5
    corrected = streamopt.ewa(np.full(n, c), beta, bias_correction=True)
    assert np.abs(corrected / c - 1).max() < 1e-12
    x = np.random.default_rng(7).normal(3.0, 1.0, size=n)
    got = streamopt.ewa(x, beta)
    got_c = streamopt.ewa(x, beta, bias_correction=True)
    for t in (1, 1000, 123_457, n):
        # V_t = α·Σ β^(t−i)·θ_i, summed exactly (fsum) from weights exact to an ulp
        w = np.exp(np.arange(t - 1, -1, -1) * math.log1p(-a))
        exact = a * math.fsum(w * x[:t])
        assert got[t - 1] == pytest.approx(exact, rel=1e-11)
        exact_c = math.fsum(w * x[:t]) / math.fsum(w)
        assert got_c[t - 1] == pytest.approx(exact_c, rel=1e-11)


# ------------------------------------------------- shapes, axes and layouts
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("bias", [False, True])
def test_every_axis_and_layout_equals_one_series_at_a_time(order, bias):
    rng = np.random.default_rng(8)
    x = np.asarray(rng.normal(size=(37, 6, 5)), order=order)
    x[rng.random(x.shape) < 0.05] = np.nan
    for axis in (0, 1, 2, -1):
        got = streamopt.ewa(x, 0.8, bias_correction=bias, axis=axis)
        want = np.apply_along_axis(lambda s: streamopt.ewa(s, 0.8, bias_correction=bias), axis, x)
        np.testing.assert_array_equal(got, want)
    strided = x[::2, :, ::2]
    np.testing.assert_array_equal(streamopt.ewa(strided, 0.8, bias_correction=bias),
                                  streamopt.ewa(strided.copy(), 0.8, bias_correction=bias))


@pytest.mark.parametrize("k", [1, 3, 4, 9])
def test_2d_both_orders_and_1d_columns_agree_bit_for_bit(k):
    rng = np.random.default_rng(k)
    x = rng.normal(size=(500, k))
    x[rng.random(x.shape) < 0.05] = np.nan
    for bias in (False, True):
        for skipna in (False, True):
            c = streamopt.ewa(x, 0.97, bias_correction=bias, skipna=skipna)
            f = streamopt.ewa(np.asfortranarray(x), 0.97, bias_correction=bias, skipna=skipna)
            cols = np.column_stack([streamopt.ewa(x[:, j].copy(), 0.97, bias_correction=bias, skipna=skipna)
                                    for j in range(k)])
            np.testing.assert_array_equal(c, f)
            np.testing.assert_array_equal(c, cols)


def test_nan_semantics():
    x = np.array([np.nan, 2.0, np.nan, 4.0])
    got = streamopt.ewa(x, 0.5)
    np.testing.assert_array_equal(got, [np.nan, 1.0, 1.0, 2.5])
    np.testing.assert_array_equal(streamopt.ewa(x, 0.5, skipna=False), [np.nan] * 4)
    y = np.array([2.0, np.nan, 4.0])
    np.testing.assert_array_equal(streamopt.ewa(y, 0.5, skipna=False), [1.0, np.nan, np.nan])


# ------------------------------------------------------------- dtype rules
@pytest.mark.parametrize(("dtype", "result"), [(np.float32, np.float32), (np.float64, np.float64),
                                               (np.int64, np.float64), (np.int8, np.float64),
                                               (np.uint16, np.float64), (bool, np.float64)])
def test_dtype_rules(dtype, result):
    x = np.array([1, 0, 1, 1], dtype=dtype)
    got = streamopt.ewa(x, 0.5)
    assert got.dtype == result
    np.testing.assert_allclose(got, R.ewa(x.astype(float), 0.5), rtol=1e-6)
    assert streamopt.ewa([1, 2, 3], 0.5).dtype == np.float64


def test_float32_dataframe_stays_float32():
    df = pd.DataFrame({"a": np.arange(5, dtype=np.float32), "b": np.ones(5, np.float32)})
    assert (streamopt.ewa(df, 0.5).dtypes == np.float32).all()


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 4)])
def test_empty_input_gives_empty_result(shape):
    got = streamopt.ewa(np.zeros(shape), 0.5)
    assert got.shape == shape and got.dtype == np.float64
    assert streamopt.ewa(pd.Series([], dtype=float), 0.5).empty


def test_zero_d_input_is_one_observation():
    assert float(streamopt.ewa(3.0, 0.5)) == 1.5
    assert float(streamopt.ewa(np.float32(3.0), 0.5, bias_correction=True)) == 3.0


# ----------------------------------------------------------------- out= and input
@pytest.mark.parametrize("out_order", ["C", "F"])
@pytest.mark.parametrize("x_order", ["C", "F"])
def test_out_receives_the_result(x_order, out_order):
    rng = np.random.default_rng(9)
    x = np.asarray(rng.normal(size=(50, 4)), order=x_order)
    before = x.copy()
    out = np.zeros((50, 4), order=out_order)
    res = streamopt.ewa(x, 0.9, bias_correction=True, out=out)
    assert res is out
    np.testing.assert_array_equal(out, streamopt.ewa(before, 0.9, bias_correction=True))
    np.testing.assert_array_equal(x, before)
    res = streamopt.ewa(x, 0.9, axis=1, out=np.empty((50, 4), order=out_order))
    np.testing.assert_array_equal(res, streamopt.ewa(before.T, 0.9).T)


def test_out_may_be_the_input_or_overlap_it():
    x = np.random.default_rng(10).normal(size=100)
    want = streamopt.ewa(x, 0.9)
    y = x.copy()
    assert streamopt.ewa(y, 0.9, out=y) is y
    np.testing.assert_array_equal(y, want)
    z = np.concatenate([x, [0.0]])
    streamopt.ewa(z[:-1], 0.9, out=z[1:])  # shifted overlap: computed through a temporary
    np.testing.assert_array_equal(z[1:], want)


def test_input_is_never_modified():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(30, 3))
    x[4, 1] = np.nan
    for arr in (x, np.asfortranarray(x), x.astype(np.float32)):
        before = arr.copy()
        streamopt.ewa(arr, 0.9, bias_correction=True)
        streamopt.ewvar(arr, 0.9)
        np.testing.assert_array_equal(arr, before)
    readonly = x.copy()
    readonly.setflags(write=False)
    np.testing.assert_array_equal(streamopt.ewa(readonly, 0.9), streamopt.ewa(x, 0.9))


def test_docstring_examples_run():
    import doctest
    import sys

    import streamopt.stream  # noqa: F401

    for name in ("streamopt.ewa", "streamopt.stream", "streamopt.accessor", "streamopt._checks"):
        result = doctest.testmod(sys.modules[name])
        assert result.attempted > 0 and result.failed == 0, name
