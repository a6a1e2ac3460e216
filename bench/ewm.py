"""Benchmark group "ewm": pandas-compatible exponentially weighted statistics (``streamopt.ewm``).

Every case runs on float64 pandas Series of :data:`SIZE` values (``--quick``: :data:`SIZE_QUICK`),
and every peer computes the same statistic with the same parameters: before a peer is timed, its
output on the timed data is checked against streamopt's (same NaN positions, and the largest
difference at most :data:`RTOL` of the output's largest value, kept as ``extra["agreement"]``; an
:class:`AssertionError` fails the group otherwise).  A peer that cannot
compute the statistic is listed as missing with the reason.

- ``mean-times``: ``ewm(s, halflife="2h", times=idx).mean()`` over an irregular DatetimeIndex
  (whole seconds, exponential gaps of mean
  :data:`MEAN_GAP_SECONDS` s) against pandas' ``s.ewm(halflife="2h",
  times=idx).mean()``.  polars' ``ewm_mean_by`` has no ``adjust``: it computes the
  ``adjust=False`` form only, so it is measured in ``mean-times-noadjust``.
- ``mean-times-noadjust``: the same with ``adjust=False``, against pandas and polars
  ``pl.col("x").ewm_mean_by("t", half_life="2h")`` (on a polars DataFrame built beforehand).
- ``var``, ``std``: ``ewm(s, alpha=ALPHA).var()`` / ``.std()`` (adjust=True, bias=False) against
  pandas and polars ``ewm_var`` / ``ewm_std`` (``adjust=True, bias=False, min_samples=0``).
- ``cov``, ``corr``: two Series, ``ewm(a, alpha=ALPHA).cov(b)`` / ``.corr(b)`` against pandas
  ``a.ewm(alpha=ALPHA).cov(b)`` / ``.corr(b)``; polars has no exponentially weighted covariance.
- ``mean-1d-bound``: one NumPy series at the latency bound.  ``streamopt`` is
  ``ewa(x, BETA, bias_correction=True, out=buf)`` (into a preallocated buffer) and
  ``streamopt-ewm`` is ``ewm(x, alpha=1 - BETA).mean()`` (a new array per call); ``floor`` is the
  bare Numba recursion ``v = BETA*v + ALPHA*x[i]`` (one fused multiply-add) stored into a
  preallocated buffer (``floor.recursion``), and ``numba-loop-new-array`` the same loop into a new array per call (what
  a function that returns its result pays in first-touch page faults).
- ``grouped``: ``ewm(s, alpha=ALPHA, by=keys).mean()`` over :data:`SIZE` rows of
  ``SIZE // ROWS_PER_KEY`` int keys in random order, against pandas' ``s.groupby(keys).ewm(alpha=ALPHA).mean()``
  (checked after re-aligning pandas' (key, row) output to the rows; the timed call is pandas' own).
  At full size pandas takes seconds per call: its row is one timed call, the one checked (``(1 run)``).
- ``stream-keys-int``, ``stream-keys-str``: ``EWMStream(alpha=ALPHA, adjust=False).update(chunk,
  keys=chunk_keys)`` on chunks of :data:`STREAM_CHUNK` values over :data:`STREAM_KEYS` keys (int64
  array / object array of str), the stream having seen every key (a settled stream; a key's first
  appearance costs a little more), cycling through :data:`STREAM_CHUNKS` chunks.  Against river:
  one ``stats.EWMean(fading_factor=ALPHA)`` per key in a dict, ``update`` called per observation
  (river's EWMean starts at the first value and moves by ``fading_factor`` = α towards each new one:
  pandas' ``adjust=False`` mean, checked per observation on one chunk with ``get()``).  ``size`` is
  the chunk: ``seconds`` is per chunk, observations per second = 1e9 / ns per element
  (``extra["observations_per_second"]``).

    python bench/ewm.py [--quick]
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Result, Timing, format_table, measure, missing, optional, result, timing_options  # noqa: E402

GROUP = "ewm"
BETA = 0.9
ALPHA = 1.0 - BETA
HALFLIFE = "2h"
#: Mean gap between two timestamps of the ``mean-times*`` cases (exponentially distributed).
MEAN_GAP_SECONDS = 60.0
SIZE = 10**7
SIZE_QUICK = 10**4
#: Agreement asked of a peer before it is timed, normwise: max|peer − streamopt| ≤ RTOL · max|peer|.
#: (Normwise, not per value: a value that is a cancellation near zero, a mean crossing 0, has no
#: relative accuracy in any summation order.)
RTOL = 1e-9

#: ``grouped``: rows per key (10^7 rows over 10^4 keys at full size).
ROWS_PER_KEY = 1000
#: ``stream-keys-*``: values per update, keys, distinct chunks cycled through (``--quick``: the second ones).
STREAM_CHUNK, STREAM_KEYS, STREAM_CHUNKS = 10**4, 10**5, 20
STREAM_CHUNK_QUICK, STREAM_KEYS_QUICK = 10**3, 10**3

_POLARS_ADJUST = "ewm_mean_by has no adjust: it computes the adjust=False form (see mean-times-noadjust)"
_POLARS_NO_COV = "polars has no exponentially weighted covariance / correlation"


def _values(out: Any) -> np.ndarray:
    """A pandas / polars / NumPy output as a float64 NumPy array (polars null → NaN)."""
    if hasattr(out, "to_series"):  # a polars DataFrame of one column
        out = out.to_series()
    if hasattr(out, "fill_null"):  # a polars Series
        out = out.fill_null(np.nan)
    return np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out, dtype=np.float64)


def check_agreement(case: str, library: str, got: Any, want: Any) -> float:
    """The normwise relative difference of ``got`` (a peer) from ``want`` (streamopt); AssertionError
    when the NaN positions differ or the difference exceeds :data:`RTOL`."""
    g, w = _values(got), _values(want)
    if g.shape != w.shape:
        raise AssertionError(f"{case}: {library} gives shape {g.shape}, streamopt {w.shape}")
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    if not np.array_equal(nan_g, nan_w):
        first = int(np.flatnonzero(nan_g != nan_w)[0])
        raise AssertionError(f"{case}: {library} and streamopt differ in NaN at position {first}")
    if nan_g.all():
        return 0.0
    diff = np.where(nan_g, 0.0, np.abs(g - w))
    error = float(diff.max() / max(float(np.nanmax(np.abs(g))), np.finfo(np.float64).tiny))
    if not error <= RTOL:
        i = int(np.argmax(diff))
        raise AssertionError(f"{case}: {library} gives {g[i]!r} at position {i}, streamopt {w[i]!r}: "
                             f"{error:.3g} of the output's largest value, more than {RTOL:g}")
    return error


def _case(case: str, n: int, quick: bool, ours: dict[str, Callable[[], Any]],
          peers: dict[str, Callable[[], Any] | str]) -> list[Result]:
    """Time streamopt's callables (``ours``: library -> fn) and each peer (a callable, or why it is
    missing), after checking every peer's output against the first of ``ours``."""
    kw = timing_options(quick)
    want = next(iter(ours.values()))()
    rows = [result(GROUP, case, lib, n, "float64", measure(fn, **kw)) for lib, fn in ours.items()]
    for lib, fn in peers.items():
        if isinstance(fn, str):
            rows.append(missing(GROUP, case, lib, n, "float64", why=fn))
            continue
        error = check_agreement(case, lib, fn(), want)
        rows.append(result(GROUP, case, lib, n, "float64", measure(fn, **kw), agreement=error))
    return rows


