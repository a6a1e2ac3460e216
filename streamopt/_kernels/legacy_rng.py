"""NumPy's legacy ``RandomState(seed).permutation(m)``, compiled.

The notes reshuffle the training set every epoch with
``np.random.seed(s); np.random.permutation(m)``.  Re-seeding a NumPy generator
from Python every epoch would cost more than the epoch itself in the compiled
training loop (``bench/train.py`` times the loop), so the loop draws its
permutations here: the same
Mersenne Twister (MT19937), the same integer seeding, the same bounded-integer
rejection sampling and the same Fisher–Yates order as NumPy's legacy
generator, hence the same permutation, element for element.

State: a uint64 array of 625 words, the 624 MT19937 words (each < 2³²)
followed by the read position (:func:`mt_seed`, :func:`seed4`).
"""

from __future__ import annotations

import numpy as np

from ._common import jit, jit_uncounted

#: Words of MT19937 state, plus one slot for the read position.
STATE_SIZE = 625
#: Scratch words :func:`legacy_permutation` needs: a state and its 624 tempered outputs.
SCRATCH_SIZE = STATE_SIZE + 624

_N = 624
_M = 397
_MASK32 = np.uint64(0xFFFFFFFF)
_UPPER = np.uint64(0x80000000)
_LOWER = np.uint64(0x7FFFFFFF)
_MATRIX_A = np.uint64(0x9908B0DF)
_SEED_MULT = np.uint64(1812433253)


@jit
def mt_seed(state, seed):
    """Seed as ``RandomState(seed)`` does for an integer seed in [0, 2³²).

    key[0] = seed, key[i] = (1812433253·(key[i−1] ⊕ (key[i−1] ≫ 30)) + i) mod 2³².

    Examples
    --------
    >>> import numpy as np
    >>> state = np.zeros(STATE_SIZE, dtype=np.uint64)
    >>> mt_seed(state, 10)
    >>> bool((state[:624] == np.random.RandomState(10).get_state()[1]).all())
    True
    """
    s = np.uint64(seed) & _MASK32
    for pos in range(_N):
        state[pos] = s
        s = (_SEED_MULT * (s ^ (s >> np.uint64(30))) + np.uint64(pos + 1)) & _MASK32
    state[_N] = np.uint64(_N)


@jit
def _twist(state):
    """Regenerate the 624 words (the standard MT19937 recurrence)."""
    one = np.uint64(1)
    zero = np.uint64(0)
    for kk in range(_N - _M):
        y = (state[kk] & _UPPER) | (state[kk + 1] & _LOWER)
        state[kk] = state[kk + _M] ^ (y >> one) ^ (_MATRIX_A if (y & one) else zero)
    for kk in range(_N - _M, _N - 1):
        y = (state[kk] & _UPPER) | (state[kk + 1] & _LOWER)
        state[kk] = state[kk + _M - _N] ^ (y >> one) ^ (_MATRIX_A if (y & one) else zero)
    y = (state[_N - 1] & _UPPER) | (state[0] & _LOWER)
    state[_N - 1] = state[_M - 1] ^ (y >> one) ^ (_MATRIX_A if (y & one) else zero)
    state[_N] = np.uint64(0)


@jit
def _temper_all(state, out):
    """out[p] = the tempered output of state word p, for the 624 words."""
    for p in range(_N):
        y = state[p]
        y ^= y >> np.uint64(11)
        y ^= (y << np.uint64(7)) & np.uint64(0x9D2C5680)
        y ^= (y << np.uint64(15)) & np.uint64(0xEFC60000)
        y ^= y >> np.uint64(18)
        out[p] = y


