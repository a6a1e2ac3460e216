"""Missing values and the input forms found by trying the API as a new user would: ±inf is missing
(pandas' rule), a masked array's mask is honoured, DataFrames convert column by column, an empty
object Series is empty float64, a bad column is named, subnormal data is documented."""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np
import pandas as pd
import pytest

import streamopt
from streamopt import EWA

INF = np.inf


def pandas_mean(x, beta):
    return pd.DataFrame(x).ewm(alpha=1 - beta, adjust=True, ignore_na=True).mean().to_numpy().reshape(np.shape(x))


# ------------------------------------------------------------------ ±inf
def test_inf_is_missing_as_in_pandas():
    got = streamopt.ewa([1.0, INF, 2.0, 3.0], 0.5, bias_correction=True)
    np.testing.assert_allclose(got, [1.0, 1.0, 5 / 3, 17 / 7], rtol=1e-15)
    np.testing.assert_allclose(got, pandas_mean([1.0, INF, 2.0, 3.0], 0.5), rtol=1e-15)
    neg = streamopt.ewa([-INF, 1.0, -INF, 2.0], 0.5, bias_correction=True)
    np.testing.assert_allclose(neg, [np.nan, 1.0, 1.0, 5 / 3], rtol=1e-15)
    # uncorrected: V is left as it is
    np.testing.assert_array_equal(streamopt.ewa([1.0, INF, -INF], 0.5), [0.5, 0.5, 0.5])


def test_inf_poisons_like_nan_without_skipna():
    for bad in (INF, -INF, np.nan):
        got = streamopt.ewa([1.0, bad, 2.0, 3.0], 0.5, bias_correction=True, skipna=False)
        np.testing.assert_array_equal(got, [1.0, np.nan, np.nan, np.nan])
        var = streamopt.ewvar([1.0, 2.0, bad, 3.0], 0.5, skipna=False)
        assert np.isnan(var[2:]).all() and var[1] == var[1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_inf_in_every_layout_and_the_stream_equals_nan(dtype, order):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 9)).astype(dtype)
    x[rng.random(x.shape) < 0.05] = INF
    x[rng.random(x.shape) < 0.05] = -INF
    x[rng.random(x.shape) < 0.05] = np.nan
    as_nan = np.where(np.isfinite(x), x, np.nan).astype(dtype)
    for bias in (False, True):
        for skipna in (False, True):
            want = streamopt.ewa(as_nan, 0.9, bias_correction=bias, skipna=skipna)
            got = streamopt.ewa(np.asarray(x, order=order), 0.9, bias_correction=bias, skipna=skipna)
            np.testing.assert_array_equal(got, want)
            s = EWA(0.9, bias_correction=bias, skipna=skipna)
            parts = [s.update(np.asarray(x[a:b], order=order)) for a, b in ((0, 1), (1, 150), (150, 300))]
            np.testing.assert_array_equal(np.concatenate(parts), want)
            one = EWA(0.9, bias_correction=bias, skipna=skipna)
            col = [one.update(float(v)) if dtype == "float64" else one.update(np.array([v]))[0] for v in x[:, 2]]
            np.testing.assert_array_equal(np.array(col, dtype), want[:, 2])
    if dtype == "float64":
        np.testing.assert_allclose(streamopt.ewa(x, 0.9, bias_correction=True), pandas_mean(x, 0.9), rtol=1e-12)


def test_inf_in_variance_accessor_and_pandas():
    x = pd.Series([1.0, -INF, 2.0, INF, 3.0, 5.0])
    want = x.ewm(alpha=0.5, adjust=True, ignore_na=True).var()
    pd.testing.assert_series_equal(streamopt.ewvar(x, 0.5), want, rtol=1e-12)
    pd.testing.assert_series_equal(x.streamopt.ewstd(0.5), np.sqrt(want), rtol=1e-12)
    pd.testing.assert_series_equal(x.streamopt.ewa(0.5, bias_correction=True),
                                   x.ewm(alpha=0.5, adjust=True, ignore_na=True).mean(), rtol=1e-12)


