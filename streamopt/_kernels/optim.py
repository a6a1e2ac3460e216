"""Fused optimizer steps on flat parameter buffers: one pass, in place.

Each update rule is one serial kernel, a plain loop over a buffer with its math
in the docstring: :func:`sgd`, :func:`momentum`, :func:`rmsprop`, :func:`adam`.
Everything else is generic over the rule and sees an optimizer as two arrays:

``state``
    2-D (k × n): the k state buffers in use, one row each, in the order of the
    rule's arguments (Momentum: v; RMSprop: s, then gavg with ``centered``;
    Adam: m, v, then vmax with ``amsgrad``).  A buffer that a switch turns off
    is always last and has no row (the rule never touches it).
``settings``
    float64: :data:`KIND` (the rule's code: :data:`SGD`, :data:`MOMENTUM`,
    :data:`RMSPROP`, :data:`ADAM`), :data:`CHECK` and :data:`PARALLEL` (1.0 or
    0.0; PARALLEL says which entry ``Optimizer.step`` calls), :data:`LR`, :data:`T` (the step count, exact as a float up to 2**53),
    then from :data:`HYPER` the rule's hyper-parameters in the order of its
    arguments (a switch as 1.0 or 0.0).

* :func:`step` takes one step (the one dispatch from ``settings`` to the rule)
  and counts it in ``settings[T]``; the compiled training loop
  (:func:`streamopt._kernels.mlp.train_epochs`) calls it once per mini-batch.
* :func:`step_parallel` does the same in contiguous blocks spread over the
  threads: the same per-element arithmetic, so bit-identical results.
* :func:`apply` and :func:`apply_parallel` are the checked entry points of
  ``Optimizer.step`` (one compiled call of four arguments per step): the
  optional finite check of the gradient, then :func:`step` or
  :func:`step_parallel`.

:mod:`streamopt.optim` defines each optimizer's hyper-parameters and buffers
in the same order (a test checks it against these kernels' signatures).

Conventions
-----------
* ``p`` (parameters), ``g`` (gradients) and ``state`` are contiguous arrays of
  one dtype, float32 or float64; the caller guarantees it.
* Scalar arguments arrive as float64 / bool.  Each rule casts them once to the
  buffers' dtype, so float32 buffers are computed in float32.
* Switches are runtime values, not compile-time variants: one compiled kernel
  per dtype.
* :func:`step` and the dispatch take views only, so they are compiled without
  reference counting (:data:`._common.jit_uncounted`), as the training loop
  that calls them once per mini-batch.

No validation, no allocation: the API in :mod:`streamopt.optim` checks
everything before calling these.

Examples
--------
>>> import numpy as np
>>> from streamopt._kernels import optim as k
>>> p, g = np.zeros(3), np.ones(3)
>>> state = np.zeros((1, 3))                       # Momentum: the velocity v
>>> settings = np.zeros(k.HYPER + 3)
>>> settings[[k.KIND, k.LR, k.HYPER]] = k.MOMENTUM, 0.5, 0.9   # lr, beta; switches sum_form, nesterov off
>>> k.apply(p, g, state, settings)
-1
>>> p, state[0], int(settings[k.T])
(array([-0.05, -0.05, -0.05]), array([0.1, 0.1, 0.1]), 1)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import prange

from ._common import jit, jit_uncounted, one_minus_beta_pow, pjit

__all__ = [
    "SGD",
    "MOMENTUM",
    "RMSPROP",
    "ADAM",
    "KIND",
    "CHECK",
    "PARALLEL",
    "LR",
    "T",
    "HYPER",
    "OptimizerArgs",
    "sgd",
    "momentum",
    "rmsprop",
    "adam",
    "bias_corrections",
    "step",
    "step_parallel",
    "apply",
    "apply_parallel",
    "count_nonfinite",
    "count_nonfinite_parallel",
    "first_nonfinite",
]

#: Rule codes (``settings[KIND]``).
SGD, MOMENTUM, RMSPROP, ADAM = 0, 1, 2, 3

#: Slots of ``settings``: rule code, finite check, parallel kernel, learning rate,
#: step count; the rule's hyper-parameters start at ``HYPER``.
KIND, CHECK, PARALLEL, LR, T, HYPER = 0, 1, 2, 3, 4, 5


class OptimizerArgs(NamedTuple):
    """An optimizer as the compiled training loop takes it: its own arrays, updated in place.

    Examples
    --------
    >>> import numpy as np
    >>> from streamopt import Adam
    >>> state, settings = Adam(np.zeros(3), lr=0.1)._kernel_args()
    >>> state.shape, int(settings[KIND]) == ADAM, float(settings[LR])
    ((2, 3), True, 0.1)
    """

    state: np.ndarray  # k × n state buffers
    settings: np.ndarray  # float64 settings (module docstring)


#: Block boundaries of the parallel kernels are multiples of this many elements
#: (a whole number of cache lines and SIMD vectors for both dtypes).
_ALIGN = 64
#: The parallel kernels split the buffer into at most this many blocks
#: (``prange`` hands each thread a contiguous run of them) ...
_MAX_BLOCKS = 64
#: ... of at least this many elements each.
_MIN_BLOCK = 16384


@jit
def _nblocks(n: int) -> int:
    """Number of blocks the parallel kernels split ``n`` elements into."""
    return max(1, min(_MAX_BLOCKS, n // _MIN_BLOCK))


@jit
def _block(n: int, nblocks: int, b: int) -> tuple[int, int]:
    """[start, stop) of block ``b`` out of ``nblocks`` over ``n`` elements."""
    chunk = (n + nblocks - 1) // nblocks
    chunk = (chunk + _ALIGN - 1) // _ALIGN * _ALIGN
    start = min(b * chunk, n)
    return start, min(start + chunk, n)


# ------------------------------------------------------------------ the rules
@jit
def sgd(p, g, lr):
    """Gradient descent: W ← W − η·dW.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.ones(2)
    >>> sgd(p, np.array([1.0, -1.0]), 0.25)
    >>> p
    array([0.75, 1.25])
    """
    lr_ = p.dtype.type(lr)
    for i in range(p.shape[0]):
        p[i] = p[i] - lr_ * g[i]


@jit
def momentum(p, g, v, lr, beta, sum_form, nesterov):
    """Momentum: u = (1 − β)·dW ("ema") or dW ("sum", ``sum_form``); v ← β·v + u;
    W ← W − η·v, or W ← W − η·(u + β·v) with ``nesterov``.

    Examples
    --------
    >>> import numpy as np
    >>> p, v = np.zeros(1), np.ones(1)
    >>> momentum(p, np.ones(1), v, 1.0, 0.5, False, False)   # v = 0.5·1 + 0.5·1
    >>> p, v
    (array([-1.]), array([1.]))
    """
    lr_ = p.dtype.type(lr)
    beta_ = p.dtype.type(beta)
    scale = p.dtype.type(1.0 if sum_form else 1.0 - beta)
    for i in range(p.shape[0]):
        u = scale * g[i]
        vi = beta_ * v[i] + u
        v[i] = vi
        if nesterov:
            p[i] = p[i] - lr_ * (u + beta_ * vi)
        else:
            p[i] = p[i] - lr_ * vi


@jit
def rmsprop(p, g, s, gavg, lr, beta, eps, centered):
    """RMSprop: s ← β·s + (1 − β)·dW²; W ← W − η·dW / (√s + ε).

    ``centered``: ḡ ← β·ḡ + (1 − β)·dW (in ``gavg``) and the denominator is
    √max(s − ḡ², 0) + ε (s − ḡ² ≥ 0 in exact arithmetic; the clamp only
    removes rounding below 0).

    Examples
    --------
    >>> import numpy as np
    >>> p, s, gavg = np.zeros(1), np.zeros(1), np.zeros(0)
    >>> rmsprop(p, np.array([2.0]), s, gavg, 0.1, 0.75, 0.0, False)   # s = 0.25·4
    >>> p, s
    (array([-0.2]), array([1.]))
    """
    lr_ = p.dtype.type(lr)
    beta_ = p.dtype.type(beta)
    omb = p.dtype.type(1.0 - beta)
    eps_ = p.dtype.type(eps)
    zero = p.dtype.type(0.0)
    for i in range(p.shape[0]):
        gi = g[i]
        si = beta_ * s[i] + omb * gi * gi
        s[i] = si
        if centered:
            ai = beta_ * gavg[i] + omb * gi
            gavg[i] = ai
            denom = math.sqrt(max(si - ai * ai, zero)) + eps_
        else:
            denom = math.sqrt(si) + eps_
        p[i] = p[i] - lr_ * gi / denom


@jit
def adam(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, c1, c2):
    """Adam at step t ≥ 1, given its bias corrections c1 = 1 − β₁ᵗ and c2 = 1 − β₂ᵗ
    (:func:`bias_corrections`):

    dW ← dW + λ·W (L2, unless ``decoupled``), or W ← (1 − η·λ)·W (``decoupled``, AdamW);
    m ← β₁·m + (1 − β₁)·dW;  v ← β₂·v + (1 − β₂)·dW²;  v_max ← max(v_max, v) (``amsgrad``);
    W ← W − (η/c1)·m / (√v · (1/√c2) + ε), with v_max in place of v under ``amsgrad``.

    (η/c1)·m / (√v/√c2 + ε) is the notes' η·m̂ / (√v̂ + ε), m̂ = m/c1, v̂ = v/c2,
    arranged so that each element costs one square root and one division
    (η/c1 and 1/√c2 are computed once per call, in float64).

    Examples
    --------
    >>> import numpy as np
    >>> p, m, v = np.zeros(2), np.zeros(2), np.zeros(2)
    >>> adam(p, np.array([3.0, -0.5]), m, v, np.zeros(0), 0.1, 0.9, 0.999, 1e-8, 0.0, False, False, 0.1, 0.001)
    >>> p.round(6)   # the first step moves each weight by about η
    array([-0.1,  0.1])
    """
    lr_c1 = p.dtype.type(lr / c1)
    inv_sqrt_c2 = p.dtype.type(1.0 / math.sqrt(c2))
    b1 = p.dtype.type(beta1)
    omb1 = p.dtype.type(1.0 - beta1)
    b2 = p.dtype.type(beta2)
    omb2 = p.dtype.type(1.0 - beta2)
    eps_ = p.dtype.type(eps)
    wd = p.dtype.type(0.0 if decoupled else weight_decay)
    shrink = p.dtype.type(1.0 - lr * weight_decay if decoupled else 1.0)
    for i in range(p.shape[0]):
        w = p[i]
        gi = g[i]
        if decoupled:
            w = shrink * w
        else:
            gi = gi + wd * w
        mi = b1 * m[i] + omb1 * gi
        vi = b2 * v[i] + omb2 * gi * gi
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vi = max(vmax[i], vi)
            vmax[i] = vi
        p[i] = w - lr_c1 * mi / (math.sqrt(vi) * inv_sqrt_c2 + eps_)


# ------------------------------------------------------------ generic parts
@jit
def bias_corrections(settings):
    """(c1, c2) = (1 − β₁ᵗ, 1 − β₂ᵗ) of Adam for the step being taken, t = ``settings[T]`` + 1
    ((1.0, 1.0) for the other rules): the one place they are built, once per step (not per
    block of :func:`step_parallel`).  β₁, β₂ are Adam's first two hyper-parameters.

    1 − βᵗ is :func:`one_minus_beta_pow`, exact even for β = 1 − 1e−12 at t = 1e9.

    Examples
    --------
    >>> import numpy as np
    >>> settings = np.zeros(HYPER + 6)
    >>> settings[[KIND, T, HYPER, HYPER + 1]] = ADAM, 1.0, 0.9, 0.999   # the step being taken: t = 2
    >>> [round(c, 12) for c in bias_corrections(settings)]
    [0.19, 0.001999]
    """
    if settings[KIND] != ADAM:
        return 1.0, 1.0
    t = settings[T] + 1.0
    return (one_minus_beta_pow(1.0 - settings[HYPER], t),
            one_minus_beta_pow(1.0 - settings[HYPER + 1], t))


@jit_uncounted
def _step_block(p, g, state, settings, c1, c2, start, stop):
    """The rule of ``settings[KIND]`` on elements [start, stop): the one dispatch.

    Buffer row i is ``state[min(i, k − 1)]``: a switched-off buffer (past the
    last of the k rows) gets the last row, which its rule never touches.
    """
    kind = settings[KIND]
    lr = settings[LR]
    h = settings[HYPER:]
    p = p[start:stop]
    g = g[start:stop]
    last = state.shape[0] - 1
    if kind == SGD:
        sgd(p, g, lr)
    elif kind == MOMENTUM:
        momentum(p, g, state[0, start:stop], lr, h[0], h[1] != 0.0, h[2] != 0.0)
    elif kind == RMSPROP:
        rmsprop(p, g, state[0, start:stop], state[min(1, last), start:stop], lr, h[0], h[1], h[2] != 0.0)
    else:
        adam(p, g, state[0, start:stop], state[1, start:stop], state[min(2, last), start:stop],
             lr, h[0], h[1], h[2], h[3], h[4] != 0.0, h[5] != 0.0, c1, c2)


@jit_uncounted
def step(p, g, state, settings):
    """One step of the rule in ``settings`` over the whole buffer; ``settings[T]`` += 1.

    Examples
    --------
    >>> import numpy as np
    >>> p, settings = np.zeros(2), np.zeros(HYPER)
    >>> settings[[KIND, LR]] = SGD, 0.5
    >>> step(p, np.ones(2), np.zeros((0, 2)), settings)
    >>> p, int(settings[T])
    (array([-0.5, -0.5]), 1)
    """
    c1, c2 = bias_corrections(settings)
    _step_block(p, g, state, settings, c1, c2, 0, p.shape[0])
    settings[T] += 1.0


@pjit
def step_parallel(p, g, state, settings):
    """As :func:`step`, in blocks spread over the threads (the same bits).

    Examples
    --------
    >>> import numpy as np
    >>> g = np.linspace(-1.0, 1.0, 50_000)
    >>> settings = np.zeros(HYPER + 2)
    >>> settings[[KIND, LR, HYPER]] = RMSPROP, 0.01, 0.9          # eps 0.0 here: g has no zero
    >>> p1, s1, p2, s2 = np.zeros(50_000), np.zeros((1, 50_000)), np.zeros(50_000), np.zeros((1, 50_000))
    >>> step(p1, g, s1, settings.copy()); step_parallel(p2, g, s2, settings.copy())
    >>> np.array_equal(p1, p2) and np.array_equal(s1, s2)
    True
    """
    c1, c2 = bias_corrections(settings)
    n = p.shape[0]
    nblocks = _nblocks(n)
    for b in prange(nblocks):
        start, stop = _block(n, nblocks, b)
        _step_block(p, g, state, settings, c1, c2, start, stop)
    settings[T] += 1.0


@jit
def count_nonfinite(x) -> int:
    """How many values of ``x`` are NaN or ±inf (x − x is 0 exactly when x is finite).

    Examples
    --------
    >>> import numpy as np
    >>> count_nonfinite(np.array([1.0, np.nan, -np.inf, 0.0]))
    2
    """
    bad = 0
    for i in range(x.shape[0]):
        xi = x[i]
        bad += not (xi - xi == 0)
    return bad


@pjit
def count_nonfinite_parallel(x) -> int:
    """As :func:`count_nonfinite`, in blocks spread over the threads.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros(100_000)
    >>> x[[5, 99_999]] = np.inf
    >>> count_nonfinite_parallel(x)
    2
    """
    n = x.shape[0]
    nblocks = _nblocks(n)
    bad = 0
    for b in prange(nblocks):
        start, stop = _block(n, nblocks, b)
        bad += count_nonfinite(x[start:stop])
    return bad


@jit
def first_nonfinite(x) -> int:
    """Index of the first NaN/±inf value in ``x``, or −1 when every value is finite.

    Examples
    --------
    >>> import numpy as np
    >>> first_nonfinite(np.array([1.0, 2.0, np.nan])), first_nonfinite(np.ones(3))
    (2, -1)
    """
    for i in range(x.shape[0]):
        xi = x[i]
        if not (xi - xi == 0):
            return i
    return -1


@jit
def apply(p, g, state, settings) -> int:
    """What ``Optimizer.step`` calls: the checked step (serial; :func:`apply_parallel` splits it).

    With ``settings[CHECK]``, a gradient holding a NaN or ±inf leaves every
    buffer (and ``settings[T]``) untouched and the index of its first
    non-finite value is returned; otherwise the step is applied and −1 is
    returned.  Serial and parallel are two entry points, not a flag, so that a
    small optimizer never compiles the threaded code (``startup`` bench group).

    Examples
    --------
    >>> import numpy as np
    >>> p, settings = np.zeros(3), np.zeros(HYPER)
    >>> settings[[KIND, CHECK, LR]] = SGD, 1.0, 0.1
    >>> apply(p, np.array([0.0, np.inf, 1.0]), np.zeros((0, 3)), settings), p, int(settings[T])
    (1, array([0., 0., 0.]), 0)
    """
    if settings[CHECK] != 0.0 and count_nonfinite(g):
        return first_nonfinite(g)
    step(p, g, state, settings)
    return -1


@jit
def apply_parallel(p, g, state, settings) -> int:
    """:func:`apply` with the check and the step spread over the threads (the same bits).

    Examples
    --------
    >>> import numpy as np
    >>> p, settings = np.zeros(3), np.zeros(HYPER)
    >>> settings[[KIND, CHECK, LR]] = SGD, 1.0, 0.1
    >>> apply_parallel(p, np.ones(3), np.zeros((0, 3)), settings), p
    (-1, array([-0.1, -0.1, -0.1]))
    """
    if settings[CHECK] != 0.0 and count_nonfinite_parallel(g):
        return first_nonfinite(g)
    step_parallel(p, g, state, settings)
    return -1
