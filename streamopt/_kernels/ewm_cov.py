"""Kernels for the exponentially weighted covariance (pandas' ``ewm().cov()``, ``var``, ``std``, ``corr``).

The one weighted West update of every EW variance and covariance of the
package (:mod:`.ewa_var` calls :func:`cov_step` too).  Weights w_i on the
observations seen: W = Σw (the weight of the past), the weighted means of x
and y, c = Σw·(x − x̄)(y − ȳ) / Σw (the biased covariance), s2 = Σw² and
D = (Σw)² − Σw², all float64.  A row is an observation iff x and y are both
finite; the decay between observations is β^gap as in :mod:`.ewm`.

``y`` None: the variance of x (y = x, one mean).
"""

from __future__ import annotations

import numpy as np

from ._common import fma, jit
from .ewa_mean import finite
from .ewm import decay, gap_after


@jit
def cov_weights(f, new_wt, adjust, wt, s2, den):
    """(W, s2, D, keep, weight, keep·weight) after an observation of weight n = ``new_wt``, the past decayed by f.

    ::

        W_f = f·W,  W' = W_f + n,  keep = W_f / W',  weight = n / W',
        s2 ← f²·s2 + n²,  D ← f²·D + 2·W_f·n

    then, without ``adjust``, W', s2 and D are divided by W'² (W' becomes 1),
    as pandas does.  They depend on the gaps only (not on the data): on a
    regular series they reach a fixed point.  D is a sum of positive terms.
    """
    wt = wt * f
    total = wt + new_wt
    r = 1.0 / total
    keep = wt * r
    weight = new_wt * r
    ff = f * f
    s2 = fma(ff, s2, new_wt * new_wt)
    den = fma(ff, den, 2.0 * wt * new_wt)
    if adjust:
        return total, s2, den, keep, weight, keep * weight
    rr = r * r
    return 1.0, s2 * rr, den * rr, keep, weight, keep * weight


@jit
def cov_moments(cx, cy, weight, keep, kw, mx, my, c):
    """(x̄, ȳ, c) after the observation (cx, cy) with the coefficients of :func:`cov_weights`::

        dx = x − x̄,  dy = y − ȳ,  x̄ ← x̄ + weight·dx,  ȳ ← ȳ + weight·dy,
        c ← keep·c + keep·weight·dx·dy

    (the West update c' = keep·(c + weight·dx·dy)).  With x = y the new term
    is a square times a positive weight (never negative), and a mean equal to
    the new value stays exactly as it is (c stays exactly 0 on a constant
    series).
    """
    dx = cx - mx
    dy = cy - my
    return moved(mx, weight, dx), moved(my, weight, dy), co_moment(c, keep, kw, dx, dy)


@jit
def moved(m, weight, d):
    """A weighted mean m after an observation d = x − m away from it: m + weight·d (exactly m for d = 0)."""
    return fma(weight, d, m)


@jit
def co_moment(c, keep, kw, dx, dy):
    """A biased co-moment c after an observation dx, dy away from the old means: keep·c + kw·dx·dy."""
    return fma(keep, c, kw * dx * dy)


@jit
def cov_step(cx, cy, f, new_wt, adjust, wt, s2, den, mx, my, c):
    """The state (wt, s2, den, mx, my, c) after the observation (cx, cy), the past decayed by ``f``.

    :func:`cov_weights`, then :func:`cov_moments`.
    """
    wt, s2, den, keep, weight, kw = cov_weights(f, new_wt, adjust, wt, s2, den)
    mx, my, c = cov_moments(cx, cy, weight, keep, kw, mx, my, c)
    return wt, s2, den, mx, my, c


@jit
def unbiased_factor(wt, s2, den):
    """(Σw)² / ((Σw)² − Σw²), NaN while that is undefined.

    As 1 / (1 − Σw²/(Σw)²) while Σw² ≤ (Σw)²/2 (no cancellation, and accurate
    for β → 1 where the recurrence of D would carry the rounding of β² into
    every step); otherwise (Σw)² / D, D kept as a sum of positive terms
    (accurate for β → 0).
    """
    w2 = wt * wt
    if s2 <= 0.5 * w2:
        return 1.0 / (1.0 - s2 / w2)
    if den > 0.0:
        return w2 / den
    return np.nan


@jit
def cov_value(c, wt, s2, den, biased):
    """The biased covariance c, or the unbiased c·(Σw)² / ((Σw)² − Σw²) (:func:`unbiased_factor`)."""
    if biased:
        return c
    return c * unbiased_factor(wt, s2, den)


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
def shown(value, root):
    """The value, or its square root with ``root`` (a variance never negative: no NaN from the root)."""
    return np.sqrt(value) if root else value


