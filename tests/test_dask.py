"""streamopt.dask.ewm on real Dask: exact equals streamopt.ewm bit for bit, scan within 1e-12, on any partitioning.

The threaded scheduler for the random partitionings, a 2-process ``distributed.LocalCluster`` (started once for
the module) for the same checks through pickling and separate workers.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import streamopt  # noqa: E402
import streamopt.dask as sdask  # noqa: E402

STATS = ("mean", "sum", "var", "std", "var_biased")
RTOL = 1e-12


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as lc, distributed.Client(lc) as client:
        yield client


def statistic(e, stat):
    return e.var(bias=True) if stat == "var_biased" else getattr(e, stat)()


def parted(df, cuts):
    """``df`` cut at the row positions ``cuts`` (empty partitions allowed), divisions unknown."""
    edges = [0, *cuts, len(df)]
    parts = [dask.delayed(df.iloc[a:b].copy()) for a, b in zip(edges[:-1], edges[1:])]
    return dd.from_delayed(parts, meta=df.iloc[:0], verify_meta=False)


def assert_exact(got, want):
    assert type(got) is type(want)
    assert got.index.equals(want.index)
    if isinstance(want, pd.DataFrame):
        assert list(got.columns) == list(want.columns)
    assert got.dtypes.equals(want.dtypes) if isinstance(want, pd.DataFrame) else got.dtype == want.dtype
    assert np.array_equal(np.asarray(got), np.asarray(want), equal_nan=True)


def assert_close(got, want):
    g, w = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert np.array_equal(np.isnan(g), np.isnan(w))
    ok = ~np.isnan(w)
    scale = np.max(np.abs(w[ok]), initial=0.0)  # relative to the result's size (a mean may cross 0)
    assert np.all(np.abs(g[ok] - w[ok]) <= RTOL * np.maximum(np.abs(w[ok]), 1e-3 * scale)), \
        np.max(np.abs(g[ok] - w[ok]) / np.maximum(np.abs(w[ok]), 1e-300))


# ----------------------------------------------------------------- data
@st.composite
def cases(draw):
    n = draw(st.integers(0, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(3.0, 2.0, size=(n, 2))
    x[rng.random(x.shape) < draw(st.sampled_from([0.0, 0.2, 0.6]))] = np.nan
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    df = pd.DataFrame({"a": x[:, 0], "b": x[:, 1]}, index=pd.RangeIndex(100, 100 + n))
    if cuts and n:  # a partition of missing values only
        lo = cuts[0]
        hi = cuts[1] if len(cuts) > 1 else n
        df.iloc[lo:hi, 0] = np.nan
    kw = {"adjust": draw(st.booleans()), "ignore_na": draw(st.booleans()),
          "min_periods": draw(st.integers(0, 3))}
    if draw(st.booleans()):
        keys = rng.choice(["x", "y", "z"], size=n).astype(object)
        if n and draw(st.booleans()):
            keys[-1] = "late"  # a key only in the last row (the last partition)
        if n > 2 and draw(st.booleans()):
            keys[1] = None  # a row of no key: NaN, as in ewm
        df["k"] = keys
        kw["by"] = "k"
    if draw(st.booleans()):
        steps = rng.integers(0, 4, size=n).astype("timedelta64[h]")
        df["t"] = np.datetime64("2024-01-01T00", "h") + np.cumsum(steps)
        df["t"] = df["t"].astype("datetime64[ns]")
        kw["times"], kw["halflife"] = "t", draw(st.sampled_from(["1h", "5h", "90min"]))
    else:
        kw["alpha"] = draw(st.sampled_from([0.05, 0.3, 0.5, 0.9, 1.0]))
    return df, cuts, kw


def check(df, cuts, kw, scheduler=None, stats=STATS, methods=("exact", "scan")):
    ddf = parted(df, cuts)
    ref = streamopt.ewm(df, **kw)
    for method in methods:
        e = sdask.ewm(ddf, method=method, **kw)
        for stat in stats:
            if stat == "sum" and not kw.get("adjust", True):
                with pytest.raises(NotImplementedError, match="adjust=False"):
                    e.sum()
                continue
            lazy = statistic(e, stat)
            assert lazy.npartitions == ddf.npartitions
            got = lazy.compute(scheduler=scheduler) if scheduler else lazy.compute()
            want = statistic(ref, stat)
            (assert_exact if method == "exact" else assert_close)(got, want)


# ----------------------------------------------------------------- equality
@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_random_partitionings_threads(case):
    df, cuts, kw = case
    check(df, cuts, kw, scheduler="threads")


def test_distributed_cluster(cluster):
    rng = np.random.default_rng(7)
    n = 60
    x = rng.normal(size=n)
    x[rng.random(n) < 0.2] = np.nan
    x[20:30] = np.nan  # a partition of missing values only
    keys = rng.choice(["p", "q"], size=n).astype(object)
    keys[-1] = "last"
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.cumsum(rng.integers(0, 3, n)), unit="h")
    df = pd.DataFrame({"v": x, "k": keys, "t": t})
    cuts = [0, 7, 20, 30, 30, 59]
    check(df, cuts, dict(by="k", times="t", halflife="4h"), stats=("mean", "var", "sum"))
    check(df[["v"]], cuts, dict(alpha=0.2, adjust=False), stats=("mean", "std"))


def test_known_divisions_and_series(cluster):
    s = pd.Series(np.random.default_rng(3).normal(size=50), name="x", index=pd.date_range("2024", periods=50))
    ds = dd.from_pandas(s, npartitions=4)
    for method in ("exact", "scan"):
        lazy = sdask.ewm(ds, halflife="2D", times=ds.index, method=method).mean()
        assert lazy.divisions == ds.divisions
        want = streamopt.ewm(s, halflife="2D", times=s.index).mean()
        (assert_exact if method == "exact" else assert_close)(lazy.compute(), want)
    assert_exact(ds.streamopt.ewm(alpha=0.1).var().compute(scheduler="threads"),
                 s.streamopt.ewm(alpha=0.1).var())


def test_many_keys_across_partitions_threads():
    rng = np.random.default_rng(11)
    n = 3000
    df = pd.DataFrame({"v": rng.normal(size=n), "k": rng.integers(0, 300, n)})
    ddf = dd.from_pandas(df, npartitions=9)
    for stat in ("mean", "var"):
        want = statistic(streamopt.ewm(df, alpha=0.02, by="k"), stat)
        assert_exact(statistic(sdask.ewm(ddf, alpha=0.02, by="k"), stat).compute(scheduler="threads"), want)
        assert_close(statistic(sdask.ewm(ddf, alpha=0.02, by="k", method="scan"), stat)
                     .compute(scheduler="threads"), want)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("chunks", [(7, 4), (40, 6), (13, 2), (40, 1)])
def test_arrays_along_and_across_the_axis(axis, chunks):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 6))
    x[rng.random(x.shape) < 0.2] = np.nan
    dx = da.from_array(x, chunks=chunks)
    for method in ("exact", "scan"):
        e = sdask.ewm(dx, alpha=0.2, axis=axis, method=method)
        for stat in ("mean", "var", "sum"):
            lazy = getattr(e, stat)()
            assert lazy.chunks == dx.chunks
            want = getattr(streamopt.ewm(x, alpha=0.2, axis=axis), stat)()
            (assert_exact if method == "exact" else assert_close)(pd.DataFrame(lazy.compute(scheduler="threads")),
                                                                  pd.DataFrame(want))


def test_array_1d_with_times():
    rng = np.random.default_rng(2)
    x = rng.normal(size=30)
    t = (np.datetime64("2024-01-01T00", "s") + np.cumsum(rng.integers(0, 5000, 30)).astype("timedelta64[s]"))
    dx = da.from_array(x, chunks=8)
    want = streamopt.ewm(x, halflife="1h", times=t).std()
    got = sdask.ewm(dx, halflife="1h", times=t).std().compute(scheduler="threads")
    assert np.array_equal(got, want, equal_nan=True)
    got = sdask.ewm(dx, halflife="1h", times=t, method="scan").std().compute(scheduler="threads")
    assert_close(got, want)


# ----------------------------------------------------------------- laziness and checks
def test_building_computes_nothing():
    calls = []

    def part(i):
        calls.append(i)
        return pd.DataFrame({"v": [1.0, 2.0], "t": pd.to_datetime(["2024-01-02", "2024-01-01"])})

    ddf = dd.from_delayed([dask.delayed(part)(i) for i in range(3)],
                          meta=pd.DataFrame({"v": [1.0], "t": pd.to_datetime(["2024"])}).iloc[:0])
    for method in ("exact", "scan"):
        e = sdask.ewm(ddf, halflife="1D", times="t", method=method)
        lazy = [e.mean(), e.var(), e.std(), e.sum()]
        assert calls == []  # nothing read yet
        with pytest.raises(ValueError, match=r"at position 1 \(row 1 of partition 0\)"):
            lazy[0].compute(scheduler="sync")
        assert calls
        calls.clear()


@pytest.mark.parametrize("method", ["exact", "scan"])
def test_times_going_back_across_partitions_is_named(method):
    t = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-02", "2024-01-05"])
    df = pd.DataFrame({"v": np.arange(5.0), "t": t})
    with pytest.raises(ValueError, match=r"times must be non-decreasing, got 2024-01-02 00:00:00 at position 3 "
                                         r"\(row 0 of partition 1\) after 2024-01-03"):
        sdask.ewm(parted(df, [3]), halflife="1D", times="t", method=method).mean().compute(scheduler="threads")
    with pytest.raises(ValueError, match=r"at position 3 \(row 1 of partition 2\)"):  # within a partition
        sdask.ewm(parted(df, [1, 2]), halflife="1D", times="t", method=method).mean().compute(scheduler="threads")
    with pytest.raises(ValueError, match=r"at position 3 after"):  # the same data, in memory
        streamopt.ewm(df, halflife="1D", times="t").mean()


@pytest.mark.parametrize("method", ["exact", "scan"])
def test_times_per_key_and_nat(method):
    df = pd.DataFrame({"v": np.arange(5.0), "k": ["a", "b", "a", "b", "b"],
                       "t": pd.to_datetime(["2024-01-02", "2024-01-05", "2024-01-03", "2024-01-06", "2024-01-04"])})
    with pytest.raises(ValueError, match=r"within each key of by, got 2024-01-04 00:00:00 at position 4 .*"
                                         r"partition 2.*'b'"):
        sdask.ewm(parted(df, [2, 4]), halflife="1D", times="t", by="k",
                  method=method).var().compute(scheduler="threads")
    ok = df.iloc[:4]  # keys may interleave: each key's times are non-decreasing
    assert_exact(sdask.ewm(parted(ok, [1, 3]), halflife="1D", times="t", by="k").mean().compute(scheduler="threads"),
                 streamopt.ewm(ok, halflife="1D", times="t", by="k").mean())
    nat = df[["v", "t"]].assign(t=df["t"].where(df.index != 3))
    with pytest.raises(ValueError, match=r"NaT at position 1 \(in partition 1\)"):
        sdask.ewm(parted(nat, [2]), halflife="1D", times="t", method=method).mean().compute(scheduler="threads")


def test_parameter_errors_at_build_time():
    ddf = dd.from_pandas(pd.DataFrame({"v": [1.0, 2.0], "k": ["a", "b"]}), npartitions=1)
    with pytest.raises(ValueError, match="method must be one of"):
        sdask.ewm(ddf[["v"]], alpha=0.5, method="fast")
    with pytest.raises(ValueError, match="alpha"):
        sdask.ewm(ddf[["v"]], alpha=2.0)
    with pytest.raises(ValueError, match="by must be .* column"):
        sdask.ewm(ddf[["v"]], alpha=0.5, by="nope")
    with pytest.raises(TypeError, match=r"obj\['k'\] must hold real numbers"):
        sdask.ewm(ddf, alpha=0.5).mean()  # as streamopt.ewm: accepted, each statistic refuses it
    with pytest.raises(TypeError, match="obj must be a Dask DataFrame, Series or Array"):
        sdask.ewm(pd.Series([1.0]), alpha=0.5)
    with pytest.raises(TypeError, match="by must be None for a Dask Array"):
        sdask.ewm(da.ones(4, chunks=2), alpha=0.5, by=np.zeros(4))
    with pytest.raises(ValueError, match=r"times must have one entry per row \(4\)"):
        sdask.ewm(da.ones(4, chunks=2), halflife="1D", times=pd.date_range("2024", periods=3).values)
    with pytest.raises(ValueError, match="axis must be in"):
        sdask.ewm(da.ones((4, 2), chunks=2), alpha=0.5, axis=2)
    with pytest.raises(TypeError, match="bias"):
        sdask.ewm(ddf[["v"]], alpha=0.5).var(bias="no")
    with pytest.raises(NotImplementedError, match="adjust=False"):
        sdask.ewm(ddf[["v"]], alpha=0.5, adjust=False).sum()


def test_importing_streamopt_does_not_import_dask():
    code = "import sys, streamopt; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------- the graph
def _tasks(lazy):
    from dask.core import get_dependencies

    dsk = dict(lazy.__dask_graph__())
    return dsk, {k: set(get_dependencies(dsk, k)) for k in dsk}


def test_exact_chain_carries_only_a_small_state():
    df = pd.DataFrame({"v": np.arange(3000.0), "k": np.arange(3000) % 7})
    ddf = dd.from_pandas(df, npartitions=3)
    lazy = sdask.ewm(ddf, alpha=0.5, by="k").var()
    dsk, deps = _tasks(lazy)
    part = {int(str(k).rsplit("-", 1)[1]): k for k in dsk if "-part-" in str(k)}
    blocks = dict(enumerate(ddf.__dask_keys__()))
    assert sorted(part) == [0, 1, 2]
    for p in (1, 2):
        # partition p's task reads block p and one small task split off partition p - 1's task
        (carry,) = deps[part[p]] - {blocks[p]}
        assert deps[part[p]] == {blocks[p], carry} and deps[carry] == {part[p - 1]}
        state = dask.get(dsk, carry)
        assert state.keys.tolist() == list(range(7)) and state.rows == 1000 * p
        assert all(a.shape == (1, 7) for a in state.arrays.values())  # lanes × keys: not rows


def test_scan_passes_are_parallel():
    ddf = dd.from_pandas(pd.DataFrame({"v": np.arange(30.0)}), npartitions=3)
    lazy = sdask.ewm(ddf, alpha=0.5, method="scan").mean()
    dsk, deps = _tasks(lazy)
    named = {str(k).rsplit("-", 2)[-2] + "-" + str(k).rsplit("-", 1)[1]: k for k in dsk if "streamopt-ewm" in str(k)}
    (combine,) = [k for k in dsk if str(k).endswith("-combine")]
    blocks = set(ddf.__dask_keys__())
    for p in range(3):
        summary, fixup = named[f"summary-{p}"], named[f"part-{p}"]
        (read_again,) = deps[summary]
        assert read_again not in blocks  # pass 1 reads its own copy of the block
        assert deps[combine] == {named[f"summary-{q}"] for q in range(3)}
        (incoming,) = deps[fixup] - blocks
        assert deps[incoming] == {combine} and len(deps[fixup] & blocks) == 1


def test_object_columns_are_checked_in_the_graph():
    numbers = pd.DataFrame({"v": pd.Series([1, 2.5, None, 4], dtype=object), "w": [1.0, 2.0, 3.0, 4.0]})
    text = pd.DataFrame({"v": pd.Series([1.0, 2.0, "x", 4.0], dtype=object)})
    with dask.config.set({"dataframe.convert-string": False}):
        d_numbers, d_text = dd.from_pandas(numbers, npartitions=2), dd.from_pandas(text, npartitions=2)
    assert_exact(sdask.ewm(d_numbers, alpha=0.5).mean().compute(scheduler="threads"),
                 streamopt.ewm(numbers, alpha=0.5).mean())
    lazy = sdask.ewm(d_text, alpha=0.5).mean()  # the sample of an object column is text: not checked here
    with pytest.raises(TypeError, match=r"obj\['v'\] must hold real numbers .* \(in partition 1\)"):
        lazy.compute(scheduler="threads")
