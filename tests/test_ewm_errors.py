"""``streamopt.ewm``: bad input gets a clear error naming the parameter and the value; nothing is mutated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamopt

TIMES = pd.date_range("2024-01-01", periods=4, freq="D")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(), ValueError, "exactly one of com, span, halflife, alpha must be given, got none"),
    (dict(com=1, span=3), ValueError, "exactly one of com, span, halflife, alpha must be given, got span, com"),
    (dict(com=-1), ValueError, "com must be >= 0, got -1"),
    (dict(span=0.5), ValueError, "span must be >= 1, got 0.5"),
    (dict(alpha=0.0), ValueError, r"alpha must be in \(0, 1\], got 0.0"),
    (dict(alpha=1.5), ValueError, r"alpha must be in \(0, 1\], got 1.5"),
    (dict(halflife=0), ValueError, "halflife must be > 0, got 0"),
    (dict(alpha="x"), TypeError, "alpha must be a real number, got 'x'"),
    (dict(alpha=0.5, min_periods=-1), ValueError, "min_periods must be >= 0, got -1"),
    (dict(alpha=0.5, min_periods=1.5), TypeError, "min_periods must be an integer, got 1.5"),
    (dict(alpha=0.5, adjust="yes"), TypeError, "adjust must be True or False, got 'yes'"),
    (dict(alpha=0.5, ignore_na=1), TypeError, "ignore_na must be True or False, got 1"),
    (dict(alpha=0.5, axis=1), ValueError, "axis must be 0 for a Series"),
    (dict(halflife="2D"), ValueError, r"halflife may be a time span \('2D'\) only with times="),
    (dict(halflife=np.timedelta64(2, "D")), ValueError, "halflife may be a time span .* only with times="),
    (dict(halflife=2.0, times=TIMES), ValueError,
     "halflife must be a time span such as '2D' when times is given, got 2.0"),
    (dict(times=TIMES), ValueError, "halflife must be given .* when times is given, got None"),
    (dict(halflife="2D", com=1.0, times=TIMES), ValueError, "with times give the decay as halflife .*got com=1.0"),
    (dict(halflife="bogus", times=TIMES), ValueError, "halflife must be a time span such as '2D', got 'bogus'"),
    (dict(halflife="-1D", times=TIMES), ValueError, "halflife must be a positive time span, got '-1D'"),
    (dict(halflife="1D", times=TIMES[:3]), ValueError, r"times must have one entry per row \(4\), got 3"),
    (dict(halflife="1D", times=[1, 2, 3, 4]), TypeError, "times must have a datetime64 dtype"),
    (dict(halflife="1D", times="t"), ValueError, "times must be a datetime array or the name of a column"),
])
def test_bad_parameters_name_themselves(kwargs, error, match):
    s = pd.Series([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(error, match=match):
        streamopt.ewm(s, **kwargs).mean()


def test_unsorted_times_and_nat_name_the_first_position():
    s = pd.Series([1.0, 2.0, 3.0, 4.0])
    times = pd.DatetimeIndex(["2024-01-01", "2024-01-03", "2024-01-02", "2024-01-01"])
    with pytest.raises(ValueError, match="times must be non-decreasing, got 2024-01-02 00:00:00 at position 2"):
        streamopt.ewm(s, halflife="1D", times=times)
    nat = pd.DatetimeIndex(["2024-01-01", "NaT", "2024-01-02", "NaT"])
    with pytest.raises(ValueError, match="times must not hold NaT, got NaT at position 1"):
        streamopt.ewm(s, halflife="1D", times=nat)
    df = pd.DataFrame({"x": s, "t": times})
    before = df.copy()
    with pytest.raises(ValueError, match="position 2"):
        streamopt.ewm(df, halflife="1D", times="t")
    pd.testing.assert_frame_equal(df, before)  # never reordered


def test_bad_data_names_the_column():
    e = streamopt.ewm(pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]}), com=1)  # as pandas: each statistic refuses it
    for stat in ("mean", "sum", "var", "std", "cov", "corr"):
        with pytest.raises(TypeError, match=r"obj\['s'\] must hold real numbers.*numeric_only=True"):
            getattr(e, stat)()
    with pytest.raises(TypeError, match="obj must hold real numbers"):
        streamopt.ewm(pd.Series(["x", "y"], dtype=object), com=1)
    with pytest.raises(TypeError, match="obj must hold real numbers"):
        streamopt.ewm(np.array([1 + 1j]), com=1)
    with pytest.raises(TypeError, match="obj must be a Series, DataFrame or array of real numbers, got 'abc'"):
        streamopt.ewm("abc", com=1)
    with pytest.raises(ValueError, match=r"obj must be 1-D or 2-D, got 3-D input of shape \(2, 2, 2\)"):
        streamopt.ewm(np.zeros((2, 2, 2)), com=1)
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 2\) for 2-D input, got 2"):
        streamopt.ewm(np.zeros((2, 2)), com=1, axis=2)


def test_bad_other_and_bias():
    s = pd.Series([1.0, 2.0, 3.0])
    e = streamopt.ewm(s, com=1)
    with pytest.raises(ValueError, match=r"other must have 3 rows \(one per row of obj\), got 4"):
        e.cov(np.array([1.0, 2.0, 3.0, 4.0]))  # an array is paired by position (pandas objects are aligned)
    keyed = streamopt.ewm(s, com=1, by=["a", "b", "a"])
    with pytest.raises(ValueError, match="other must have obj's index when by or times is given"):
        keyed.corr(pd.Series([1.0, 2.0, 3.0], index=[5, 6, 7]))
    with pytest.raises(ValueError, match="other must have obj's index when by or times is given"):
        keyed.cov(pd.Series([1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(ValueError, match=r"obj's columns must be unique .*pairwise=False.*\['a', 'a'\]"):
        streamopt.ewm(pd.DataFrame([[1.0, 2.0]] * 3, columns=["a", "a"]), com=1).cov(pd.DataFrame({"a": s}))
    with pytest.raises(TypeError, match="pairwise must be True or False, got 'yes'"):
        e.cov(s, pairwise="yes")
    with pytest.raises(TypeError, match="numeric_only must be True or False, got 1"):
        e.mean(numeric_only=1)
    with pytest.raises(ValueError, match="other must have 1 or 2 series, got 3"):
        streamopt.ewm(np.zeros((3, 2)), com=1).cov(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="bias must be True or False, got 'no'"):
        e.var(bias="no")
    with pytest.raises(NotImplementedError, match="sum is defined for adjust=True only"):
        streamopt.ewm(s, com=1, adjust=False).sum()