@jit(inline="always")
def pair(x, y, j, i, masked):
    """(x[j, i], y[j, i]); y None: (x[j, i], x[j, i]).

    ``masked``: the pair as pandas forms it, (x + 0·y, y + 0·x): NaN where
    the other value is not finite, and the sign of a zero as pandas gives
    it, without the two arrays pandas' arithmetic allocates (``bench/ewm.py``,
    cases ``cov``, ``corr``).
    """
    cx = x[j, i]
    if y is None:
        return cx, cx
    cy = y[j, i]
    if masked:
        return cx + 0.0 * cy, cy + 0.0 * cx
    return cx, cy


@jit
def regular_cov(x, y, masked, out, j, i, wt, s2, den, mx, my, c, alpha, new_wt, adjust, biased, root):
    """Rows i, i+1, … of started series j on a regular grid, while every row is observed: the stop row and state.

    Each row is the observation one row after the last (f = β): the
    operations of :func:`cov_row` and :func:`cov_value` on it, without their
    branches; once W, s2 and D have reached their fixed point the weights and
    the unbiased factor are computed no more (``bench/ewm.py``, cases ``var``,
    ``std``, ``cov``).
    """
    n = x.shape[1]
    f = 1.0 - alpha
    keep, weight, kw = 1.0, 0.0, 0.0
    while i < n:
        cx, cy = pair(x, y, j, i, masked)
        if not (finite(cx) and finite(cy)):
            return i, wt, s2, den, mx, my, c
        wt1, s21, den1, keep, weight, kw = cov_weights(f, new_wt, adjust, wt, s2, den)
        mx, my, c = cov_moments(cx, cy, weight, keep, kw, mx, my, c)
        out[j, i] = shown(cov_value(c, wt1, s21, den1, biased), root)
        i += 1
        if wt1 == wt and s21 == s2 and den1 == den:
            break
        wt, s2, den = wt1, s21, den1
    factor = 1.0 if biased else unbiased_factor(wt, s2, den)
    while i < n:  # W, s2, D at their fixed point
        cx, cy = pair(x, y, j, i, masked)
        if not (finite(cx) and finite(cy)):
            break
        mx, my, c = cov_moments(cx, cy, weight, keep, kw, mx, my, c)
        out[j, i] = shown(c * factor, root)
        i += 1
    return i, wt, s2, den, mx, my, c


@jit
def ewm_cov(x, y, masked, out, deltas, slot, nkeys, log_beta, alpha, adjust, count_missing, min_periods, biased,
            root):
    """pandas' EW covariance of the rows of ``x`` and ``y`` (k, n) into ``out`` (k, n); var with y None.

    ``masked``: each row pairs x + 0·y with y + 0·x, as pandas does (:func:`pair`).

    ``root``: the square root of each value (the standard deviation), in the same pass.

    A new observation weighs 1 (``adjust``) or α (:func:`cov_row`).
    ``deltas`` None: a regular grid (:func:`regular_cov` wherever it can).
    ``slot`` None: each row of x, y is one series.  Otherwise each key
    (``slot[i]`` in 0 … nkeys − 1) is its own series with its own state, in
    row order, and a row of negative slot is NaN.

    Output NaN while fewer than ``min_periods`` rows have both values.
    """
    k, n = x.shape
    new_wt = 1.0 if adjust else alpha
    if slot is None:  # one series per row, its state in registers (no per-key arrays on the hot path)
        for j in range(k):
            started, wt, s2, den, mx, my, c, nobs, gap = False, 1.0, 1.0, 0.0, np.nan, np.nan, 0.0, 0, 0.0
            i = 0
            while i < n:
                if deltas is None and started and gap == 0.0 and nobs >= min_periods:
                    stop, wt, s2, den, mx, my, c = regular_cov(x, y, masked, out, j, i, wt, s2, den, mx, my, c,
                                                               alpha, new_wt, adjust, biased, root)
                    nobs += stop - i
                    i = stop
                    if i == n:
                        break
                cx, cy = pair(x, y, j, i, masked)
                started, wt, s2, den, mx, my, c, nobs, gap = cov_row(
                    cx, cy, 1.0 if deltas is None else deltas[i], started, wt, s2, den, mx, my, c, nobs, gap,
                    log_beta, alpha, new_wt, adjust, count_missing)
                out[j, i] = shown(cov_value(c, wt, s2, den, biased), root) if nobs >= min_periods else np.nan
                i += 1
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
            cx, cy = pair(x, y, j, i, masked)
            starts[s], wts[s], s2s[s], dens[s], mxs[s], mys[s], cs[s], nobss[s], gaps[s] = cov_row(
                cx, cy, 1.0 if deltas is None else deltas[i], starts[s], wts[s], s2s[s], dens[s], mxs[s],
                mys[s], cs[s], nobss[s], gaps[s], log_beta, alpha, new_wt, adjust, count_missing)
            out[j, i] = (shown(cov_value(cs[s], wts[s], s2s[s], dens[s], biased), root) if nobss[s] >= min_periods
                         else np.nan)


