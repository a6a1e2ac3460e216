"""Fused optimizer steps on flat parameter buffers: one pass, in place.

Each update rule is one serial kernel, a plain loop over the whole buffer with
its math in the docstring: :func:`sgd`, :func:`momentum`, :func:`rmsprop`,
:func:`adam`.  Everything else is generic over the rule:

* :func:`step` is the one dispatch from a rule code (:data:`SGD`,
  :data:`MOMENTUM`, :data:`RMSPROP`, :data:`ADAM`) and packed arguments to the
  rule's kernel.  ``Optimizer.step`` (through :func:`apply`) and the compiled
  training loop (:func:`streamopt._kernels.mlp.train_epochs`) both call it.
* :func:`step_parallel` splits the buffer into contiguous blocks and calls
  :func:`step` on each block's slices from a ``prange``: the same per-element
  arithmetic, so bit-identical results.
* :func:`apply` is the checked entry point of ``Optimizer.step`` (one compiled
  call per step): the optional finite check of the gradient, then the step,
  serial or parallel.

Packed arguments (what :func:`step` takes besides ``p``, ``g``, ``lr``, ``t``)
-------------------------------------------------------------------------------
``b0, b1, b2``
    The rule's state buffers in the order of its arguments (Momentum: v;
    RMSprop: s, gavg; Adam: m, v, vmax).  A buffer the rule does not have, or
    that a switch turns off (``gavg`` without ``centered``, ``vmax`` without
    ``amsgrad``), is zero-length and never touched.
``hyper``
    float64 array: the rule's real hyper-parameters in the order of its
    arguments (Momentum: beta; RMSprop: beta, eps; Adam: beta1, beta2, eps,
    weight_decay).
``flags``
    bool array: the rule's switches in the order of its arguments (Momentum:
    sum_form, nesterov; RMSprop: centered; Adam: decoupled, amsgrad).
``t``
    The step being taken, t ≥ 1 (Adam's bias corrections use it).

:mod:`streamopt.optim` defines each optimizer's hyper-parameters and buffers
in the same order (a test checks it against these kernels' signatures).

Conventions
-----------
* ``p`` (parameters), ``g`` (gradients) and the state buffers are 1-D
  contiguous arrays of one dtype, float32 or float64; the caller guarantees it.
* Scalar arguments arrive as float64 / bool.  Each rule casts them once to the
  buffers' dtype, so float32 buffers are computed in float32.
* Switches are bool arguments, not compile-time variants: one compiled kernel
  per dtype.

No validation, no allocation: the API in :mod:`streamopt.optim` checks
everything before calling these.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import prange

from ._common import jit, one_minus_beta_pow, pjit

__all__ = [
    "SGD",
    "MOMENTUM",
    "RMSPROP",
    "ADAM",
    "OptimizerArgs",
    "sgd",
    "momentum",
    "rmsprop",
    "adam",
    "step",
    "step_parallel",
    "apply",
    "count_nonfinite",
    "count_nonfinite_parallel",
    "first_nonfinite",
]

#: Rule codes understood by :func:`step`.
SGD, MOMENTUM, RMSPROP, ADAM = 0, 1, 2, 3


class OptimizerArgs(NamedTuple):
    """An optimizer as the compiled training loop takes it: the rule code and its packed arguments.

    The arrays are the optimizer's own (the loop updates its state in place);
    see the module docstring for their layout.
    """

    kind: int
    b0: np.ndarray
    b1: np.ndarray
    b2: np.ndarray
    hyper: np.ndarray
    flags: np.ndarray


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
    """Gradient descent: W ← W − η·dW."""
    lr_ = p.dtype.type(lr)
    for i in range(p.shape[0]):
        p[i] = p[i] - lr_ * g[i]


@jit
def momentum(p, g, v, lr, beta, sum_form, nesterov):
    """Momentum: u = (1 − β)·dW ("ema") or dW ("sum", ``sum_form``); v ← β·v + u;
    W ← W − η·v, or W ← W − η·(u + β·v) with ``nesterov``."""
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
def adam(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, t):
    """Adam at step t ≥ 1, with c1 = 1 − β₁ᵗ and c2 = 1 − β₂ᵗ (:func:`one_minus_beta_pow`):

    dW ← dW + λ·W (L2, unless ``decoupled``), or W ← (1 − η·λ)·W (``decoupled``, AdamW);
    m ← β₁·m + (1 − β₁)·dW;  v ← β₂·v + (1 − β₂)·dW²;  v_max ← max(v_max, v) (``amsgrad``);
    W ← W − (η/c1)·m / (√v · (1/√c2) + ε), with v_max in place of v under ``amsgrad``.

    (η/c1)·m / (√v/√c2 + ε) is the notes' η·m̂ / (√v̂ + ε), m̂ = m/c1, v̂ = v/c2,
    arranged so that each element costs one square root and one division
    (c1, c2, η/c1 and 1/√c2 are computed once per call, in float64: the one
    place where Adam's bias corrections are built).
    """
    c1 = one_minus_beta_pow(1.0 - beta1, t)
    c2 = one_minus_beta_pow(1.0 - beta2, t)
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
def step(kind, p, g, b0, b1, b2, lr, hyper, flags, t):
    """One step of the rule ``kind`` (the one dispatch; arguments in the module docstring)."""
    if kind == SGD:
        sgd(p, g, lr)
    elif kind == MOMENTUM:
        momentum(p, g, b0, lr, hyper[0], flags[0], flags[1])
    elif kind == RMSPROP:
        rmsprop(p, g, b0, b1, lr, hyper[0], hyper[1], flags[0])
    else:
        adam(p, g, b0, b1, b2, lr, hyper[0], hyper[1], hyper[2], hyper[3], flags[0], flags[1], t)


@pjit
def step_parallel(kind, p, g, b0, b1, b2, lr, hyper, flags, t):
    """As :func:`step`, in blocks spread over the threads (a zero-length buffer slices to itself)."""
    n = p.shape[0]
    nblocks = _nblocks(n)
    for b in prange(nblocks):
        start, stop = _block(n, nblocks, b)
        step(kind, p[start:stop], g[start:stop], b0[start:stop], b1[start:stop], b2[start:stop],
             lr, hyper, flags, t)


@jit
def count_nonfinite(x) -> int:
    """How many values of ``x`` are NaN or ±inf (x − x is 0 exactly when x is finite)."""
    bad = 0
    for i in range(x.shape[0]):
        xi = x[i]
        bad += not (xi - xi == 0)
    return bad


@pjit
def count_nonfinite_parallel(x) -> int:
    """As :func:`count_nonfinite`, in blocks spread over the threads."""
    n = x.shape[0]
    nblocks = _nblocks(n)
    bad = 0
    for b in prange(nblocks):
        start, stop = _block(n, nblocks, b)
        bad += count_nonfinite(x[start:stop])
    return bad


@jit
def first_nonfinite(x) -> int:
    """Index of the first NaN/±inf value in ``x``, or −1 when every value is finite."""
    for i in range(x.shape[0]):
        xi = x[i]
        if not (xi - xi == 0):
            return i
    return -1


@jit
def apply(kind, p, g, b0, b1, b2, lr, hyper, flags, t, check, parallel) -> int:
    """What ``Optimizer.step`` calls: the checked step, serial or ``parallel``.

    With ``check``, a gradient holding a NaN or ±inf leaves every buffer
    untouched and the index of its first non-finite value is returned;
    otherwise the step is applied and −1 is returned.
    """
    if check:
        bad = count_nonfinite_parallel(g) if parallel else count_nonfinite(g)
        if bad:
            return first_nonfinite(g)
    if parallel:
        step_parallel(kind, p, g, b0, b1, b2, lr, hyper, flags, t)
    else:
        step(kind, p, g, b0, b1, b2, lr, hyper, flags, t)
    return -1
