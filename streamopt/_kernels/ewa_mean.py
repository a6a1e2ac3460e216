"""Kernels for the exponentially weighted mean.

The notes' recursion, one observation θ at a time::

    V_0 = 0,    V_count = β·V_{count−1} + α·θ            (α = 1 − β, the smoothing factor)

and, with bias correction, the output V_count / (1 − β^count), built by
:mod:`.ewa_correction`.  Every kernel takes the state of each series in
(``v``: its V, ``count``: its observations, int64) and leaves it updated, so a
series fed in chunks runs exactly the same floating-point operations, in the
same order, as the series fed at once: the outputs are bit-identical whatever
the split.

A value is observed iff it is finite (:func:`finite`); NaN and ±inf are
missing, as in pandas.  A missing value is skipped (``skipna``: V and the
count unchanged) or poisons the series (V becomes NaN and stays NaN).

Layouts
-------
``lanes``: x has shape (k, n), each series contiguous (1-D input, or a
column-major 2-D input seen through its transpose).  ``rows``: x has shape
(n, k), C-contiguous: n time steps of k series, the inner loop walks a row
across the series.  ``bench/ewa.py`` measures both (cases ``1d``, ``2d-C``,
``2d-F``, with and without NaN).

Parameters
----------
The kernels read α, β, the flags and the table T_r = 1 − β^r from one
float64 array ``params`` (offsets :data:`ALPHA`, :data:`BETA`,
:data:`CORRECT`, :data:`SKIPNA`, :data:`TABLE`; :func:`fill_params`), and
compute in the data's precision.
"""

from __future__ import annotations

import numba
import numpy as np

from ._common import as_dtype_of, fma, jit, pjit
from .ewa_correction import BLOCK, MASK, SHIFT, corrected, division, fill_divisors, fill_table, terms_for

#: Offsets in the float64 ``params`` array of every EWA mean kernel.
ALPHA = 0       # α = 1 − β, the smoothing factor
BETA = 1        # β, the decay rate
CORRECT = 2     # 1.0: output V / (1 − β^count); 0.0: output V
SKIPNA = 3      # 1.0: a missing value is skipped; 0.0: it poisons the series
TABLE = 4       # T_r = 1 − β^r for r = 0 … 63
PARAMS_SIZE = TABLE + BLOCK


@jit
def fill_params(params: np.ndarray, alpha: float, beta: float, correct: bool, skipna: bool) -> None:
    """Write α, β, the flags and the table T_r into ``params`` (:data:`PARAMS_SIZE` float64)."""
    params[ALPHA] = alpha
    params[BETA] = beta
    params[CORRECT] = 1.0 if correct else 0.0
    params[SKIPNA] = 1.0 if skipna else 0.0
    fill_table(alpha, params[TABLE:TABLE + BLOCK])


@jit
def unpack(params, like):
    """(α, β in the dtype of array ``like``; α in float64; the table T_r; correct; skipna)."""
    return (as_dtype_of(params[ALPHA], like), as_dtype_of(params[BETA], like), params[ALPHA],
            params[TABLE:TABLE + BLOCK], params[CORRECT] != 0.0, params[SKIPNA] != 0.0)


@jit
def step(v, x, alpha, beta):
    """The notes' update V ← β·V + α·θ, as fma(β, V, α·θ): the one place this formula lives.

    Fused, the dependent chain from V to V is one multiply-add (one rounding).
    """
    return fma(beta, v, alpha * x)


@jit
def finite(x) -> bool:
    """Whether ``x`` is an observed value: finite (NaN and ±inf are missing, as in pandas)."""
    d = x - x  # 0 for a finite x, NaN for NaN and ±inf; compared in x's own dtype
    return d == d


@jit
def observes(x, skipna: bool) -> bool:
    """Whether the value ``x`` counts as an observation: finite, or anything when missing values poison."""
    return finite(x) or not skipna


@jit
def advance(x, v, alpha, beta, skipna: bool):
    """(V, seen): the state after value ``x``, and whether ``x`` counted as an observation.

    The step always runs, on operands chosen from ``x`` alone: (θ, α, β) for a
    finite θ; (−0, 1, 1) for a skipped value, and fma(1, V, −0) = V exactly
    (±0 included); (NaN, α, β) for a missing value that poisons.  So the
    chain V → V is one fma per value, missing or not, with no branch on it.
    """
    if skipna:
        seen = finite(x)
        one = alpha / alpha
        return step(v, x if seen else -(alpha - alpha), alpha if seen else one, beta if seen else one), seen
    return step(v, x if finite(x) else x - x, alpha, beta), True


