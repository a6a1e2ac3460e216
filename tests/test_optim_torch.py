"""The fused optimizers against torch.optim, where the two definitions agree."""

from __future__ import annotations

import numpy as np
import pytest

from streamopt import SGD, Adam, FlatParams, Momentum, RMSprop

torch = pytest.importorskip("torch")

#: (streamopt class, its arguments, torch.optim constructor, its arguments): the same rule.
PAIRS = [
    (SGD, {}, "SGD", {}),
    (Momentum, {"beta": 0.9, "form": "sum"}, "SGD", {"momentum": 0.9}),
    (Momentum, {"beta": 0.7, "form": "sum", "nesterov": True}, "SGD", {"momentum": 0.7, "nesterov": True}),
    (RMSprop, {"beta": 0.9, "eps": 1e-8}, "RMSprop", {"alpha": 0.9, "eps": 1e-8}),
    (RMSprop, {"beta": 0.95, "eps": 1e-6, "centered": True}, "RMSprop", {"alpha": 0.95, "eps": 1e-6, "centered": True}),
    (Adam, {}, "Adam", {}),
    (Adam, {"beta1": 0.8, "beta2": 0.99, "weight_decay": 0.05}, "Adam", {"betas": (0.8, 0.99), "weight_decay": 0.05}),
    (Adam, {"weight_decay": 0.1, "decoupled": True}, "AdamW", {"weight_decay": 0.1}),
    (Adam, {"amsgrad": True, "beta2": 0.99}, "Adam", {"amsgrad": True, "betas": (0.9, 0.99)}),
    (Adam, {"weight_decay": 0.1, "decoupled": True, "amsgrad": True}, "AdamW", {"weight_decay": 0.1, "amsgrad": True}),
]
IDS = [f"{t}-{'-'.join(f'{k}={v}' for k, v in a.items())}" for _, _, t, a in PAIRS]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls, kwargs, torch_name, torch_kwargs", PAIRS, ids=IDS)
def test_matches_torch_optim(cls, kwargs, torch_name, torch_kwargs, dtype):
    rng = np.random.default_rng(5)
    shapes = {"W1": (5, 3), "b1": (5, 1), "W2": (1, 5), "b2": (1, 1)}
    init = {k: rng.normal(size=s).astype(dtype) for k, s in shapes.items()}
    lr = 1e-2
    steps = 200

    p = FlatParams(init)
    ours = cls(p, lr, **kwargs)
    tensors = [torch.tensor(init[k], requires_grad=True) for k in shapes]
    theirs = getattr(torch.optim, torch_name)(tensors, lr=lr, foreach=False, **torch_kwargs)
    g = p.zeros_like()
    for _ in range(steps):
        g.flat[:] = rng.normal(size=p.size)
        for t, k in zip(tensors, shapes):
            t.grad = torch.tensor(g[k].copy())
        theirs.step()
        ours.step(g)
    rtol = 1e-10 if dtype == np.float64 else 2e-5
    for t, k in zip(tensors, shapes):
        expected = t.detach().numpy()
        np.testing.assert_allclose(p[k], expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_momentum_ema_differs_from_torch_dampening_only_by_the_first_step():
    # PyTorch with dampening = β starts its buffer at g₁; the notes' form starts at (1 − β)·g₁.
    # Seeding our buffer with v₀ = g₁ makes the first update β·v₀ + (1 − β)·g₁ = g₁ too.
    beta, lr = 0.9, 0.1
    rng = np.random.default_rng(2)
    grads = [rng.normal(size=4) for _ in range(20)]
    w = np.zeros(4)
    ours = Momentum(w, lr, beta=beta, form="ema")
    t = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    theirs = torch.optim.SGD([t], lr=lr, momentum=beta, dampening=beta, foreach=False)
    for g in grads:
        t.grad = torch.tensor(g)
        theirs.step()
    ours.buffers["v"][:] = grads[0]
    for g in grads:
        ours.step(g)
    np.testing.assert_allclose(w, t.detach().numpy(), rtol=1e-12)
    # without that seed the first steps differ
    w2 = np.zeros(4)
    Momentum(w2, lr, beta=beta, form="ema").step(grads[0])
    assert not np.allclose(w2, -lr * grads[0])