@jit(inline="always")
def corr_row(cx, cy, delta, started, wt, mx, my, cxx, cyy, cxy, nobs, gap, log_beta, alpha, new_wt, adjust,
             count_missing):
    """One row of :func:`ewm_corr`: the state (started, W, x̄, ȳ, cxx, cyy, cxy, nobs, gap) after it.

    The biased variances and covariance of :func:`cov_row` (the same weights
    and updates, :func:`cov_weights`, :func:`moved`, :func:`co_moment`), in one pass.
    """
    obs = finite(cx) and finite(cy)
    nobs += 1 if obs else 0
    gap = gap_after(gap, delta, started, obs, count_missing)
    if started:
        if obs:
            f = decay(log_beta, 1.0 - alpha, gap)
            wt, _, _, keep, weight, kw = cov_weights(f, new_wt, adjust, wt, 0.0, 0.0)
            dx = cx - mx
            dy = cy - my
            mx = moved(mx, weight, dx)
            my = moved(my, weight, dy)
            cxx = co_moment(cxx, keep, kw, dx, dx)
            cyy = co_moment(cyy, keep, kw, dy, dy)
            cxy = co_moment(cxy, keep, kw, dx, dy)
            gap = 0.0
    elif obs:
        mx = cx
        my = cy
        started = True
    return started, wt, mx, my, cxx, cyy, cxy, nobs, gap


@jit
def corr_value(cxx, cyy, cxy):
    """cxy / √(cxx·cyy): NaN where a variance is 0 (then cxy is 0 too)."""
    return cxy / np.sqrt(cxx * cyy)


@jit
def ewm_corr(x, y, masked, out, deltas, slot, nkeys, log_beta, alpha, adjust, count_missing, min_periods):
    """pandas' EW correlation of the rows of ``x`` and ``y`` (k, n) into ``out``, in one pass (:func:`corr_row`).

    The variances and the covariance are all over the rows where both values
    are observed; ``masked``, ``deltas``, ``slot`` as in :func:`ewm_cov`.
    """
    k, n = x.shape
    new_wt = 1.0 if adjust else alpha
    if slot is None:
        for j in range(k):
            started, wt, mx, my, cxx, cyy, cxy, nobs, gap = False, 1.0, np.nan, np.nan, 0.0, 0.0, 0.0, 0, 0.0
            for i in range(n):
                cx, cy = pair(x, y, j, i, masked)
                started, wt, mx, my, cxx, cyy, cxy, nobs, gap = corr_row(
                    cx, cy, 1.0 if deltas is None else deltas[i], started, wt, mx, my, cxx, cyy, cxy,
                    nobs, gap, log_beta, alpha, new_wt, adjust, count_missing)
                out[j, i] = corr_value(cxx, cyy, cxy) if nobs >= min_periods else np.nan
        return
    starts = np.empty(nkeys, dtype=np.bool_)
    wts = np.empty(nkeys)
    mxs = np.empty(nkeys)
    mys = np.empty(nkeys)
    cxxs = np.empty(nkeys)
    cyys = np.empty(nkeys)
    cxys = np.empty(nkeys)
    nobss = np.empty(nkeys, dtype=np.int64)
    gaps = np.empty(nkeys)
    for j in range(k):
        starts[:] = False
        wts[:] = 1.0
        mxs[:] = np.nan
        mys[:] = np.nan
        cxxs[:] = 0.0
        cyys[:] = 0.0
        cxys[:] = 0.0
        nobss[:] = 0
        gaps[:] = 0.0
        for i in range(n):
            s = slot[i]
            if s < 0:
                out[j, i] = np.nan
                continue
            cx, cy = pair(x, y, j, i, masked)
            starts[s], wts[s], mxs[s], mys[s], cxxs[s], cyys[s], cxys[s], nobss[s], gaps[s] = corr_row(
                cx, cy, 1.0 if deltas is None else deltas[i], starts[s], wts[s], mxs[s], mys[s],
                cxxs[s], cyys[s], cxys[s], nobss[s], gaps[s], log_beta, alpha, new_wt, adjust, count_missing)
            out[j, i] = corr_value(cxxs[s], cyys[s], cxys[s]) if nobss[s] >= min_periods else np.nan


__all__ = ["cov_weights", "cov_moments", "moved", "co_moment", "cov_step", "unbiased_factor", "cov_value", "cov_row",
           "shown", "pair", "regular_cov", "ewm_cov", "corr_row", "corr_value", "ewm_corr"]
