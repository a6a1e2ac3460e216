"""Column-major (F-order) 2-D input: the four-series kernel's shared-counter fast path must give
bit for bit what row-major input, one column at a time and the one-value-at-a-time stream give,
with NaN patterns that make the four counts diverge and meet again, and equal pandas."""

from __future__ import annotations

import contextlib
import importlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamopt
from conftest import random_data
from streamopt import EWA

SETTINGS = settings(max_examples=25, deadline=None)


def one_at_a_time(x: np.ndarray, beta: float, bias: bool, skipna: bool) -> np.ndarray:
    """Each column fed to its own stream one float at a time (the scalar kernel)."""
    out = np.empty(x.shape)
    for j in range(x.shape[1]):
        s = EWA(beta, bias_correction=bias, skipna=skipna)
        out[:, j] = [s.update(float(v)) for v in x[:, j]]
    return out


def nan_pattern(rng: np.random.Generator, n: int, k: int, fraction: float) -> np.ndarray:
    """Random NaNs, plus whole rows of NaN (the four counts stay equal) and NaNs in single lanes
    at different steps (the counts diverge, then meet again)."""
    x = random_data(rng, (n, k), fraction, scale=None)
    if n > 10:
        x[rng.integers(0, n, 3), :] = np.nan
        for j in range(min(k, 4)):
            x[(5 + 3 * j) % n, j] = np.nan
    return x


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(0, 300), st.integers(1, 11), st.floats(0.0, 0.3),
       st.sampled_from([0.0, 0.5, 0.9, 0.999]), st.booleans(), st.booleans(),
       st.sampled_from(["float64", "float32"]))
def test_f_order_equals_c_order_and_columns(seed, n, k, fraction, beta, bias, skipna, dtype):
    x = nan_pattern(np.random.default_rng(seed), n, k, fraction).astype(dtype)
    f = streamopt.ewa(np.asfortranarray(x), beta, bias_correction=bias, skipna=skipna)
    c = streamopt.ewa(np.ascontiguousarray(x), beta, bias_correction=bias, skipna=skipna)
    assert f.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(f, c)
    cols = np.column_stack([streamopt.ewa(x[:, j].copy(), beta, bias_correction=bias, skipna=skipna)
                            for j in range(k)]) if k else c
    np.testing.assert_array_equal(f, cols)


@pytest.mark.parametrize("k", [3, 4, 5, 8, 13])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("skipna", [False, True])
def test_f_order_equals_one_value_at_a_time_stream(k, bias, skipna):
    x = nan_pattern(np.random.default_rng(k), 333, k, 0.1)
    got = streamopt.ewa(np.asfortranarray(x), 0.95, bias_correction=bias, skipna=skipna)
    np.testing.assert_array_equal(got, one_at_a_time(x, 0.95, bias, skipna))


def test_f_order_inf_minus_inf_and_long_series_equal_stream_and_pandas():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 7))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[100, 0], x[100, 1] = np.inf, -np.inf  # a row whose sum is NaN without any NaN
    x[200, :4] = [np.inf, -np.inf, np.inf, -np.inf]
    got = streamopt.ewa(np.asfortranarray(x), 0.99, bias_correction=True)
    np.testing.assert_array_equal(got, one_at_a_time(x, 0.99, True, True))
    want = pd.DataFrame(x[:, 4:]).ewm(alpha=1 - 0.99, adjust=True, ignore_na=True).mean().to_numpy()
    np.testing.assert_array_equal(np.isnan(got[:, 4:]), np.isnan(want))
    np.testing.assert_allclose(got[:, 4:], want, rtol=1e-10, atol=1e-12)


