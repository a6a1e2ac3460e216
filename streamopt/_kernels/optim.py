"""Fused optimizer steps on flat parameter buffers: one pass, in place.

Every update rule lives once, in the serial kernel ``<rule>_step``, a plain
loop over the whole buffer.  The parallel variant ``<rule>_step_parallel``
splits the buffer into contiguous blocks and calls the serial kernel on each
block's slices from a ``prange``, so both variants run the same per-element
arithmetic and give bit-identical results.

Conventions
-----------
* ``p`` (parameters), ``g`` (gradients) and the state buffers are 1-D
  contiguous arrays of one dtype, float32 or float64; the caller guarantees it.
* Scalar arguments arrive as float64 / bool.  Each serial kernel casts them once
  to the buffers' dtype, so float32 buffers are computed in float32.
* ``sum_form``, ``nesterov``, ``centered``, ``decoupled`` and ``amsgrad`` are
  bool arguments, not compile-time variants: one compiled kernel per dtype.
* Buffers that a flag switches off (``gavg`` without ``centered``, ``vmax``
  without ``amsgrad``) may be zero-length; they are never touched.

``<rule>_apply`` / ``<rule>_apply_parallel`` are what ``Optimizer.step``
calls (one dispatch per step): the optional finite check of the gradient,
then the step.  ``count_nonfinite`` / ``first_nonfinite`` are that check.

No validation, no allocation: the API in :mod:`streamopt.optim` checks
everything before calling these.
"""

from __future__ import annotations

import math

from numba import prange

from ._common import jit, one_minus_beta_pow, pjit

__all__ = [
    "sgd_step",
    "sgd_step_parallel",
    "momentum_step",
    "momentum_step_parallel",
    "rmsprop_step",
    "rmsprop_step_parallel",
    "adam_step",
    "adam_step_parallel",
    "count_nonfinite",
    "count_nonfinite_parallel",
    "first_nonfinite",
    "sgd_apply",
    "sgd_apply_parallel",
    "momentum_apply",
    "momentum_apply_parallel",
    "rmsprop_apply",
    "rmsprop_apply_parallel",
    "adam_apply",
    "adam_apply_parallel",
    "one_minus_beta_pow",
]

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


# ----------------------------------------------------------------------- SGD
@jit
def sgd_step(p, g, lr):
    """Gradient descent: W ← W − α·dW."""
    lr_ = p.dtype.type(lr)
    for i in range(p.shape[0]):
        p[i] = p[i] - lr_ * g[i]


@pjit
def sgd_step_parallel(p, g, lr):
    """As :func:`sgd_step`, in blocks spread over the threads."""
    n = p.shape[0]
    nblocks = _nblocks(n)
    for b in prange(nblocks):
        start, stop = _block(n, nblocks, b)
        sgd_step(p[start:stop], g[start:stop], lr)


# ------------------------------------------------------------------ Momentum
@jit
def momentum_step(p, g, v, lr, beta, sum_form, nesterov):
    """Momentum: u = (1 − β)·dW ("ema") or dW ("sum"); v ← β·v + u;
    W ← W − α·v, or W ← W − α·(u + β·v) with ``nesterov``."""
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


@pjit
def momentum_step_parallel(p, g, v, lr, beta, sum_form, nesterov):
    """As :func:`momentum_step`, in blocks spread over the threads."""
    n = p.shape[0]
    nblocks = _nblocks(n)
    for b in prange(nblocks):
        start, stop = _block(n, nblocks, b)
        momentum_step(p[start:stop], g[start:stop], v[start:stop], lr, beta, sum_form, nesterov)


# ------------------------------------------------------------------- RMSprop
@jit
def rmsprop_step(p, g, s, gavg, lr, beta, eps, centered):
    """RMSprop: s ← β·s + (1 − β)·dW²; W ← W − α·dW / (√s + ε).

    ``centered``: ḡ ← β·ḡ + (1 − β)·dW and the denominator is √max(s − ḡ², 0) + ε
    (s − ḡ² ≥ 0 in exact arithmetic; the clamp only removes rounding below 0).
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


@pjit
def rmsprop_step_parallel(p, g, s, gavg, lr, beta, eps, centered):
    """As :func:`rmsprop_step`, in blocks spread over the threads."""
    n = p.shape[0]
    nblocks = _nblocks(n)
    for b in prange(nblocks):
        start, stop = _block(n, nblocks, b)
        a = gavg[start:stop] if centered else gavg
        rmsprop_step(p[start:stop], g[start:stop], s[start:stop], a, lr, beta, eps, centered)


# ---------------------------------------------------------------------- Adam
@jit
def adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, c1, c2, weight_decay, decoupled, amsgrad):
    """One Adam step at step count t, given c1 = 1 − β₁ᵗ and c2 = 1 − β₂ᵗ:

    dW ← dW + λ·W (L2, unless ``decoupled``), or W ← (1 − α·λ)·W (``decoupled``, AdamW);
    m ← β₁·m + (1 − β₁)·dW;  v ← β₂·v + (1 − β₂)·dW²;  v_max ← max(v_max, v) (``amsgrad``);
    W ← W − (α/c1)·m / (√v · (1/√c2) + ε), with v_max in place of v under ``amsgrad``.

    (α/c1)·m / (√v/√c2 + ε) is the notes' α·m̂ / (√ŝ + ε), m̂ = m/c1, ŝ = v/c2,
    arranged so that each element costs one square root and one division
    (α/c1 and 1/√c2 are computed once per call, in float64).
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