def _times(n: int, seed: int) -> Any:
    """An irregular, strictly increasing DatetimeIndex in whole seconds: exponential gaps of mean
    :data:`MEAN_GAP_SECONDS`.  (Whole seconds: pandas turns nanosecond times into float64 before
    taking differences, so sub-microsecond times would cost it ~1e-9 relative and fail the check.)"""
    import pandas as pd

    gaps = np.random.default_rng(seed).exponential(MEAN_GAP_SECONDS, n).astype(np.int64) + 1
    return pd.DatetimeIndex(np.datetime64("2024-01-01T00:00:00", "ns") + np.cumsum(gaps).astype("timedelta64[s]"))


def _mean_times(n: int, quick: bool) -> list[Result]:
    import pandas as pd

    import streamopt

    idx = _times(n, 3)
    s = pd.Series(np.random.default_rng(0).normal(size=n), index=idx)
    pl = optional("polars")
    rows = _case("mean-times", n, quick,
                 {"streamopt": lambda: streamopt.ewm(s, halflife=HALFLIFE, times=idx).mean()},
                 {"pandas": lambda: s.ewm(halflife=HALFLIFE, times=idx).mean(),
                  "polars": "not installed" if pl is None else _POLARS_ADJUST})
    if pl is not None:
        frame = pl.DataFrame({"t": idx.to_numpy(), "x": s.to_numpy()})
        polars = {"polars": lambda: frame.select(pl.col("x").ewm_mean_by("t", half_life=HALFLIFE))}
    else:
        polars = {"polars": "not installed"}
    rows += _case("mean-times-noadjust", n, quick,
                  {"streamopt": lambda: streamopt.ewm(s, halflife=HALFLIFE, times=idx, adjust=False).mean()},
                  {"pandas": lambda: s.ewm(halflife=HALFLIFE, times=idx, adjust=False).mean(), **polars})
    return rows


