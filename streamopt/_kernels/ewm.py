"""Kernels for pandas' exponentially weighted mean and sum (``ewm().mean()``, ``ewm().sum()``), any decay per step.

One series at a time, in float64: x of shape (k, n), C-contiguous, one series
per row.  The decay between two rows is β^δ with δ = ``deltas[i]`` (1 for
equally spaced rows, ``deltas`` None; Δt / halflife with times, β = ½ then); a
missing row (NaN or ±inf) adds its δ to the gap since the last observation
unless ``count_missing`` is off (pandas' ``ignore_na=True`` without times).
The weight of an observation is β^(gap since it), computed once per
observation as exp(gap · ln β), so the weights follow the times exactly,
across missing rows too.

Every mean is the one decay step of :func:`.ewa_mean.step`,
mean ← keep·mean + weight·x, with the coefficients of :func:`mean_coefficients`.
"""

from __future__ import annotations

import math

import numpy as np

from ._common import fma, jit
from .ewa_mean import finite, step


@jit
def decay(log_beta: float, beta: float, gap: float) -> float:
    """β^gap = exp(gap · ln β): β itself for a gap of one row (no exp on the common path), 1 for none."""
    if gap == 1.0:
        return beta
    if gap == 0.0:
        return 1.0
    return math.exp(gap * log_beta)


@jit
def gap_after(gap: float, delta: float, started: bool, observed: bool, count_missing: bool) -> float:
    """The age, in decay units, of the last observation once a row of step ``delta`` is read.

    Ages only after the first observation, and at a missing row only with
    ``count_missing``.
    """
    if started and (observed or count_missing):
        return gap + delta
    return gap


@jit
def mean_coefficients(f, old_wt, gap, log_beta, alpha, adjust, times):
    """(keep, weight, W): the step mean ← keep·mean + weight·x of an observation, the past decayed by f.

    With ``adjust``, the weighted mean Σ β^gap_i·x_i / Σ β^gap_i: with W the
    weight of the past and the new observation weighing 1::

        W' = f·W + 1,  keep = f·W / W',  weight = 1 / W'

    (W depends on the gaps only, so on a regular series it reaches its fixed
    point and the coefficients stop changing).  Without, pandas' recursion
    mean ← (f·mean + α·x) / (f + α): keep = f / (f + α), weight = α / (f + α);
    with ``times`` mean ← f·mean + (1 − f)·x (1 − f as −expm1(gap·ln β)), the
    new value weighing what the past lost over the gap.  Both are
    mean ← β·mean + α·x for a gap of one row.
    """
    if adjust:
        new_wt = fma(f, old_wt, 1.0)
        weight = 1.0 / new_wt
        return f * old_wt * weight, weight, new_wt
    if times:
        return f, (-math.expm1(gap * log_beta) if f > 0.0 else 1.0), old_wt
    total = f + alpha
    return f / total, alpha / total, old_wt


@jit
def mean_step(mean, old_wt, cur, gap, log_beta, alpha, adjust, times):
    """(mean, W) after the observation ``cur``, the last one ``gap`` decay units ago (:func:`mean_coefficients`).

    One fused multiply-add on the chain from mean to mean, unguarded: on a
    constant series keep + weight = 1 to an ulp, so the mean stays within an
    ulp or two of the constant (a guard ``mean != x`` would put a select on
    that chain: ``bench/ewm.py``, case ``mean-1d-bound``).
    """
    keep, weight, old_wt = mean_coefficients(decay(log_beta, 1.0 - alpha, gap), old_wt, gap, log_beta, alpha,
                                             adjust, times)
    return step(mean, cur, weight, keep), old_wt


@jit
def key_gaps(ticks, slot, nkeys, unit, deltas):
    """Fill ``deltas`` with each row's time since its key's previous row, in ``unit`` ticks (0 at a key's first row).

    ``slot[i]`` is row i's key (0 … nkeys − 1; negative: the row belongs to no
    key and is skipped).  Returns the first row whose time is before its key's
    previous time, or −1 when every key's times are non-decreasing.
    """
    last = np.empty(nkeys, dtype=np.int64)
    seen = np.zeros(nkeys, dtype=np.bool_)
    for i in range(ticks.shape[0]):
        s = slot[i]
        deltas[i] = 0.0
        if s < 0:
            continue
        t = ticks[i]
        if seen[s]:
            if t < last[s]:
                return i
            deltas[i] = float(t - last[s]) / unit
        seen[s] = True
        last[s] = t
    return -1


