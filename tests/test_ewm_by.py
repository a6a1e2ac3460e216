"""``streamopt.ewm(..., by=keys)``: each key's rows are their own series, in row order, output aligned to
the input rows; equal to pandas' ``groupby(keys).ewm(...)`` re-aligned to the original rows (and, where
pandas raises or is wrong with times, to the direct weighted sums key by key); bad keys get clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamopt
from conftest import close
from test_ewm import DECAYS, pattern
from test_ewm_times import make, oracle

N = 36


def layout(name: str, x: np.ndarray) -> np.ndarray:
    """Keys (one per row) in a named arrangement."""
    n = len(x)
    if name == "interleaved":
        return np.array(["a", "b", "c"] * (n // 3 + 1))[:n]
    if name == "one":
        return np.full(n, "z")
    if name == "many":
        return np.random.default_rng(3).integers(0, 15, size=n)
    if name == "nan_only":  # key 7 owns exactly the missing rows, key 1 the others
        return np.where(np.isfinite(x), 1, 7)
    if name == "late":  # key 0 alone for a while, then keys 1 and 2 appear
        keys = np.zeros(n, dtype=np.int64)
        keys[20:] = np.arange(n - 20) % 3
        return keys
    raise AssertionError(name)


LAYOUTS = ["interleaved", "one", "many", "nan_only", "late"]
STATS = ["mean", "sum", "var", "var_b", "std", "std_b"]


def call(e, stat: str):
    return {"mean": e.mean, "sum": e.sum, "var": e.var, "var_b": lambda: e.var(bias=True), "std": e.std,
            "std_b": lambda: e.std(bias=True)}[stat]()


def realign(grouped, index):
    """pandas' groupby result (key, original index, …) back on the original rows."""
    return grouped.droplevel(0).reindex(index)


def first_observations(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """True where a row holds its key's first observation (in its column): pandas' unbiased var/std there is
    sometimes 0 where the unbiased variance of one value is undefined (tests/test_ewm.py,
    one_observation_nan); compared as NaN."""
    frame = pd.DataFrame(np.isfinite(values).astype(int))
    return (frame.groupby(keys).cumsum().to_numpy() == 1)


@pytest.mark.parametrize("decay", DECAYS, ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()))
@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("ignore_na", [False, True])
@pytest.mark.parametrize("min_periods", [0, 3])
@pytest.mark.parametrize("keys", LAYOUTS)
def test_grid_equals_pandas_groupby(decay, adjust, ignore_na, min_periods, keys):
    kw = dict(decay, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
    x = pattern("runs", n=N)
    by = layout(keys, x)
    df = pd.DataFrame({"a": x, "b": pattern("leading", n=N, seed=2), "c": pattern("inf", n=N, seed=3)},
                      index=pd.RangeIndex(50, 50 + N))
    s = df["a"].rename("v")
    for obj in (s, df):
        for stat in STATS:
            if stat == "sum" and not adjust:
                continue
            got = call(streamopt.ewm(obj, by=by, **kw), stat)
            want = realign(call(obj.groupby(by).ewm(**kw), stat), obj.index)
            assert type(got) is type(want) and got.index.equals(obj.index), stat
            want = want.to_numpy()
            if stat in ("var", "std"):
                values = obj.to_numpy(dtype=float).reshape(N, -1)
                want = np.where(first_observations(values, by).reshape(want.shape), np.nan, want)
            close(got.to_numpy(), want, rtol=1e-12)


def test_key_column_is_left_out_and_rows_keep_their_order():
    df = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0], "k": list("abab" "ba"), "y": [3.0, 1, 2, 5, 2, 1]},
                      index=[10, 13, 11, 15, 12, 14])
    got = streamopt.ewm(df, alpha=0.3, by="k").mean()
    assert list(got.columns) == ["x", "y"] and got.index.equals(df.index)
    want = realign(df.groupby("k").ewm(alpha=0.3).mean(), df.index)
    close(got.to_numpy(), want.to_numpy())
    # key "a" (rows 0, 2, 5): 1, missing, then 6 two rows of decay later
    b2 = 0.7 ** 2
    assert got["x"].iloc[5] == pytest.approx((b2 * 1.0 + 6.0) / (b2 + 1.0), rel=1e-15)