@jit
def advance_across(x, v, alpha, beta, skipna: bool):
    """(V, seen) as :func:`advance`, for loops across series: the step's result is chosen, not its operands.

    No branch, so a loop over a row vectorises; on one series' chain the
    select would add its latency to every step (there :func:`advance`).
    """
    observed = finite(x)
    if skipna:
        new = step(v, x, alpha, beta)
        return (new if observed else v), observed
    return step(v, x if observed else x - x, alpha, beta), True  # a missing value: NaN


@jit
def bare_run(x, out, i, v, weight, keep):
    """out[i], out[i+1], … = V ← :func:`step` (V, x, weight, keep) while x is observed: (the stop index, V).

    The bare recursion, one fused multiply-add per value on the chain (the
    floor of ``bench/ewm.py``'s case ``mean-1d-bound``) and a branch on each
    value, never mispredicted on clean data.
    """
    n = x.shape[0]
    while i < n:
        xi = x[i]
        if not finite(xi):
            break
        v = step(v, xi, weight, keep)
        out[i] = v
        i += 1
    return i, v


@jit
def ewa_series(x, out, v, count: int, params):
    """One series: the 1-D ``x`` into ``out`` (any strides) from state (``v``, ``count``); returns the new state.

    Three loops (``bench/ewa.py``, cases ``1d`` and ``1d-nan``; ``bench/ewm.py``,
    case ``mean-1d-bound``): while every value is observed and the correction
    still divides, a branch on the value, never mispredicted on clean data;
    once every divisor is exactly 1 (or without correction), the bare
    recursion; from the first missing value on, :func:`advance`, whose
    operands are chosen without a branch.  Each value runs the same
    operations whichever loop reads it.
    """
    alpha, beta, alpha64, table, correct, skipna = unpack(params, out)
    q, r = count >> SHIFT, count & MASK  # count = 64·q + r
    _, a_q, b_q = terms_for(alpha64, count, -1, 0.0, 1.0)
    n = x.shape[0]
    i = 0
    while i < n and correct and b_q != 0.0:
        xi = x[i]
        if not finite(xi):
            break
        v = step(v, xi, alpha, beta)
        r += 1
        if r == BLOCK:
            q, r = q + 1, 0
            _, a_q, b_q = terms_for(alpha64, q * BLOCK, -1, 0.0, 1.0)
        out[i] = corrected(v, q * BLOCK + r, a_q, b_q, table, correct)
        i += 1
    if not (correct and b_q != 0.0):  # corrected(v, ...) is v from here on
        first = i
        i, v = bare_run(x, out, i, v, alpha, beta)
        if i > first:
            total = q * BLOCK + r + (i - first)
            q, r = total >> SHIFT, total & MASK
            _, a_q, b_q = terms_for(alpha64, total, -1, 0.0, 1.0)
    for i in range(i, n):
        v, seen = advance(x[i], v, alpha, beta, skipna)
        r += 1 if seen else 0
        if r == BLOCK:
            q, r = q + 1, 0
            _, a_q, b_q = terms_for(alpha64, q * BLOCK, -1, 0.0, 1.0)
        out[i] = corrected(v, q * BLOCK + r, a_q, b_q, table, correct)
    return v, q * BLOCK + r


@jit
def emit(out, v, count, params) -> None:
    """out[j] = the output of series j in state (v[j], count[j])."""
    _, _, alpha64, table, correct, _ = unpack(params, out)
    for j in range(v.shape[0]):
        _, a_q, b_q = terms_for(alpha64, count[j], -1, 0.0, 1.0)
        out[j] = corrected(v[j], count[j], a_q, b_q, table, correct)


#: Largest spread of counts across series for which :func:`rows_counted` tables the divisors.
MAX_SPREAD = 1 << 16


@jit
def divisors(count, n: int, params):
    """(div, lo): div[c − lo] = the divisor of count c (:func:`.ewa_correction.fill_divisors`) for every
    count the series of ``count`` can reach in ``n`` more values; ``div`` is empty when the counts are
    more than :data:`MAX_SPREAD` apart (a restored state)."""
    lo, hi = 0, 0
    if count.shape[0]:
        lo, hi = count.min(), count.max()
    if hi - lo > MAX_SPREAD:
        return np.empty(0), lo
    div = np.empty(hi - lo + n + 1)
    fill_divisors(div, lo, params[ALPHA], params[TABLE:TABLE + BLOCK], params[CORRECT] != 0.0)
    return div, lo


