"""``streamopt.ewm``: equal to pandas' ``obj.ewm(...)`` over the parameter grid (table-driven and
hypothesis), output types and shapes, missing values as pandas, nothing mutated, stable variance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamopt
from conftest import SETTINGS, close

DECAYS = [dict(com=0.5), dict(span=4.0), dict(halflife=2.5), dict(alpha=0.3), dict(alpha=1.0)]


def pattern(name: str, n: int = 24, seed: int = 0) -> np.ndarray:
    """Data with a named pattern of missing values (NaN, and ±inf which pandas also treats as missing)."""
    x = np.random.default_rng(seed).normal(size=n) * 3.0 + 1.0
    if name == "leading":
        x[:5] = np.nan
    elif name == "trailing":
        x[-6:] = np.nan
    elif name == "runs":
        x[[3, 4, 5, 11, 15, 16]] = np.nan
    elif name == "all":
        x[:] = np.nan
    elif name == "inf":
        x[[2, 9]] = np.inf
        x[10] = -np.inf
    elif name == "single":
        x[:] = np.nan
        x[7] = 2.5
    return x


PATTERNS = ["none", "leading", "trailing", "runs", "all", "inf", "single"]


def pandas_stats(obj, kw, adjust):
    """{statistic: pandas' result} (sum only with adjust: pandas refuses it without)."""
    e = obj.ewm(**kw)
    out = {"mean": e.mean(), "var": e.var(), "var_b": e.var(bias=True), "std": e.std(), "std_b": e.std(bias=True)}
    if adjust:
        out["sum"] = e.sum()
    return out


def ours(obj, kw, name):
    e = streamopt.ewm(obj, **kw)
    return {"mean": e.mean, "sum": e.sum, "var": e.var, "std": e.std,
            "var_b": lambda: e.var(bias=True), "std_b": lambda: e.std(bias=True)}[name]()


@pytest.mark.parametrize("decay", DECAYS, ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()))
@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("ignore_na", [False, True])
@pytest.mark.parametrize("min_periods", [0, 3])
@pytest.mark.parametrize("pat", PATTERNS)
def test_grid_equals_pandas(decay, adjust, ignore_na, min_periods, pat):
    kw = dict(decay, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
    s = pd.Series(pattern(pat), index=pd.RangeIndex(100, 124), name="v")
    df = pd.DataFrame({"a": pattern(pat, seed=1), "b": pattern("runs", seed=2), "c": pattern(pat, seed=3)[::-1]})
    for obj in (s, df):
        for name, want in pandas_stats(obj, kw, adjust).items():
            got = ours(obj, kw, name)
            assert type(got) is type(want) and got.index.equals(want.index), name
            if isinstance(want, pd.Series):
                assert got.name == want.name and got.dtype == np.float64
            else:
                assert got.columns.equals(want.columns) and (got.dtypes == np.float64).all()
            want = want.to_numpy()
            if name in ("var", "std"):
                want = one_observation_nan(obj, want)
            close(got.to_numpy(), want, rtol=1e-12)


def one_observation_nan(obj, want: np.ndarray) -> np.ndarray:
    """pandas' unbiased var/std with NaN where one observation has been seen: there pandas
    sometimes gives 0, where (Σw)² − Σw², exactly 0, rounds to a tiny positive number after a
    run of missing rows (ignore_na=False); the unbiased variance of one value is undefined."""
    values = obj.to_numpy(dtype=float).reshape(len(obj), -1)
    seen = np.cumsum(np.isfinite(values), axis=0).reshape(want.shape)
    return np.where(seen == 1, np.nan, want)


@pytest.mark.parametrize("decay", DECAYS[:4], ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()))
@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("ignore_na", [False, True])
@pytest.mark.parametrize("pat", ["none", "runs", "leading", "inf"])
def test_cov_corr_grid_equals_pandas(decay, adjust, ignore_na, pat):
    kw = dict(decay, adjust=adjust, ignore_na=ignore_na, min_periods=2)
    x = pd.Series(pattern(pat), name="x")
    y = pd.Series(pattern("runs", seed=5) * -2.0 + 0.5 * pattern("none"), name="y")
    df = pd.DataFrame({"a": x, "b": y, "c": pattern("trailing", seed=7)}, index=pd.date_range("2024", periods=24))
    df.columns.name = "col"
    for bias in (False, True):
        close(streamopt.ewm(x, **kw).cov(y, bias=bias), x.ewm(**kw).cov(y, bias=bias))
        close(streamopt.ewm(x, **kw).cov(bias=bias), x.ewm(**kw).cov(bias=bias))
        got, want = streamopt.ewm(df, **kw).cov(bias=bias), df.ewm(**kw).cov(bias=bias)
        assert got.index.equals(want.index) and got.columns.equals(want.columns)
        close(got.to_numpy(), want.to_numpy())
    close(streamopt.ewm(x, **kw).corr(y), x.ewm(**kw).corr(y))
    got, want = streamopt.ewm(df, **kw).corr(), df.ewm(**kw).corr()
    assert got.index.equals(want.index) and list(got.index.names) == list(want.index.names)
    close(got.to_numpy(), want.to_numpy())
    for other in (df["b"], df):
        got, want = streamopt.ewm(df, **kw).corr(other), df.ewm(**kw).corr(other)
        assert got.index.equals(want.index) and got.columns.equals(want.columns)
        close(got.to_numpy(), want.to_numpy())
        close(streamopt.ewm(df, **kw).cov(other).to_numpy(), df.ewm(**kw).cov(other).to_numpy())


