"""Kernels for pandas' exponentially weighted mean and sum (``ewm().mean()``, ``ewm().sum()``), any decay per step.

One series at a time, in float64: x of shape (k, n), C-contiguous, one series
per row.  The decay between two rows is β^δ with δ = ``deltas[i]`` (1 for
equally spaced rows, Δt / halflife with times, β = ½ then); a missing row (NaN
or ±inf) adds its δ to the gap since the last observation unless
``count_missing`` is off (pandas' ``ignore_na=True`` without times).  The
weight of an observation is β^(gap since it), computed once per observation as
exp(gap · ln β), so the weights follow the times exactly, across missing rows
too.
"""

from __future__ import annotations

import math

import numpy as np

from ._common import jit
from .ewa_mean import finite


@jit
def decay(log_beta: float, gap: float) -> float:
    """β^gap = exp(gap · ln β) (1 for a zero gap, 0 for β = 0 and a positive gap)."""
    if gap == 0.0:
        return 1.0
    return math.exp(gap * log_beta)


@jit
def ewm_mean(x, out, deltas, log_beta, alpha, adjust, times, count_missing, min_periods):
    """pandas' EW mean of each row of ``x`` (k, n) into ``out`` (k, n).

    With ``adjust``, the weighted mean Σ β^gap_i·x_i / Σ β^gap_i: with W the
    weight of the past and the new observation weighing 1::

        W ← β^gap·W,  mean ← (W·mean + x) / (W + 1),  W ← W + 1

    Without, pandas' recursion mean ← (f·mean + α·x) / (f + α), f = β^gap;
    with ``times`` mean ← f·mean + (1 − f)·x (1 − f as −expm1(gap·ln β)), the
    new value weighing what the past lost over the gap.  Both are
    mean ← β·mean + α·x for a gap of one row.  The mean is
    not touched when it already equals x (exact on a constant series).
    Output NaN while fewer than ``min_periods`` observations.
    """
    k, n = x.shape
    for j in range(k):
        mean = np.nan
        started = False
        old_wt = 1.0
        nobs = 0
        gap = 0.0
        for i in range(n):
            cur = x[j, i]
            obs = finite(cur)
            if obs:
                nobs += 1
            if started:
                if obs or count_missing:
                    gap += deltas[i]
                if obs:
                    if adjust:
                        old_wt *= decay(log_beta, gap)
                        if mean != cur:
                            mean = (old_wt * mean + cur) / (old_wt + 1.0)
                        old_wt += 1.0
                    elif mean != cur:
                        f = decay(log_beta, gap)
                        if times:
                            mean = f * mean + (-math.expm1(gap * log_beta) if f > 0.0 else 1.0) * cur
                        else:
                            mean = (f * mean + alpha * cur) / (f + alpha)
                    gap = 0.0
            elif obs:
                mean = cur
                started = True
            out[j, i] = mean if nobs >= min_periods else np.nan


@jit
def ewm_sum(x, out, deltas, log_beta, count_missing, hold, min_periods):
    """pandas' EW sum (adjust=True) of each row of ``x`` (k, n): S ← β^gap·S + x at each observation.

    At a missing row the output is S as it was (``hold``: the row is ignored)
    or S decayed to that row.
    """
    k, n = x.shape
    for j in range(k):
        total = np.nan
        started = False
        nobs = 0
        gap = 0.0
        for i in range(n):
            cur = x[j, i]
            obs = finite(cur)
            if obs:
                nobs += 1
            value = total
            if started:
                if obs or count_missing:
                    gap += deltas[i]
                if obs:
                    total = decay(log_beta, gap) * total + cur
                    gap = 0.0
                    value = total
                elif not hold:
                    value = decay(log_beta, gap) * total
            elif obs:
                total = cur
                value = cur
                started = True
            out[j, i] = value if nobs >= min_periods else np.nan


__all__ = ["decay", "ewm_mean", "ewm_sum"]
