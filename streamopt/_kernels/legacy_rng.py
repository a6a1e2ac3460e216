"""NumPy's legacy ``RandomState(seed).permutation(m)``, compiled.

The notes reshuffle the training set every epoch with
``np.random.seed(s); np.random.permutation(m)``.  Re-seeding a NumPy generator
from Python costs tens of microseconds, more than a whole epoch of the
compiled training loop, so the loop draws its permutations here: the same
Mersenne Twister (MT19937), the same integer seeding, the same bounded-integer
rejection sampling and the same Fisher–Yates order as NumPy's legacy
generator, hence the same permutation, element for element.

State: a uint64 array of 625 words, the 624 MT19937 words (each < 2³²)
followed by the read position.
"""

from __future__ import annotations

import numpy as np

from ._common import jit

#: Words of MT19937 state, plus one slot for the read position.
STATE_SIZE = 625

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
def next_uint32(state):
    """The next 32-bit output (tempered), as a uint64 in [0, 2³²)."""
    if state[_N] >= np.uint64(_N):
        _twist(state)
    pos = np.int64(state[_N])
    y = state[pos]
    state[_N] = np.uint64(pos + 1)
    y ^= y >> np.uint64(11)
    y ^= (y << np.uint64(7)) & np.uint64(0x9D2C5680)
    y ^= (y << np.uint64(15)) & np.uint64(0xEFC60000)
    y ^= y >> np.uint64(18)
    return y & _MASK32


@jit
def random_interval(state, max_value):
    """A uniform integer in [0, max_value] (0 ≤ max_value < 2³²), by masked
    rejection sampling, as NumPy's ``random_interval``."""
    if max_value == 0:
        return 0
    mx = np.uint64(max_value)
    mask = mx
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    value = next_uint32(state) & mask
    while value > mx:
        value = next_uint32(state) & mask
    return np.int64(value)


@jit
def legacy_permutation(state, seed, out):
    """Fill ``out`` (int64, length m < 2³²) with ``RandomState(seed).permutation(m)``.

    ``state`` (uint64, :data:`STATE_SIZE` words) is scratch space and is overwritten.
    The draws of :func:`random_interval` are inlined with the read position
    kept in a register: this loop is the hot part of a training epoch.
    """
    m = out.size
    for i in range(m):
        out[i] = i
    mt_seed(state, seed)
    pos = _N
    for i in range(m - 1, 0, -1):
        mx = np.uint64(i)
        mask = mx
        mask |= mask >> np.uint64(1)
        mask |= mask >> np.uint64(2)
        mask |= mask >> np.uint64(4)
        mask |= mask >> np.uint64(8)
        mask |= mask >> np.uint64(16)
        while True:
            if pos >= _N:
                _twist(state)
                pos = 0
            y = state[pos]
            pos += 1
            y ^= y >> np.uint64(11)
            y ^= (y << np.uint64(7)) & np.uint64(0x9D2C5680)
            y ^= (y << np.uint64(15)) & np.uint64(0xEFC60000)
            y ^= y >> np.uint64(18)
            value = y & mask
            if value <= mx:
                break
        j = np.int64(value)
        tmp = out[i]
        out[i] = out[j]
        out[j] = tmp
    state[_N] = np.uint64(pos)