@pjit
def adam_step_parallel(p, g, m, v, vmax, lr, beta1, beta2, eps, c1, c2, weight_decay, decoupled, amsgrad):
    """As :func:`adam_step`, in blocks spread over the threads."""
    n = p.shape[0]
    nblocks = _nblocks(n)
    for b in prange(nblocks):
        start, stop = _block(n, nblocks, b)
        vm = vmax[start:stop] if amsgrad else vmax
        adam_step(p[start:stop], g[start:stop], m[start:stop], v[start:stop], vm,
                  lr, beta1, beta2, eps, c1, c2, weight_decay, decoupled, amsgrad)


# ------------------------------------------------------------- finite check
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



# ------------------------------------------------------- checked entry points
# What ``Optimizer.step`` calls: one dispatch per step.  With ``check``, a
# gradient holding a NaN or ±inf leaves every buffer untouched and the index of
# its first non-finite value is returned; otherwise the step is applied and −1
# is returned.  The ``*_apply_parallel`` variants use the parallel kernels.
@jit
def sgd_apply(p, g, lr, check) -> int:
    if check and count_nonfinite(g):
        return first_nonfinite(g)
    sgd_step(p, g, lr)
    return -1


@jit
def sgd_apply_parallel(p, g, lr, check) -> int:
    if check and count_nonfinite_parallel(g):
        return first_nonfinite(g)
    sgd_step_parallel(p, g, lr)
    return -1


@jit
def momentum_apply(p, g, v, lr, beta, sum_form, nesterov, check) -> int:
    if check and count_nonfinite(g):
        return first_nonfinite(g)
    momentum_step(p, g, v, lr, beta, sum_form, nesterov)
    return -1


@jit
def momentum_apply_parallel(p, g, v, lr, beta, sum_form, nesterov, check) -> int:
    if check and count_nonfinite_parallel(g):
        return first_nonfinite(g)
    momentum_step_parallel(p, g, v, lr, beta, sum_form, nesterov)
    return -1


@jit
def rmsprop_apply(p, g, s, gavg, lr, beta, eps, centered, check) -> int:
    if check and count_nonfinite(g):
        return first_nonfinite(g)
    rmsprop_step(p, g, s, gavg, lr, beta, eps, centered)
    return -1


@jit
def rmsprop_apply_parallel(p, g, s, gavg, lr, beta, eps, centered, check) -> int:
    if check and count_nonfinite_parallel(g):
        return first_nonfinite(g)
    rmsprop_step_parallel(p, g, s, gavg, lr, beta, eps, centered)
    return -1


@jit
def adam_apply(p, g, m, v, vmax, lr, beta1, beta2, eps, t, weight_decay, decoupled, amsgrad, check) -> int:
    """Adam at step count ``t`` (the step being taken, t ≥ 1)."""
    if check and count_nonfinite(g):
        return first_nonfinite(g)
    c1 = one_minus_beta_pow(1.0 - beta1, t)
    c2 = one_minus_beta_pow(1.0 - beta2, t)
    adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, c1, c2, weight_decay, decoupled, amsgrad)
    return -1


@jit
def adam_apply_parallel(p, g, m, v, vmax, lr, beta1, beta2, eps, t, weight_decay, decoupled, amsgrad,
                        check) -> int:
    if check and count_nonfinite_parallel(g):
        return first_nonfinite(g)
    c1 = one_minus_beta_pow(1.0 - beta1, t)
    c2 = one_minus_beta_pow(1.0 - beta2, t)
    adam_step_parallel(p, g, m, v, vmax, lr, beta1, beta2, eps, c1, c2, weight_decay, decoupled, amsgrad)
    return -1