missing = st.sampled_from([np.nan, np.inf, -np.inf])


@st.composite
def data_with_gaps(draw):
    n = draw(st.integers(1, 40))
    x = np.array(draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n)))
    for i in draw(st.lists(st.integers(0, n - 1), max_size=n)):
        x[i] = draw(missing)
    return x


decays = st.one_of(st.builds(dict, com=st.floats(0.0, 50.0)), st.builds(dict, span=st.floats(1.0, 50.0)),
                   st.builds(dict, halflife=st.floats(0.1, 50.0)), st.builds(dict, alpha=st.floats(0.01, 1.0)))


def _close_where_pandas_defined(ours, theirs, theirs_biased, rtol, atol, seen=None):
    """``close`` except on the rows where pandas' unbiased value is NaN but its biased one is not:
    one observation (undefined: ours is NaN too, tested in the grid) or pandas' (Σw)² − Σw² cancelled
    to 0 (β^gap below ~1e-16) where ours stays defined (test_tiny_decay_keeps_unbiased_defined).
    ``seen``: the observations so far of an unbiased statistic; where it is 1 ours must be NaN
    (pandas sometimes gives 0 there: :func:`one_observation_nan`)."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    keep = ~(np.isnan(theirs) & np.isfinite(np.asarray(theirs_biased, dtype=float)))
    if seen is not None:
        assert np.isnan(ours[seen == 1]).all()
        keep &= seen != 1
    close(ours[keep], theirs[keep], rtol=np.broadcast_to(rtol, keep.shape)[keep], atol=atol)


@SETTINGS
@given(data_with_gaps(), data_with_gaps(), decays, st.booleans(), st.booleans(), st.integers(0, 5))
def test_random_data_equals_pandas(x, y, decay, adjust, ignore_na, min_periods):
    n = min(len(x), len(y))
    kw = dict(decay, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
    sx, sy = pd.Series(x[:n]), pd.Series(y[:n])
    e, p = streamopt.ewm(sx, **kw), sx.ewm(**kw)
    if adjust or ignore_na or p._com != 1.0:  # pandas' α = ½ quirk: test_pandas_alpha_half_quirk
        close(e.mean(), p.mean())
    if adjust:
        close(e.sum(), p.sum())
    # pandas' unbiasing factor F = (Σw)² / ((Σw)² − Σw²) cancels when F is large (small β^gap):
    # its relative error is ~ε·F, and F is pandas' own unbiased / biased ratio
    with np.errstate(all="ignore"):
        factor = np.nan_to_num(p.var().to_numpy() / p.var(bias=True).to_numpy(), nan=1.0, posinf=1.0)
        cov_factor = np.nan_to_num(p.cov(sy).to_numpy() / p.cov(sy, bias=True).to_numpy(), nan=1.0, posinf=1.0)
    seen_x = np.cumsum(np.isfinite(x[:n]))
    seen_xy = np.cumsum(np.isfinite(x[:n]) & np.isfinite(y[:n]))
    for bias in (False, True):
        rtol = 1e-12 if bias else np.maximum(1e-12, 4e-16 * np.abs(factor))
        sx_seen, sxy_seen = (None, None) if bias else (seen_x, seen_xy)
        _close_where_pandas_defined(e.var(bias=bias), p.var(bias=bias), p.var(bias=True), rtol, 1e-9, sx_seen)
        _close_where_pandas_defined(e.std(bias=bias), p.std(bias=bias), p.std(bias=True), rtol, 1e-6, sx_seen)
        rtol = 1e-12 if bias else np.maximum(1e-12, 4e-16 * np.abs(cov_factor))
        _close_where_pandas_defined(e.cov(sy, bias=bias), p.cov(sy, bias=bias), p.cov(sy, bias=True), rtol, 1e-9,
                                    sxy_seen)
    corr = p.corr(sy).to_numpy()
    got = e.corr(sy).to_numpy()
    tiny = np.abs(p.var(bias=True).to_numpy()) < 1e-9  # pandas' corr is noise where a variance is ~0
    close(np.where(tiny, 0.0, got), np.where(tiny, 0.0, corr), atol=1e-9)


def test_tiny_decay_keeps_unbiased_defined():
    """Two observations three rows apart with β = 1e-8: (Σw)² − Σw² = 2·β³ > 0, so the unbiased
    covariance of two zero series is 0; pandas' difference of squares cancels to 0 and gives NaN."""
    x, y = pd.Series([0.0, 0.0, 0.0, 0.0]), pd.Series([0.0, np.nan, np.nan, 0.0])
    kw = dict(com=1e-8, adjust=False)
    assert streamopt.ewm(x, **kw).cov(y).iloc[-1] == 0.0
    assert np.isnan(x.ewm(**kw).cov(y).iloc[-1])


