"""Benchmark group "ewa": batch exponentially weighted mean.

Cases (every library computes the same thing: the bias-corrected, NaN-skipping mean, i.e. pandas'
``ewm(alpha, adjust=True, ignore_na=True).mean()``):

- ``1d``: one float64/float32 series of 10^3 … 10^7 values.  A single series is one chain of
  dependent multiply-adds, so the floor is that chain's latency; ``streamopt-uncorrected`` shows
  the same kernel without the bias correction.
- ``2d-C`` / ``2d-F``: 10^5 × 100 (100 series down axis 0), row-major and column-major.  These are
  bandwidth-bound: ``floor`` is a plain ``x.copy()`` (one read and one write of every element into a
  new array, as every library here returns a new array), the memory floor for any one-pass kernel.
- ``1d-nan`` (10^6 values), ``2d-C-nan`` / ``2d-F-nan`` (10^5 × 100): the same, float64, with
  :data:`NAN_FRACTION` of the values NaN at random positions.  NaN semantics differ between peers:
  pandas (``ignore_na=True``) and streamopt skip a NaN and repeat the last value; polars only skips
  nulls, so its input is built with ``nan_to_null=True`` (same values at observed positions, null
  output at missing ones); numbagg's ``move_exp_nanmean`` keeps decaying the weights through a NaN
  (pandas' ``ignore_na=False``), a slightly different result for the same work.

Peers: pandas ``ewm``, polars ``ewm_mean`` (on a polars DataFrame built beforehand), numbagg
``move_exp_nanmean`` and the notes' plain-Python loop (``streamopt.reference.ewa``; only up to 10^5
values, it is a per-element Python loop).  A peer that is not installed gives a ``missing`` row.

    python bench/ewa.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Result, format_table, measure, missing, optional, result  # noqa: E402

GROUP = "ewa"
BETA = 0.9
ALPHA = 1.0 - BETA
REFERENCE_MAX = 10**5
#: Fraction of NaN values in the ``*-nan`` cases.
NAN_FRACTION = 0.1


def _with_nans(x: np.ndarray, seed: int) -> np.ndarray:
    """``x`` with :data:`NAN_FRACTION` of its values set to NaN at random positions (in place)."""
    x[np.random.default_rng(seed).random(x.shape) < NAN_FRACTION] = np.nan
    return x


_POLARS_NOTE = {"what": "NaN given as null (nan_to_null / fill_nan(None)): null output where the input is missing"}
_NUMBAGG_NOTE = {"what": "decays the weights through a NaN (pandas' ignore_na=False): a slightly different result"}


def _timing_kwargs(quick: bool) -> dict:
    return {"repeat": 3, "min_time": 0.02} if quick else {"repeat": 5, "min_time": 0.1}


def _bench_1d(n: int, dtype: str, quick: bool, nan: bool = False) -> list[Result]:
    import pandas as pd

    import streamopt
    from streamopt import reference

    kw = _timing_kwargs(quick)
    case = "1d-nan" if nan else "1d"
    x = np.random.default_rng(0).normal(size=n).astype(dtype)
    if nan:
        x = _with_nans(x, 2)
    rows = [
        result(GROUP, case, "streamopt", n, dtype,
               measure(lambda: streamopt.ewa(x, BETA, bias_correction=True), **kw)),
        result(GROUP, case, "streamopt-uncorrected", n, dtype,
               measure(lambda: streamopt.ewa(x, BETA), **kw)),
    ]
    s = pd.Series(x)
    rows.append(result(GROUP, case, "pandas", n, dtype,
                       measure(lambda: s.ewm(alpha=ALPHA, adjust=True, ignore_na=True).mean(), **kw)))
    pl = optional("polars")
    if pl is None:
        rows.append(missing(GROUP, case, "polars", n, dtype))
    else:
        ps = pl.Series("x", x, nan_to_null=nan)
        rows.append(result(GROUP, case, "polars", n, dtype,
                           measure(lambda: ps.ewm_mean(alpha=ALPHA, adjust=True, ignore_nulls=True), **kw),
                           **_POLARS_NOTE if nan else {}))
    nb = optional("numbagg")
    if nb is None:
        rows.append(missing(GROUP, case, "numbagg", n, dtype))
    else:
        rows.append(result(GROUP, case, "numbagg", n, dtype,
                           measure(lambda: nb.move_exp_nanmean(x, alpha=ALPHA), **kw), **_NUMBAGG_NOTE if nan else {}))
    if n <= REFERENCE_MAX:
        rows.append(result(GROUP, case, "reference", n, dtype,
                           measure(lambda: reference.ewa(x, BETA, bias_correction_=True), repeat=3, min_time=0.01)))
    else:
        rows.append(missing(GROUP, case, "reference", n, dtype, why=f"Python loop: only up to {REFERENCE_MAX}"))
    return rows


def _bench_2d(shape: tuple[int, int], order: str, dtype: str, quick: bool, nan: bool = False) -> list[Result]:
    import pandas as pd

    import streamopt

    kw = _timing_kwargs(quick)
    case = f"2d-{order}-nan" if nan else f"2d-{order}"
    size = shape[0] * shape[1]
    x = np.random.default_rng(1).normal(size=shape).astype(dtype)
    if nan:
        x = _with_nans(x, 3)
    x = np.asarray(x, order=order)
    rows = [
        result(GROUP, case, "streamopt", size, dtype,
               measure(lambda: streamopt.ewa(x, BETA, bias_correction=True), **kw)),
        result(GROUP, case, "streamopt-uncorrected", size, dtype,
               measure(lambda: streamopt.ewa(x, BETA), **kw)),
        result(GROUP, case, "floor", size, dtype, measure(lambda: x.copy(order="K"), **kw),
               what="x.copy(): one read + one write of every element into a new array"),
    ]
    df = pd.DataFrame(x, copy=False)
    rows.append(result(GROUP, case, "pandas", size, dtype,
                       measure(lambda: df.ewm(alpha=ALPHA, adjust=True, ignore_na=True).mean(), **kw)))
    pl = optional("polars")
    if pl is None:
        rows.append(missing(GROUP, case, "polars", size, dtype))
    else:
        pdf = pl.from_numpy(x)
        if nan:
            pdf = pdf.fill_nan(None)
        rows.append(result(GROUP, case, "polars", size, dtype, measure(
            lambda: pdf.select(pl.all().ewm_mean(alpha=ALPHA, adjust=True, ignore_nulls=True)), **kw),
            **_POLARS_NOTE if nan else {}))
    nb = optional("numbagg")
    if nb is None:
        rows.append(missing(GROUP, case, "numbagg", size, dtype))
    else:
        rows.append(result(GROUP, case, "numbagg", size, dtype,
                           measure(lambda: nb.move_exp_nanmean(x, alpha=ALPHA, axis=0), **kw),
                           **_NUMBAGG_NOTE if nan else {}))
    rows.append(missing(GROUP, case, "reference", size, dtype, why=f"Python loop: only up to {REFERENCE_MAX}"))
    return rows


def run(quick: bool = False) -> list[Result]:
    """Time every case; ``quick`` uses smaller sizes and fewer repeats (~10 s)."""
    sizes = [10**3, 10**5] if quick else [10**3, 10**4, 10**5, 10**6, 10**7]
    dtypes = ["float64"] if quick else ["float64", "float32"]
    shape = (10**4, 100) if quick else (10**5, 100)
    results: list[Result] = []
    for dtype in dtypes:
        for n in sizes:
            results += _bench_1d(n, dtype, quick)
    for dtype in dtypes:
        for order in ("C", "F"):
            results += _bench_2d(shape, order, dtype, quick)
    results += _bench_1d(10**5 if quick else 10**6, "float64", quick, nan=True)
    for order in ("C", "F"):
        results += _bench_2d(shape, order, "float64", quick, nan=True)
    return results


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
