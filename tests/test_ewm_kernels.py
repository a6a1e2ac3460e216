"""The ewm kernels' fast paths against their row functions, bit for bit, and the pieces they rest on:
the vectorisable exp (``exp_parts``), the regular-grid runs of the mean and the covariance, the
block-wise decay factors with times, dense integer keys; and the mean at the ends of the float range."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

import streamopt
from streamopt import reference
from streamopt.ewa import mean_params
from streamopt._kernels import ewa_mean as kmean
from streamopt._kernels import ewm as kernel
from streamopt._kernels import ewm_cov as kcov


def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


# ---------------------------------------------------------------- exp_parts
@pytest.mark.parametrize("lo, hi", [(-1e-300, 0.0), (-1e-12, 0.0), (-1e-6, 0.0), (-1.0, 0.0), (-50.0, -1.0),
                                    (-700.0, -50.0), (-745.0, -700.0)])
def test_exp_parts_to_an_ulp(lo, hi):
    y = np.random.default_rng(0).uniform(lo, hi, 20_000)
    f, lost = np.empty_like(y), np.empty_like(y)
    kernel.decay_block(y, f, lost, 1.0, 0.5, 0.5)  # gap·ln β = y: ln β = 1 stands for any scale
    want = np.exp(y)
    tiny = np.finfo(np.float64).smallest_subnormal
    ulps = np.abs(f - want) / np.maximum(np.spacing(want), tiny)
    assert ulps.max() <= 1.0, ulps.max()
    want_lost = -np.expm1(y)
    assert (np.abs(lost - want_lost) <= 2.3e-16 * np.abs(want_lost)).all()


def test_exp_parts_ends():
    assert kernel.exp_parts(0.0) == (1.0, 0.0)
    assert kernel.exp_parts(-math.inf) == (0.0, 1.0)
    assert kernel.exp_parts(-2000.0) == (0.0, 1.0)
    assert kernel.exp_parts(-1e-300) == (1.0, 1e-300)
    assert kernel.decay_parts(-0.7, 0.25, 0.75, 1.0) == (0.25, 0.75)   # one row: β and α themselves
    assert kernel.decay_parts(-0.7, 0.25, 0.75, 0.0) == (1.0, 0.0)


def test_vectorised_block_equals_the_scalar_function():
    """The batch kernel takes a block's factors from a vectorised loop; the row function (and so
    EWMStream) computes them one at a time: the same bits."""
    rng = np.random.default_rng(1)
    gaps = np.concatenate([rng.exponential(0.3, 3000), [0.0, 1.0, 2.0, 1e-9, 400.0, 1e6], rng.uniform(0, 5, 997)])
    f, lost = np.empty_like(gaps), np.empty_like(gaps)
    log_beta = math.log(0.5)
    kernel.decay_block(gaps, f, lost, log_beta, 0.5, 0.5)
    one = np.array([kernel.decay_parts(log_beta, 0.5, 0.5, g) for g in gaps])
    np.testing.assert_array_equal(_bits(f), _bits(one[:, 0]))
    np.testing.assert_array_equal(_bits(lost), _bits(one[:, 1]))


# ------------------------------------------------ fast paths = row functions
def _rows_mean(x, deltas, alpha, adjust, times, count_missing, min_periods):
    """The mean by :func:`mean_sum_row`, one row at a time from Python."""
    log_beta = math.log1p(-alpha) if alpha < 1 else -math.inf
    if times:
        log_beta = math.log(0.5)
    value, started, old_wt, nobs, gap = np.nan, False, 1.0, 0, 0.0
    out = np.empty(len(x))
    for i, cur in enumerate(x):
        value, started, old_wt, nobs, gap, result = kernel.mean_sum_row(
            cur, deltas[i], value, started, old_wt, nobs, gap, log_beta, alpha, adjust, times, count_missing,
            False, True)
        out[i] = result if nobs >= min_periods else np.nan
    return out


def _data(n: int, seed: int, nan: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 3 + 1
    if nan:
        x[rng.random(n) < 0.05] = np.nan
        x[100:140] = np.nan
        x[500] = np.inf
    return x


@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("ignore_na", [False, True])
@pytest.mark.parametrize("nan", [False, True])
@pytest.mark.parametrize("alpha, min_periods", [(0.3, 0), (0.02, 5), (1.0, 0)])
def test_regular_mean_run_is_the_row_function(adjust, ignore_na, nan, alpha, min_periods):
    x = _data(1500, 2, nan)
    got = streamopt.ewm(x, alpha=alpha, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods).mean()
    want = _rows_mean(x, np.ones(len(x)), alpha, adjust, False, not ignore_na, max(min_periods, 1))
    np.testing.assert_array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("nan", [False, True])
@pytest.mark.parametrize("min_periods", [0, 4])
def test_timed_mean_blocks_are_the_row_function(adjust, nan, min_periods):
    n = 2500  # more than one block of factors
    x = _data(n, 3, nan)
    if nan:
        x[:3] = np.nan
    gaps = np.random.default_rng(4).exponential(90.0, n).astype(np.int64)
    times = pd.DatetimeIndex(np.datetime64("2024-01-01", "ns") + np.cumsum(gaps).astype("timedelta64[s]"))
    got = streamopt.ewm(x, halflife="1h", times=times, adjust=adjust, min_periods=min_periods).mean()
    deltas = np.concatenate([[0.0], np.diff(times.asi8) / 3.6e12])
    want = _rows_mean(x, deltas, 0.5, adjust, True, True, max(min_periods, 1))
    np.testing.assert_array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("nan", [False, True])
@pytest.mark.parametrize("alpha", [0.3, 0.01])
def test_regular_cov_run_is_the_row_function(adjust, bias, nan, alpha):
    x, y = _data(1500, 5, nan), _data(1500, 6, False)
    got = streamopt.ewm(x, alpha=alpha, adjust=adjust).cov(y, bias=bias)
    log_beta = math.log1p(-alpha)
    state = (False, 1.0, 1.0, 0.0, np.nan, np.nan, 0.0, 0, 0.0)
    want = np.empty(len(x))
    for i in range(len(x)):
        state = kcov.cov_row(x[i], y[i], 1.0, *state, log_beta, alpha, 1.0 if adjust else alpha, adjust, True)
        started, wt, s2, den, mx, my, c, nobs, gap = state
        want[i] = kcov.cov_value(c, wt, s2, den, bias) if nobs >= 1 else np.nan
    np.testing.assert_array_equal(_bits(got), _bits(want))
    var = streamopt.ewm(x, alpha=alpha, adjust=adjust).var(bias=bias)
    np.testing.assert_array_equal(_bits(streamopt.ewm(x, alpha=alpha, adjust=adjust).std(bias=bias)),
                                  _bits(np.sqrt(var)))


def test_variance_weights_reach_their_fixed_point():
    """On a regular series W, Σw² and D stop changing (then the fast run stops computing them):
    the premise of the regular runs, for the betas the bench uses and a slow one."""
    for alpha in (0.1, 0.5, 1e-3):
        wt, s2, den = 1.0, 1.0, 0.0
        for _ in range(200_000):
            new = kcov.cov_weights(1.0 - alpha, 1.0, True, wt, s2, den)[:3]
            if new == (wt, s2, den):
                break
            wt, s2, den = new
        else:
            pytest.fail(f"no fixed point for alpha={alpha}")


# ------------------------------------------------------------ dense keys
@pytest.mark.parametrize("dtype", ["int8", "uint16", "int64"])
def test_dense_integer_keys_equal_factorized_keys(dtype):
    rng = np.random.default_rng(7)
    x = _data(3000, 8, True)
    keys = rng.integers(0, 40, 3000) - (20 if dtype != "uint16" else 0)
    dense = keys.astype(dtype)
    as_text = keys.astype(str).astype(object)  # factorized: another numbering of the same series
    for stat in ("mean", "var"):
        a = getattr(streamopt.ewm(x, alpha=0.2, by=dense), stat)()
        b = getattr(streamopt.ewm(x, alpha=0.2, by=as_text), stat)()
        np.testing.assert_array_equal(_bits(a), _bits(b))
    want = pd.Series(x).groupby(dense).ewm(alpha=0.2).mean().droplevel(0).sort_index().to_numpy()
    np.testing.assert_allclose(streamopt.ewm(x, alpha=0.2, by=dense).mean(), want, rtol=1e-12)


def test_sparse_integer_keys_are_factorized():
    x = np.arange(6.0)
    keys = np.array([0, 10**15, 0, 10**15, -(10**15), 0])
    got = streamopt.ewm(x, alpha=0.5, by=keys).mean()
    want = pd.Series(x).groupby(keys).ewm(alpha=0.5).mean().droplevel(0).sort_index().to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_unsorted_times_name_the_position_without_keys_and_with_dense_keys():
    times = pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02", "2024-01-04"])
    with pytest.raises(ValueError, match="position 2 after 2024-01-03"):
        streamopt.ewm(np.ones(4), halflife="1D", times=times)
    with pytest.raises(ValueError, match=r"position 3 after 2024-01-03.*key np.int64\(1\)|position 3 .*key 1"):
        streamopt.ewm(np.ones(4), halflife="1D", times=times[[0, 1, 3, 2]], by=np.array([0, 1, 0, 1]))


# ------------------------------------------- the mean at the ends of the range
def _exact_mean(x, alpha):
    """pandas' adjust=True mean from its definition, in exact rational arithmetic."""
    b = 1 - Fraction(alpha)
    out = []
    for t in range(len(x)):
        w = [b ** (t - i) for i in range(t + 1)]
        out.append(float(sum(wi * Fraction(v) for wi, v in zip(w, x[:t + 1])) / sum(w)))
    return np.array(out)