@jit
def seed4(states, s0, s1, s2, s3):
    """:func:`mt_seed` of four generators at once (rows 0-3 of ``states``).

    The seeding recurrence is a chain of dependent multiplications; four
    independent chains advance together, so their latencies overlap instead
    of adding up.

    Examples
    --------
    >>> import numpy as np
    >>> states, one = np.zeros((4, STATE_SIZE), dtype=np.uint64), np.zeros(STATE_SIZE, dtype=np.uint64)
    >>> seed4(states, 11, 12, 13, 14)
    >>> mt_seed(one, 13)
    >>> bool((states[2] == one).all())
    True
    """
    a = np.uint64(s0) & _MASK32
    b = np.uint64(s1) & _MASK32
    c = np.uint64(s2) & _MASK32
    d = np.uint64(s3) & _MASK32
    sh = np.uint64(30)
    for pos in range(_N):
        states[0, pos] = a
        states[1, pos] = b
        states[2, pos] = c
        states[3, pos] = d
        inc = np.uint64(pos + 1)
        a = (_SEED_MULT * (a ^ (a >> sh)) + inc) & _MASK32
        b = (_SEED_MULT * (b ^ (b >> sh)) + inc) & _MASK32
        c = (_SEED_MULT * (c ^ (c >> sh)) + inc) & _MASK32
        d = (_SEED_MULT * (d ^ (d >> sh)) + inc) & _MASK32
    for g in range(4):
        states[g, _N] = np.uint64(_N)


@jit
def _mask_of(i):
    """The smallest all-ones bit mask ≥ i (as ``random_interval`` builds it)."""
    mask = np.uint64(i)
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    return mask


@jit_uncounted
def shuffle_seeded(state, tempered, out):
    """Fill ``out`` with the permutation that the freshly seeded generator
    ``state`` draws: NumPy's legacy ``permutation``, Fisher–Yates from the
    end, index i swapped with ``random_interval(i)`` (the next output, masked
    to the bits of i, until it is ≤ i).

    ``tempered`` (624 uint64) is scratch: the 624 outputs are generated and
    tempered in one pass, then read in order.  The draws are consumed without
    a branch the processor could mispredict: every output is read once, and a
    rejected one (masked value > i) swaps out[i] with itself and leaves i
    where it is.  The mask changes only when i falls below a power of two, so
    it is computed once per power of two, not once per draw.

    Examples
    --------
    >>> import numpy as np
    >>> state, tempered = np.zeros(STATE_SIZE, dtype=np.uint64), np.zeros(624, dtype=np.uint64)
    >>> out = np.empty(10, dtype=np.int64)
    >>> mt_seed(state, 3)
    >>> shuffle_seeded(state, tempered, out)
    >>> bool((out == np.random.RandomState(3).permutation(10)).all())
    True
    """
    m = out.size
    for i in range(m):
        out[i] = i
    _twist(state)
    _temper_all(state, tempered)
    pos = 0
    i = m - 1
    while i > 0:
        mask = _mask_of(i)
        lo = np.int64(mask >> np.uint64(1))  # i keeps this mask while i > lo
        while i > lo:
            if pos >= _N:
                _twist(state)
                _temper_all(state, tempered)
                pos = 0
            while i > lo and pos < _N:
                v = np.int64(tempered[pos] & mask)
                pos += 1
                accept = v <= i
                j = v if accept else i
                tmp = out[i]
                out[i] = out[j]
                out[j] = tmp
                i -= np.int64(accept)


@jit_uncounted
def legacy_permutation(state, seed, out):
    """Fill ``out`` (int64, length m < 2³²) with ``RandomState(seed).permutation(m)``.

    ``state`` (uint64, :data:`SCRATCH_SIZE` words) is scratch space and is overwritten.

    Examples
    --------
    >>> import numpy as np
    >>> out = np.empty(300, dtype=np.int64)
    >>> legacy_permutation(np.zeros(SCRATCH_SIZE, dtype=np.uint64), 11, out)
    >>> bool((out == np.random.RandomState(11).permutation(300)).all())
    True
    """
    mt_seed(state, seed)
    shuffle_seeded(state[:STATE_SIZE], state[STATE_SIZE:SCRATCH_SIZE], out)
