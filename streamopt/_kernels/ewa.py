"""Kernels for exponentially weighted averages: mean and variance.

The mean follows the notes' recursion, one observation θ at a time::

    V_0 = 0,    V_t = β·V_{t−1} + α·θ_t            (α = 1 − β)

and, with bias correction, outputs V_t / (1 − β^t) where t counts the
observations seen.  Every kernel takes its state in (``v``: the V of each
series, ``t``: its observation count, as float64) and leaves it updated, so a
series fed in chunks runs exactly the same floating-point operations, in the
same order, as the series fed at once: the outputs are bit-identical whatever
the split.

Bias correction without cancellation and without a transcendental per element
-----------------------------------------------------------------------------
Write t = 64·q + r (0 ≤ r < 64).  Then::

    1 − β^t = (1 − β^{64q}) + β^{64q}·(1 − β^r) = A_q + B_q·T_r

with A_q = 1 − β^{64q} from :func:`one_minus_beta_pow` (one ``expm1`` per 64
observations), B_q = 1 − A_q = β^{64q}, and the 64-entry table
T_r = 1 − β^r (:func:`fill_table`).  Every term is non-negative, so there is
no cancellation; the value depends on t only, never on the chunking.  Once
B_q = 0 exactly the correction is exactly 1 and the division is skipped (it
would return V unchanged).

Layouts
-------
``lanes``: x has shape (k, n), C-contiguous: k series, each contiguous (1-D
input, or a column-major 2-D input seen through its transpose).
``rows``: x has shape (n, k), C-contiguous: n time steps of k series; the
inner loop walks a row, across series, contiguously.

Counts that differ
------------------
After a skipped NaN the series' counts differ and the correction is no longer
shared.  The 2-D kernels then keep the counts as integers and read each
series' divisor from a table of 1 − β^c (the same :func:`correction`) for every
count c the call can reach, in one branch-free pass (:func:`_rows_counted`).
Where :func:`corrected` skips the division (B_q = 0), the tabled value is
exactly 1 and V / 1 is V, so the outputs are the same bits.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from ._common import fma as _fma, jit, one_minus_beta_pow, pjit

#: As :data:`jit` but holding the GIL: for the per-call streaming entry points,
#: where releasing and re-acquiring the GIL would cost more than the work.
jit_gil = functools.partial(numba.njit, cache=True, error_model="numpy")

#: Observations per block of the bias-correction split t = 64·q + r.
BLOCK = 64
_SHIFT = 6
_MASK = BLOCK - 1


@jit
def step(v, x, alpha, beta):
    """The notes' update V ← β·V + α·θ, as fma(β, V, α·θ): the one place this formula lives.

    Fused, the dependent chain from V to V is one multiply-add (a single
    rounding) instead of a multiply then an add: shorter latency, and no less
    accurate than the two-rounding form.
    """
    return _fma(beta, v, alpha * x)


@jit
def fill_table(alpha: float, table: np.ndarray) -> None:
    """table[r] = 1 − β^r for r = 0 … 63 (β = 1 − α)."""
    for r in range(BLOCK):
        table[r] = one_minus_beta_pow(alpha, float(r))


@jit
def block_terms(alpha: float, q: int) -> tuple[float, float]:
    """(A_q, B_q) = (1 − β^{64q}, β^{64q}), B_q computed as 1 − A_q.

    The absolute error of B_q is at most half an ulp of A_q ≤ 1, and B_q only
    multiplies T_r ≤ 1 in a sum whose other term is A_q, so the correction
    A_q + B_q·T_r keeps a relative error of a few ulp.
    """
    a = one_minus_beta_pow(alpha, float(q * BLOCK))
    return a, 1.0 - a


@jit
def correction(a_q: float, b_q: float, t_r: float) -> float:
    """1 − β^t = A_q + B_q·T_r for t = 64q + r."""
    return a_q + b_q * t_r


@jit
def corrected(v, a_q: float, b_q: float, t_r: float):
    """V / (1 − β^t), or V itself once the correction is exactly 1 (B_q = 0)."""
    if b_q == 0.0:
        return v
    return v / correction(a_q, b_q, t_r)


@jit
def _advance(xi, v, q, r, a_q, b_q, alpha, beta, alpha64, skipna):
    """One value of one series: V ← β·V + α·θ (unless θ is a skipped NaN), t ← t + 1."""
    if xi == xi or not skipna:
        v = step(v, xi, alpha, beta)
        r += 1
        if r == BLOCK:
            r = 0
            q += 1
            a_q, b_q = block_terms(alpha64, q)
    return v, q, r, a_q, b_q


@jit
def _advance_nan(xi, v, q, r, a_q, b_q, alpha, beta, alpha64, skipna):
    """:func:`_advance` without a branch on the NaN test, for data known to hold NaNs.

    A skipped NaN runs the same :func:`step` with (θ, α, β) = (−0, 1, 1):
    fma(1, V, −0) = V exactly (−0 is the additive identity for every V, ±0
    included), so the results are the same bits.  The choice depends on θ
    only, so the chain V → V stays one fma and NaNs at random positions cost
    no mispredicted branch; on data without NaN the branch of :func:`_advance`
    is cheaper.
    """
    seen = xi == xi or not skipna
    one = alpha / alpha  # 1 and −0 in the data's dtype (α > 0)
    v = step(v, xi if seen else -(alpha - alpha), alpha if seen else one, beta if seen else one)
    r += 1 if seen else 0
    if r == BLOCK:
        r = 0
        q += 1
        a_q, b_q = block_terms(alpha64, q)
    return v, q, r, a_q, b_q


@jit
def _output(v, q, r, a_q, b_q, t_r, bias):
    """The output for state (V, t = 64q + r): NaN before any observation, V or V / (1 − β^t).

    ``t_r`` is the table entry T_r = 1 − β^r.
    """
    if q == 0 and r == 0:
        return np.nan
    if bias:
        return corrected(v, a_q, b_q, t_r)
    return v


@jit
def ewa_lanes(x, out, v, t, table, alpha, beta, alpha64, bias, skipna):
    """EWA mean of k contiguous series: x, out of shape (k, n), C-contiguous.

    Parameters
    ----------
    x, out : (k, n) arrays of one float dtype; ``out`` may be ``x``.
    v : (k,) array of that dtype, the V of each series (updated in place).
    t : (k,) float64 array, the observation counts (updated in place).
    table : (64,) float64, from :func:`fill_table`.
    alpha, beta : α and β = 1 − α in the data dtype (the recursion's factors).
    alpha64 : α in float64 (the bias correction).
    bias : output V_t / (1 − β^t) instead of V_t.
    skipna : a NaN leaves the state untouched (True) or poisons it (False).

    One series is a chain of dependent multiply-adds (latency-bound), so the
    series are walked four at a time, interleaved: four independent chains.
    While the four have seen equally many values and all observe the current
    one, lane 0's counter and bias correction serve all four.  Once their
    counts differ, the rest of the four runs as rows of four
    (:func:`_rows_counted`: integer counts and a table of corrections, no
    branch per NaN).  Each series still sees exactly the operations of a lone
    series.
    """
    k, n = x.shape
    lo, hi, tabled = _count_range(t)
    corr = np.empty(0)
    j = 0
    while j + 4 <= k:
        v0, v1, v2, v3 = v[j], v[j + 1], v[j + 2], v[j + 3]
        c0, c1, c2, c3 = int(t[j]), int(t[j + 1]), int(t[j + 2]), int(t[j + 3])
        q0, r0 = c0 >> _SHIFT, c0 & _MASK
        q1, r1 = c1 >> _SHIFT, c1 & _MASK
        q2, r2 = c2 >> _SHIFT, c2 & _MASK
        q3, r3 = c3 >> _SHIFT, c3 & _MASK
        a0, b0 = block_terms(alpha64, q0)
        a1, b1 = block_terms(alpha64, q1)
        a2, b2 = block_terms(alpha64, q2)
        a3, b3 = block_terms(alpha64, q3)
        # same: the four counts are equal, and only (q0, r0, a0, b0) is kept up to date
        same = c0 == c1 and c0 == c2 and c0 == c3
        stop = n
        for i in range(n):
            x0, x1, x2, x3 = x[j, i], x[j + 1, i], x[j + 2, i], x[j + 3, i]
            total = x0 + x1 + x2 + x3  # NaN if any is NaN (or for inf − inf: then the general path)
            if same and (not skipna or total == total):
                # all four observe this value: lane 0's counter and bias correction serve all four
                # (the same helpers, hence the same operations per series as below)
                v0, q0, r0, a0, b0 = _advance(x0, v0, q0, r0, a0, b0, alpha, beta, alpha64, skipna)
                v1 = step(v1, x1, alpha, beta)
                v2 = step(v2, x2, alpha, beta)
                v3 = step(v3, x3, alpha, beta)
                t_r = table[r0]
                out[j, i] = _output(v0, q0, r0, a0, b0, t_r, bias)
                out[j + 1, i] = _output(v1, q0, r0, a0, b0, t_r, bias)
                out[j + 2, i] = _output(v2, q0, r0, a0, b0, t_r, bias)
                out[j + 3, i] = _output(v3, q0, r0, a0, b0, t_r, bias)
                continue
            if same:
                q1 = q2 = q3 = q0
                r1 = r2 = r3 = r0
                a1 = a2 = a3 = a0
                b1 = b2 = b3 = b0
            if tabled:
                # counts differ (or may from now on): hand the rest over (below)
                stop = i
                break
            v0, q0, r0, a0, b0 = _advance(x0, v0, q0, r0, a0, b0, alpha, beta, alpha64, skipna)
            v1, q1, r1, a1, b1 = _advance(x1, v1, q1, r1, a1, b1, alpha, beta, alpha64, skipna)
            v2, q2, r2, a2, b2 = _advance(x2, v2, q2, r2, a2, b2, alpha, beta, alpha64, skipna)
            v3, q3, r3, a3, b3 = _advance(x3, v3, q3, r3, a3, b3, alpha, beta, alpha64, skipna)
            out[j, i] = _output(v0, q0, r0, a0, b0, table[r0], bias)
            out[j + 1, i] = _output(v1, q1, r1, a1, b1, table[r1], bias)
            out[j + 2, i] = _output(v2, q2, r2, a2, b2, table[r2], bias)
            out[j + 3, i] = _output(v3, q3, r3, a3, b3, table[r3], bias)
            same = q0 == q1 and q0 == q2 and q0 == q3 and r0 == r1 and r0 == r2 and r0 == r3
        if same:
            q1 = q2 = q3 = q0
            r1 = r2 = r3 = r0
        v[j], v[j + 1], v[j + 2], v[j + 3] = v0, v1, v2, v3
        t[j] = float(q0 * BLOCK + r0)
        t[j + 1] = float(q1 * BLOCK + r1)
        t[j + 2] = float(q2 * BLOCK + r2)
        t[j + 3] = float(q3 * BLOCK + r3)
        if stop < n:
            # the rest of these four series runs as rows of four with integer counts and the
            # table of corrections (no branch per NaN); kept out of the loop above, which it
            # would slow down
            if corr.shape[0] == 0:
                corr = _corrections(lo, hi + n, table, alpha64, bias)
            _rows_counted(x[j:j + 4].T, out[j:j + 4].T, v[j:j + 4], t[j:j + 4], corr, lo, stop, alpha, beta,
                          skipna, False)  # four strided series: the per-block check costs more than it saves
        j += 4
    while j < k:
        count = int(t[j])
        q, r = count >> _SHIFT, count & _MASK
        a_q, b_q = block_terms(alpha64, q)
        v[j], q, r, a_q, b_q = _lane(x[j], out[j], v[j], q, r, a_q, b_q, table, alpha, beta, alpha64, bias, skipna)
        t[j] = float(q * BLOCK + r)
        j += 1


#: Blocks of series :func:`ewa_lanes_parallel` makes (a constant: asking Numba
#: for its thread count inside a kernel would keep the kernel out of the cache).
_LANE_BLOCKS = 32


@pjit
def ewa_lanes_parallel(x, out, v, t, table, alpha, beta, alpha64, bias, skipna):
    """:func:`ewa_lanes` with the series split over the threads (same parameters).

    The k series are cut into one contiguous block per thread, each a whole
    number of the lanes kernel's groups of four, and each block runs
    :func:`ewa_lanes` unchanged.  Every series sees exactly the operations it
    sees alone, so the result is bit-identical to the serial kernel.
    """
    k = x.shape[0]
    groups = (k + 3) // 4
    nblocks = max(1, min(groups, _LANE_BLOCKS))  # prange deals the blocks out to the threads
    for b in numba.prange(nblocks):
        j0 = min(k, 4 * (b * groups // nblocks))
        j1 = min(k, 4 * ((b + 1) * groups // nblocks))
        ewa_lanes(x[j0:j1], out[j0:j1], v[j0:j1], t[j0:j1], table, alpha, beta, alpha64, bias, skipna)


@jit
def _lane(x, out, v, q, r, a_q, b_q, table, alpha, beta, alpha64, bias, skipna):
    """One series: the 1-D ``x`` into ``out`` from the state (V, t = 64q + r, A_q, B_q); returns the new state.

    From the first skipped NaN on, the values go through :func:`_advance_nan`
    (the same bits, no branch per NaN).
    """
    n = x.shape[0]
    start = n
    for i in range(n):
        xi = x[i]
        if skipna and xi != xi:
            start = i
            break
        v, q, r, a_q, b_q = _advance(xi, v, q, r, a_q, b_q, alpha, beta, alpha64, skipna)
        out[i] = _output(v, q, r, a_q, b_q, table[r], bias)
    for i in range(start, n):
        v, q, r, a_q, b_q = _advance_nan(x[i], v, q, r, a_q, b_q, alpha, beta, alpha64, skipna)
        out[i] = _output(v, q, r, a_q, b_q, table[r], bias)
    return v, q, r, a_q, b_q


@jit
def _emit_row(out, i, v, t, table, alpha64, bias):
    """out[i, :] from the state of every series (any counts), as :func:`_output`."""
    k = v.shape[0]
    cached_q = np.full(k, -1)
    a_q = np.empty(k)
    b_q = np.empty(k)
    _emit_row_cached(out, i, v, t, table, alpha64, bias, cached_q, a_q, b_q)


@jit
def _emit_row_cached(out, i, v, t, table, alpha64, bias, cached_q, a_q, b_q):
    """:func:`_emit_row` keeping each series' (A_q, B_q) in ``a_q``, ``b_q`` (valid for q = ``cached_q``).

    Series whose counts have drifted apart (skipped NaNs) straddle different
    blocks q; the terms are recomputed only when a series enters a new block.
    """
    for j in range(v.shape[0]):
        count = int(t[j])
        q = count >> _SHIFT
        r = count & _MASK
        if bias and q != cached_q[j]:
            a_q[j], b_q[j] = block_terms(alpha64, q)
            cached_q[j] = q
        out[i, j] = _output(v[j], q, r, a_q[j], b_q[j], table[r], bias)


#: Largest spread of counts across series for which :func:`ewa_rows` tables the corrections.
_MAX_SPREAD = 1 << 16


@jit
def _fill_corrections(corr, lo, table, alpha64):
    """corr[c − lo] = 1 − β^c (:func:`correction` of c = 64q + r) for the counts lo … lo + len − 1."""
    cached_q = -1
    a_q = 0.0
    b_q = 1.0
    for c in range(lo, lo + corr.shape[0]):
        q = c >> _SHIFT
        if q != cached_q:
            a_q, b_q = block_terms(alpha64, q)
            cached_q = q
        corr[c - lo] = correction(a_q, b_q, table[c & _MASK])


@jit
def _emit_row_counts(out, i, v, t, corr, lo):
    """out[i, :] from each series' own count, as :func:`_output`: V / corr[t − lo] (NaN before any
    observation), with ``corr`` from :func:`_corrections`.

    Where :func:`corrected` skips the division (B_q = 0) the tabled correction
    is exactly 1 (A_q = 1 − B_q = 1), and V / 1 is V bit for bit.
    """
    for j in range(v.shape[0]):
        tj = t[j]
        vj = v[j] / corr[int(tj) - lo]
        out[i, j] = vj if tj != 0.0 else np.nan


@jit
def _count_range(t):
    """(lo, hi, tabled): the smallest and largest count in ``t`` and whether they are close enough
    (≤ :data:`_MAX_SPREAD` apart) for a table of corrections over lo … hi + n."""
    lo = int(t[0]) if t.shape[0] else 0
    hi = lo
    for j in range(t.shape[0]):
        lo = min(lo, int(t[j]))
        hi = max(hi, int(t[j]))
    return lo, hi, hi - lo <= _MAX_SPREAD


@jit
def _corrections(lo, hi, table, alpha64, bias):
    """The divisors of :func:`_rows_counted` for the counts lo … hi: 1 − β^c, or 1 without bias correction."""
    corr = np.empty(hi - lo + 1)
    if bias:
        _fill_corrections(corr, lo, table, alpha64)
    else:
        corr[:] = 1.0
    return corr


@jit
def _rows_counted(x, out, v, t, corr, lo, i0, alpha, beta, skipna, skip_ones=True):
    """Rows i0 … n−1 of :func:`ewa_rows` once the series' counts differ.

    Each output is V / corr[count − lo] (the tabled 1 − β^count, or 1 without
    bias correction), NaN before any observation; the counts are kept as
    integers for the table index and written back to ``t`` at the end.
    """
    n, k = x.shape
    counts = np.empty(k, np.int64)
    for j in range(k):
        counts[j] = int(t[j]) - lo
    # corr[c] is exactly 1 for every c ≥ ones (for every c without bias
    # correction), and V / 1 is V bit for bit: once every series has reached
    # that count (counts only grow) the lookup and the division are left out
    if skip_ones:
        ones = corr.shape[0]
        while ones > 0 and corr[ones - 1] == 1.0:
            ones -= 1
        i = i0
        while i < n and k > 0 and counts.min() < ones:
            stop = min(n, i + BLOCK)
            _counted_rows(x, out, v, counts, corr, lo, i, stop, alpha, beta, skipna, True)
            i = stop
        _counted_rows(x, out, v, counts, corr, lo, i, n, alpha, beta, skipna, False)
    else:
        _counted_rows(x, out, v, counts, corr, lo, i0, n, alpha, beta, skipna, True)
    for j in range(k):
        t[j] = float(counts[j] + lo)


@jit
def _counted_rows(x, out, v, counts, corr, lo, start, stop, alpha, beta, skipna, divide):
    """Rows start … stop−1 for :func:`_rows_counted`; ``divide=False`` where every divisor is 1."""
    k = x.shape[1]
    for i in range(start, stop):
        for j in range(k):
            xj = x[i, j]
            vj = v[j]
            seen = xj == xj or not skipna
            new = step(vj, xj, alpha, beta)
            vj = new if seen else vj
            v[j] = vj
            cj = counts[j] + (1 if seen else 0)
            counts[j] = cj
            if divide:
                vj = vj / corr[cj]
            out[i, j] = vj if cj + lo != 0 else np.nan


@jit
def ewa_rows(x, out, v, t, table, alpha, beta, alpha64, bias, skipna):
    """EWA mean of k parallel series: x, out of shape (n, k), C-contiguous.

    Same parameters and state as :func:`ewa_lanes`.  The inner loop walks a row
    across the k series (contiguous, vectorised).  While every series has seen
    the same number of observations (no NaN skipped so far) the bias correction
    is computed once per row.  Once the counts differ (a skipped NaN), each
    series' correction is read from a table of 1 − β^c for every count c this
    call can reach (:func:`_fill_corrections`), in the same single pass.
    """
    n, k = x.shape
    if n == 0 or k == 0:
        return
    t0 = t[0]
    uniform = True
    for j in range(k):
        if t[j] != t0:
            uniform = False
    # the table of corrections covers every count reachable in this call, unless the counts are
    # far apart (a restored state): then rows are re-emitted series by series instead
    lo, hi, tabled = _count_range(t)
    corr = np.empty(0)
    series_q = np.empty(0, np.int64)
    series_a = np.empty(0)
    series_b = np.empty(0)
    cached_q = -1
    a_q = 0.0
    b_q = 1.0
    for i in range(n):
        if not uniform and tabled:
            _rows_counted(x, out, v, t, _corrections(lo, hi + n, table, alpha64, bias), lo, i, alpha, beta,
                          skipna)
            return
        # the correction this row needs if every series observes a value
        scale = 1.0
        divide = False
        if bias and uniform:
            count = int(t0) + 1
            q = count >> _SHIFT
            if q != cached_q:
                a_q, b_q = block_terms(alpha64, q)
                cached_q = q
            if b_q != 0.0:
                divide = True
                scale = correction(a_q, b_q, table[count & _MASK])
        skipped = 0
        for j in range(k):
            xj = x[i, j]
            vj = v[j]
            seen = xj == xj or not skipna
            new = step(vj, xj, alpha, beta)
            vj = new if seen else vj
            v[j] = vj
            t[j] += 1.0 if seen else 0.0
            skipped += 0 if seen else 1
            out[i, j] = vj / scale if divide else vj
        if skipped == 0 and uniform:
            t0 += 1.0
            continue
        # a NaN was skipped: the counts may differ from now on; this row is re-emitted per series
        uniform = False
        if tabled:
            if corr.shape[0] == 0:
                corr = _corrections(lo, hi + n, table, alpha64, bias)
            _emit_row_counts(out, i, v, t, corr, lo)
        else:
            if series_q.shape[0] == 0:
                series_q = np.full(k, -1, np.int64)
                series_a = np.empty(k)
                series_b = np.empty(k)
            _emit_row_cached(out, i, v, t, table, alpha64, bias, series_q, series_a, series_b)


@jit
def _load_state(state):
    """(V, q, r, A_q, B_q) from the :func:`ewa_scalar` buffer, refreshing A_q, B_q if q changed."""
    count = int(state[1])
    q = count >> _SHIFT
    if float(q) != state[72]:
        state[70], state[71] = block_terms(state[66], q)
        state[72] = float(q)
    return state[0], q, count & _MASK, state[70], state[71]


@jit
def _store_state(state, v, q, r, a_q, b_q):
    """Write (V, t = 64q + r, A_q, B_q, q) back into the :func:`ewa_scalar` buffer."""
    state[0] = v
    state[1] = float(q * BLOCK + r)
    state[70] = a_q
    state[71] = b_q
    state[72] = float(q)


@jit
def ewa_scalar(x, state):
    """One observation of one float64 series; returns the output value.

    ``state`` is the float64 buffer of a one-series stream:
    [V, t, T_0 … T_63, α, β, bias, skipna, A_q, B_q, q] (offsets in
    :data:`SCALAR_LAYOUT`; q = −1 marks A_q, B_q as not yet computed).  The
    step and the output are those of :func:`ewa_lanes` (the same helpers), so
    feeding values one at a time is bit-identical to any other chunking.
    """
    alpha = state[66]
    v, q, r, a_q, b_q = _load_state(state)
    v, q, r, a_q, b_q = _advance(x, v, q, r, a_q, b_q, alpha, state[67], alpha, state[69] != 0.0)
    _store_state(state, v, q, r, a_q, b_q)
    return _output(v, q, r, a_q, b_q, state[2 + r], state[68] != 0.0)


@jit
def ewa_series(x, out, state):
    """Consecutive observations of one float64 series, state in the :func:`ewa_scalar` buffer.

    The loop of one series of :func:`ewa_lanes` (:func:`_lane`), with A_q, B_q
    kept in the buffer between calls; ``x`` and ``out`` may be strided.
    Bit-identical to every other path.
    """
    alpha = state[66]
    v, q, r, a_q, b_q = _load_state(state)
    v, q, r, a_q, b_q = _lane(x, out, v, q, r, a_q, b_q, state[2:66], alpha, state[67], alpha,
                              state[68] != 0.0, state[69] != 0.0)
    _store_state(state, v, q, r, a_q, b_q)


@intrinsic
def _f64_pointer(typingctx, address):
    """The integer ``address`` as a float64 pointer (for :func:`numba.carray`)."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.float64)))

    return types.CPointer(types.float64)(address), codegen