def test_pandas_alpha_half_quirk():
    """pandas 3.1 with adjust=False and a gap of missing rows takes the time-aware form when com = 1
    (α = ½) exactly and its documented form for every other α; here the form does not jump."""
    x = pd.Series([0.0, np.nan, 1.0])
    for a in (0.5 - 1e-9, 0.5, 0.5 + 1e-9):
        got = streamopt.ewm(x, alpha=a, adjust=False).mean().iloc[-1]
        assert got == pytest.approx(a / ((1 - a) ** 2 + a), rel=1e-12)  # weights (1 − α)² and α, normalised
    assert x.ewm(alpha=0.5 - 1e-9, adjust=False).mean().iloc[-1] == pytest.approx(2 / 3, rel=1e-8)
    assert x.ewm(alpha=0.5, adjust=False).mean().iloc[-1] == 0.75


def test_float32_computes_in_float64_as_pandas():
    x = pattern("runs").astype(np.float32)
    for obj in (pd.Series(x), pd.DataFrame({"a": x, "b": x[::-1]})):
        for name, want in pandas_stats(obj, dict(com=2.0), True).items():
            got = ours(obj, dict(com=2.0), name)
            assert got.to_numpy().dtype == np.float64
            close(got.to_numpy(), want.to_numpy())


def test_numpy_masked_object_mixed_and_nullable_as_pandas():
    x = pattern("runs")
    want = pd.Series(x).ewm(alpha=0.4).var().to_numpy()
    got = streamopt.ewm(x, alpha=0.4).var()
    assert isinstance(got, np.ndarray) and got.shape == x.shape
    close(got, want)
    masked = np.ma.masked_invalid(x)
    close(streamopt.ewm(masked, alpha=0.4).var(), want)
    close(streamopt.ewm(list(x), alpha=0.4).var(), want)
    obj = pd.Series(list(x), dtype=object)
    close(streamopt.ewm(obj, alpha=0.4).mean().to_numpy(), obj.ewm(alpha=0.4).mean().to_numpy())
    nullable = pd.Series(pd.array([1, None, 3, 7], dtype="Int64"))
    close(streamopt.ewm(nullable, com=1).mean().to_numpy(), nullable.ewm(com=1).mean().to_numpy())
    mixed = pd.DataFrame({"a": [True, False, True, True], "b": [1, 2, 3, 5], "c": [0.5, np.nan, 2.0, 1.0]})
    for stat in ("mean", "var", "std", "sum"):
        close(getattr(streamopt.ewm(mixed, span=3), stat)().to_numpy(), getattr(mixed.ewm(span=3), stat)().to_numpy())


def test_two_dimensional_arrays_along_either_axis():
    x = np.stack([pattern("runs"), pattern("leading", seed=4)], axis=1)  # (24, 2): series down axis 0
    want = pd.DataFrame(x).ewm(com=3).var().to_numpy()
    close(streamopt.ewm(x, com=3).var(), want)
    close(streamopt.ewm(x.T, com=3, axis=1).var(), want.T)
    close(streamopt.ewm(np.asfortranarray(x), com=3, axis=-2).var(), want)
    cube = streamopt.ewm(x, com=3).cov()
    assert cube.shape == (24, 2, 2)
    close(cube.reshape(48, 2), pd.DataFrame(x).ewm(com=3).cov().to_numpy())


