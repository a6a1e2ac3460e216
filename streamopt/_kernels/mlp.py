"""The fully connected network of the notes, and its compiled training loop.

Layout (the API builds it; these kernels only compute):

- Parameters live in one flat buffer ``flat``: W_l (n_l × n_{l−1}, row-major)
  starts at ``w_off[l]`` and b_l (n_l) at ``b_off[l]``, for l = 1..L
  (``dims`` = [n_0, …, n_L]).  The gradient buffer ``g`` has the same layout.
- A batch of ``nb`` examples is a row-major (rows × nb) block stored in a 1-D
  array: entry (i, j) of layer l's activation A_l sits at
  ``act[a_base[l] + i·nb + j]``; ``a_base[l] = B·(n_1 + … + n_{l−1})`` for a
  capacity of B examples.  Examples are columns, as in the notes.

The model: Z_l = W_l·A_{l−1} + b_l, A_l = ReLU(Z_l) for l < L and
A_L = σ(Z_L) = 1/(1 + e^{−Z_L}).  The cost is the mean cross-entropy
−[y·log a + (1 − y)·log(1 − a)] over the batch's examples, and the gradient
is that of the **mean**: dZ_L = (A_L − Y)/m, dW_l = dZ_l·A_{l−1}ᵀ,
db_l = Σ_j dZ_l[:, j], dZ_{l−1} = (W_lᵀ·dZ_l) ⊙ [A_{l−1} > 0].

The cost sums the examples' losses in NumPy's pairwise order (8 accumulators,
blocks of 128), the same bits as ``np.sum``; the gradient's sums over the
examples are vectorised dot products (:func:`vec_dot`).

The kernels here allocate nothing, so they are compiled without reference
counting (:data:`._common.jit_uncounted`).

Numba's on-disk cache keys each kernel on its own file only, while :func:`train_epochs`
compiles the shuffle of :mod:`.legacy_rng` and the optimizer step of :mod:`.optim`
into its own machine code: :mod:`streamopt._kernels` therefore drops the whole cache
whenever any kernel source changes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._common import jit, jit_uncounted
from .legacy_rng import seed4, shuffle_seeded
from .optim import LR, step


class Data(NamedTuple):
    """The examples and how the epochs walk them."""

    X: np.ndarray  # (n_0, m) inputs, examples as columns
    Y: np.ndarray  # (n_L, m) targets
    seed: int  # epoch e shuffles with RandomState(seed + 1 + e)
    batch_size: int


class Net(NamedTuple):
    """The model: the flat parameter buffer and its layout (see the module docstring)."""

    flat: np.ndarray
    dims: np.ndarray
    w_off: np.ndarray
    b_off: np.ndarray


class Workspace(NamedTuple):
    """Scratch of the training loop: one batch's buffers, then four epochs' shuffles."""

    g: np.ndarray  # gradient, the layout of ``flat``
    xb: np.ndarray  # the batch's inputs (n_0 × capacity)
    yb: np.ndarray  # the batch's targets (n_L × capacity)
    act: np.ndarray  # activations, at ``a_base``
    a_base: np.ndarray
    dz: np.ndarray  # 2·max(n_l)·capacity values
    tmp: np.ndarray  # n_L·capacity values (the cost's terms)
    perms: np.ndarray  # 4 × m int64: four epochs' permutations
    rng_states: np.ndarray  # 4 × STATE_SIZE uint64
    tempered: np.ndarray  # 624 uint64


class Records(NamedTuple):
    """Where the recorded costs go: index e // every for the epochs e with e % every == 0."""

    every: int
    last: np.ndarray  # mean cost of the epoch's last batch
    mean: np.ndarray  # the epoch's average cost per example


_BLOCK = 128


