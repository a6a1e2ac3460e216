"""``streamopt.ewm(..., times=, halflife=<time span>)``: the mean equals pandas; every statistic equals a
direct weighted sum written from the formula (the weight of observation i at time t is
0.5^((t − t_i)/halflife)), including where pandas raises or shortens a gap (pandas issue 54604)."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import streamopt
from conftest import SETTINGS, close

DAY = np.timedelta64(1, "D")


def weights_at(t: int, x: np.ndarray, ticks: np.ndarray, hl: float, adjust: bool, mean: bool,
               ignore_na: bool) -> tuple[np.ndarray, np.ndarray]:
    """(rows, weights) of the observations up to row t, from the formula.

    adjust=True: 0.5^((T − t_i)/hl) with T the time of row t (the time of the last observation
    for a missing row with ignore_na, whose row is ignored; the mean and variance are
    scale-free, so only the sum sees T).  adjust=False: at each observation the past is
    decayed by f = 0.5^(gap/hl) and the new value weighs 1 − f (mean) or, normalised, ½
    (variance, pandas' α = ½ for a halflife).
    """
    obs = [i for i in range(t + 1) if np.isfinite(x[i])]
    if not obs:
        return np.array([], int), np.array([])
    if adjust:
        end = ticks[t] if not (ignore_na and not np.isfinite(x[t])) else ticks[obs[-1]]
        return np.array(obs), np.array([0.5 ** ((end - ticks[i]) / hl) for i in obs])
    w = [1.0]
    for prev, i in zip(obs, obs[1:]):
        f = 0.5 ** ((ticks[i] - ticks[prev]) / hl)
        if mean:
            w = [v * f for v in w] + [1.0 - f]
        else:
            w = [v * f for v in w] + [0.5]
            total = sum(w)
            w = [v / total for v in w]
    return np.array(obs), np.array(w)


def oracle(x: np.ndarray, ticks: np.ndarray, hl: float, adjust: bool, ignore_na: bool, stat: str,
           min_periods: int = 1, y: np.ndarray | None = None) -> np.ndarray:
    """The statistic at every row by the direct weighted sums (O(n²))."""
    pair = y is not None
    both = x if not pair else np.where(np.isfinite(y), x, np.nan)
    yy = None if not pair else np.where(np.isfinite(x), y, np.nan)
    out = np.full(len(x), np.nan)
    for t in range(len(x)):
        rows, w = weights_at(t, both, ticks, hl, adjust, stat == "mean", ignore_na)
        if len(rows) < max(min_periods, 1):
            continue
        xs = both[rows]
        ys = xs if not pair else yy[rows]
        sw = w.sum()
        if stat == "mean":
            out[t] = (w * xs).sum() / sw
        elif stat == "sum":
            out[t] = (w * xs).sum()
        else:
            mx, my = (w * xs).sum() / sw, (w * ys).sum() / sw
            cov = (w * (xs - mx) * (ys - my)).sum() / sw
            vx = (w * (xs - mx) ** 2).sum() / sw
            vy = (w * (ys - my) ** 2).sum() / sw
            # (Σw)² − Σw² as 2·Σ_{i<j} w_i·w_j: positive terms, no cancellation when one weight dominates
            unbias = sw * sw / (2.0 * np.triu(np.outer(w, w), 1).sum()) if len(rows) > 1 else np.nan
            out[t] = {"var_b": vx, "var": vx * unbias, "std": np.sqrt(vx * unbias), "cov": cov * unbias,
                      "cov_b": cov, "corr": cov / np.sqrt(vx * vy) if vx * vy > 0 else np.nan}[stat]
    return out


def make(seed: int, n: int, nan_fraction: float):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 2.0 + 1.0
    x[rng.random(n) < nan_fraction] = np.nan
    steps = rng.integers(0, 5, size=n) * np.timedelta64(6, "h")  # repeated times included
    times = np.datetime64("2024-03-01T00:00:00") + np.cumsum(steps)
    return x, pd.DatetimeIndex(times)


def test_pandas_issue_54604():
    times = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-05"])
    s = pd.Series([1.0, np.nan, 5.0])
    got = streamopt.ewm(s, halflife="2D", times=times, ignore_na=True).mean()
    w1 = 0.5 ** (4 / 2)
    assert got.iloc[-1] == pytest.approx((w1 * 1.0 + 5.0) / (w1 + 1.0), rel=1e-15) == pytest.approx(4.2)
    assert s.ewm(halflife="2D", times=times, ignore_na=True).mean().iloc[-1] == pytest.approx(3.955, abs=1e-3)
    close(got, streamopt.ewm(s, halflife="2D", times=times, ignore_na=False).mean())


@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("min_periods", [0, 3])
@pytest.mark.parametrize("halflife", ["1D", pd.Timedelta(hours=30), np.timedelta64(2, "D"),
                                      datetime.timedelta(hours=7)], ids=str)
def test_mean_equals_pandas(adjust, min_periods, halflife):
    x, times = make(1, 60, 0.25)
    s = pd.Series(x, name="s")
    kw = dict(halflife=halflife, times=times, adjust=adjust, min_periods=min_periods)
    close(streamopt.ewm(s, **kw).mean(), s.ewm(**kw).mean())
    clean = pd.Series(np.nan_to_num(x))
    close(streamopt.ewm(clean, ignore_na=True, **kw).mean(), clean.ewm(ignore_na=True, **kw).mean())
    df = pd.DataFrame({"a": x, "b": x[::-1], "t": times})
    got = streamopt.ewm(df, halflife=halflife, times="t", adjust=adjust, min_periods=min_periods).mean()
    assert list(got.columns) == ["a", "b"]
    close(got.to_numpy(), df[["a", "b"]].ewm(**kw).mean().to_numpy())
    close(streamopt.ewm(x, **kw).mean(), s.ewm(**kw).mean().to_numpy())
    close(streamopt.ewm(s, halflife=halflife, times=times.to_numpy(), adjust=adjust,
                        min_periods=min_periods).mean(), s.ewm(**kw).mean())


STATS = ["mean", "sum", "var", "var_b", "std", "cov", "cov_b", "corr"]


def ours(x, y, kw, stat):
    e = streamopt.ewm(x, **kw)
    return {"mean": e.mean, "sum": e.sum, "var": e.var, "var_b": lambda: e.var(bias=True), "std": e.std,
            "cov": lambda: e.cov(y), "cov_b": lambda: e.cov(y, bias=True), "corr": lambda: e.corr(y)}[stat]()


@pytest.mark.parametrize("stat", STATS)
@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.floats(0, 0.5), st.booleans(), st.booleans(),
       st.integers(0, 4), st.sampled_from(["6h", "1D", "3D"]))
@example(35, 35, 0.5, True, False, 0, "6h")  # Σw² within 1e-7 of (Σw)²: an oracle by (Σw)² − Σw² lost 1e-9
def test_every_statistic_equals_the_direct_sum(stat, seed, n, nan_fraction, adjust, ignore_na, min_periods, hl):
    if stat == "sum" and not adjust:
        return
    x, times = make(seed, n, nan_fraction)
    y, _ = make(seed + 1, n, nan_fraction)
    ticks = times.asi8.astype(float)
    hl_ticks = pd.Timedelta(hl) / pd.Timedelta(1, unit=times.unit)
    kw = dict(halflife=hl, times=times, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
    pair = stat in ("cov", "cov_b", "corr")
    want = oracle(x, ticks, hl_ticks, adjust, ignore_na, stat, min_periods, y if pair else None)
    got = ours(x, y, kw, stat)
    if stat == "corr":  # cov / √(var·var): noise where a variance is ~0
        vx = oracle(x, ticks, hl_ticks, adjust, ignore_na, "var_b", min_periods, y)
        ok = ~(np.abs(vx) < 1e-12)
        got, want = got[ok], want[ok]
    close(got, want, rtol=1e-10, atol=1e-12)


def test_times_across_missing_rows_ignore_na_changes_nothing():
    x, times = make(5, 50, 0.4)
    for stat in ("mean", "var", "std"):
        a = getattr(streamopt.ewm(x, halflife="1D", times=times, ignore_na=True), stat)()
        b = getattr(streamopt.ewm(x, halflife="1D", times=times, ignore_na=False), stat)()
        np.testing.assert_array_equal(a, b)


def test_tz_aware_and_other_units():
    x, times = make(2, 30, 0.2)
    s = pd.Series(x)
    want = s.ewm(halflife="12h", times=times).mean()
    close(streamopt.ewm(s, halflife="12h", times=times.tz_localize("Europe/Paris")).mean(), want)
    close(streamopt.ewm(s, halflife="12h", times=times.as_unit("s")).mean(), want)
    close(streamopt.ewm(s, halflife="12h", times=times.to_numpy().astype("datetime64[s]")).mean(), want)