@jit_gil
def ewa_scalar_at(x, address):
    """:func:`ewa_scalar` on the state buffer at memory ``address`` (an int).

    For the streaming fast path: a float and an int cross into compiled code
    far faster than an ndarray.  The caller keeps the buffer alive and passes
    the address of a C-contiguous float64 buffer of ``SCALAR_LAYOUT["size"]``.
    """
    return ewa_scalar(x, numba.carray(_f64_pointer(address), (SCALAR_SIZE,)))


@jit_gil
def ewa_series_at(x, out, address):
    """:func:`ewa_series` on the state buffer at memory ``address`` (see :func:`ewa_scalar_at`)."""
    ewa_series(x, out, numba.carray(_f64_pointer(address), (SCALAR_SIZE,)))


#: Offsets in the :func:`ewa_scalar` buffer.
SCALAR_LAYOUT = {"v": 0, "t": 1, "table": 2, "alpha": 66, "beta": 67, "bias": 68,
                 "skipna": 69, "a_q": 70, "b_q": 71, "q": 72, "size": 73}
#: The length of the :func:`ewa_scalar` buffer.
SCALAR_SIZE = 73


# ----------------------------------------------------------------- variance
@jit
def _var_step(x, beta, skipna, mean, m2, sw, den, count):
    """One value of the weighted (West) update, as pandas' ``ewmcov`` (adjust=True).

    With weights w_i = β^{t−i}: sw = Σw, mean the weighted mean,
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
    if x != x:
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
def _var_value(m2, sw, den, count, bias):
    """The biased variance m2, or the unbiased m2·(Σw)² / ((Σw)² − Σw²) (NaN while undefined)."""
    if count == 0.0:
        return np.nan
    if bias:
        return m2
    if den > 0.0:
        return (sw * sw / den) * m2
    return np.nan


@jit
def ewvar_lanes(x, out, state, beta, bias, skipna):
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
            mean, m2, sw, den, count = _var_step(float(x[j, i]), beta, skipna, mean, m2, sw, den, count)
            out[j, i] = _var_value(m2, sw, den, count, bias)
        state[0, j] = mean
        state[1, j] = m2
        state[2, j] = sw
        state[3, j] = den
        state[4, j] = count


@jit
def ewvar_rows(x, out, state, beta, bias, skipna):
    """EW variance of k parallel series: x, out of shape (n, k), C-contiguous.

    Same state and arithmetic as :func:`ewvar_lanes`, walking each row across
    the series.
    """
    n, k = x.shape
    for i in range(n):
        for j in range(k):
            mean, m2, sw, den, count = _var_step(float(x[i, j]), beta, skipna, state[0, j], state[1, j],
                                                 state[2, j], state[3, j], state[4, j])
            state[0, j] = mean
            state[1, j] = m2
            state[2, j] = sw
            state[3, j] = den
            state[4, j] = count
            out[i, j] = _var_value(m2, sw, den, count, bias)


__all__ = ["BLOCK", "SCALAR_LAYOUT", "fill_table", "block_terms", "correction", "corrected", "ewa_lanes", "ewa_rows",
           "ewa_scalar", "ewa_series", "ewa_scalar_at", "ewa_series_at", "SCALAR_SIZE", "ewvar_lanes", "ewvar_rows"]