@jit
def rows_counted(x, out, v, count, params, start: int, div, lo: int) -> None:
    """Rows start … n−1 of an (n, k) ``x``, each series with its own count (after a skipped value).

    ``div``, ``lo`` from :func:`divisors`: the divisors come from that table,
    so the loop has no branch and vectorises.  Without a table (counts far
    apart) the series run one by one (:func:`ewa_series`, the same operations).
    """
    alpha, beta, _, _, _, skipna = unpack(params, out)
    n, k = x.shape
    if div.shape[0] == 0:
        for j in range(k):
            v[j], count[j] = ewa_series(x[start:, j], out[start:, j], v[j], count[j], params)
        return
    counts = np.empty(k, np.int64)
    for j in range(k):
        counts[j] = count[j] - lo
    # div[c] is exactly 1 from c = ones on (everywhere without correction) and V / 1 is V: once every
    # series has reached it the division is left out (bench/ewa.py, case 2d-C-nan)
    ones = div.shape[0]
    while ones > 0 and div[ones - 1] == 1.0:
        ones -= 1
    i = start
    while i < n and counts.min() < ones:
        _counted(x, out, v, counts, div, lo, i, min(n, i + BLOCK), alpha, beta, skipna, True)
        i += BLOCK
    _counted(x, out, v, counts, div, lo, min(i, n), n, alpha, beta, skipna, False)
    for j in range(k):
        count[j] = counts[j] + lo


@jit
def counted(x, v, c: int, div, lo: int, alpha, beta, skipna: bool, divide: bool):
    """(V, c, output) after value ``x`` for a series with V = ``v`` and count lo + ``c``.

    The output is V / div[c] (NaN at count 0), or V where ``divide`` is False
    (every divisor 1); no branch on the data.
    """
    v, seen = advance_across(x, v, alpha, beta, skipna)
    c += 1 if seen else 0
    value = v / div[c] if divide else v
    return v, c, (value if c + lo != 0 else np.nan)


@jit
def _counted(x, out, v, counts, div, lo: int, start: int, stop: int, alpha, beta, skipna: bool,
             divide: bool) -> None:
    """Rows start … stop−1 of :func:`rows_counted`, with the counts from ``lo`` (:func:`counted`)."""
    k = x.shape[1]
    for i in range(start, stop):
        for j in range(k):
            v[j], counts[j], out[i, j] = counted(x[i, j], v[j], counts[j], div, lo, alpha, beta, skipna, divide)


@jit
def ewa_rows(x, out, v, count, params) -> None:
    """EWA mean of k parallel series: x, out of shape (n, k), C-contiguous; state ``v``, ``count`` of k.

    While every series has seen as many observations (no value skipped so
    far) one correction serves the whole row and the inner loop vectorises;
    from the row where a value is skipped on, each series has its own count
    (:func:`rows_counted`).
    """
    alpha, beta, alpha64, table, correct, skipna = unpack(params, out)
    n, k = x.shape
    if n == 0 or k == 0:
        return
    c = count[0]
    for j in range(k):
        if count[j] != c:
            div, lo = divisors(count, n, params)
            rows_counted(x, out, v, count, params, 0, div, lo)
            return
    q, a_q, b_q = -1, 0.0, 1.0
    i = 0
    skipped = 0
    while i < n and skipped == 0:
        c += 1
        q, a_q, b_q = terms_for(alpha64, c, q, a_q, b_q)
        divide, d = division(c, a_q, b_q, table, correct)
        for j in range(k):
            vj, seen = advance_across(x[i, j], v[j], alpha, beta, skipna)
            v[j] = vj
            skipped += 0 if seen else 1
            out[i, j] = vj / d if divide else vj  # corrected(vj, c, ...) with the row's shared division
        i += 1
    if skipped == 0:
        count[:] = c
        return
    # row i − 1 skipped a value: the counts part there; that row is emitted again per series
    for j in range(k):
        count[j] = c - (0 if observes(x[i - 1, j], skipna) else 1)
    emit(out[i - 1], v, count, params)
    div, lo = divisors(count, n - i, params)
    rows_counted(x, out, v, count, params, i, div, lo)


