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
from _harness import Result, format_table, measure, missing, optional, result, timing_options  # noqa: E402

GROUP = "ewa"
BETA = 0.9
ALPHA = 1.0 - BETA
REFERENCE_MAX = 10**5
#: Fraction of NaN values in the ``*-nan`` cases.
NAN_FRACTION = 0.1


_POLARS_NOTE = {"what": "NaN given as null (nan_to_null / fill_nan(None)): null output where the input is missing"}
_NUMBAGG_NOTE = {"what": "decays the weights through a NaN (pandas' ignore_na=False): a slightly different result"}


def _bench(case: str, x: np.ndarray, quick: bool, nan: bool) -> list[Result]:
    """Every library on ``x`` (one series, or series down axis 0 of a 2-D array)."""
    import pandas as pd

    import streamopt
    from streamopt import reference

    kw = timing_options(quick)
    n, dtype = x.size, x.dtype.name

    def row(library: str, fn, **extra) -> Result:
        return result(GROUP, case, library, n, dtype, measure(fn, **kw), **extra)

    rows = [row("streamopt", lambda: streamopt.ewa(x, BETA, bias_correction=True)),
            row("streamopt-uncorrected", lambda: streamopt.ewa(x, BETA))]
    if x.ndim == 2:
        rows.append(row("floor", lambda: x.copy(order="K"),
                        what="x.copy(): one read + one write of every element into a new array"))
    frame = pd.Series(x) if x.ndim == 1 else pd.DataFrame(x, copy=False)
    rows.append(row("pandas", lambda: frame.ewm(alpha=ALPHA, adjust=True, ignore_na=True).mean()))
    pl = optional("polars")
    if pl is None:
        rows.append(missing(GROUP, case, "polars", n, dtype))
    elif x.ndim == 1:
        ps = pl.Series("x", x, nan_to_null=nan)
        rows.append(row("polars", lambda: ps.ewm_mean(alpha=ALPHA, adjust=True, ignore_nulls=True),
                        **_POLARS_NOTE if nan else {}))
    else:
        pdf = pl.from_numpy(x).fill_nan(None) if nan else pl.from_numpy(x)
        rows.append(row("polars", lambda: pdf.select(pl.all().ewm_mean(alpha=ALPHA, adjust=True, ignore_nulls=True)),
                        **_POLARS_NOTE if nan else {}))
    nb = optional("numbagg")
    if nb is None:
        rows.append(missing(GROUP, case, "numbagg", n, dtype))
    else:
        rows.append(row("numbagg", lambda: nb.move_exp_nanmean(x, alpha=ALPHA, axis=0),
                        **_NUMBAGG_NOTE if nan else {}))
    if x.ndim == 1 and n <= REFERENCE_MAX:
        rows.append(result(GROUP, case, "reference", n, dtype,
                           measure(lambda: reference.ewa(x, BETA, bias_correction_=True), repeat=3, min_time=0.01)))
    else:
        rows.append(missing(GROUP, case, "reference", n, dtype, why=f"Python loop: only up to {REFERENCE_MAX}"))
    return rows


def _data(shape, dtype: str, seed: int, nan: bool, order: str = "C") -> np.ndarray:
    """Normal values, with :data:`NAN_FRACTION` of them NaN at random positions when ``nan``."""
    x = np.random.default_rng(seed).normal(size=shape).astype(dtype)
    if nan:
        x[np.random.default_rng(seed + 2).random(x.shape) < NAN_FRACTION] = np.nan
    return np.asarray(x, order=order)


def run(quick: bool = False) -> list[Result]:
    """Time every case; ``quick`` uses smaller sizes and fewer repeats (~10 s)."""
    sizes = [10**3, 10**5] if quick else [10**3, 10**4, 10**5, 10**6, 10**7]
    dtypes = ["float64"] if quick else ["float64", "float32"]
    shape = (10**4, 100) if quick else (10**5, 100)
    results: list[Result] = []
    for dtype in dtypes:
        for n in sizes:
            results += _bench("1d", _data(n, dtype, 0, False), quick, False)
    for dtype in dtypes:
        for order in ("C", "F"):
            results += _bench(f"2d-{order}", _data(shape, dtype, 1, False, order), quick, False)
    results += _bench("1d-nan", _data(10**5 if quick else 10**6, "float64", 0, True), quick, True)
    for order in ("C", "F"):
        results += _bench(f"2d-{order}-nan", _data(shape, "float64", 1, True, order), quick, True)
    return results


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
