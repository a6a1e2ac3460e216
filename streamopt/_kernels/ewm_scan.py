"""Kernels for EW statistics over partitions: a state carried from one partition to the next, and the scan's summaries.

A partition's rows are x (k, n), C-contiguous, one series (lane) per row of
x; ``slot[i]`` is row i's key (0 … nkeys − 1 of the carried state; negative:
no key, NaN).  The per-key states are 2-D arrays (k, nkeys) that persist
between partitions; every row is read by the batch kernels' row functions
(:func:`.ewm.mean_sum_row`, :func:`.ewm_cov.cov_row`), so partitions fed in
order give ``streamopt.ewm`` on their concatenation bit for bit.

The scan (:func:`summary_mean_sum`, :func:`summary_cov`, :func:`combine_mean_sum`,
:func:`combine_cov`): a partition's summary is its own state from scratch F
plus, per key, its first observation x₁, the decay units accrued up to x₁ and
to its end, and the weight Q of x₁ in F (the row function fed the indicator
of x₁).  Seen after an incoming state I, the partition's first observation
steps I into S₁ (the row function itself), and every later observation
treats S₁ as F treats x₁, so the outgoing state is F with x₁'s weight Q
given to S₁: with W the total weight, m the mean and M = W·c the weighted
sum of squared deviations::

    W_E = W_F + Q·(W_S₁ − 1)
    m_E = m_F + Q·(W_S₁·(m_S₁ − m_F) − (x₁ − m_F)) / W_E
    M_E = M_F + W_F·(m_F − m_E)² + Q·(M_S₁ + W_S₁·(m_S₁ − m_E)² − (x₁ − m_E)²)
    Σw²_E = Σw²_F + Q²·(Σw²_S₁ − 1)
    D_E = D_F + Q²·D_S₁ + 2·(W_F − Q)·Q·(W_S₁ − 1)

(adjust=False keeps W = 1: the same formulas with W_S₁ = W_F = 1).  The sum
is S_E = S_F + Q·(S_S₁ − x₁).
"""

from __future__ import annotations

import numpy as np

from ._common import jit
from .ewa_mean import finite
from .ewm import gap_after, mean_sum_row
from .ewm_cov import cov_row, cov_value


# ----------------------------------------------------------------- the carry
@jit
def carry_mean_sum(x, out, deltas, slot, value, started, old_wt, nobs, gap, log_beta, alpha, adjust, times,
                   count_missing, hold, min_periods, normalize):
    """The mean (``normalize``) or sum of the rows of ``x`` into ``out``, from and into the per-key states.

    State (k, nkeys) arrays: ``value, started, old_wt, nobs, gap`` of
    :func:`.ewm.mean_sum_row`, updated in place.
    """
    k, n = x.shape
    for j in range(k):
        for i in range(n):
            s = slot[i]
            if s < 0:
                out[j, i] = np.nan
                continue
            value[j, s], started[j, s], old_wt[j, s], nobs[j, s], gap[j, s], result = mean_sum_row(
                x[j, i], deltas[i], value[j, s], started[j, s], old_wt[j, s], nobs[j, s], gap[j, s], log_beta,
                alpha, adjust, times, count_missing, hold, normalize)
            out[j, i] = result if nobs[j, s] >= min_periods else np.nan


@jit
def carry_cov(x, out, deltas, slot, started, wt, s2, den, mx, c, nobs, gap, log_beta, alpha, adjust,
              count_missing, min_periods, biased):
    """The variance (``biased`` or not) of the rows of ``x`` into ``out``, from and into the per-key states.

    State (k, nkeys) arrays: ``started, wt, s2, den, mx, c, nobs, gap`` of
    :func:`.ewm_cov.cov_row` with y = x.
    """
    k, n = x.shape
    new_wt = 1.0 if adjust else alpha
    for j in range(k):
        for i in range(n):
            s = slot[i]
            if s < 0:
                out[j, i] = np.nan
                continue
            cur = x[j, i]
            started[j, s], wt[j, s], s2[j, s], den[j, s], mx[j, s], _, c[j, s], nobs[j, s], gap[j, s] = cov_row(
                cur, cur, deltas[i], started[j, s], wt[j, s], s2[j, s], den[j, s], mx[j, s], mx[j, s], c[j, s],
                nobs[j, s], gap[j, s], log_beta, alpha, new_wt, adjust, count_missing)
            out[j, i] = cov_value(c[j, s], wt[j, s], s2[j, s], den[j, s], biased) if nobs[j, s] >= min_periods \
                else np.nan


