"""Fused optimizer steps (group ``optim``): streamopt against the NumPy reference and torch.optim.

One optimizer step, per parameter, for SGD, Momentum (sum form, β = 0.9: PyTorch's
``SGD(momentum=0.9)``), RMSprop (β = 0.99, PyTorch's default ``alpha``), Adam
(defaults) and AdamW (Adam with decoupled weight decay 0.01: PyTorch's ``AdamW``), at 10, 1e3, 1e5, 1e6 and 1e7 parameters in float32 and float64.
Sizes up to 1e4 are split into 6 arrays shaped like the moons network's
(W1, b1, W2, b2, W3, b3); larger sizes are one array.

Libraries (columns)
-------------------
``streamopt``            ``opt.step(grads)``: validation, the finite check and the fused step
                         (one compiled call); parallel (every core) when the step moves at least
                         ``streamopt.optim.PARALLEL_MIN_BYTES``;
``streamopt-nocheck``    the same with ``check_finite=False``;
``numpy-reference``      :mod:`streamopt.reference`'s update on dicts of arrays (the notes' form);
``torch-forloop``        ``torch.optim`` with ``foreach=False``;
``torch-foreach``        ``foreach=True``;
``torch-fused``          ``fused=True`` (SGD, Adam and AdamW: RMSprop has no fused CPU path);
``floor``                bytes the step must move ÷ the triad bandwidth on every core
                         (``bench/floor.py``), where the buffers are at least twice the
                         last-level cache (only there does memory bound the step); the bytes
                         are the optimizer's ``bytes_per_parameter``, from its definition
                         (3 + 2 · state buffers) · itemsize: (3, 5, 5, 7, 7) · itemsize for SGD,
                         Momentum, RMSprop, Adam, AdamW (Adam float32: 28 B).  The finite check
                         of ``streamopt`` reads the gradient once more (one more itemsize per
                         parameter): it is not counted, so the floor is that of the step alone.

The ``*-threshold`` cases (full run only) time checked steps with the serial and the
parallel kernels around the size where ``PARALLEL_MIN_BYTES`` switches between them.

Usage::

    python bench/optimizers.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Result, format_table, measure, missing, optional, result  # noqa: E402

import streamopt.optim as optim_mod  # noqa: E402
from streamopt import SGD, Adam, FlatParams, Momentum, RMSprop  # noqa: E402
from streamopt import reference as ref  # noqa: E402

GROUP = "optim"
LR = 1e-4
#: The moons network's shapes (layers 2-20-3-1), used as proportions for small sizes.
MOONS_SHAPES = [(20, 2), (20, 1), (3, 20), (3, 1), (1, 3), (1, 1)]
#: AdamW's decoupled weight decay (PyTorch's default for ``AdamW``).
WEIGHT_DECAY = 0.01

OURS = {
    "sgd": lambda p, check: SGD(p, LR, check_finite=check),
    "momentum": lambda p, check: Momentum(p, LR, beta=0.9, form="sum", check_finite=check),
    "rmsprop": lambda p, check: RMSprop(p, LR, beta=0.99, eps=1e-8, check_finite=check),
    "adam": lambda p, check: Adam(p, LR, check_finite=check),
    "adamw": lambda p, check: Adam(p, LR, weight_decay=WEIGHT_DECAY, decoupled=True, check_finite=check),
}
TORCH = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "rmsprop": ("RMSprop", {"alpha": 0.99, "eps": 1e-8}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {"weight_decay": WEIGHT_DECAY}),
}


def split_sizes(n: int) -> list[int]:
    """``n`` parameters as 6 arrays in the moons network's proportions (each ≥ 1), or one array."""
    if n > 10_000:
        return [n]
    weights = np.array([r * c for r, c in MOONS_SHAPES], dtype=float)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * n)).astype(int)
    sizes[0] += n - sizes.sum()
    return [int(s) for s in sizes]


def make_arrays(n: int, dtype: str, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"p{i}": rng.normal(size=s).astype(dtype) for i, s in enumerate(split_sizes(n))}


def _timing_kwargs(quick: bool, n: int) -> dict:
    if quick:
        return {"repeat": 3, "min_time": 0.01}
    return {"repeat": 5, "min_time": 0.05 if n < 10**6 else 0.1}


def _reference_step(kind: str, params: dict, grads: dict):
    zeros = {k: np.zeros_like(v) for k, v in params.items()}
    zeros2 = {k: np.zeros_like(v) for k, v in params.items()}  # Adam's second moment: its own arrays
    if kind == "sgd":
        return lambda: ref.gd_update(params, grads, LR)
    if kind == "momentum":
        return lambda: ref.momentum_update(params, grads, zeros, LR, 0.9, form="sum")
    if kind == "rmsprop":
        return lambda: ref.rmsprop_update(params, grads, zeros, LR, 0.99, 1e-8)
    if kind == "adamw":
        return lambda: ref.adam_update(params, grads, zeros, zeros2, 1, LR,
                                       weight_decay=WEIGHT_DECAY, decoupled=True)
    return lambda: ref.adam_update(params, grads, zeros, zeros2, 1, LR)


def _working_set(opt) -> int:
    """Bytes of the arrays a step touches: parameters, gradient and the state buffers in use."""
    return 2 * opt.flat.nbytes + sum(b.nbytes for b in opt.buffers.values())


