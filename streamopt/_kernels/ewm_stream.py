"""Kernel for :class:`streamopt.EWMStream`: one chunk of keyed rows over per-key states that persist between chunks.

Row i of a chunk goes to the state ``slots[i]``; each row is read by the same row functions as
the batch kernels (:func:`.ewm.mean_sum_row`, :func:`.ewm_cov.cov_row`), so a
stream cut into any chunks gives the batch result bit for bit.
"""

from __future__ import annotations

import numpy as np

from ._common import jit
from .ewm import mean_sum_row
from .ewm_cov import cov_row, cov_value


@jit
def stream_chunk(x, deltas, ticks, slots, last_time, seen, log_beta, alpha, adjust, times, count_missing, min_periods,
                 do_mean, values, m_starts, old_wts, m_nobss, m_gaps, out_mean,
                 do_var, v_starts, wts, s2s, dens, mxs, cs, v_nobss, v_gaps, out_var):
    """Rows ``x`` (step ``deltas[i]``) into the states ``slots[i]``; the mean and unbiased variance after each.

    With ``times``, each key's last time ``last_time[s]`` becomes its row's
    ``ticks[i]`` (``seen[s]`` set).  ``do_mean``: the mean state (value, started, W, nobs, gap) and ``out_mean``;
    ``do_var``: the variance state (started, W, Σw², D, mean, c, nobs, gap)
    and ``out_var``.  Output NaN while fewer than ``min_periods`` observations.
    """
    new_wt = 1.0 if adjust else alpha
    for i in range(x.shape[0]):
        s = slots[i]
        if times:
            last_time[s] = ticks[i]
            seen[s] = True
        if do_mean:
            values[s], m_starts[s], old_wts[s], m_nobss[s], m_gaps[s], result = mean_sum_row(
                x[i], deltas[i], values[s], m_starts[s], old_wts[s], m_nobss[s], m_gaps[s], log_beta, alpha,
                adjust, times, count_missing, False, True)
            out_mean[i] = result if m_nobss[s] >= min_periods else np.nan
        if do_var:
            v_starts[s], wts[s], s2s[s], dens[s], mxs[s], _, cs[s], v_nobss[s], v_gaps[s] = cov_row(
                x[i], x[i], deltas[i], v_starts[s], wts[s], s2s[s], dens[s], mxs[s], mxs[s], cs[s], v_nobss[s],
                v_gaps[s], log_beta, alpha, new_wt, adjust, count_missing)
            out_var[i] = (cov_value(cs[s], wts[s], s2s[s], dens[s], False) if v_nobss[s] >= min_periods
                          else np.nan)


__all__ = ["stream_chunk"]