def test_f_order_chunks_starting_with_unequal_counts():
    """A stream fed column-major chunks after counts diverged: the kernel starts with unequal
    counts, then they meet again; still bit-identical to ewa() on the whole."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(400, 6))
    x[3, 1] = np.nan
    x[4, 2] = np.nan
    x[150, 0] = np.nan
    x[151, 3] = np.nan  # lanes 0 and 3 catch up with 1 and 2 only later
    x[rng.random(x.shape) < 0.03] = np.nan
    whole = streamopt.ewa(x, 0.9, bias_correction=True)
    s = EWA(0.9, bias_correction=True)
    parts = [s.update(np.asfortranarray(x[a:b])) for a, b in [(0, 10), (10, 149), (149, 152), (152, 400)]]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("counts", [[0, 3, 3, 64, 130], [0, 70_000, 5, 200_000, 64], [2**40, 1, 2**40 + 7, 0, 9]])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_panel_from_restored_unequal_counts_equals_single_series_streams(counts, bias, order):
    """A k-series stream restored with very different counts (far apart: beyond the row kernel's
    table of corrections) continues exactly like k one-series streams restored the same way,
    fed one value at a time."""
    rng = np.random.default_rng(len(counts) + counts[1])
    k = len(counts)
    values = rng.normal(size=k)
    values[0] = 0.0 if counts[0] == 0 else values[0]
    x = rng.normal(size=(300, k))
    x[rng.random(x.shape) < 0.1] = np.nan
    panel = EWA(0.93, bias_correction=bias)
    panel.update(np.zeros((0, k)))
    state = panel.state_dict()
    state["value"] = [float(v).hex() for v in values]
    state["count"] = counts
    panel.load_state_dict(state)
    got = panel.update(np.asarray(x, order=order))
    for j in range(k):
        one = EWA(0.93, bias_correction=bias)
        one.load_state_dict({**state, "mode": "series", "k": 1, "value": [float(values[j]).hex()],
                             "count": [counts[j]]})
        want = np.array([one.update(float(v)) for v in x[:, j]])
        np.testing.assert_array_equal(got[:, j], want)
        assert panel.count[j] == one.count


@pytest.mark.parametrize("beta", [0.0, 0.5])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_skipped_nans_keep_negative_zero_and_every_bit(beta, dtype):
    """After a NaN the one-series loop skips NaNs without a branch; a skipped NaN must leave V
    exactly as it was, −0 included (same bits as the one-value-at-a-time stream)."""
    x = np.array([np.nan, -0.0, np.nan, np.nan, -0.0, 1.0, np.nan, -1.0, 1.0, np.nan, -0.0, np.nan]
                 * 20, dtype=dtype)
    got = streamopt.ewa(x, beta)
    s = EWA(beta)
    want = np.array([s.update(x[:1])[0]] + [s.update(x[i:i + 1])[0] for i in range(1, x.size)], dtype=dtype)
    np.testing.assert_array_equal(got.view(np.uint32 if dtype == "float32" else np.uint64),
                                  want.view(np.uint32 if dtype == "float32" else np.uint64))
    if dtype == "float64":  # from a restored V = −0: chunks (the loop) and floats (the scalar kernel)
        state = {**EWA(beta).state_dict(), "mode": "series", "dtype": "float64", "k": 1,
                 "value": [(-0.0).hex()], "count": [3]}
        chunked, single = EWA.from_state(state), EWA.from_state(state)
        y = np.array([np.nan, np.nan, 2.0, np.nan, np.nan])
        a = np.concatenate([chunked.update(y[:1]), chunked.update(y[1:])])
        b = np.array([single.update(float(v)) for v in y])
        np.testing.assert_array_equal(a.view(np.uint64), b.view(np.uint64))
        assert np.signbit(a[0]) and np.signbit(a[1])


# ------------------------------------------------------------ the parallel split
EWA_MODULE = importlib.import_module("streamopt.ewa")   # (``streamopt.ewa`` is also the function)


@contextlib.contextmanager
def parallel_from(nbytes: int):
    """Column-major inputs of 8 series or more and at least ``nbytes`` take the parallel kernel."""
    saved = EWA_MODULE.PARALLEL_MIN_BYTES
    EWA_MODULE.PARALLEL_MIN_BYTES = nbytes
    try:
        yield
    finally:
        EWA_MODULE.PARALLEL_MIN_BYTES = saved


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 200), st.integers(8, 30), st.floats(0.0, 0.3),
       st.booleans(), st.booleans(), st.sampled_from(["float64", "float32"]))
def test_parallel_split_equals_c_order_and_columns(seed, n, k, fraction, bias, skipna, dtype):
    x = nan_pattern(np.random.default_rng(seed), n, k, fraction).astype(dtype)
    with parallel_from(0):
        f = streamopt.ewa(np.asfortranarray(x), 0.9, bias_correction=bias, skipna=skipna)
    c = streamopt.ewa(np.ascontiguousarray(x), 0.9, bias_correction=bias, skipna=skipna)
    np.testing.assert_array_equal(f, c)
    cols = np.column_stack([streamopt.ewa(x[:, j].copy(), 0.9, bias_correction=bias, skipna=skipna)
                            for j in range(k)])
    np.testing.assert_array_equal(f, cols)


def test_parallel_split_keeps_stream_state():
    x = nan_pattern(np.random.default_rng(7), 500, 19, 0.1)
    whole = streamopt.ewa(x, 0.97, bias_correction=True)
    s = EWA(0.97, bias_correction=True)
    with parallel_from(0):
        parts = [s.update(np.asfortranarray(x[a:b])) for a, b in ((0, 1), (1, 250), (250, 500))]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_array_equal(s.value, whole[-1])


def test_parallel_kernel_chosen_by_size(monkeypatch):
    from streamopt._kernels import ewa_mean as kernels

    calls = []
    real = kernels.ewa_lanes_parallel
    monkeypatch.setattr(kernels, "ewa_lanes_parallel", lambda *a: calls.append(a[0].shape) or real(*a))
    x = np.asfortranarray(np.ones((100, 8)))
    streamopt.ewa(x, 0.9)
    assert calls == []                                   # 6.4 kB: below the default threshold
    with parallel_from(x.nbytes):
        streamopt.ewa(x, 0.9)
        assert calls == [(8, 100)]
        streamopt.ewa(np.asfortranarray(np.ones((100, 7))), 0.9)   # fewer than 8 series: serial
        streamopt.ewa(np.ones((100, 8)), 0.9)                       # row-major: never split
    assert calls == [(8, 100)]


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("bias", [False, True])
def test_row_major_with_nan_past_the_exact_one_correction(beta, bias):
    """Row-major input whose counts drift apart (NaN) and grow past the count from which
    1 − β^t is exactly 1 (the counted pass then leaves the division out): every column equals
    its own 1-D result bit for bit, and pandas to rounding."""
    x = nan_pattern(np.random.default_rng(11), 3000, 23, 0.2)
    got = streamopt.ewa(np.ascontiguousarray(x), beta, bias_correction=bias)
    cols = np.column_stack([streamopt.ewa(x[:, j].copy(), beta, bias_correction=bias) for j in range(x.shape[1])])
    np.testing.assert_array_equal(got, cols)
    if bias:
        want = pd.DataFrame(x).ewm(alpha=1 - beta, adjust=True, ignore_na=True).mean().to_numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)
