"""Kernels for the exponentially weighted covariance (pandas' ``ewm().cov()``, ``var``, ``std``, ``corr``).

The one weighted West update of every EW variance and covariance of the
package (:mod:`.ewa_var` calls :func:`cov_step` too).  Weights w_i on the
observations seen: W = Σw (the weight of the past), the weighted means of x
and y, c = Σw·(x − x̄)(y − ȳ) / Σw (the biased covariance), s2 = Σw² and
D = (Σw)² − Σw², all float64.  A row is an observation iff x and y are both
finite; the decay between observations is β^gap as in :mod:`.ewm`.
"""

from __future__ import annotations

import numpy as np

from ._common import jit
from .ewa_mean import finite
from .ewm import decay, gap_after


@jit
def cov_step(cx, cy, f, new_wt, adjust, wt, s2, den, mx, my, c):
    """The state (wt, s2, den, mx, my, c) after the observation (cx, cy), the past decayed by ``f``.

    ::

        W ← f·W,  x̄' = (W·x̄ + n·x) / (W + n)  (ȳ' alike; n = ``new_wt``),
        c ← (W·(c + (x̄ − x̄')(ȳ − ȳ')) + n·(x − x̄')(y − ȳ')) / (W + n),
        s2 ← f²·s2 + n²,  D ← f²·D + 2·W·n,  W ← W + n

    then, without ``adjust``, W, s2 and D are divided by W² (W becomes 1), as
    pandas does.  With x = y every term of c is a square times a positive
    weight (never negative), a mean equal to the new value is kept exactly (c
    stays exactly 0 on a constant series), and D is a sum of positive terms.
    """
    wt = wt * f
    ff = f * f
    s2 = ff * s2 + new_wt * new_wt
    den = ff * den + 2.0 * wt * new_wt
    old_x = mx
    old_y = my
    if mx != cx:
        mx = (wt * old_x + new_wt * cx) / (wt + new_wt)
    if my != cy:
        my = (wt * old_y + new_wt * cy) / (wt + new_wt)
    c = (wt * (c + (old_x - mx) * (old_y - my)) + new_wt * ((cx - mx) * (cy - my))) / (wt + new_wt)
    wt = wt + new_wt
    if not adjust:
        norm = wt * wt
        s2 = s2 / norm
        den = den / norm
        wt = 1.0
    return wt, s2, den, mx, my, c


@jit
def cov_value(c, wt, s2, den, biased):
    """The biased covariance c, or the unbiased c·(Σw)² / ((Σw)² − Σw²) (NaN while that is undefined).

    (Σw)² / ((Σw)² − Σw²) = 1 / (1 − Σw²/(Σw)²) while Σw² ≤ (Σw)²/2 (no
    cancellation, and accurate for β → 1 where the recurrence of D would carry
    the rounding of β² into every step); otherwise (Σw)² / D, D kept as a sum
    of positive terms (accurate for β → 0).
    """
    if biased:
        return c
    w2 = wt * wt
    if s2 <= 0.5 * w2:
        return c / (1.0 - s2 / w2)
    if den > 0.0:
        return (w2 / den) * c
    return np.nan


@jit(inline="always")
def cov_row(cx, cy, delta, started, wt, s2, den, mx, my, c, nobs, gap, log_beta, alpha, new_wt, adjust,
            count_missing):
    """One row (cx, cy) (step ``delta``) of a pair of series: the state (started … gap) after it (:func:`cov_step`).

    A row is an observation iff both values are finite.
    """
    obs = finite(cx) and finite(cy)
    nobs += 1 if obs else 0
    gap = gap_after(gap, delta, started, obs, count_missing)
    if started:
        if obs:
            f = decay(log_beta, 1.0 - alpha, gap)
            wt, s2, den, mx, my, c = cov_step(cx, cy, f, new_wt, adjust, wt, s2, den, mx, my, c)
            gap = 0.0
    elif obs:
        mx = cx
        my = cy
        started = True
    return started, wt, s2, den, mx, my, c, nobs, gap


@jit
def ewm_cov(x, y, out, deltas, slot, nkeys, log_beta, alpha, adjust, count_missing, min_periods, biased):
    """pandas' EW covariance of the rows of ``x`` and ``y`` (k, n) into ``out`` (k, n); var with y = x.

    A new observation weighs 1 (``adjust``) or α (:func:`cov_row`).  ``slot``
    None: each row of x, y is one series.  Otherwise each key (``slot[i]`` in
    0 … nkeys − 1) is its own series with its own state, in row order, and a
    row of negative slot is NaN.

    Output NaN while fewer than ``min_periods`` rows have both values.
    """
    k, n = x.shape
    new_wt = 1.0 if adjust else alpha
    if slot is None:  # one series per row, its state in registers (no per-key arrays on the hot path)
        for j in range(k):
            started, wt, s2, den, mx, my, c, nobs, gap = False, 1.0, 1.0, 0.0, np.nan, np.nan, 0.0, 0, 0.0
            for i in range(n):
                started, wt, s2, den, mx, my, c, nobs, gap = cov_row(
                    x[j, i], y[j, i], deltas[i], started, wt, s2, den, mx, my, c, nobs, gap, log_beta, alpha,
                    new_wt, adjust, count_missing)
                out[j, i] = cov_value(c, wt, s2, den, biased) if nobs >= min_periods else np.nan
        return
    starts = np.empty(nkeys, dtype=np.bool_)
    wts = np.empty(nkeys)
    s2s = np.empty(nkeys)
    dens = np.empty(nkeys)
    mxs = np.empty(nkeys)
    mys = np.empty(nkeys)
    cs = np.empty(nkeys)
    nobss = np.empty(nkeys, dtype=np.int64)
    gaps = np.empty(nkeys)
    for j in range(k):
        starts[:] = False
        wts[:] = 1.0
        s2s[:] = 1.0
        dens[:] = 0.0
        mxs[:] = np.nan
        mys[:] = np.nan
        cs[:] = 0.0
        nobss[:] = 0
        gaps[:] = 0.0
        for i in range(n):
            s = slot[i]
            if s < 0:
                out[j, i] = np.nan
                continue
            starts[s], wts[s], s2s[s], dens[s], mxs[s], mys[s], cs[s], nobss[s], gaps[s] = cov_row(
                x[j, i], y[j, i], deltas[i], starts[s], wts[s], s2s[s], dens[s], mxs[s], mys[s], cs[s], nobss[s],
                gaps[s], log_beta, alpha, new_wt, adjust, count_missing)
            out[j, i] = (cov_value(cs[s], wts[s], s2s[s], dens[s], biased) if nobss[s] >= min_periods
                         else np.nan)


__all__ = ["cov_step", "cov_value", "cov_row", "ewm_cov"]