# ---------------------------------------------------------- masked arrays
def test_masked_values_are_missing_and_the_input_is_untouched():
    m = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    got = streamopt.ewa(m, 0.5)
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, streamopt.ewa([1.0, np.nan, 3.0], 0.5))
    np.testing.assert_array_equal(got, [0.5, 0.5, 1.75])
    np.testing.assert_array_equal(m.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(m.mask, [False, True, False])
    ints = np.ma.masked_array([[1, 5], [2, 6], [3, 7]], mask=[[0, 0], [1, 0], [0, 1]])
    want = np.array([[1, 5], [np.nan, 6], [3, np.nan]])
    for f in (streamopt.ewvar, streamopt.ewstd):
        np.testing.assert_array_equal(f(ints, 0.5), f(want, 0.5))
    np.testing.assert_array_equal(streamopt.ewa(ints, 0.5, axis=0), streamopt.ewa(want, 0.5))
    s = EWA(0.5)
    np.testing.assert_array_equal(s.update(ints), streamopt.ewa(want, 0.5))
    one = EWA(0.5)
    np.testing.assert_array_equal(one.update(m), got)
    unmasked = np.ma.masked_array([1.0, 2.0])  # no mask at all: the data as it is
    np.testing.assert_array_equal(streamopt.ewa(unmasked, 0.5), streamopt.ewa([1.0, 2.0], 0.5))


# ------------------------------------------------------- pandas dtypes
@pytest.mark.parametrize("other", [np.array([1, 2, 3]), np.array([1.5, 2.5, 3.5], np.float32)])
def test_dataframe_with_a_bool_column_converts_per_column(other):
    df = pd.DataFrame({"b": [True, False, True], "o": other})
    want = np.column_stack([streamopt.ewa(np.array([1.0, 0.0, 1.0]), 0.5),
                            streamopt.ewa(other.astype(np.float64), 0.5)])
    got = streamopt.ewa(df, 0.5)
    assert got.dtypes.tolist() == [np.float64, np.float64]
    np.testing.assert_array_equal(got.to_numpy(), want)
    pd.testing.assert_frame_equal(df.streamopt.ewa(0.5), got)
    np.testing.assert_array_equal(EWA(0.5).update(df).to_numpy(), want)
    pd.testing.assert_frame_equal(streamopt.ewvar(df, 0.5),
                                  df.astype(float).ewm(alpha=0.5, adjust=True, ignore_na=True).var())
    f32 = pd.DataFrame({"a": np.float32([1, 2]), "b": np.float32([3, 4])})
    assert streamopt.ewa(f32, 0.5).dtypes.tolist() == [np.float32, np.float32]


def test_empty_object_series_and_frame_give_empty_float64():
    for empty in (pd.Series([], dtype=object), pd.DataFrame({"a": pd.Series([], dtype=object)})):
        for f in (streamopt.ewa, streamopt.ewvar, streamopt.ewstd):
            got = f(empty, 0.5)
            assert type(got) is type(empty) and len(got) == 0
            assert (got.dtypes == np.float64).all() if isinstance(got, pd.DataFrame) else got.dtype == np.float64
    with pytest.raises(TypeError, match="object"):
        streamopt.ewa(pd.Series([1.0, "a"], dtype=object), 0.5)


def test_a_bad_column_is_named():
    df = pd.DataFrame({"a": [1.0, 2.0], "name": ["x", "y"]})
    for call in (lambda: streamopt.ewa(df, 0.5), lambda: df.streamopt.ewvar(0.5), lambda: EWA(0.5).update(df)):
        with pytest.raises(TypeError, match=r"\['name'\] must hold real numbers"):
            call()


# ------------------------------------------------------------- subnormal
def test_subnormal_data_stays_finite_and_close_to_pandas():
    """V is unnormalised (it starts at 0): on subnormal data it carries an absolute error of about
    2^-1074 per step (documented in ewa's Notes); pandas keeps the mean itself."""
    x = [5e-324, 5e-324, 1e-310]
    got = streamopt.ewa(x, 0.5, bias_correction=True)
    want = pd.Series(x).ewm(alpha=0.5, adjust=True, ignore_na=True).mean().to_numpy()
    assert np.isfinite(got).all() and (got >= 0).all()
    np.testing.assert_allclose(got, want, rtol=0, atol=4 * 5e-324)
    assert got[2] == pytest.approx(want[2], rel=1e-12)


# ------------------------------------------------------------- namespace
def test_streamopt_namespace_holds_public_names_and_submodules_only():
    public = {"EWA", "ewa", "ewvar", "EWM", "ewm", "EWMStream", "ewstd", "horizon", "beta_from", "FlatParams", "SGD", "Momentum", "RMSprop",
              "Adam", "schedules", "csv_batches", "epochs", "minibatches", "MLP", "History", "TrainingDiverged",
              "train", "datasets"}
    for name in dir(streamopt):
        if name.startswith("__"):
            continue
        obj = getattr(streamopt, name)
        is_submodule = getattr(obj, "__name__", "").startswith("streamopt.") and \
            importlib.util.find_spec(obj.__name__) is not None if hasattr(obj, "__spec__") else False
        assert name in public or is_submodule, name
    assert "annotations" not in dir(streamopt)
    assert public <= set(dir(streamopt))
