"""The notes' algorithms in plain NumPy: the single oracle for tests and benchmarks.

Everything here is written from the formulas of the optimization chapter, on
dicts of arrays and Python loops, for clarity and not for speed.  It is never
used on a hot path: the compiled kernels in :mod:`streamopt._kernels` are
checked against it, and the benchmarks time it as "the notes' NumPy form".

Contents
--------
EWA:           :func:`ewa`, :func:`ewvar`
Optimizers:    :func:`gd_update`, :func:`momentum_update`, :func:`rmsprop_update`,
               :func:`adam_update` (each returns new arrays; inputs are never modified)
Network:       :func:`initialize_parameters_he`, :func:`forward_propagation`,
               :func:`backward_propagation`, :func:`compute_cost`, :func:`predict`,
               :func:`random_mini_batches`, :func:`model`
"""

from __future__ import annotations

import math

import numpy as np

Arrays = dict[str, np.ndarray]


# --------------------------------------------------------------------------- EWA
def bias_correction(beta: float, t: int | float) -> float:
    """1 − β^t, computed from α = 1 − β as −expm1(t·log1p(−α)) (no cancellation)."""
    alpha = 1.0 - beta
    if alpha >= 1.0:
        return 1.0
    return -math.expm1(t * math.log1p(-alpha))


def ewa(x, beta: float, bias_correction_: bool = False, skipna: bool = True) -> np.ndarray:
    """V_t = β·V_{t−1} + (1 − β)·θ_t, V_0 = 0, one value at a time (1-D).

    With ``bias_correction_`` the output is V_t / (1 − β^t), t the number of
    observations seen.  ``skipna``: a NaN leaves V untouched and outputs the
    current value (NaN before the first observation); otherwise every output
    from the first NaN on is NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    v, t, poisoned = 0.0, 0, False
    for i, theta in enumerate(x):
        if math.isnan(theta):
            if not skipna:
                poisoned = True
        else:
            v = beta * v + (1.0 - beta) * theta
            t += 1
        if poisoned or t == 0:
            out[i] = np.nan
        elif bias_correction_:
            out[i] = v / bias_correction(beta, t)
        else:
            out[i] = v
    return out


def ewvar(x, beta: float, bias: bool = False) -> np.ndarray:
    """Exponentially weighted variance from its definition (1-D, NaNs skipped).

    With weights w_i = β^(t−i) over the observations seen so far, the weighted
    mean μ = Σw·x / Σw and the biased variance Σw·(x − μ)² / Σw; with
    ``bias=False`` it is multiplied by (Σw)² / ((Σw)² − Σw²), as pandas'
    ``ewm(adjust=True).var()`` does (NaN while that is undefined, i.e. after
    one observation).  O(n²): for tests on small inputs.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.full_like(x, np.nan)
    seen: list[float] = []
    for i, theta in enumerate(x):
        if not math.isnan(theta):
            seen.append(theta)
        if not seen:
            continue
        obs = np.array(seen)
        w = beta ** np.arange(len(obs) - 1, -1, -1, dtype=np.float64)
        sw, sw2 = w.sum(), (w * w).sum()
        mu = (w * obs).sum() / sw
        var = (w * (obs - mu) ** 2).sum() / sw
        if bias:
            out[i] = var
        else:
            denom = sw * sw - sw2
            out[i] = var * sw * sw / denom if denom > 0 else np.nan
    return out


# -------------------------------------------------------------------- optimizers
def gd_update(params: Arrays, grads: Arrays, lr: float) -> Arrays:
    """Gradient descent: W = W − α·dW, for every W in ``params`` (grads keyed alike)."""
    return {k: params[k] - lr * grads[k] for k in params}


def momentum_update(
    params: Arrays,
    grads: Arrays,
    v: Arrays,
    lr: float,
    beta: float = 0.9,
    form: str = "ema",
    nesterov: bool = False,
) -> tuple[Arrays, Arrays]:
    """Momentum; returns (params, v).

    ``form="ema"`` (the notes): v = β·v + (1 − β)·dW, W = W − α·v.
    ``form="sum"`` (the notes' other form, PyTorch's dampening 0): v = β·v + dW.
    ``nesterov``: the step uses g + β·v (g = the form's scaled gradient,
    (1 − β)·dW or dW) instead of v, as PyTorch does.
    """
    new_p, new_v = {}, {}
    for k in params:
        g = grads[k] if form == "sum" else (1.0 - beta) * grads[k]
        new_v[k] = beta * v[k] + g
        step = g + beta * new_v[k] if nesterov else new_v[k]
        new_p[k] = params[k] - lr * step
    return new_p, new_v