@jit
def _four(x, out, v, count, params, div, lo: int) -> None:
    """Four series of :func:`ewa_lanes` (x of shape (4, n)), interleaved: four independent chains.

    While the four have seen equally many values and all observe the current
    one, one count and one correction serve all four; from the first skipped
    value on, each has its own count and reads its divisor from the table
    ``div``, ``lo`` of :func:`divisors` (made once for all the lanes' series),
    with no branch on the data (:func:`counted`).  V and the counts stay in
    registers: the four chains do not go through memory.
    """
    alpha, beta, alpha64, table, correct, skipna = unpack(params, out)
    n = x.shape[1]
    c = count[0]
    i = 0
    if count[1] == c and count[2] == c and count[3] == c:
        v0, v1, v2, v3 = v[0], v[1], v[2], v[3]
        q, a_q, b_q = terms_for(alpha64, c, -1, 0.0, 1.0)
        while i < n:
            x0, x1, x2, x3 = x[0, i], x[1, i], x[2, i], x[3, i]
            total = x0 + x1 + x2 + x3
            if skipna and not total - total == 0.0:  # a value missing (or inf − inf): the counts may part
                break
            if skipna:  # all four are finite (checked above)
                v0, v1, v2, v3 = (step(v0, x0, alpha, beta), step(v1, x1, alpha, beta),
                                  step(v2, x2, alpha, beta), step(v3, x3, alpha, beta))
            else:
                v0, _ = advance(x0, v0, alpha, beta, skipna)
                v1, _ = advance(x1, v1, alpha, beta, skipna)
                v2, _ = advance(x2, v2, alpha, beta, skipna)
                v3, _ = advance(x3, v3, alpha, beta, skipna)
            c += 1
            q, a_q, b_q = terms_for(alpha64, c, q, a_q, b_q)
            out[0, i] = corrected(v0, c, a_q, b_q, table, correct)
            out[1, i] = corrected(v1, c, a_q, b_q, table, correct)
            out[2, i] = corrected(v2, c, a_q, b_q, table, correct)
            out[3, i] = corrected(v3, c, a_q, b_q, table, correct)
            i += 1
        v[0], v[1], v[2], v[3] = v0, v1, v2, v3
        count[:] = c
    if i == n:
        return
    if div.shape[0] == 0:  # counts far apart: series by series
        rows_counted(x.T, out.T, v, count, params, i, div, lo)
        return
    v0, v1, v2, v3 = v[0], v[1], v[2], v[3]
    c0, c1, c2, c3 = count[0] - lo, count[1] - lo, count[2] - lo, count[3] - lo
    for i in range(i, n):
        v0, c0, out[0, i] = counted(x[0, i], v0, c0, div, lo, alpha, beta, skipna, True)
        v1, c1, out[1, i] = counted(x[1, i], v1, c1, div, lo, alpha, beta, skipna, True)
        v2, c2, out[2, i] = counted(x[2, i], v2, c2, div, lo, alpha, beta, skipna, True)
        v3, c3, out[3, i] = counted(x[3, i], v3, c3, div, lo, alpha, beta, skipna, True)
    v[0], v[1], v[2], v[3] = v0, v1, v2, v3
    count[0], count[1], count[2], count[3] = c0 + lo, c1 + lo, c2 + lo, c3 + lo


@jit
def ewa_lanes(x, out, v, count, params) -> None:
    """EWA mean of k contiguous series: x, out of shape (k, n), C-contiguous; state ``v``, ``count`` of k.

    A series is a chain of dependent multiply-adds (latency-bound), so the
    series run four at a time, interleaved (:func:`_four`); the last k mod 4
    run alone (:func:`ewa_series`).  Each series sees exactly the operations
    of a lone series.
    """
    k, n = x.shape
    div, lo = divisors(count, n, params) if k >= 4 else (np.empty(0), 0)
    j = 0
    while j + 4 <= k:
        _four(x[j:j + 4], out[j:j + 4], v[j:j + 4], count[j:j + 4], params, div, lo)
        j += 4
    while j < k:
        v[j], count[j] = ewa_series(x[j], out[j], v[j], count[j], params)
        j += 1


#: Blocks of series :func:`ewa_lanes_parallel` makes (a constant: asking Numba
#: for its thread count inside a kernel would keep the kernel out of the cache).
_LANE_BLOCKS = 32


@pjit
def ewa_lanes_parallel(x, out, v, count, params) -> None:
    """:func:`ewa_lanes` with the series split over the threads (same parameters).

    The k series are cut into contiguous blocks, each a whole number of the
    groups of four, and each block runs :func:`ewa_lanes` unchanged: every
    series sees exactly the operations it sees alone (bit-identical).
    """
    k = x.shape[0]
    groups = (k + 3) // 4
    nblocks = max(1, min(groups, _LANE_BLOCKS))  # prange deals the blocks out to the threads
    for b in numba.prange(nblocks):
        j0 = min(k, 4 * (b * groups // nblocks))
        j1 = min(k, 4 * ((b + 1) * groups // nblocks))
        ewa_lanes(x[j0:j1], out[j0:j1], v[j0:j1], count[j0:j1], params)


__all__ = ["ALPHA", "BETA", "CORRECT", "SKIPNA", "TABLE", "PARAMS_SIZE", "fill_params", "unpack", "step",
           "MAX_SPREAD", "divisors", "finite", "observes", "advance", "advance_across", "counted",
           "bare_run", "ewa_series", "emit", "rows_counted", "ewa_rows", "ewa_lanes", "ewa_lanes_parallel"]