# ----------------------------------------------------------------- the scan
#: below this, x₁'s weight in a partition's state (≥ 1 in all) is nothing: it is set to 0
NEGLIGIBLE = 1e-280


@jit
def first_observations(x, deltas, slot, count_missing, first_row, first, acc, acc1):
    """Per lane j and key s of a partition: its first observation x₁ and the decay units accrued, in place.

    ``first_row``: x₁'s row (stays −1 without one); ``first``: x₁; ``acc``:
    the decay units accrued from the partition's start to its end, as the gap
    of a started series would accrue them; ``acc1``: the same up to x₁.
    """
    k, n = x.shape
    for j in range(k):
        for i in range(n):
            s = slot[i]
            if s < 0:
                continue
            obs = finite(x[j, i])
            acc[j, s] = gap_after(acc[j, s], deltas[i], True, obs, count_missing)
            if obs and first_row[j, s] < 0:
                first_row[j, s] = i
                first[j, s] = x[j, i]
                acc1[j, s] = acc[j, s]


@jit
def probe_row(cur, i, delta, j, s, first_row, ind, ind_started, ind_wt, ind_nobs, ind_gap, log_beta, alpha,
              count_missing, hold, ind_adjust, ind_times, ind_normalize):
    """Row i of key s, lane j: the row function's state ``ind`` … ``ind_gap`` fed 1 at x₁, 0 at later observations.

    (NaN at missing rows.)  Its value ``ind[j, s]`` is then x₁'s weight in
    the partition's mean (or its factor in the sum), as the row function
    itself decays it.
    """
    probe = (1.0 if i == first_row[j, s] else 0.0) if finite(cur) else np.nan
    ind[j, s], ind_started[j, s], ind_wt[j, s], ind_nobs[j, s], ind_gap[j, s], _ = mean_sum_row(
        probe, delta, ind[j, s], ind_started[j, s], ind_wt[j, s], ind_nobs[j, s], ind_gap[j, s], log_beta, alpha,
        ind_adjust, ind_times, count_missing, hold, ind_normalize)
    if ind[j, s] < NEGLIGIBLE:  # no subnormal arithmetic (100x slower) on a weight that no longer counts
        ind[j, s] = 0.0


@jit
def summary_mean_sum(x, deltas, slot, value, started, old_wt, nobs, gap, first_row, first, acc, acc1, ind, ind_started,
                     ind_wt, ind_nobs, ind_gap, log_beta, alpha, adjust, times, count_missing, hold, normalize):
    """A partition's summary for the mean or sum: its own state, :func:`first_observations`, :func:`probe_row`."""
    first_observations(x, deltas, slot, count_missing, first_row, first, acc, acc1)
    k, n = x.shape
    for j in range(k):
        for i in range(n):
            s = slot[i]
            if s < 0:
                continue
            cur = x[j, i]
            probe_row(cur, i, deltas[i], j, s, first_row, ind, ind_started, ind_wt, ind_nobs, ind_gap, log_beta, alpha,
                      count_missing, hold, adjust, times, normalize)
            value[j, s], started[j, s], old_wt[j, s], nobs[j, s], gap[j, s], _ = mean_sum_row(
                cur, deltas[i], value[j, s], started[j, s], old_wt[j, s], nobs[j, s], gap[j, s], log_beta, alpha,
                adjust, times, count_missing, hold, normalize)


@jit
def summary_cov(x, deltas, slot, started, wt, s2, den, mx, c, nobs, gap, first_row, first, acc, acc1, ind, ind_started,
                ind_wt, ind_nobs, ind_gap, log_beta, alpha, adjust, count_missing):
    """A partition's summary for the variance: its own state, :func:`first_observations`, :func:`probe_row`.

    The variance weighs a new observation 1 (``adjust``) or α after f·W:
    pandas' mean without times, so the probe runs that mean.
    """
    first_observations(x, deltas, slot, count_missing, first_row, first, acc, acc1)
    k, n = x.shape
    new_wt = 1.0 if adjust else alpha
    for j in range(k):
        for i in range(n):
            s = slot[i]
            if s < 0:
                continue
            cur = x[j, i]
            probe_row(cur, i, deltas[i], j, s, first_row, ind, ind_started, ind_wt, ind_nobs, ind_gap, log_beta, alpha,
                      count_missing, False, adjust, False, True)
            started[j, s], wt[j, s], s2[j, s], den[j, s], mx[j, s], _, c[j, s], nobs[j, s], gap[j, s] = cov_row(
                cur, cur, deltas[i], started[j, s], wt[j, s], s2[j, s], den[j, s], mx[j, s], mx[j, s], c[j, s],
                nobs[j, s], gap[j, s], log_beta, alpha, new_wt, adjust, count_missing)