def rmsprop_update(
    params: Arrays,
    grads: Arrays,
    s: Arrays,
    lr: float,
    beta: float = 0.9,
    eps: float = 1e-8,
    centered: bool = False,
    gavg: Arrays | None = None,
) -> tuple[Arrays, Arrays, Arrays | None]:
    """RMSprop; returns (params, s, gavg).

    s = β·s + (1 − β)·dW², W = W − α·dW / (√s + ε): ε outside the square root.
    ``centered`` (PyTorch): also ḡ = β·ḡ + (1 − β)·dW and the denominator is
    √(s − ḡ²) + ε.
    """
    new_p, new_s, new_g = {}, {}, ({} if centered else None)
    for k in params:
        g = grads[k]
        new_s[k] = beta * s[k] + (1.0 - beta) * g * g
        if centered:
            new_g[k] = beta * gavg[k] + (1.0 - beta) * g
            denom = np.sqrt(new_s[k] - new_g[k] * new_g[k]) + eps
        else:
            denom = np.sqrt(new_s[k]) + eps
        new_p[k] = params[k] - lr * g / denom
    return new_p, new_s, new_g


def adam_update(
    params: Arrays,
    grads: Arrays,
    v: Arrays,
    s: Arrays,
    t: int,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    amsgrad: bool = False,
    smax: Arrays | None = None,
) -> tuple[Arrays, Arrays, Arrays, Arrays | None]:
    """Adam at step ``t`` (t ≥ 1, counted by the caller); returns (params, v, s, smax).

    v = β₁·v + (1 − β₁)·dW,  s = β₂·s + (1 − β₂)·dW²,
    v̂ = v / (1 − β₁ᵗ),  ŝ = s / (1 − β₂ᵗ),  W = W − α·v̂ / (√ŝ + ε).

    PyTorch's variants: ``weight_decay`` λ adds λ·W to dW (L2), or with
    ``decoupled`` (AdamW) multiplies W by (1 − α·λ) before the step;
    ``amsgrad`` keeps smax = max(smax, s) and uses it in place of s.
    """
    c1, c2 = bias_correction(beta1, t), bias_correction(beta2, t)
    new_p, new_v, new_s, new_m = {}, {}, {}, ({} if amsgrad else None)
    for k in params:
        w, g = params[k], grads[k]
        if weight_decay and decoupled:
            w = w * (1.0 - lr * weight_decay)
        elif weight_decay:
            g = g + weight_decay * w
        new_v[k] = beta1 * v[k] + (1.0 - beta1) * g
        new_s[k] = beta2 * s[k] + (1.0 - beta2) * g * g
        second = new_s[k]
        if amsgrad:
            new_m[k] = np.maximum(smax[k], new_s[k])
            second = new_m[k]
        new_p[k] = w - lr * (new_v[k] / c1) / (np.sqrt(second / c2) + eps)
    return new_p, new_v, new_s, new_m


# ----------------------------------------------------------------------- network
def initialize_parameters_he(layer_dims, seed: int = 3) -> Arrays:
    """He initialisation as in the notes: the legacy RNG seeded once, then for
    l = 1..L in order W_l = randn(n_l, n_{l−1})·√(2/n_{l−1}) and b_l = 0."""
    np.random.seed(seed)
    params: Arrays = {}
    for l in range(1, len(layer_dims)):
        params[f"W{l}"] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * np.sqrt(2 / layer_dims[l - 1])
        params[f"b{l}"] = np.zeros((layer_dims[l], 1))
    return params


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(0, z)


