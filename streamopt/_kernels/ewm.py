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

import numpy as np
from numba import types
from numba.extending import intrinsic

from ._common import fma, jit
from .ewa_mean import bare_run, finite, step

#: ln 2 split in two (fdlibm's): k·LN2_HI is exact for the k of :func:`exp_parts`.
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e+00
#: Rows of a block of :func:`ewm_mean_sum` whose decay factors are computed in one vectorised pass.
BLOCK = 1024


@intrinsic
def pow2(typingctx, k):
    """2.0^k for an integer k in [−1022, 1023], made from its bits (no call: a loop of it vectorises)."""
    if not isinstance(k, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        i64 = context.get_value_type(types.int64)
        bits = builder.shl(builder.add(context.cast(builder, args[0], signature.args[0], types.int64),
                                       i64(1023)), i64(52))
        return builder.bitcast(bits, context.get_value_type(types.float64))

    return types.float64(k), codegen


@jit
def exp_parts(y):
    """(e^y, 1 − e^y) for y ≤ 0, each to an ulp, in plain arithmetic (the same bits in a scalar or vector loop).

    y = k·ln 2 + r with |r| ≤ ln 2 / 2; q = e^r − 1 by its Taylor series to
    r¹³ (Horner, fused); e^y = 2^k·(1 + q) and 1 − e^y = (1 − 2^k) − 2^k·q,
    neither with cancellation.  2^k is applied in two halves, so that a
    result below 2^−1022 is rounded once (and y below −1100 gives 0).
    A loop of libm's exp does not vectorise (``bench/ewm.py``, case ``mean-times``).
    """
    y = max(y, -1100.0)
    k = np.floor(fma(y, INV_LN2, 0.5))
    r = fma(-k, LN2_LO, fma(-k, LN2_HI, y))
    p = 1.6059043836821613e-10           # 1/13!, then 1/12! … 1/2!
    p = fma(p, r, 2.08767569878681e-09)
    p = fma(p, r, 2.505210838544172e-08)
    p = fma(p, r, 2.755731922398589e-07)
    p = fma(p, r, 2.7557319223985893e-06)
    p = fma(p, r, 2.48015873015873e-05)
    p = fma(p, r, 0.0001984126984126984)
    p = fma(p, r, 0.001388888888888889)
    p = fma(p, r, 0.008333333333333333)
    p = fma(p, r, 0.041666666666666664)
    p = fma(p, r, 0.16666666666666666)
    p = fma(p, r, 0.5)
    q = fma(p * r, r, r)
    ki = np.int64(k)
    half = ki // 2
    scale = pow2(half) * pow2(ki - half)
    return fma(scale, q, scale), fma(-scale, q, 1.0 - scale)


@jit
def decay_parts(log_beta: float, beta: float, alpha: float, gap: float):
    """(β^gap, 1 − β^gap) = :func:`exp_parts` (gap · ln β): (β, α) for a gap of one row, (1, 0) for none."""
    if gap == 1.0:
        return beta, alpha
    if gap == 0.0:
        return 1.0, 0.0
    return exp_parts(gap * log_beta)


@jit
def decay(log_beta: float, beta: float, gap: float) -> float:
    """β^gap (:func:`decay_parts`)."""
    return decay_parts(log_beta, beta, 1.0 - beta, gap)[0]


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
def mean_coefficients(f, lost, old_wt, alpha, adjust, times):
    """(keep, weight, W): the step mean ← keep·mean + weight·x of an observation, the past decayed by f.

    With ``adjust``, the weighted mean Σ β^gap_i·x_i / Σ β^gap_i: with W the
    weight of the past and the new observation weighing 1::

        W' = f·W + 1,  keep = f·W / W',  weight = 1 / W'

    (W depends on the gaps only, so on a regular series it reaches its fixed
    point and the coefficients stop changing).  Without, pandas' recursion
    mean ← (f·mean + α·x) / (f + α): keep = f / (f + α), weight = α / (f + α);
    with ``times`` mean ← f·mean + (1 − f)·x (``lost`` = 1 − f, from
    :func:`decay_parts`), the new value weighing what the past lost over the
    gap.  Both are mean ← β·mean + α·x for a gap of one row.
    """
    if adjust:
        new_wt = fma(f, old_wt, 1.0)
        weight = 1.0 / new_wt
        return f * old_wt * weight, weight, new_wt
    if times:
        return f, lost, old_wt
    total = f + alpha
    return f / total, alpha / total, old_wt


@jit
def mean_step(mean, old_wt, cur, f, lost, alpha, adjust, times):
    """(mean, W) after the observation ``cur``, the past decayed by f = 1 − ``lost`` (:func:`mean_coefficients`).

    One fused multiply-add on the chain from mean to mean, unguarded: on a
    constant series keep + weight = 1 to an ulp, so the mean stays within an
    ulp or two of the constant (a guard ``mean != x`` would put a select on
    that chain: ``bench/ewm.py``, case ``mean-1d-bound``).
    """
    keep, weight, old_wt = mean_coefficients(f, lost, old_wt, alpha, adjust, times)
    return step(mean, cur, weight, keep), old_wt


@jit
def key_gaps(ticks, slot, nkeys, unit, deltas):
    """Fill ``deltas`` with each row's time since its key's previous row, in ``unit`` ticks (0 at a key's first row).

    ``slot[i]`` is row i's key (0 … nkeys − 1; negative: the row belongs to no
    key and is skipped; ``slot`` None: every row is one key's).  Returns the
    first row whose time is before its key's previous time, or −1 when every
    key's times are non-decreasing.
    """
    if slot is None:  # one key: two loops that vectorise, then the search only if a time goes back
        n = ticks.shape[0]
        back = False
        if n:
            deltas[0] = 0.0
        for i in range(1, n):
            d = ticks[i] - ticks[i - 1]
            deltas[i] = float(d) / unit
            back |= d < 0
        if back:
            for i in range(1, n):
                if ticks[i] < ticks[i - 1]:
                    return i
        return -1
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
    gap = gap_after(gap, delta, started, obs, count_missing)
    f, lost = decay_parts(log_beta, 1.0 - alpha, alpha, gap)
    return mean_sum_apply(cur, obs, f, lost, value, started, old_wt, nobs, gap, alpha, adjust, times, hold,
                          normalize)


@jit(inline="always")
def mean_sum_apply(cur, obs, f, lost, value, started, old_wt, nobs, gap, alpha, adjust, times, hold, normalize):
    """:func:`mean_sum_row` once the row's gap and its decay (f, 1 − f) = ``(f, lost)`` are known."""
    nobs += 1 if obs else 0
    result = value
    if started:
        if obs:
            if normalize:
                value, old_wt = mean_step(value, old_wt, cur, f, lost, alpha, adjust, times)
            else:
                value = step(value, cur, 1.0, f)
            gap = 0.0
            result = value
        elif not (normalize or hold):
            result = f * value
    elif obs:
        value = cur
        result = cur
        started = True
    return value, started, old_wt, nobs, gap, result


@jit
def decay_block(deltas, fs, losts, log_beta, beta, alpha):
    """fs[i], losts[i] = :func:`decay_parts` of step deltas[i], for every i: a loop that vectorises."""
    for i in range(deltas.shape[0]):
        fs[i], losts[i] = decay_parts(log_beta, beta, alpha, deltas[i])


@jit
def timed_series(x, out, deltas, log_beta, alpha, adjust, times, count_missing, hold, min_periods, normalize):
    """One series with a step per row (``deltas``): :func:`mean_sum_row` row by row, bit for bit.

    The decay factors of a block of rows are computed first, in a loop that
    vectorises (:func:`decay_parts` is plain arithmetic); a row whose gap is
    its own step (the row before it was observed, the common case) takes its
    factor from there, others compute theirs (the same function: the same bits).
    """
    n = x.shape[0]
    beta = 1.0 - alpha
    fs = np.empty(BLOCK)
    losts = np.empty(BLOCK)
    value, started, old_wt, nobs, gap = np.nan, False, 1.0, 0, 0.0
    for b0 in range(0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        decay_block(deltas[b0:b1], fs, losts, log_beta, beta, alpha)
        i = b0
        while i < b1:
            if normalize and started and gap == 0.0 and nobs >= min_periods:
                # observed rows after an observed row: each row's gap is its step (mean_step, without branches)
                start = i
                while i < b1:
                    cur = x[i]
                    if not finite(cur):
                        break
                    value, old_wt = mean_step(value, old_wt, cur, fs[i - b0], losts[i - b0], alpha, adjust, times)
                    out[i] = value
                    i += 1
                nobs += i - start
                if i == b1:
                    break
            cur = x[i]
            obs = finite(cur)
            gap = gap_after(gap, deltas[i], started, obs, count_missing)
            if gap == deltas[i]:
                f, lost = fs[i - b0], losts[i - b0]
            else:
                f, lost = decay_parts(log_beta, beta, alpha, gap)
            value, started, old_wt, nobs, gap, result = mean_sum_apply(
                cur, obs, f, lost, value, started, old_wt, nobs, gap, alpha, adjust, times, hold, normalize)
            out[i] = result if nobs >= min_periods else np.nan
            i += 1


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
        keep, weight, new_wt = mean_coefficients(beta, alpha, old_wt, alpha, adjust, False)
        mean = step(mean, cur, weight, keep)
        out[i] = mean
        i += 1
        if new_wt == old_wt:
            break
        old_wt = new_wt
    i, mean = bare_run(x, out, i, mean, weight, keep)  # W at its fixed point: keep and weight stay as they are
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
    if slot is None and deltas is not None:
        for j in range(k):
            timed_series(x[j], out[j], deltas, log_beta, alpha, adjust, times, count_missing, hold, min_periods,
                         normalize)
        return
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


__all__ = ["LN2_HI", "LN2_LO", "INV_LN2", "BLOCK", "pow2", "exp_parts", "decay_parts", "decay", "gap_after",
           "mean_coefficients", "mean_step", "key_gaps", "mean_sum_row", "mean_sum_apply", "decay_block",
           "timed_series", "regular_run", "ewm_mean_sum"]
