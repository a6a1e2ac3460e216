"""The notes' experiment (group ``train``): streamopt's compiled loop against the notes' NumPy form and PyTorch.

One case per optimizer (gd, momentum, adam): a [2, 5, 2, 1] network trained on
the 300 moons points for 10,000 epochs in batches of 64, lr 0.0007, the notes'
seeds.  Time per run; the table's unit is ns per epoch-example (time /
(epochs · 300)).

``--quick`` (a few seconds in all): streamopt still runs the 10,000 epochs (about
0.1 s a run), but the two peers run only the first 200 epochs, once, and their
time is scaled to 10,000 epochs, i.e. the **time per epoch** is compared.  Those
rows carry ``extra["measured_epochs"] = 200`` and ``extra["scaled_to_epochs"]``,
and the script prints a note under the table.  Their accuracy is that of 200
epochs.

Libraries (columns)
-------------------
``streamopt``     ``streamopt.train.notes_experiment(name, ...)``: data, init, the compiled
                  epoch loop (shuffle, batching, forward, backward, fused step) and the
                  final accuracy;
``numpy-notes``   :func:`streamopt.reference.model`: the notes' loop on dicts of NumPy arrays,
                  one mini-batch at a time (identical results, see ``extra["accuracy"]``);
``torch``         an idiomatic PyTorch CPU loop (``nn.Sequential``, ``BCELoss``,
                  ``torch.optim.SGD`` / ``SGD(momentum=0.9, dampening=0.9)`` / ``Adam``,
                  ``zero_grad / backward / step``), float64, one thread, over the same
                  batches; the epochs' permutations are drawn before the timer starts.

Other rows (streamopt only)
---------------------------
``compile``       a new process with an empty Numba cache: import + the first training call
                  (compiles every kernel it needs); full run only;
``warm-start``    a new process with the cache filled: import + the first training call.

Usage::

    python bench/train.py [--quick]

PyTorch runs on one thread; its previous thread count is restored afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Result, Timing, format_table, measure, missing, optional, result  # noqa: E402

from streamopt import reference as ref  # noqa: E402
from streamopt.datasets import moons  # noqa: E402
from streamopt.train import notes_experiment  # noqa: E402

GROUP = "train"
NAMES = ("gd", "momentum", "adam")
DIMS = [2, 5, 2, 1]
LR = 0.0007
BATCH = 64

_CHILD = r"""
import time
t0 = time.perf_counter()
import streamopt
from streamopt.train import notes_experiment
t1 = time.perf_counter()
notes_experiment("adam", epochs=10)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def _torch_run(torch, name: str, X: np.ndarray, Y: np.ndarray, perms: np.ndarray) -> float:
    """The experiment written the usual PyTorch way; returns the training accuracy."""
    nn = torch.nn
    init = ref.initialize_parameters_he(DIMS, 3)
    model = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 2), nn.ReLU(), nn.Linear(2, 1), nn.Sigmoid())
    model = model.double()
    with torch.no_grad():
        for i, layer in enumerate([model[0], model[2], model[4]], start=1):
            layer.weight.copy_(torch.from_numpy(init[f"W{i}"]))
            layer.bias.copy_(torch.from_numpy(init[f"b{i}"][:, 0]))
    if name == "gd":
        opt = torch.optim.SGD(model.parameters(), lr=LR)
    elif name == "momentum":
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, dampening=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = nn.BCELoss()
    xt = torch.from_numpy(np.ascontiguousarray(X.T))
    yt = torch.from_numpy(np.ascontiguousarray(Y.T.astype(np.float64)))
    m = xt.shape[0]
    for perm in perms:
        for start in range(0, m, BATCH):
            idx = perm[start:start + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float(((model(xt) > 0.5).double() == yt).double().mean())


def _timed_child(env: dict[str, str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env,
                         timeout=600, check=True).stdout.split()
    return float(out[0]), float(out[1])


def bench_startup(quick: bool) -> list[Result]:
    """Warm start (always) and a cold compile (full run only), each in a new process."""
    results = []
    env = dict(os.environ)
    _timed_child(env)  # fill the cache
    runs = [_timed_child(env) for _ in range(1 if quick else 4)]
    best = min(runs, key=sum)
    total = sum(best)
    timing = Timing(best=total, median=float(np.median([sum(r) for r in runs])), repeats=len(runs), number=1)
    results.append(result(GROUP, "warm-start", "streamopt", 1, "", timing,
                          import_seconds=best[0], first_call_seconds=best[1]))
    if not quick:
        with tempfile.TemporaryDirectory() as cache:
            cold = _timed_child({**env, "NUMBA_CACHE_DIR": cache})
        results.append(result(GROUP, "compile", "streamopt", 1, "",
                              Timing(best=sum(cold), median=sum(cold), repeats=1, number=1),
                              import_seconds=cold[0], first_call_seconds=cold[1]))
    return results


#: Epochs the peers run with ``--quick`` (their time is scaled to the full run).
QUICK_PEER_EPOCHS = 200


def _scaled(timing: Timing, factor: float) -> Timing:
    """``timing`` of a shorter run, scaled to ``factor`` times as many epochs."""
    return Timing(best=timing.best * factor, median=timing.median * factor, repeats=timing.repeats,
                  number=timing.number)


def run(quick: bool = False) -> list[Result]:
    """Time the three runs for each library.

    ``quick``: the peers run :data:`QUICK_PEER_EPOCHS` epochs once and their time
    per epoch is scaled to 10,000 epochs; streamopt: 3 repeats instead of 5.
    """
    epochs = 10_000
    peer_epochs = QUICK_PEER_EPOCHS if quick else epochs
    factor = epochs / peer_epochs
    scaled = {"measured_epochs": peer_epochs, "scaled_to_epochs": epochs} if quick else {"epochs": epochs}
    X, Y = moons()
    size = epochs * X.shape[1]
    torch = optional("torch")
    threads = torch.get_num_threads() if torch is not None else None
    perms = np.stack([np.random.RandomState(10 + 1 + i).permutation(X.shape[1]) for i in range(peer_epochs)])
    results: list[Result] = []
    try:
        if torch is not None:
            torch.set_num_threads(1)
        for name in NAMES:
            ours = notes_experiment(name, epochs=epochs)
            t = measure(lambda: notes_experiment(name, epochs=epochs), repeat=3 if quick else 5, min_time=0.0)
            results.append(result(GROUP, name, "streamopt", size, "float64", t, accuracy=ours.history.accuracy,
                                  epochs=epochs))
            holder: dict = {}

            def notes_form() -> None:
                params, _ = ref.model(X, Y, DIMS, name, num_epochs=peer_epochs)
                holder["params"] = params

            t = measure(notes_form, repeat=1, min_time=0.0)
            acc = float(np.mean(ref.predict(X, holder["params"]) == Y))
            results.append(result(GROUP, name, "numpy-notes", size, "float64", _scaled(t, factor), accuracy=acc,
                                  **scaled))
            if torch is None:
                results.append(missing(GROUP, name, "torch", size, "float64"))
            else:
                acc_holder: dict = {}
                t = measure(lambda: acc_holder.__setitem__("a", _torch_run(torch, name, X, Y, perms)),
                            repeat=1, min_time=0.0)
                results.append(result(GROUP, name, "torch", size, "float64", _scaled(t, factor),
                                      accuracy=acc_holder["a"], threads=1, **scaled))
    finally:
        if torch is not None:
            torch.set_num_threads(threads)
    results += bench_startup(quick)
    return results


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(format_table(run(quick=quick)))
    if quick:
        print(f"quick: numpy-notes and torch ran {QUICK_PEER_EPOCHS} epochs; their time per epoch is compared "
              "(scaled to 10,000 epochs)")