@pytest.mark.parametrize("x", [[5e-324, 1.0], [5e-324, 5e-324, 1e-310], [1e-310, 3e-310, 2e-310, 7e-311],
                               [1e-300, 3e-301, 2e-300], [1e308, 1.5e308, -1e308, 1.7e308],
                               [1.7976931348623157e308, 1.7976931348623157e308]])
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_mean_of_tiny_and_huge_values(x, alpha):
    """The weighted mean is kept normalised (never Σ w·x, never α·x): the mean of one value is that
    value, subnormal or not, and huge values never overflow (pandas' W·mean + x does)."""
    x = np.array(x)
    got = streamopt.ewm(x, alpha=alpha).mean()
    assert got[0] == x[0]
    want = _exact_mean(x, alpha)
    tiny = np.finfo(np.float64).smallest_subnormal
    assert np.isfinite(got).all()
    # normwise: a mean that cancels to 0 is exact only to the rounding of the values' size
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=4 * tiny + 1e-15 * np.abs(x).max())


def test_ewa_series_past_the_exact_one_correction_keeps_count_and_bits():
    """ewa_series runs the bare recursion once every divisor is 1 (β = ½: after 1088 values); the
    count it returns and the outputs after a missing value there are those of any other split."""
    x = np.random.default_rng(9).normal(size=5000)
    x[[3000, 3001, 4500]] = np.nan
    whole = streamopt.ewa(x, 0.5, bias_correction=True)
    s = streamopt.EWA(0.5, bias_correction=True)
    parts = [s.update(x[a:b]) for a, b in ((0, 1000), (1000, 1100), (1100, 3000), (3000, 5000))]
    np.testing.assert_array_equal(_bits(np.concatenate(parts)), _bits(whole))
    assert s.count == 4997
    out = np.empty(5000)
    v, count = kmean.ewa_series(x, out, 0.0, 0, mean_params(0.5, 0.5, True, True))
    assert count == 4997 and float.fromhex(s.state_dict()["value"][0]) == v
    np.testing.assert_array_equal(_bits(out), _bits(whole))
    np.testing.assert_allclose(whole, reference.ewa(x, 0.5, bias_correction_=True), rtol=1e-13)


