"""Benchmark group "ewa": batch exponentially weighted mean.

Cases (every library computes the same thing: the bias-corrected, NaN-skipping mean, i.e. pandas'
``ewm(alpha, adjust=True, ignore_na=True).mean()``):

- ``1d``: one float64/float32 series of 10^3 … 10^7 values.  A single series is one chain of
  dependent multiply-adds, so the floor is that chain's latency; ``streamopt-uncorrected`` shows
  the same kernel without the bias correction.
- ``2d-C`` / ``2d-F``: 10^5 × 100 (100 series down axis 0), row-major and column-major.  These are
  bandwidth-bound: ``floor`` is a plain ``x.copy()`` (one read and one write of every element into a
  new array, as every library here returns a new array), the memory floor for any one-pass kernel.

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


def _timing_kwargs(quick: bool) -> dict:
    return {"repeat": 3, "min_time": 0.02} if quick else {"repeat": 5, "min_time": 0.1}


def _bench_1d(n: int, dtype: str, quick: bool) -> list[Result]:
    import pandas as pd

    import streamopt
    from streamopt import reference

    kw = _timing_kwargs(quick)
    x = np.random.default_rng(0).normal(size=n).astype(dtype)
    rows = [
        result(GROUP, "1d", "streamopt", n, dtype,
               measure(lambda: streamopt.ewa(x, BETA, bias_correction=True), **kw)),
        result(GROUP, "1d", "streamopt-uncorrected", n, dtype,
               measure(lambda: streamopt.ewa(x, BETA), **kw)),
    ]
    s = pd.Series(x)
    rows.append(result(GROUP, "1d", "pandas", n, dtype,
                       measure(lambda: s.ewm(alpha=ALPHA, adjust=True, ignore_na=True).mean(), **kw)))
    pl = optional("polars")
    if pl is None:
        rows.append(missing(GROUP, "1d", "polars", n, dtype))
    else:
        ps = pl.Series("x", x)
        rows.append(result(GROUP, "1d", "polars", n, dtype,
                           measure(lambda: ps.ewm_mean(alpha=ALPHA, adjust=True, ignore_nulls=True), **kw)))
    nb = optional("numbagg")
    if nb is None:
        rows.append(missing(GROUP, "1d", "numbagg", n, dtype))
    else:
        rows.append(result(GROUP, "1d", "numbagg", n, dtype,
                           measure(lambda: nb.move_exp_nanmean(x, alpha=ALPHA), **kw)))
    if n <= REFERENCE_MAX:
        rows.append(result(GROUP, "1d", "reference", n, dtype,
                           measure(lambda: reference.ewa(x, BETA, bias_correction_=True), repeat=3, min_time=0.01)))
    else:
        rows.append(missing(GROUP, "1d", "reference", n, dtype, why=f"Python loop: only up to {REFERENCE_MAX}"))
    return rows


def _bench_2d(shape: tuple[int, int], order: str, dtype: str, quick: bool) -> list[Result]:
    import pandas as pd

    import streamopt

    kw = _timing_kwargs(quick)
    case = f"2d-{order}"
    size = shape[0] * shape[1]
    x = np.asarray(np.random.default_rng(1).normal(size=shape).astype(dtype), order=order)
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
        rows.append(result(GROUP, case, "polars", size, dtype, measure(
            lambda: pdf.select(pl.all().ewm_mean(alpha=ALPHA, adjust=True, ignore_nulls=True)), **kw)))
    nb = optional("numbagg")
    if nb is None:
        rows.append(missing(GROUP, case, "numbagg", size, dtype))
    else:
        rows.append(result(GROUP, case, "numbagg", size, dtype,
                           measure(lambda: nb.move_exp_nanmean(x, alpha=ALPHA, axis=0), **kw)))
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
    return results


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