@jit(inline="always")
def mean_sum_row(cur, delta, value, started, old_wt, nobs, gap, log_beta, alpha, adjust, times, count_missing, hold,
                 normalize):
    """One row ``cur`` (step ``delta``) of a series: (value, started, old_wt, nobs, gap, output) after it.

    The mean (``normalize``, :func:`mean_step`) or the sum (adjust=True):
    S ← β^gap·S + x at each observation; at a missing row the sum's output
    is S as it was (``hold``: the row is ignored) or S decayed to that row.
    """
    obs = finite(cur)
    nobs += 1 if obs else 0
    gap = gap_after(gap, delta, started, obs, count_missing)
    result = value
    if started:
        if obs:
            if normalize:
                value, old_wt = mean_step(value, old_wt, cur, gap, log_beta, alpha, adjust, times)
            else:
                value = step(value, cur, 1.0, decay(log_beta, 1.0 - alpha, gap))
            gap = 0.0
            result = value
        elif not (normalize or hold):
            result = decay(log_beta, 1.0 - alpha, gap) * value
    elif obs:
        value = cur
        result = cur
        started = True
    return value, started, old_wt, nobs, gap, result


@jit
def regular_run(x, out, i, mean, old_wt, alpha, adjust):
    """Rows i, i+1, … of a started series on a regular grid, while every row is observed: (stop row, mean, W).

    Each row is the observation one row after the last (gap 1, f = β): the
    operations of :func:`mean_sum_row` on it, without its branches; once W
    has reached its fixed point the coefficients are computed no more, and the
    loop is the bare recursion mean ← fma(keep, mean, weight·x) (``bench/ewm.py``,
    case ``mean-1d-bound``).
    """
    n = x.shape[0]
    beta = 1.0 - alpha
    while i < n:
        cur = x[i]
        if not finite(cur):
            return i, mean, old_wt
        keep, weight, new_wt = mean_coefficients(beta, old_wt, 1.0, 0.0, alpha, adjust, False)
        mean = step(mean, cur, weight, keep)
        out[i] = mean
        i += 1
        if new_wt == old_wt:
            break
        old_wt = new_wt
    while i < n:  # W at its fixed point: keep and weight stay as they are
        cur = x[i]
        if not finite(cur):
            break
        mean = step(mean, cur, weight, keep)
        out[i] = mean
        i += 1
    return i, mean, old_wt


@jit
def ewm_mean_sum(x, out, deltas, slot, nkeys, log_beta, alpha, adjust, times, count_missing, hold, min_periods,
                 normalize):
    """pandas' EW mean (``normalize``) or sum of each row of ``x`` (k, n) into ``out``: :func:`mean_sum_row`.

    ``deltas`` None: every row one step after the previous one (a regular
    grid: the mean runs :func:`regular_run` wherever it can).  ``slot`` None:
    each row of x is one series.  Otherwise each key (``slot[i]`` in
    0 … nkeys − 1) is its own series with its own state, in row order, and a
    row of negative slot is NaN.  Output NaN while fewer than ``min_periods``
    observations.
    """
    k, n = x.shape
    if slot is None:  # one series per row, its state in registers (no per-key arrays on the hot path)
        for j in range(k):
            value, started, old_wt, nobs, gap = np.nan, False, 1.0, 0, 0.0
            i = 0
            while i < n:
                if deltas is None and normalize and started and gap == 0.0 and nobs >= min_periods:
                    stop, value, old_wt = regular_run(x[j], out[j], i, value, old_wt, alpha, adjust)
                    nobs += stop - i
                    i = stop
                    if i == n:
                        break
                delta = 1.0 if deltas is None else deltas[i]
                value, started, old_wt, nobs, gap, result = mean_sum_row(
                    x[j, i], delta, value, started, old_wt, nobs, gap, log_beta, alpha, adjust, times,
                    count_missing, hold, normalize)
                out[j, i] = result if nobs >= min_periods else np.nan
                i += 1
        return
    values = np.empty(nkeys)
    starts = np.empty(nkeys, dtype=np.bool_)
    old_wts = np.empty(nkeys)
    nobss = np.empty(nkeys, dtype=np.int64)
    gaps = np.empty(nkeys)
    for j in range(k):
        values[:] = np.nan
        starts[:] = False
        old_wts[:] = 1.0
        nobss[:] = 0
        gaps[:] = 0.0
        for i in range(n):
            s = slot[i]
            if s < 0:
                out[j, i] = np.nan
                continue
            delta = 1.0 if deltas is None else deltas[i]
            values[s], starts[s], old_wts[s], nobss[s], gaps[s], result = mean_sum_row(
                x[j, i], delta, values[s], starts[s], old_wts[s], nobss[s], gaps[s], log_beta, alpha, adjust,
                times, count_missing, hold, normalize)
            out[j, i] = result if nobss[s] >= min_periods else np.nan


__all__ = ["decay", "gap_after", "mean_coefficients", "mean_step", "key_gaps", "mean_sum_row", "regular_run",
           "ewm_mean_sum"]