def test_accessor_and_empty_input():
    s = pd.Series(pattern("runs"), name="s")
    close(s.streamopt.ewm(span=5, adjust=False).mean().to_numpy(), s.ewm(span=5, adjust=False).mean().to_numpy())
    df = pd.DataFrame({"a": s, "b": -s})
    close(df.streamopt.ewm(com=1).corr().to_numpy(), df.ewm(com=1).corr().to_numpy())
    empty = pd.Series([], dtype=float, name="e")
    got = streamopt.ewm(empty, com=1).var()
    assert isinstance(got, pd.Series) and len(got) == 0 and got.name == "e"
    assert streamopt.ewm(np.array([]), com=1).mean().shape == (0,)


def test_input_never_mutated():
    x = pattern("inf")
    s = pd.Series(x.copy())
    df = pd.DataFrame({"a": x.copy(), "b": x[::-1].copy()})
    masked = np.ma.masked_invalid(x.copy())
    before = (x.copy(), s.copy(), df.copy(), masked.copy())
    for obj in (x, s, df, masked):
        e = streamopt.ewm(obj, alpha=0.2)
        e.mean(), e.sum(), e.var(), e.std(), e.cov(), e.corr()
    np.testing.assert_array_equal(x, before[0])
    pd.testing.assert_series_equal(s, before[1])
    pd.testing.assert_frame_equal(df, before[2])
    np.testing.assert_array_equal(masked.mask, before[3].mask)


# ------------------------------------------------------------- stable variance
@pytest.mark.parametrize("adjust", [True, False])
@pytest.mark.parametrize("ignore_na", [True, False])
def test_variance_never_negative_and_exact_zero_on_constants(adjust, ignore_na):
    rng = np.random.default_rng(3)
    for c in (0.1, 3.0, 1e9 + 0.3, -7.7e-5):
        x = np.full(200, c)
        x[rng.random(200) < 0.2] = np.nan
        var = streamopt.ewm(x, alpha=0.13, adjust=adjust, ignore_na=ignore_na).var(bias=True)
        assert np.all(var[np.isfinite(var)] == 0.0)
    x = 1e9 + rng.normal(size=500) * 1e-3
    for alpha in (0.9, 0.1, 1e-3):
        var = streamopt.ewm(x, alpha=alpha, adjust=adjust).var()
        assert np.all(var[1:] >= 0.0)
        plain = streamopt.ewm(x - 1e9, alpha=alpha, adjust=adjust).var()
        close(var[20:], plain[20:], rtol=2e-3)  # deviations 1e-3 carry the mean's error 1e9·ε


def exact_unbiased_var(x: np.ndarray, beta: float, at: np.ndarray) -> np.ndarray:
    """The unbiased EW variance (adjust=True) at rows ``at``, from the weights β^(t−i) summed in long double."""
    b = np.longdouble(beta)
    xl = x.astype(np.longdouble)
    out = []
    for t in at:
        w = b ** np.arange(t, -1, -1, dtype=np.longdouble)
        sw, sw2 = w.sum(), (w * w).sum()
        mu = (w * xl[:t + 1]).sum() / sw
        m2 = (w * (xl[:t + 1] - mu) ** 2).sum() / sw
        out.append(m2 * sw * sw / (sw * sw - sw2))
    return np.array(out, dtype=np.longdouble)


@pytest.mark.skipif(np.finfo(np.longdouble).eps >= 1e-18, reason="needs an extended-precision long double")
@pytest.mark.parametrize("alpha, n", [(1e-4, 100_000), (1e-6, 1_000_000)])
def test_variance_near_beta_one_at_least_as_accurate_as_pandas(alpha, n):
    """The unbiased variance against a long-double reference, relative error at four rows: no worse
    than pandas' (the 0.1.0 ``ewvar``: 2.7e-13 and 5.7e-12 on these data)."""
    x = np.random.default_rng(11).normal(size=n) + 2.0
    at = np.array([999, n // 5, 3 * n // 5, n - 1])
    want = exact_unbiased_var(x, 1.0 - alpha, at)
    ours_err = np.abs((streamopt.ewm(x, alpha=alpha).var()[at] - want) / want).max()
    pandas_err = np.abs((pd.Series(x).ewm(alpha=alpha).var().to_numpy()[at] - want) / want).max()
    ewvar_err = np.abs((streamopt.ewvar(x, 1.0 - alpha)[at] - want) / want).max()
    print(f"alpha={alpha} n={n}: ewm {ours_err:.2g}, ewvar {ewvar_err:.2g}, pandas {pandas_err:.2g}")
    assert ours_err <= max(pandas_err, 1e-14) and ewvar_err <= max(pandas_err, 1e-14), (ours_err, ewvar_err,
                                                                                        pandas_err)