def _moments(n: int, quick: bool) -> list[Result]:
    import pandas as pd

    import streamopt

    rng = np.random.default_rng(1)
    a, b = pd.Series(rng.normal(size=n)), pd.Series(rng.normal(size=n))
    pl = optional("polars")
    pa = None if pl is None else pl.Series("a", a.to_numpy())
    rows: list[Result] = []
    for stat in ("var", "std"):
        if pa is None:
            polars: Callable[[], Any] | str = "not installed"
        else:
            polars = (lambda stat=stat: getattr(pa, f"ewm_{stat}")(alpha=ALPHA, adjust=True, bias=False,
                                                                   min_samples=0))
        rows += _case(stat, n, quick,
                      {"streamopt": lambda stat=stat: getattr(streamopt.ewm(a, alpha=ALPHA), stat)()},
                      {"pandas": lambda stat=stat: getattr(a.ewm(alpha=ALPHA), stat)(), "polars": polars})
    for stat in ("cov", "corr"):
        rows += _case(stat, n, quick,
                      {"streamopt": lambda stat=stat: getattr(streamopt.ewm(a, alpha=ALPHA), stat)(b)},
                      {"pandas": lambda stat=stat: getattr(a.ewm(alpha=ALPHA), stat)(b),
                       "polars": "not installed" if pl is None else _POLARS_NO_COV})
    return rows


def _latency_bound(n: int, quick: bool) -> list[Result]:
    import floor

    import streamopt

    x = np.random.default_rng(2).normal(size=n)
    buf, loop_buf = np.empty(n), np.empty(n)
    beta, alpha = np.float64(BETA), np.float64(1.0) - np.float64(BETA)
    # the loop is the uncorrected recursion: checked against ewa without the correction
    check_agreement("mean-1d-bound", "floor", floor.recursion(x, beta, alpha, loop_buf), streamopt.ewa(x, BETA))
    return _case("mean-1d-bound", n, quick,
                 {"streamopt": lambda: streamopt.ewa(x, BETA, bias_correction=True, out=buf),
                  "streamopt-ewm": lambda: streamopt.ewm(x, alpha=1.0 - BETA).mean()},
                 {}) + [
        result(GROUP, "mean-1d-bound", "floor", n, "float64",
               measure(lambda: floor.recursion(x, beta, alpha, loop_buf), **timing_options(quick)),
               what="bare Numba loop v = fma(β, v, α·x[i]) into a preallocated buffer (floor.recursion)"),
        result(GROUP, "mean-1d-bound", "numba-loop-new-array", n, "float64",
               measure(lambda: floor.recursion(x, beta, alpha, np.empty(n)), **timing_options(quick)),
               what="the same loop into a new array per call")]


