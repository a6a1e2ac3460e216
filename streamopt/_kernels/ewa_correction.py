"""The bias correction 1 − β^count of the EWA mean: the one place it is built.

Every EWA path (one series or many, any layout, batch or streaming, the
current value of a stream) divides by a value from :func:`divisor` through
:func:`corrected` or a table from :func:`fill_divisors`, so the corrected
output of a series after ``count`` observations is the same bits everywhere.

Without cancellation and without a transcendental per element
--------------------------------------------------------------
Write count = 64·q + r (0 ≤ r < 64).  Then::

    1 − β^count = (1 − β^{64q}) + β^{64q}·(1 − β^r) = A_q + B_q·T_r

with A_q = 1 − β^{64q} from :func:`one_minus_beta_pow` (one ``expm1`` per 64
observations), B_q = 1 − A_q = β^{64q}, and the 64-entry table
T_r = 1 − β^r (:func:`fill_table`).  Every term is non-negative, so there is
no cancellation, and the value depends on the count only, never on how the
series was cut into chunks.  Once B_q = 0 exactly, A_q = 1 exactly and the
division by 1 is left out (V / 1 is V).
"""

from __future__ import annotations

import numpy as np

from ._common import jit, one_minus_beta_pow

#: Observations per block of the split count = 64·q + r.
BLOCK = 64
SHIFT = 6
MASK = BLOCK - 1


@jit
def fill_table(alpha: float, table: np.ndarray) -> None:
    """table[r] = T_r = 1 − β^r for r = 0 … 63 (β = 1 − α, α the smoothing factor)."""
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
def terms_for(alpha: float, count: int, q: int, a_q: float, b_q: float) -> tuple[int, float, float]:
    """(q, A_q, B_q) for the block of ``count``, given those of block ``q`` (recomputed only if it changed)."""
    block = count >> SHIFT
    if block != q:
        a_q, b_q = block_terms(alpha, block)
    return block, a_q, b_q


@jit
def divisor(count: int, a_q: float, b_q: float, table: np.ndarray) -> float:
    """1 − β^count = A_q + B_q·T_r (count = 64q + r, with the terms of its block q)."""
    return a_q + b_q * table[count & MASK]


@jit
def division(count: int, a_q: float, b_q: float, table: np.ndarray, correct: bool) -> tuple[bool, float]:
    """(divide, d): whether the output after ``count`` ≥ 1 observations is V / d, and d = 1 − β^count.

    No division (d = 1) without correction or once the divisor is exactly 1
    (B_q = 0, hence A_q = 1).
    """
    if not correct or b_q == 0.0:
        return False, 1.0
    return True, divisor(count, a_q, b_q, table)


@jit
def corrected(v, count: int, a_q: float, b_q: float, table: np.ndarray, correct: bool):
    """The output of a series with state V = ``v`` after ``count`` observations.

    NaN before any observation; else V / d or V as :func:`division` says.  A
    float32 V is divided in float64 and rounded once when stored.
    """
    if count == 0:
        return np.nan
    if not correct or b_q == 0.0:  # as division(): a branch, so that no division is computed and dropped
        return v
    return v / divisor(count, a_q, b_q, table)


@jit
def fill_divisors(out: np.ndarray, lo: int, alpha: float, table: np.ndarray, correct: bool) -> None:
    """out[c − lo] = d of :func:`division` for the counts c = lo … lo + len − 1 (1 where it does not divide).

    V / 1 is V bit for bit, so dividing by every entry gives the outputs of
    :func:`corrected` (for c ≥ 1).
    """
    q, a_q, b_q = -1, 0.0, 1.0
    for c in range(lo, lo + out.shape[0]):
        q, a_q, b_q = terms_for(alpha, c, q, a_q, b_q)
        out[c - lo] = division(c, a_q, b_q, table, correct)[1]


__all__ = ["BLOCK", "SHIFT", "MASK", "fill_table", "block_terms", "terms_for", "divisor", "division", "corrected",
           "fill_divisors"]
