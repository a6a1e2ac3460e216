"""Kernels for the exponentially weighted variance (pandas' ``ewm(adjust=True).var()``).

Weights w_i = β^{count−i} on the observations seen; the state of each series
is (mean, m2, sw, den, count) in float64 whatever the data dtype (rows of a
(5, k) array).  A value is observed iff it is finite (NaN and ±inf are
missing), as for the mean (:mod:`.ewa_mean`).
"""

from __future__ import annotations

import numpy as np

from ._common import jit
from .ewa_mean import finite


@jit
def var_step(x, beta, skipna, mean, m2, sw, den, count):
    """One value of the weighted (West) update, as pandas' ``ewmcov`` (adjust=True).

    With weights w_i = β^{count−i}: sw = Σw, mean the weighted mean,
    m2 = Σw·(x − mean)² / Σw (the biased variance) and den = (Σw)² − Σw².
    For a new value (weight 1, the others decayed by β)::

        sw ← β·sw,  mean' = (sw·mean + x) / (sw + 1),
        m2 ← (sw·(m2 + (mean − mean')²) + (x − mean')²) / (sw + 1),
        den ← β²·den + 2·sw,  sw ← sw + 1

    Every term of m2 is a square times a positive weight (never negative), and
    a constant series keeps mean' = mean exactly, hence m2 = 0 exactly.  den
    is a sum of positive terms (Σw² is never subtracted), so the unbiasing
    factor (Σw)² / den stays accurate even for β near 0.
    """
    if not finite(x):  # NaN or ±inf: missing
        if skipna:
            return mean, m2, sw, den, count
        return np.nan, np.nan, sw, den, count + 1.0
    if count == 0.0:
        return x, 0.0, 1.0, 0.0, 1.0
    sw = sw * beta
    den = (beta * beta) * den + 2.0 * sw
    old = mean
    if mean != x:
        mean = (sw * old + x) / (sw + 1.0)
    m2 = (sw * (m2 + (old - mean) * (old - mean)) + (x - mean) * (x - mean)) / (sw + 1.0)
    return mean, m2, sw + 1.0, den, count + 1.0


@jit
def var_value(m2, sw, den, count, biased):
    """The biased variance m2, or the unbiased m2·(Σw)² / ((Σw)² − Σw²) (NaN while undefined)."""
    if count == 0.0:
        return np.nan
    if biased:
        return m2
    if den > 0.0:
        return (sw * sw / den) * m2
    return np.nan


@jit
def ewvar_lanes(x, out, state, beta, biased, skipna):
    """EW variance of k contiguous series: x, out of shape (k, n), C-contiguous.

    ``state`` is a (5, k) float64 array (mean, m2, sw, den, count) per series,
    updated in place; computation is in float64 whatever the data dtype.
    """
    k, n = x.shape
    for j in range(k):
        mean = state[0, j]
        m2 = state[1, j]
        sw = state[2, j]
        den = state[3, j]
        count = state[4, j]
        for i in range(n):
            mean, m2, sw, den, count = var_step(float(x[j, i]), beta, skipna, mean, m2, sw, den, count)
            out[j, i] = var_value(m2, sw, den, count, biased)
        state[0, j] = mean
        state[1, j] = m2
        state[2, j] = sw
        state[3, j] = den
        state[4, j] = count


@jit
def ewvar_rows(x, out, state, beta, biased, skipna):
    """EW variance of k parallel series: x, out of shape (n, k), C-contiguous.

    Same state and arithmetic as :func:`ewvar_lanes`, walking each row across
    the series.
    """
    n, k = x.shape
    for i in range(n):
        for j in range(k):
            mean, m2, sw, den, count = var_step(float(x[i, j]), beta, skipna, state[0, j], state[1, j],
                                                 state[2, j], state[3, j], state[4, j])
            state[0, j] = mean
            state[1, j] = m2
            state[2, j] = sw
            state[3, j] = den
            state[4, j] = count
            out[i, j] = var_value(m2, sw, den, count, biased)


__all__ = ["var_step", "var_value", "ewvar_lanes", "ewvar_rows"]