def forward_propagation(X: np.ndarray, params: Arrays) -> tuple[np.ndarray, list]:
    """LINEAR → RELU for the hidden layers, LINEAR → SIGMOID for the last.

    Examples are columns of ``X``.  Returns (A_L, cache) where cache holds
    (A_{l−1}, W_l, A_l) per layer.
    """
    L = len(params) // 2
    A, cache = X, []
    for l in range(1, L + 1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        Z = np.dot(W, A) + b
        A_new = sigmoid(Z) if l == L else relu(Z)
        cache.append((A, W, A_new))
        A = A_new
    return A, cache


def backward_propagation(X: np.ndarray, Y: np.ndarray, cache: list) -> Arrays:
    """Gradients of the **mean** cross-entropy over the batch: dZ_L = (A_L − Y)/m.

    Returns ``{"W1": dW1, "b1": db1, ...}`` (keyed like the parameters).
    """
    m = X.shape[1]
    L = len(cache)
    grads: Arrays = {}
    dZ = 1.0 / m * (cache[-1][2] - Y)
    for l in range(L, 0, -1):
        A_prev, W, _ = cache[l - 1]
        grads[f"W{l}"] = np.dot(dZ, A_prev.T)
        grads[f"b{l}"] = np.sum(dZ, axis=1, keepdims=True)
        if l > 1:
            dA = np.dot(W.T, dZ)
            dZ = np.multiply(dA, np.int64(A_prev > 0))
    return grads


def cross_entropy_sum(AL: np.ndarray, Y: np.ndarray) -> float:
    """Σ over examples of −y·log a − (1 − y)·log(1 − a)."""
    logprobs = np.multiply(-np.log(AL), Y) + np.multiply(-np.log(1 - AL), 1 - Y)
    return float(np.sum(logprobs))


def compute_cost(AL: np.ndarray, Y: np.ndarray) -> float:
    """Mean cross-entropy over the batch's examples (the notes' printed cost)."""
    return cross_entropy_sum(AL, Y) / Y.shape[1]


def predict(X: np.ndarray, params: Arrays) -> np.ndarray:
    """1 where the output probability is > 0.5, else 0; shape (1, m)."""
    AL, _ = forward_propagation(X, params)
    return (AL > 0.5).astype(np.int64)


def random_mini_batches(X: np.ndarray, Y: np.ndarray, mini_batch_size: int = 64, seed: int = 0) -> list:
    """The notes' mini-batches: legacy RNG seeded with ``seed``, one permutation of
    the m columns, consecutive slices of ``mini_batch_size``, the last one smaller."""
    np.random.seed(seed)
    m = X.shape[1]
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((Y.shape[0], m))
    batches = []
    n_complete = math.floor(m / mini_batch_size)
    for k in range(n_complete):
        sl = slice(k * mini_batch_size, (k + 1) * mini_batch_size)
        batches.append((shuffled_X[:, sl], shuffled_Y[:, sl]))
    if m % mini_batch_size != 0:
        sl = slice(n_complete * mini_batch_size, m)
        batches.append((shuffled_X[:, sl], shuffled_Y[:, sl]))
    return batches


def model(
    X: np.ndarray,
    Y: np.ndarray,
    layers_dims,
    optimizer: str,
    learning_rate: float = 0.0007,
    mini_batch_size: int = 64,
    beta: float = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
    num_epochs: int = 10000,
    seed: int = 10,
    init_seed: int = 3,
    record_every: int = 100,
) -> tuple[Arrays, dict]:
    """The notes' training loop, driven the notes' way (dicts, one batch at a time).

    Epoch i (from 0) uses mini-batch seed ``seed + 1 + i``; Adam's t counts
    mini-batches.  Returns (params, log) where ``log["cost"]`` holds, every
    ``record_every`` epochs, the mean cost of the epoch's last mini-batch and
    ``log["epoch_cost"]`` the epoch average (sum of per-example losses / m).
    """
    params = initialize_parameters_he(layers_dims, init_seed)
    zeros = {k: np.zeros_like(p) for k, p in params.items()}
    v, s = dict(zeros), dict(zeros)
    t = 0
    m = X.shape[1]
    log: dict[str, list] = {"epoch": [], "cost": [], "epoch_cost": []}
    for i in range(num_epochs):
        total = 0.0
        cost = float("nan")
        for bx, by in random_mini_batches(X, Y, mini_batch_size, seed + 1 + i):
            AL, cache = forward_propagation(bx, params)
            batch_sum = cross_entropy_sum(AL, by)
            total += batch_sum
            cost = batch_sum / by.shape[1]
            grads = backward_propagation(bx, by, cache)
            if optimizer == "gd":
                params = gd_update(params, grads, learning_rate)
            elif optimizer == "momentum":
                params, v = momentum_update(params, grads, v, learning_rate, beta)
            elif optimizer == "adam":
                t += 1
                params, v, s, _ = adam_update(params, grads, v, s, t, learning_rate, beta1, beta2, epsilon)
            else:
                raise ValueError(f"optimizer must be 'gd', 'momentum' or 'adam', got {optimizer!r}")
        if i % record_every == 0:
            log["epoch"].append(i)
            log["cost"].append(cost)
            log["epoch_cost"].append(total / m)
    return params, log