def test_arrays_and_keys_of_any_hashable_type():
    x = pattern("runs", n=N)
    keys = layout("interleaved", x)
    want = realign(pd.Series(x).groupby(keys).ewm(span=5).var(), pd.RangeIndex(N)).to_numpy()
    for by in (keys, list(keys), pd.Series(keys), pd.Categorical(keys), pd.Index(keys)):
        close(streamopt.ewm(x, span=5, by=by).var(), want)
    two_d = np.stack([x, x[::-1]], axis=1)
    got = streamopt.ewm(two_d, span=5, by=keys).var()
    close(got[:, 0], want)
    close(streamopt.ewm(two_d.T, span=5, by=keys, axis=1).var()[0], want)
    mixed = np.array(["a", 1, 2.5, ("t", 1)] * (N // 4), dtype=object)  # pandas factorizes these as distinct keys
    codes = pd.factorize(mixed)[0]
    close(streamopt.ewm(x, span=5, by=mixed).mean(), streamopt.ewm(x, span=5, by=codes).mean(), rtol=0)
    for code in range(4):
        rows = codes == code
        close(streamopt.ewm(x, span=5, by=mixed).mean()[rows], pd.Series(x[rows]).ewm(span=5).mean().to_numpy())


def test_missing_keys_are_dropped_as_groupby_does():
    x = pattern("none", n=12)
    keys = pd.Series(["a", "b", None, "a", np.nan, "b", "a", "b", "a", None, "b", "a"])
    got = streamopt.ewm(pd.Series(x), alpha=0.4, by=keys).std()
    want = realign(pd.Series(x).groupby(keys, dropna=True).ewm(alpha=0.4).std(), pd.RangeIndex(12))
    close(got.to_numpy(), want.to_numpy())
    assert np.isnan(got.to_numpy()[[2, 4, 9]]).all()
    close(streamopt.ewm(x, alpha=0.4, by=[np.nan] * 12).mean(), np.full(12, np.nan))


@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("ignore_na", [False, True])
@pytest.mark.parametrize("keys", ["interleaved", "many", "late"])
def test_cov_corr_equal_pandas_key_by_key(adjust, ignore_na, keys):
    kw = dict(com=1.5, adjust=adjust, ignore_na=ignore_na, min_periods=2)
    x = pd.Series(pattern("runs", n=N), name="x")
    y = pd.Series(pattern("inf", n=N, seed=5) * -2.0 + 0.5 * pattern("none", n=N), name="y")
    by = layout(keys, x.to_numpy())
    df = pd.DataFrame({"a": x, "b": y, "c": pattern("trailing", n=N, seed=7)})
    e = streamopt.ewm(x, by=by, **kw)
    got = {"cov": e.cov(y), "cov_b": e.cov(y, bias=True), "corr": e.corr(y)}
    for code in np.unique(by):  # pandas' groupby().ewm().cov(other) does not split other: key by key
        rows = by == code
        px = x[rows].ewm(**kw)
        want = {"cov": px.cov(y[rows]), "cov_b": px.cov(y[rows], bias=True), "corr": px.corr(y[rows])}
        for stat in got:
            close(got[stat][rows].to_numpy(), want[stat].to_numpy())
    for stat in ("cov", "corr"):
        got = getattr(streamopt.ewm(df, by=by, **kw), stat)()
        want = getattr(df.groupby(by).ewm(**kw), stat)().droplevel(0).reindex(got.index)
        assert got.index.equals(df.ewm(**kw).cov().index) and got.columns.equals(want.columns)
        close(got.to_numpy(), want.to_numpy())


def keyed_times(seed: int, n: int, nkeys: int):
    """(x, keys, times): each key's times non-decreasing, the keys' clocks interleaved out of order."""
    x, _ = make(seed, n, 0.25)
    rng = np.random.default_rng(seed + 100)
    keys = rng.integers(0, nkeys, size=n)
    times = np.empty(n, dtype="datetime64[ns]")
    for k in range(nkeys):
        rows = keys == k
        start = np.datetime64("2024-03-01") + rng.integers(0, 10) * np.timedelta64(1, "D")
        times[rows] = start + np.cumsum(rng.integers(0, 5, size=rows.sum()) * np.timedelta64(6, "h"))
    return x, keys, pd.DatetimeIndex(times)


@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("min_periods", [0, 3])
@pytest.mark.parametrize("nkeys", [1, 4, 30])
def test_times_mean_equals_pandas_groupby(adjust, min_periods, nkeys):
    x, keys, times = keyed_times(nkeys, 60, nkeys)
    kw = dict(halflife="1D", times=times, adjust=adjust, min_periods=min_periods)
    s = pd.Series(x, name="s")
    want = realign(s.groupby(keys).ewm(**kw).mean(), s.index)
    close(streamopt.ewm(s, by=keys, **kw).mean(), want)
    df = pd.DataFrame({"v": x, "t": times, "k": keys})
    got = streamopt.ewm(df, halflife="1D", times="t", by="k", adjust=adjust, min_periods=min_periods).mean()
    assert list(got.columns) == ["v"]
    close(got["v"], want.rename("v"))


@pytest.mark.parametrize("stat", ["mean", "sum", "var", "var_b", "std", "cov", "cov_b", "corr"])
@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("ignore_na", [False, True])
def test_times_every_statistic_equals_the_direct_sum_key_by_key(stat, adjust, ignore_na):
    if stat == "sum" and not adjust:
        return
    x, keys, times = keyed_times(7, 80, 5)
    y, _, _ = keyed_times(8, 80, 5)
    kw = dict(halflife="1D", times=times, adjust=adjust, ignore_na=ignore_na, min_periods=2, by=keys)
    e = streamopt.ewm(x, **kw)
    got = {"mean": e.mean, "sum": e.sum, "var": e.var, "var_b": lambda: e.var(bias=True), "std": e.std,
           "cov": lambda: e.cov(y), "cov_b": lambda: e.cov(y, bias=True), "corr": lambda: e.corr(y)}[stat]()
    pair = stat in ("cov", "cov_b", "corr")
    hl = pd.Timedelta("1D") / pd.Timedelta(1, unit=times.unit)
    for k in np.unique(keys):
        rows = keys == k
        ticks = times.asi8[rows].astype(float)
        want = oracle(x[rows], ticks, hl, adjust, ignore_na, stat, 2, y[rows] if pair else None)
        mine = got[rows]
        if stat == "corr":  # cov / √(var·var): noise where a variance is ~0
            vx = oracle(x[rows], ticks, hl, adjust, ignore_na, "var_b", 2, y[rows])
            ok = ~(np.abs(vx) < 1e-12)
            mine, want = mine[ok], want[ok]
        close(mine, want, rtol=1e-10, atol=1e-12)


def test_one_key_is_the_ungrouped_result_bit_for_bit():
    x, times = make(4, 50, 0.3)
    for kw in (dict(alpha=0.2), dict(halflife="1D", times=times), dict(span=3, adjust=False, ignore_na=True)):
        plain, keyed = streamopt.ewm(x, **kw), streamopt.ewm(x, by=np.zeros(50, dtype=int), **kw)
        for stat in ("mean", "var", "std"):
            np.testing.assert_array_equal(getattr(keyed, stat)(), getattr(plain, stat)())
        np.testing.assert_array_equal(keyed.corr(x[::-1]), plain.corr(x[::-1]))


X = np.array([1.0, 2.0, 3.0, 4.0])
T = pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-03", "2024-01-02"])


@pytest.mark.parametrize("obj, kwargs, error, match", [
    (X, dict(by=[1, 2, 3]), ValueError, r"by must have one key per row \(4\), got 3"),
    (X, dict(by="k"), TypeError, "by must be an array of keys .* got 'k'"),
    (X, dict(by=5), TypeError, "by must be an array of keys .* got 5"),
    (X, dict(by=[[1], [2], [1], [2]]), ValueError, r"by must be 1-D \(one key per row\), got shape \(4, 1\)"),
    (X, dict(by=np.array([[1], [2], [1], [2]] + [None], dtype=object)[:4]), TypeError,
     "by must hold hashable keys, got .*unhashable type: 'list'"),
    (pd.DataFrame({"x": X}), dict(by="zz"), ValueError,
     "by must be an array of keys or the name of a column of the DataFrame, got 'zz'"),
    (pd.Series(X), dict(by="x"), TypeError, "by must be an array of keys .* got 'x'"),
    (X, dict(by=[0, 0, 0, 0], halflife="1D", times=T), ValueError,
     "times must be non-decreasing within each key of by, got 2024-01-01 00:00:00 at position 1 "
     r"after 2024-01-02 00:00:00 \(key 0\)"),
    (X, dict(by=["a", "b", "a", "a"], halflife="1D", times=T), ValueError,
     "times must be non-decreasing within each key of by, got 2024-01-02 00:00:00 at position 3 "
     r"after 2024-01-03 00:00:00 \(key 'a'\)"),
    (X, dict(by=["a", "b", "a", "b"], halflife="1D", times=T.insert(4, pd.NaT)[[0, 1, 4, 3]]), ValueError,
     "times must not hold NaT, got NaT at position 2"),
])
def test_bad_keys_name_by_and_the_value(obj, kwargs, error, match):
    kwargs.setdefault("alpha", None if "times" in kwargs else 0.5)
    with pytest.raises(error, match=match):
        streamopt.ewm(obj, **kwargs).mean()


def test_times_sorted_per_key_only_are_accepted():
    got = streamopt.ewm(X, halflife="1D", times=T, by=["a", "b", "a", "b"]).mean()
    want = realign(pd.Series(X).groupby(np.array(["a", "b", "a", "b"])).ewm(halflife="1D", times=T).mean(),
                   pd.RangeIndex(4))
    close(got, want.to_numpy())


def test_input_never_mutated():
    df = pd.DataFrame({"x": pattern("runs", n=N), "k": layout("many", pattern("none", n=N))})
    keys = layout("interleaved", df["x"].to_numpy())
    df_copy, keys_copy = df.copy(), keys.copy()
    streamopt.ewm(df, alpha=0.3, by="k").var()
    streamopt.ewm(df["x"], alpha=0.3, by=keys).corr(df["x"][::-1].reset_index(drop=True))
    pd.testing.assert_frame_equal(df, df_copy)
    np.testing.assert_array_equal(keys, keys_copy)