# ------------------------------------------------- pairs masked in the kernel
def _signed_zeros_and_gaps(n: int, seed: int) -> np.ndarray:
    """Values with runs of +0 and −0 (their sign is what x + 0·y can change), NaN and ±inf."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.2] = 0.0
    x[rng.random(n) < 0.2] = -0.0
    x[30:60] = -0.0
    x[rng.random(n) < 0.05] = np.nan
    x[rng.integers(0, n, 6)] = np.inf
    x[rng.integers(0, n, 6)] = -np.inf
    return x


def _rows_pair(x, y, alpha, adjust, bias, corr):
    """cov or corr of the pair pandas forms, x + 0·y with y + 0·x (NumPy arithmetic), row by row."""
    with np.errstate(invalid="ignore"):  # 0·inf is NaN: the pair is not observed there
        x, y = x + 0 * y, y + 0 * x
    log_beta, new_wt = (math.log1p(-alpha) if alpha < 1 else -math.inf), 1.0 if adjust else alpha
    want = np.empty(len(x))
    if corr:
        state = (False, 1.0, np.nan, np.nan, 0.0, 0.0, 0.0, 0, 0.0)
        for i in range(len(x)):
            state = kcov.corr_row(x[i], y[i], 1.0, *state, log_beta, alpha, new_wt, adjust, True)
            want[i] = kcov.corr_value(*state[4:7]) if state[7] >= 1 else np.nan
        return want
    state = (False, 1.0, 1.0, 0.0, np.nan, np.nan, 0.0, 0, 0.0)
    for i in range(len(x)):
        state = kcov.cov_row(x[i], y[i], 1.0, *state, log_beta, alpha, new_wt, adjust, True)
        started, wt, s2, den, mx, my, c, nobs, gap = state
        want[i] = kcov.cov_value(c, wt, s2, den, bias) if nobs >= 1 else np.nan
    return want


@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("alpha", [0.3, 1.0])
def test_series_pair_masked_in_the_kernel_is_the_row_function(adjust, bias, alpha):
    """Two Series on one index: the kernel forms x + 0·y and y + 0·x itself (no arrays from pandas'
    arithmetic), the same bits as the row function on the arithmetic's arrays, signed zeros included."""
    n = 1200
    x, y = _signed_zeros_and_gaps(n, 11), _signed_zeros_and_gaps(n, 12)
    a = pd.Series(x, index=pd.date_range("2024", periods=n, freq="min"), name="v")
    for b in (pd.Series(y, index=a.index.copy(), name="v"), pd.Series(y, index=a.index.copy(), name="w")):
        e = streamopt.ewm(a, alpha=alpha, adjust=adjust)
        got, want = e.cov(b, bias=bias), a.ewm(alpha=alpha, adjust=adjust).cov(b, bias=bias)
        np.testing.assert_array_equal(_bits(got), _bits(_rows_pair(x, y, alpha, adjust, bias, False)))
        assert got.index.equals(want.index) and got.name == want.name
        got = e.corr(b)
        np.testing.assert_array_equal(_bits(got), _bits(_rows_pair(x, y, alpha, adjust, bias, True)))
        assert got.index.equals(want.index) and got.name == want.name
        np.testing.assert_allclose(got, a.ewm(alpha=alpha, adjust=adjust).corr(b), rtol=1e-12, atol=1e-12)