@jit
def combine_mean_sum(value, started, old_wt, nobs, gap, lead, f_value, f_started, f_old_wt, f_nobs, f_gap, first,
                     acc, acc1, ind, log_beta, alpha, adjust, times, count_missing, hold, normalize):
    """The states (k, m) of m keys after a partition of summary ``f_*`` … ``ind``, in place.

    ``lead[s]``: the decay units between the key's last row before the
    partition and its first row in it (its time step; 0 without times).
    """
    k, m = value.shape
    for j in range(k):
        for s in range(m):
            if not f_started[j, s]:  # no observation: the incoming state, aged by the missing rows
                if started[j, s]:
                    gap[j, s] = gap[j, s] + lead[s] + acc[j, s]
                continue
            if not started[j, s]:
                value[j, s], started[j, s], old_wt[j, s] = f_value[j, s], True, f_old_wt[j, s]
                nobs[j, s], gap[j, s] = nobs[j, s] + f_nobs[j, s], f_gap[j, s]
                continue
            x1 = first[j, s]
            v1, _, w1, _, _, _ = mean_sum_row(x1, acc1[j, s], value[j, s], True, old_wt[j, s], nobs[j, s],
                                              gap[j, s] + lead[s], log_beta, alpha, adjust, times, count_missing,
                                              hold, normalize)
            if normalize:
                wf = f_old_wt[j, s]
                q = ind[j, s] * wf
                we = wf + q * (w1 - 1.0)
                mf = f_value[j, s]
                value[j, s] = mf + q * (w1 * (v1 - mf) - (x1 - mf)) / we
                old_wt[j, s] = we
            else:
                value[j, s] = f_value[j, s] + ind[j, s] * (v1 - x1)
            nobs[j, s] = nobs[j, s] + f_nobs[j, s]
            gap[j, s] = f_gap[j, s]


@jit
def combine_cov(started, wt, s2, den, mx, c, nobs, gap, lead, f_started, f_wt, f_s2, f_den, f_mx, f_c, f_nobs,
                f_gap, first, acc, acc1, ind, log_beta, alpha, adjust, count_missing):
    """The variance states (k, m) of m keys after a partition of summary ``f_*`` … ``ind``, in place."""
    k, m = wt.shape
    new_wt = 1.0 if adjust else alpha
    for j in range(k):
        for s in range(m):
            if not f_started[j, s]:
                if started[j, s]:
                    gap[j, s] = gap[j, s] + lead[s] + acc[j, s]
                continue
            if not started[j, s]:
                started[j, s], wt[j, s], s2[j, s], den[j, s] = True, f_wt[j, s], f_s2[j, s], f_den[j, s]
                mx[j, s], c[j, s], nobs[j, s], gap[j, s] = f_mx[j, s], f_c[j, s], nobs[j, s] + f_nobs[j, s], f_gap[j, s]
                continue
            x1 = first[j, s]
            _, w1, s21, d1, m1, _, c1, _, _ = cov_row(x1, x1, acc1[j, s], True, wt[j, s], s2[j, s], den[j, s],
                                                      mx[j, s], mx[j, s], c[j, s], nobs[j, s], gap[j, s] + lead[s],
                                                      log_beta, alpha, new_wt, adjust, count_missing)
            wf, mf = f_wt[j, s], f_mx[j, s]
            q = ind[j, s] * wf
            we = wf + q * (w1 - 1.0)
            me = mf + q * (w1 * (m1 - mf) - (x1 - mf)) / we
            sq = f_c[j, s] * wf + wf * (mf - me) ** 2 + q * (c1 * w1 + w1 * (m1 - me) ** 2 - (x1 - me) ** 2)
            wt[j, s], mx[j, s], c[j, s] = we, me, max(sq, 0.0) / we
            s2[j, s] = f_s2[j, s] + q * q * (s21 - 1.0)
            den[j, s] = f_den[j, s] + q * q * d1 + 2.0 * max(wf - q, 0.0) * q * (w1 - 1.0)
            nobs[j, s] = nobs[j, s] + f_nobs[j, s]
            gap[j, s] = f_gap[j, s]


__all__ = ["carry_mean_sum", "carry_cov", "first_observations", "probe_row", "summary_mean_sum", "summary_cov",
           "combine_mean_sum", "combine_cov"]