def _grouped(n: int, quick: bool) -> list[Result]:
    import pandas as pd

    import streamopt

    rng = np.random.default_rng(5)
    nkeys = max(n // ROWS_PER_KEY, 1)
    keys = rng.integers(0, nkeys, n)
    s = pd.Series(rng.normal(size=n))

    def ours() -> Any:
        return streamopt.ewm(s, alpha=ALPHA, by=keys).mean()

    def pandas() -> Any:
        return s.groupby(keys).ewm(alpha=ALPHA).mean()

    want = ours()
    kw = timing_options(quick)
    if not quick:
        kw = {"repeat": 3, "min_time": 0.0}  # about 1 s a call
    rows = [result(GROUP, "grouped", "streamopt", n, "float64", measure(ours, **kw), keys=nkeys)]
    t0 = time.perf_counter()
    got = pandas()
    seconds = time.perf_counter() - t0
    error = check_agreement("grouped", "pandas", got.droplevel(0).sort_index(), want)
    if quick:
        rows.append(result(GROUP, "grouped", "pandas", n, "float64", measure(pandas, **kw), agreement=error))
    else:  # seconds a call: the checked call is the timed one
        rows.append(result(GROUP, "grouped", "pandas", n, "float64", Timing(seconds, seconds, 1, 1),
                           agreement=error, repeats=1))
    return rows


def _stream_keys(quick: bool) -> list[Result]:
    import streamopt

    chunk, nkeys = (STREAM_CHUNK_QUICK, STREAM_KEYS_QUICK) if quick else (STREAM_CHUNK, STREAM_KEYS)
    kw = timing_options(quick)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(STREAM_CHUNKS, chunk))
    ids = rng.integers(0, nkeys, (STREAM_CHUNKS, chunk))
    river = optional("river.stats")
    rows: list[Result] = []
    for kind in ("int", "str"):
        case = f"stream-keys-{kind}"
        names = np.arange(nkeys) if kind == "int" else np.array([f"key-{i}" for i in range(nkeys)], dtype=object)
        chunks = [(x[c], names[ids[c]]) for c in range(STREAM_CHUNKS)]
        stream = streamopt.EWMStream(alpha=ALPHA, adjust=False)
        stream.update(np.zeros(nkeys), keys=names)  # every key seen once: a settled stream
        want = stream.update(chunks[0][0], keys=chunks[0][1])["mean"]
        turn = itertools.cycle(chunks)

        def update() -> Any:
            values, keys = next(turn)
            return stream.update(values, keys=keys)

        ours = measure(update, **kw)
        rows.append(result(GROUP, case, "streamopt", chunk, "float64", ours, keys=nkeys,
                           observations_per_second=chunk / ours.best))
        if river is None:
            rows.append(missing(GROUP, case, "river", chunk, "float64"))
            continue
        means = {k: river.EWMean(fading_factor=ALPHA) for k in names.tolist()}
        for m in means.values():
            m.update(0.0)
        lists = [(v.tolist(), k.tolist()) for v, k in chunks]
        first = []
        for v, k in zip(*lists[0]):
            means[k].update(v)
            first.append(means[k].get())
        error = check_agreement(case, "river", np.array(first), want)
        river_turn = itertools.cycle(lists)

        def river_chunk() -> None:  # one EWMean per key, updated observation by observation
            values, keys = next(river_turn)
            for k, v in zip(keys, values):
                means[k].update(v)

        theirs = measure(river_chunk, **kw)
        rows.append(result(GROUP, case, "river", chunk, "float64", theirs, agreement=error,
                           observations_per_second=chunk / theirs.best))
    return rows


def run(quick: bool = False) -> list[Result]:
    """Time every case at :data:`SIZE` values (``quick``: :data:`SIZE_QUICK`, a few seconds)."""
    n = SIZE_QUICK if quick else SIZE
    return (_mean_times(n, quick) + _moments(n, quick) + _latency_bound(n, quick) + _grouped(n, quick)
            + _stream_keys(quick))


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