def test_series_pair_on_an_equal_index_of_another_type_keeps_obj_index():
    """An int64 index equal to obj's RangeIndex: pandas' result has obj's index (a + 0·b keeps it)."""
    a = pd.Series(_data(600, 13, True))
    b = pd.Series(_data(600, 14, True), index=pd.Index(np.arange(600, dtype=np.int64)))
    got, want = streamopt.ewm(a, alpha=0.2).cov(b), a.ewm(alpha=0.2).cov(b)
    assert type(got.index) is type(want.index) is pd.RangeIndex and got.name is want.name is None
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("stat", ["cov", "corr"])
def test_pairwise_frames_masked_in_the_kernel_are_the_row_function(stat):
    """pairwise=True of two frames: each pair (column of obj, column of other) masked in the kernel."""
    n = 400
    index = pd.RangeIndex(n)
    a = pd.DataFrame({"p": _signed_zeros_and_gaps(n, 15), "q": _signed_zeros_and_gaps(n, 16)}, index=index)
    b = pd.DataFrame({"r": _signed_zeros_and_gaps(n, 17), "s": _signed_zeros_and_gaps(n, 18)}, index=index)
    got = getattr(streamopt.ewm(a, alpha=0.3), stat)(b, pairwise=True)
    for i in a.columns:
        for j in b.columns:
            want = _rows_pair(a[i].to_numpy(), b[j].to_numpy(), 0.3, True, False, stat == "corr")
            np.testing.assert_array_equal(_bits(got[i].xs(j, level=1)), _bits(want))


@pytest.mark.parametrize("bias", [True, False])
def test_series_pair_masked_where_the_sign_of_a_zero_shows(bias):
    """Subnormal co-moments that round to −0: the output's sign of zero depends on x + 0·y (here −0 + 0·3
    is +0), so a kernel reading the raw pair gives other bits; the masked kernel gives pandas' pair's."""
    x = np.array([-0.0, 0.0, 5e-324, -0.0, -5e-324, 1.5e-323, 0.0, -0.0])
    y = np.array([3.0, -1.0, 1.0, 2.0, 1.0, -0.0, 0.5, 3.0])
    raw = _rows_pair(x, y, 0.5, True, bias, False)
    got = streamopt.ewm(pd.Series(x), alpha=0.5).cov(pd.Series(y), bias=bias)
    np.testing.assert_array_equal(_bits(got), _bits(raw))
    plain = streamopt.ewm(x, alpha=0.5).cov(y, bias=bias)  # arrays: paired as given, not masked
    assert not np.array_equal(_bits(plain), _bits(raw)), "the data must show the sign of a zero"