def _floor_applies(opt) -> bool:
    """True when the step's arrays are at least twice the last-level cache (32 MiB if unknown)."""
    floor = optional("floor")
    llc = getattr(floor, "last_level_cache_bytes", lambda: None)() if floor is not None else None
    return _working_set(opt) >= 2 * (llc or 32 * 2**20)


def _floor_ns(bytes_per_element: int) -> float | None:
    floor = optional("floor")
    if floor is None:
        return None
    return floor.floor_ns_per_element(bytes_per_element, floor.all_threads())


def bench_case(kind: str, n: int, dtype: str, quick: bool, torch) -> list[Result]:
    kw = _timing_kwargs(quick, n)
    rows: list[Result] = []
    arrays = make_arrays(n, dtype, seed=1)
    grads = {k: np.random.default_rng(2).normal(size=v.shape).astype(dtype) for k, v in arrays.items()}

    p = FlatParams(arrays)
    g = FlatParams(grads)
    probe = OURS[kind](p, True)
    bytes_per_element = probe.bytes_per_parameter
    extra = {"arrays": len(arrays), "bytes_per_element": bytes_per_element}
    floor_applies = _floor_applies(probe)
    del probe
    if floor_applies and optional("floor") is not None:
        # the memory bandwidth of a shared host varies with its other tenants: sample the triad
        # beside every case it bounds (the floor is the best bandwidth seen in the run)
        optional("floor").remeasure_bandwidth(quick=quick)
    floor_ns = _floor_ns(bytes_per_element) if floor_applies else None
    if floor_ns is not None:
        extra["floor_ns_per_element"] = floor_ns
    for library, check in (("streamopt", True), ("streamopt-nocheck", False)):
        opt = OURS[kind](p, check)
        rows.append(result(GROUP, kind, library, n, dtype, measure(lambda: opt.step(g), **kw),
                           parallel=opt.parallel, **extra))
    del p, g

    ref_params = {k: v.copy() for k, v in arrays.items()}
    rows.append(result(GROUP, kind, "numpy-reference", n, dtype,
                       measure(_reference_step(kind, ref_params, grads), **kw)))
    del ref_params

    for library, flags in (("torch-forloop", {"foreach": False}), ("torch-foreach", {"foreach": True}),
                           ("torch-fused", {"fused": True})):
        if torch is None:
            rows.append(missing(GROUP, kind, library, n, dtype))
            continue
        name, hyper = TORCH[kind]
        tensors = [torch.tensor(v, requires_grad=True) for v in arrays.values()]
        for t, gv in zip(tensors, grads.values()):
            t.grad = torch.tensor(gv)
        try:
            opt = getattr(torch.optim, name)(tensors, lr=LR, **hyper, **flags)
        except (TypeError, RuntimeError, ValueError) as exc:
            rows.append(missing(GROUP, kind, library, n, dtype, why=f"{name}: {exc}"))
            continue
        with torch.no_grad():
            rows.append(result(GROUP, kind, library, n, dtype, measure(opt.step, **kw),
                               threads=torch.get_num_threads()))
        del tensors, opt

    if floor_ns is not None:
        rows.append(_floor_row(kind, n, dtype, floor_ns, bytes_per_element))
    elif floor_applies:
        rows.append(missing(GROUP, kind, "floor", n, dtype, why="bench/floor.py not found"))
    return rows


def _floor_row(kind: str, n: int, dtype: str, ns: float, bytes_per_element: int) -> Result:
    return Result(GROUP, kind, "floor", n, dtype, ns * n * 1e-9, 0.0, {"bytes_per_element": bytes_per_element})


def bench_threshold(kind: str, dtype: str) -> list[Result]:
    """Checked steps with the serial and with the parallel kernels, around ``PARALLEL_MIN_BYTES``."""
    rows = []
    for n in (16384, 32768, 65536, 131072, 262144, 524288):
        w = make_arrays(n, dtype, seed=3)["p0"]
        g = np.ones_like(w)
        for library, min_bytes in (("streamopt-serial", 2**62), ("streamopt-parallel", 0)):
            saved = optim_mod.PARALLEL_MIN_BYTES
            optim_mod.PARALLEL_MIN_BYTES = min_bytes
            try:
                opt = OURS[kind](w, True)
            finally:
                optim_mod.PARALLEL_MIN_BYTES = saved
            rows.append(result(GROUP, f"{kind}-threshold", library, n, dtype,
                               measure(lambda: opt.step(g), repeat=7, min_time=0.05),
                               bytes_per_step=n * opt.bytes_per_parameter))
    return rows


def run(quick: bool = False) -> list[Result]:
    """Time every optimizer at every size; ``quick``: 10 and 1e5 parameters, float32 only (~10 s)."""
    torch = optional("torch")
    sizes = [10, 10**5] if quick else [10, 10**3, 10**5, 10**6, 10**7]
    dtypes = ["float32"] if quick else ["float32", "float64"]
    results: list[Result] = []
    for kind in OURS:
        for dtype in dtypes:
            for n in sizes:
                results += bench_case(kind, n, dtype, quick, torch)
    if not quick:
        for kind in ("sgd", "adam"):
            results += bench_threshold(kind, "float32")
    return results


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
