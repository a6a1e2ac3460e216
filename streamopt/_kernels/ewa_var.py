"""Kernels for the exponentially weighted variance (pandas' ``ewm(adjust=True).var()``).

Weights w_i = β^{count−i} on the observations seen; the state of each series
is (mean, m2, sw, s2, den, count) in float64 whatever the data dtype (rows
of a (6, k) array).  A value is observed iff it is finite (NaN and ±inf are
missing), as for the mean (:mod:`.ewa_mean`).
"""

from __future__ import annotations

import numpy as np

from ._common import jit
from .ewa_mean import finite
from .ewm_cov import cov_step, cov_value


@jit
def var_step(x, beta, skipna, mean, m2, sw, s2, den, count):
    """One value of the weighted (West) update, as pandas' ``ewmcov`` (adjust=True, ignore_na=True).

    With weights w_i = β^{count−i}: sw = Σw, mean the weighted mean,
    m2 = Σw·(x − mean)² / Σw (the biased variance), s2 = Σw² and
    den = (Σw)² − Σw²: :func:`.ewm_cov.cov_step` with y = x, decay β and a new
    weight 1 (the one place the update is written).  A missing value (NaN or
    ±inf) is skipped, or with ``skipna`` off turns the mean and m2 into NaN.
    """
    if not finite(x):  # NaN or ±inf: missing
        if skipna:
            return mean, m2, sw, s2, den, count
        return np.nan, np.nan, sw, s2, den, count + 1.0
    if count == 0.0:
        return x, 0.0, 1.0, 1.0, 0.0, 1.0
    sw, s2, den, mean, _, m2 = cov_step(x, x, beta, 1.0, True, sw, s2, den, mean, mean, m2)
    return mean, m2, sw, s2, den, count + 1.0


@jit
def var_value(m2, sw, s2, den, count, biased):
    """The biased variance m2, or the unbiased m2·(Σw)² / ((Σw)² − Σw²) (NaN while undefined)."""
    if count == 0.0:
        return np.nan
    return cov_value(m2, sw, s2, den, biased)


@jit
def ewvar_lanes(x, out, state, beta, biased, skipna):
    """EW variance of k contiguous series: x, out of shape (k, n), C-contiguous.

    ``state`` is a (6, k) float64 array (mean, m2, sw, s2, den, count) per series,
    updated in place; computation is in float64 whatever the data dtype.
    """
    k, n = x.shape
    for j in range(k):
        mean = state[0, j]
        m2 = state[1, j]
        sw = state[2, j]
        s2 = state[3, j]
        den = state[4, j]
        count = state[5, j]
        for i in range(n):
            mean, m2, sw, s2, den, count = var_step(float(x[j, i]), beta, skipna, mean, m2, sw, s2, den, count)
            out[j, i] = var_value(m2, sw, s2, den, count, biased)
        _store(state, j, mean, m2, sw, s2, den, count)


@jit
def _store(state, j, mean, m2, sw, s2, den, count):
    """Write series j's fields back into the (6, k) ``state``."""
    state[0, j] = mean
    state[1, j] = m2
    state[2, j] = sw
    state[3, j] = s2
    state[4, j] = den
    state[5, j] = count


@jit
def ewvar_rows(x, out, state, beta, biased, skipna):
    """EW variance of k parallel series: x, out of shape (n, k), C-contiguous.

    Same state and arithmetic as :func:`ewvar_lanes`, walking each row across
    the series.
    """
    n, k = x.shape
    for i in range(n):
        for j in range(k):
            mean, m2, sw, s2, den, count = var_step(float(x[i, j]), beta, skipna, state[0, j], state[1, j],
                                                     state[2, j], state[3, j], state[4, j], state[5, j])
            _store(state, j, mean, m2, sw, s2, den, count)
            out[i, j] = var_value(m2, sw, s2, den, count, biased)


__all__ = ["var_step", "var_value", "ewvar_lanes", "ewvar_rows"]