@jit_uncounted
def _sum_block(a, n):
    """NumPy's pairwise summation of a[0 : n] for n ≤ 128: eight interleaved
    accumulators, combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)),
    then the n mod 8 leftovers in order; plain order below 8 terms."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[i]
        return res
    r0 = a[0]
    r1 = a[1]
    r2 = a[2]
    r3 = a[3]
    r4 = a[4]
    r5 = a[5]
    r6 = a[6]
    r7 = a[7]
    n8 = n - (n % 8)
    for i in range(8, n8, 8):
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(n8, n):
        res += a[i]
    return res


# NumPy halves longer runs recursively (n2 = n/2 rounded down to a multiple of
# 8).  Numba's on-disk cache cannot hold recursive functions safely, so the
# recursion is unrolled into four levels, exact up to 1,900 terms (n/16 + 7 ≤ 128); past
# that the last level adds blocks of 128 in order (a different, equally
# accurate order).
@jit_uncounted
def _sum0(a, n):
    res = -0.0
    for start in range(0, n, _BLOCK):
        res += _sum_block(a[start:], min(_BLOCK, n - start))
    return res


@jit_uncounted
def _sum1(a, n):
    if n <= _BLOCK:
        return _sum_block(a, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum0(a, n2) + _sum0(a[n2:], n - n2)


@jit_uncounted
def _sum2(a, n):
    if n <= _BLOCK:
        return _sum_block(a, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum1(a, n2) + _sum1(a[n2:], n - n2)


@jit_uncounted
def _sum3(a, n):
    if n <= _BLOCK:
        return _sum_block(a, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum2(a, n2) + _sum2(a[n2:], n - n2)


@jit_uncounted
def _sum4(a, n):
    if n <= _BLOCK:
        return _sum_block(a, n)
    n2 = n // 2
    n2 -= n2 % 8
    return _sum3(a, n2) + _sum3(a[n2:], n - n2)


@jit_uncounted
def pairwise_sum(a):
    """Σ a[i] over the 1-D array ``a`` in NumPy's pairwise order (the bits of ``np.sum`` up to 1,900 terms).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.random.default_rng(0).normal(size=1000)
    >>> bool(pairwise_sum(a) == np.sum(a))
    True
    """
    n = a.size
    if n <= _BLOCK:
        return _sum_block(a, n)
    return _sum4(a, n)


@jit(fastmath={"reassoc"})
def vec_dot(a, b):
    """Σ a[j]·b[j] over 1-D arrays of one length, in the order the compiler
    vectorises it (several lanes, then combined: reassociation allowed here
    and nowhere else).  The order is fixed for a given machine, so a run is
    reproducible; it differs from NumPy's by rounding only.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.arange(5.0), np.full(5, 0.5)
    >>> vec_dot(a, b)
    5.0
    """
    s = 0.0
    for j in range(a.size):
        s += a[j] * b[j]
    return s


@jit(fastmath={"reassoc"})
def vec_sum(a):
    """Σ a[j], vectorised as :func:`vec_dot`.

    Examples
    --------
    >>> import numpy as np
    >>> vec_sum(np.arange(10.0))
    45.0
    """
    s = 0.0
    for j in range(a.size):
        s += a[j]
    return s


@jit_uncounted
def forward(x, nb, flat, dims, w_off, b_off, a_base, act):
    """Forward pass of ``nb`` examples; ``x`` holds the (n_0 × nb) inputs.

    Writes A_1 … A_L into ``act`` (see the module docstring for the layout).
    A hidden layer fed by one or two inputs (the notes' first layer) takes one
    pass over the examples per unit; wider ones one pass per input, then one
    for + b and the activation.  Both do the same operations in the same order.

    Examples
    --------
    >>> import numpy as np
    >>> from streamopt import MLP
    >>> model = MLP([2, 3, 1], seed=0)
    >>> dims, w_off, b_off = model._layout()
    >>> x = np.array([[0.5, -1.0], [1.0, 2.0]])      # 2 inputs × 2 examples
    >>> y = np.array([[1.0, 0.0]])
    >>> a_base, act = np.array([0, 0, 3 * 2]), np.empty((3 + 1) * 2)   # capacity 2
    >>> forward(x.ravel(), 2, model.params.flat, dims, w_off, b_off, a_base, act)
    >>> np.array_equal(act[6:8], model.forward(x).ravel())      # A_2 starts at a_base[2]
    True
    """
    n_layers = dims.size - 1
    for l in range(1, n_layers + 1):
        n_in = dims[l - 1]
        n_out = dims[l]
        w = flat[w_off[l]:w_off[l] + n_out * n_in]
        b = flat[b_off[l]:b_off[l] + n_out]
        src = x if l == 1 else act[a_base[l - 1]:]
        last = l == n_layers
        for i in range(n_out):
            row = act[a_base[l] + i * nb:a_base[l] + (i + 1) * nb]
            bi = b[i]
            if n_in <= 2 and not last:
                # one pass: (W[i, 0]·A[0, j] + W[i, 1]·A[1, j]) + b, then ReLU (the
                # operations of the general case below, in its order)
                w0 = w[i * n_in]
                c0 = src[:nb]
                if n_in == 2:
                    w1 = w[i * n_in + 1]
                    c1 = src[nb:2 * nb]
                    for j in range(nb):
                        z = (w0 * c0[j] + w1 * c1[j]) + bi
                        row[j] = z if z > 0.0 else 0.0
                else:
                    for j in range(nb):
                        z = w0 * c0[j] + bi
                        row[j] = z if z > 0.0 else 0.0
                continue
            # Z = Σ_k W[i, k]·A[k, :] in order of k, then + b, then the activation
            w0 = w[i * n_in]
            col = src[:nb]
            for j in range(nb):
                row[j] = w0 * col[j]
            for k in range(1, n_in):
                wik = w[i * n_in + k]
                col = src[k * nb:(k + 1) * nb]
                for j in range(nb):
                    row[j] += wik * col[j]
            if last:
                for j in range(nb):
                    row[j] = 1.0 / (1.0 + math.exp(-(row[j] + bi)))
            else:
                for j in range(nb):
                    z = row[j] + bi
                    row[j] = z if z > 0.0 else 0.0


@jit_uncounted
def cost_sum(y, nb, dims, a_base, act, tmp):
    """Σ over the batch's examples (and outputs) of −[y·log a + (1 − y)·log(1 − a)].

    Labels exactly 0 or 1 take only their own term, which is what the two-term
    formula gives in floating point whenever it is finite.

    Examples
    --------
    >>> import numpy as np
    >>> dims, a_base = np.array([2, 1]), np.array([0, 0])
    >>> act = np.array([0.9, 0.2])                   # A_1: the output for 2 examples
    >>> total = cost_sum(np.array([1.0, 0.0]), 2, dims, a_base, act, np.empty(2))
    >>> bool(np.isclose(total, -np.log(0.9) - np.log(1 - 0.2)))
    True
    """
    n_layers = dims.size - 1
    n = dims[n_layers] * nb
    out = act[a_base[n_layers]:a_base[n_layers] + n]
    for j in range(n):
        a = out[j]
        t = y[j]
        if t == 1.0:
            tmp[j] = -math.log(a)
        elif t == 0.0:
            tmp[j] = -math.log(1.0 - a)
        else:
            tmp[j] = -math.log(a) * t + -math.log(1.0 - a) * (1.0 - t)
    return pairwise_sum(tmp[:n])


@jit_uncounted
def backward(x, y, nb, flat, dims, w_off, b_off, a_base, act, dz, g):
    """Gradient of the mean cost over the batch into ``g`` (after :func:`forward`).

    ``dz`` holds 2·max(n_l)·nb values of scratch.  The sums over the examples
    (dW, db) are :func:`vec_dot` / :func:`vec_sum`: a mini-batch's dot products
    are short, and a fixed-order sum cannot use the vector lanes on them.
    dZ_{l−1} takes one pass per unit when layer l has one or two units (the
    notes' last two layers), else one per unit of layer l plus one for the
    ReLU mask; the same operations in the same order.  Returns True
    when every gradient entry is finite.

    Examples
    --------
    A one-layer network (logistic regression) on one example, W = 0.5, b = 0:

    >>> import numpy as np
    >>> flat = np.array([0.5, 0.0])                  # W1 (1 × 1), then b1
    >>> dims, w_off, b_off, a_base = np.array([1, 1]), np.array([0, 0]), np.array([0, 1]), np.array([0, 0])
    >>> x, y = np.array([2.0]), np.array([1.0])
    >>> act = np.array([1 / (1 + np.exp(-1.0))])     # A_1 = σ(0.5·2), as forward leaves it
    >>> g = np.zeros(2)
    >>> backward(x, y, 1, flat, dims, w_off, b_off, a_base, act, np.empty(2), g)
    True
    >>> bool(np.allclose(g, [(act[0] - 1) * 2, act[0] - 1]))   # dW = (a − y)·x, db = a − y
    True
    """
    n_layers = dims.size - 1
    half = dz.size // 2
    cur = dz[:half]
    nxt = dz[half:]
    n_last = dims[n_layers]
    out = act[a_base[n_layers]:a_base[n_layers] + n_last * nb]
    inv_m = 1.0 / nb
    for j in range(n_last * nb):
        cur[j] = inv_m * (out[j] - y[j])
    for l in range(n_layers, 0, -1):
        n_in = dims[l - 1]
        n_out = dims[l]
        w = flat[w_off[l]:w_off[l] + n_out * n_in]
        dw = g[w_off[l]:w_off[l] + n_out * n_in]
        db = g[b_off[l]:b_off[l] + n_out]
        src = x if l == 1 else act[a_base[l - 1]:]
        for i in range(n_out):
            zrow = cur[i * nb:(i + 1) * nb]
            for k in range(n_in):
                dw[i * n_in + k] = vec_dot(zrow, src[k * nb:(k + 1) * nb])
            db[i] = vec_sum(zrow)
        if l > 1:
            # dZ_{l-1}[k, :] = (Σ_i W[i, k]·dZ[i, :]) ⊙ [A_{l-1}[k, :] > 0]
            for k in range(n_in):
                drow = nxt[k * nb:(k + 1) * nb]
                aprev = src[k * nb:(k + 1) * nb]
                # one pass for one or two units (the operations of the general case, in its order)
                if n_out == 1:
                    w0 = w[k]
                    z0 = cur[:nb]
                    for j in range(nb):
                        d = w0 * z0[j]
                        drow[j] = d if aprev[j] > 0.0 else 0.0
                elif n_out == 2:
                    w0 = w[k]
                    w1 = w[n_in + k]
                    z0 = cur[:nb]
                    z1 = cur[nb:2 * nb]
                    for j in range(nb):
                        d = w0 * z0[j] + w1 * z1[j]
                        drow[j] = d if aprev[j] > 0.0 else 0.0
                else:
                    w0 = w[k]
                    zrow = cur[:nb]
                    for j in range(nb):
                        drow[j] = w0 * zrow[j]
                    for i in range(1, n_out):
                        wik = w[i * n_in + k]
                        zrow = cur[i * nb:(i + 1) * nb]
                        for j in range(nb):
                            drow[j] += wik * zrow[j]
                    for j in range(nb):
                        drow[j] = drow[j] if aprev[j] > 0.0 else 0.0
            cur, nxt = nxt, cur
    ok = True
    for i in range(g.size):
        ok &= math.isfinite(g[i])
    return ok


@jit_uncounted
def _gather(X, Y, perm, start, nb, xb, yb):
    """Copy the examples perm[start : start + nb] (columns of X and Y) into the
    row-major batch blocks ``xb`` (n_0 × nb) and ``yb`` (n_L × nb).

    With two inputs and one output (the notes' data), one loop reads each
    index once and copies the example's three values."""
    if X.shape[0] == 2 and Y.shape[0] == 1:
        for j in range(nb):
            p = perm[start + j]
            xb[j] = X[0, p]
            xb[nb + j] = X[1, p]
            yb[j] = Y[0, p]
        return
    for k in range(X.shape[0]):
        for j in range(nb):
            xb[k * nb + j] = X[k, perm[start + j]]
    for k in range(Y.shape[0]):
        for j in range(nb):
            yb[k * nb + j] = Y[k, perm[start + j]]


@jit_uncounted
def train_epochs(data, e_start, lrs, net, opt, work, rec):
    """Epochs e_start … e_start + lrs.size − 1 of the notes' mini-batch training.

    ``data`` is a :class:`Data`, ``net`` a :class:`Net`, ``opt`` an
    :class:`~streamopt._kernels.optim.OptimizerArgs`, ``work`` a
    :class:`Workspace` and ``rec`` a :class:`Records`.

    Epoch e shuffles the m columns of X, Y with ``RandomState(seed + 1 + e)``'s
    permutation, cuts it into consecutive batches of ``batch_size`` (the last
    one smaller) and, for each batch, runs forward, backward and one optimizer
    step (:func:`streamopt._kernels.optim.step`, which counts it in the
    optimizer's settings) with learning rate ``lrs[e − e_start]`` (written into
    the settings).  On epochs with e % rec.every == 0 it also sums the
    cost and stores, at index e // rec.every, the mean cost of the last batch
    in ``rec.last`` and the epoch's average cost per example in ``rec.mean``.
    The permutations are drawn four epochs at a time.

    Returns −1, or the epoch at which a gradient or a recorded cost stopped
    being finite (training stops there, before the bad update).

    Examples
    --------
    Two epochs of the notes' network on the moons, batches of 64, with SGD
    (what :func:`streamopt.train` builds and calls):

    >>> import numpy as np
    >>> from streamopt import MLP, SGD
    >>> from streamopt.datasets import moons
    >>> from streamopt.model import _Workspace
    >>> X, Y = moons()
    >>> model = MLP([2, 5, 2, 1])
    >>> opt = SGD(model.params, lr=0.1)
    >>> ws = _Workspace(model._layout()[0], 64, np.float64, model.params.size)
    >>> work = Workspace(ws.g, np.empty(2 * 64), np.empty(64), ws.act, ws.a_base, ws.dz, ws.tmp,
    ...                  np.empty((4, 300), np.int64), np.zeros((4, 625), np.uint64), np.zeros(624, np.uint64))
    >>> rec = Records(1, np.zeros(2), np.zeros(2))
    >>> train_epochs(Data(X, Y.astype(float), 10, 64), 0, np.full(2, 0.1), model._net(), opt._kernel_args(),
    ...              work, rec)
    -1
    >>> opt.t                        # 5 batches an epoch
    10
    """
    X, Y, batch_size = data.X, data.Y, data.batch_size
    flat, dims, w_off, b_off = net.flat, net.dims, net.w_off, net.b_off
    g, xb, yb, act, a_base, dz, tmp = work.g, work.xb, work.yb, work.act, work.a_base, work.dz, work.tmp
    m = X.shape[1]
    e_stop = e_start + lrs.size
    for e4 in range(e_start, e_stop, 4):
        s = data.seed + 1 + e4
        seed4(work.rng_states, s, s + 1, s + 2, s + 3)
        for e in range(e4, min(e4 + 4, e_stop)):
            perm = work.perms[e - e4]
            shuffle_seeded(work.rng_states[e - e4], work.tempered, perm)
            opt.settings[LR] = lrs[e - e_start]
            record = e % rec.every == 0
            total = 0.0
            last = 0.0
            for start in range(0, m, batch_size):
                nb = min(batch_size, m - start)
                _gather(X, Y, perm, start, nb, xb, yb)
                forward(xb, nb, flat, dims, w_off, b_off, a_base, act)
                if record:
                    c = cost_sum(yb, nb, dims, a_base, act, tmp)
                    total += c
                    last = c / nb
                if not backward(xb, yb, nb, flat, dims, w_off, b_off, a_base, act, dz, g):
                    return e
                step(flat, g, opt.state, opt.settings)
            if record:
                r = e // rec.every
                rec.last[r] = last
                rec.mean[r] = total / m
                if not (math.isfinite(last) and math.isfinite(total)):
                    return e
    return -1
