"""``EWM.cov`` / ``EWM.corr`` with ``other`` and ``pairwise``, and ``numeric_only``, against pandas 3.x.

pandas aligns ``other`` on the index (the union of both, as ``x + 0 * y`` aligns), a DataFrame with a
DataFrame on the columns too; ``pairwise`` picks every pair of columns or the pairs by name.  Every case
is checked against pandas' own ``obj.ewm(...).cov/corr(...)``: the same type, index, columns and name,
values to 1e-12 with NaN in the same places.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamopt
from conftest import SETTINGS, close


def same_labels(got, want) -> None:
    assert type(got) is type(want)
    assert got.index.equals(want.index) and list(got.index.names) == list(want.index.names)
    if isinstance(want, pd.DataFrame):
        assert got.columns.equals(want.columns) and list(got.columns.names) == list(want.columns.names)
    else:
        assert got.name == want.name


def check(obj, other, kw, stat, **options) -> None:
    want = getattr(obj.ewm(**kw), stat)(other, **options)
    got = getattr(streamopt.ewm(obj, **kw), stat)(other, **options)
    same_labels(got, want)
    close(got.to_numpy(), want.to_numpy())


@st.composite
def pandas_objects(draw, n: int, names: list[str], dates: bool):
    """A Series or DataFrame of ``n`` rows on a drawn index (of dates or of integers): values with NaN,
    columns from ``names``."""
    index = "dates" if dates else draw(st.sampled_from(["range", "shifted", "shuffled"]))
    labels = {"range": pd.RangeIndex(n), "shifted": pd.Index(np.arange(n) + draw(st.integers(-3, 3))),
              "shuffled": pd.Index(draw(st.permutations(list(range(n + 2))))[:n]),
              "dates": pd.date_range("2024-01-01", periods=n, freq="D")
              + pd.Timedelta(days=draw(st.integers(0, 3)))}[index]
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    k = draw(st.integers(1, 3))
    values = rng.normal(size=(n, k)) * rng.choice([1.0, 100.0]) + rng.choice([0.0, 5.0])
    values[rng.random((n, k)) < draw(st.sampled_from([0.0, 0.2, 0.5]))] = np.nan
    if draw(st.booleans()):
        return pd.Series(values[:, 0], index=labels, name=draw(st.sampled_from(["x", "y", None])))
    columns = draw(st.permutations(names))[:k]
    return pd.DataFrame(values, index=labels, columns=pd.Index(columns, name=draw(st.sampled_from([None, "c"]))))


# min_periods >= 2 and com != 1: pandas' unbiased value of one observation (0.0 after a decayed gap, where
# ours is NaN) and its α = ½ form have their own tests in test_ewm.py
params = st.fixed_dictionaries({"com": st.sampled_from([0.5, 1.5, 3.0]), "adjust": st.booleans(),
                                "ignore_na": st.booleans(), "min_periods": st.integers(2, 3)})


@SETTINGS
@given(data=st.data(), kw=params, stat=st.sampled_from(["cov", "corr"]),
       pairwise=st.sampled_from([None, True, False]), bias=st.booleans())
def test_cov_corr_with_other_equal_pandas(data, kw, stat, pairwise, bias):
    n = data.draw(st.integers(4, 12))
    dates = data.draw(st.booleans())
    obj = data.draw(pandas_objects(n, ["a", "b", "c", "d"], dates))
    other = data.draw(st.one_of(st.none(), pandas_objects(data.draw(st.integers(3, 12)), ["b", "a", "e"], dates)))
    options = {"pairwise": pairwise, **({"bias": bias} if stat == "cov" else {})}
    check(obj, other, kw, stat, **options)


@pytest.mark.parametrize("stat", ["cov", "corr"])
def test_the_cases_by_name(stat):
    kw = dict(com=1.5, min_periods=2)
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.normal(size=(8, 3)), columns=["a", "b", "c"], index=pd.RangeIndex(8, name="t"))
    df.iloc[2, 1] = np.nan
    other = pd.DataFrame(rng.normal(size=(6, 2)), columns=["c", "z"], index=pd.RangeIndex(3, 9, name="t"))
    s = pd.Series(rng.normal(size=9), index=pd.RangeIndex(-1, 8), name="s")
    for o, pairwise in [(None, None), (None, False), (None, True), (other, None), (other, True), (other, False),
                        (s, None), (s, True), (df["a"], None), (df, None), (df, True)]:
        check(df, o, kw, stat, pairwise=pairwise)
    for o in (s, df, other):
        check(s, o, kw, stat)  # a Series with a frame: each column with the series, on the frame's rows
    # columns with more levels
    multi = df.copy()
    multi.columns = pd.MultiIndex.from_tuples([("x", 1), ("x", 2), ("y", 1)], names=["p", "q"])
    check(multi, None, kw, stat)


def test_pairwise_false_with_itself_is_each_column_with_itself():
    df = pd.DataFrame({"a": [1.0, 2.0, 4.0, 3.0], "b": [0.0, 1.0, 0.5, 2.0]})
    got = streamopt.ewm(df, alpha=0.4).cov(pairwise=False)
    var = streamopt.ewm(df, alpha=0.4).var()
    np.testing.assert_array_equal(got.to_numpy(), var.to_numpy())
    check(df, None, dict(alpha=0.4), "cov", pairwise=False)


def test_arrays_keep_pairing_by_position():
    x = np.array([[1.0, 2.0], [2.0, 1.0], [4.0, 3.0], [3.0, 5.0]])
    e = streamopt.ewm(x, alpha=0.4)
    cube = e.cov(x[:, :1], pairwise=True)  # every (column, column of other) pair: shape (n, k, k_other)
    assert cube.shape == (4, 2, 1)
    np.testing.assert_array_equal(cube[:, 1, 0], e.cov(x[:, 0])[:, 1])
    np.testing.assert_array_equal(e.cov(pairwise=False), e.var())
    # a pandas obj with an array other: by position (pandas refuses a non-pandas other)
    s = pd.Series(x[:, 0], index=[10, 11, 12, 13])
    close(streamopt.ewm(s, alpha=0.4).cov(x[:, 1]).to_numpy(),
          pd.Series(x[:, 0]).ewm(alpha=0.4).cov(pd.Series(x[:, 1])).to_numpy())


def test_by_and_times_pair_on_obj_s_own_rows():
    s = pd.Series([1.0, 2.0, 4.0, 3.0], index=[3, 1, 2, 0])
    y = pd.Series([2.0, 0.0, 1.0, 5.0], index=[3, 1, 2, 0])
    keyed = streamopt.ewm(s, alpha=0.4, by=["a", "b", "a", "a"])
    got = keyed.cov(y)
    rows = np.array([0, 2, 3])
    want = s.iloc[rows].ewm(alpha=0.4).cov(y.iloc[rows])
    close(got.iloc[rows].to_numpy(), want.to_numpy())
    assert got.index.equals(s.index)


# ------------------------------------------------------------------ numeric_only
FRAME = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [True, False, True, True], "s": list("wxyz"),
                      "i": [1, 5, 2, 2], "d": pd.to_timedelta([1, 2, 3, 4], unit="s"),
                      "o": np.array([1.0, 2.0, 3.0, 4.0], dtype=object)})


@pytest.mark.parametrize("stat", ["mean", "sum", "var", "std", "cov", "corr"])
def test_numeric_only_keeps_the_columns_pandas_keeps(stat):
    kw = dict(com=1.0)
    got = getattr(streamopt.ewm(FRAME, **kw), stat)(numeric_only=True)
    want = getattr(FRAME.ewm(**kw), stat)(numeric_only=True)
    same_labels(got, want)
    close(got.to_numpy(), want.to_numpy())
    numbers = FRAME[["a", "b", "i", "o"]]  # without numeric_only: bool and object numbers count, as in pandas
    got = getattr(streamopt.ewm(numbers, **kw), stat)()
    want = getattr(numbers.ewm(**kw), stat)()
    same_labels(got, want)
    close(got.to_numpy(), want.to_numpy())


def test_numeric_only_errors_as_pandas():
    e = streamopt.ewm(FRAME, com=1.0)
    with pytest.raises(TypeError, match=r"obj\['s'\] must hold real numbers.*numeric_only=True"):
        e.mean()
    with pytest.raises(NotImplementedError, match="EWM.std does not implement numeric_only=True for a Series"):
        streamopt.ewm(pd.Series([1.0, 2.0], dtype=object), com=1.0).std(numeric_only=True)
    with pytest.raises(NotImplementedError):  # pandas' own behaviour, for the record
        pd.Series([1.0, 2.0], dtype=object).ewm(com=1.0).std(numeric_only=True)
    with pytest.raises(TypeError, match="numeric_only must be True or False, got 'yes'"):
        streamopt.ewm(FRAME[["a"]], com=1.0).var(numeric_only="yes")


def test_numeric_only_with_by_and_times_columns():
    df = FRAME.assign(k=["p", "q", "p", "q"], t=pd.date_range("2024", periods=4, freq="h"))
    got = streamopt.ewm(df, halflife="2h", times="t", by="k").mean(numeric_only=True)
    assert list(got.columns) == ["a", "i"]
    for column in ("a", "i"):
        want = streamopt.ewm(df[column].astype(float), halflife="2h", times=df["t"], by=df["k"]).mean()
        np.testing.assert_array_equal(got[column].to_numpy(), want.to_numpy())


def test_the_accessor_forwards_every_parameter():
    df = FRAME.assign(k=["p", "q", "p", "q"], t=pd.date_range("2024", periods=4, freq="h"))
    via = df.streamopt.ewm(halflife="2h", times="t", by="k", min_periods=2, adjust=False, ignore_na=True)
    direct = streamopt.ewm(df, halflife="2h", times="t", by="k", min_periods=2, adjust=False, ignore_na=True)
    for stat in ("mean", "var", "std"):
        pd.testing.assert_frame_equal(getattr(via, stat)(numeric_only=True), getattr(direct, stat)(numeric_only=True))
    pd.testing.assert_frame_equal(via.cov(pairwise=True, bias=True, numeric_only=True),
                                  direct.cov(pairwise=True, bias=True, numeric_only=True))
    x = df["a"]
    pd.testing.assert_series_equal(x.streamopt.ewm(alpha=0.3, axis=0).corr(df["i"]),
                                   streamopt.ewm(x, alpha=0.3).corr(df["i"]))
