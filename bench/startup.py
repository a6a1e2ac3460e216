"""Startup: a new process's ``import streamopt`` and the first call of each kernel-backed function.

Each measurement runs in a fresh Python process (``sys.executable``), timed
from inside it with ``time.perf_counter``:

* ``import``: ``import streamopt`` (plus importing the function's module when
  ``streamopt`` does not import it itself);
* the first use of the function on a small input (constructing the object
  for ``EWA.update`` and the optimizers' ``step``), which loads (warm cache)
  or compiles (cold cache) its Numba kernels.

A case's row holds **import + first call** (what a user waits for before the
first result); ``extra`` splits it into ``import_seconds`` and
``first_call_seconds`` and adds ``process_seconds``, the whole process's wall
time seen from outside (interpreter start-up included).

*Warm*: the on-disk Numba cache is filled by one process that calls every
function, then each case runs in new processes (best of several).
*Cold*: each case runs once with ``NUMBA_CACHE_DIR`` pointing at a new, empty
folder, so every kernel it needs is compiled (with ``--quick`` only for
``ewa``; the other cold rows are reported as not measured).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Result, Timing, format_table, missing, result  # noqa: E402

GROUP = "startup"
ROOT = Path(__file__).resolve().parents[1]

#: case -> (resolve: imports that count as import time, data: untimed inputs, call: the timed
#: first use, construction included).
CASES: dict[str, tuple[str, str, str]] = {
    "ewa": (
        "from streamopt import ewa as f",
        "x = np.random.default_rng(0).random(1000)",
        "f(x, 0.9)",
    ),
    "EWA.update": (
        "from streamopt import EWA",
        "",
        "EWA(0.9).update(1.0)",
    ),
    **{
        f"{name}.step": (
            f"from streamopt import {name} as Opt",
            "p = np.zeros(100); g = np.full(100, 0.5)",
            "Opt(p, lr=0.01).step(g)",
        )
        for name in ("SGD", "Momentum", "RMSprop", "Adam")
    },
    "train": (
        "from streamopt import MLP, Adam, train; from streamopt.datasets import moons",
        "X, Y = moons(64)",
        "model = MLP([2, 3, 1]); train(model, (X, Y), Adam(model.params, lr=0.01), epochs=2, batch_size=16, "
        "progress=False)",
    ),
}

#: Cases measured with a cold cache under ``--quick`` (compiling everything takes long).
QUICK_COLD = ("ewa",)

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import streamopt
t_import = time.perf_counter() - t0
import numpy as np

out = {"_import": t_import}
for case, (resolve, data, call) in json.loads(sys.argv[1]).items():
    ns = {"np": np}
    try:
        t1 = time.perf_counter()
        exec(resolve, ns)
        t_resolve = time.perf_counter() - t1
        exec(data, ns)
        t2 = time.perf_counter()
        exec(call, ns)
        t_call = time.perf_counter() - t2
    except Exception as exc:
        out[case] = {"failed": f"{type(exc).__name__}: {exc}"}
        continue
    out[case] = {"import": t_import + t_resolve, "call": t_call}
print(json.dumps(out))
"""


def _child(cases: dict[str, tuple[str, str, str]], cache_dir: str | None = None,
           timeout: float = 600.0) -> tuple[dict, float]:
    """Run the cases in one new process; returns (per-case dict, process wall seconds)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    with tempfile.TemporaryDirectory() as cwd:
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(cases)], capture_output=True,
                                  text=True, env=env, cwd=cwd, timeout=timeout)
        except subprocess.TimeoutExpired:
            failed = {case: {"failed": f"no answer within {timeout:.0f} s"} for case in cases}
            return {"_import": None, **failed}, time.perf_counter() - t0
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        failed = {case: {"failed": f"exit status {proc.returncode}: {tail}"} for case in cases}
        return {"_import": None, **failed}, wall
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def _timing(values: list[float]) -> Timing:
    ordered = sorted(values)
    return Timing(best=ordered[0], median=ordered[len(ordered) // 2], repeats=len(values), number=1)


def _rows(cache: str, imports: list[float], samples: dict[str, list[tuple[dict, float]]]) -> list[Result]:
    """Results of one cache state: the import times of its processes, then each case's
    samples (the child's dict for the case, process seconds)."""
    rows: list[Result] = []
    for case, runs in samples.items():
        first = runs[0][0]
        if "failed" in first:
            rows.append(missing(GROUP, case, cache, 1, why=f"failed: {first['failed']}"))
            continue
        totals = [d["import"] + d["call"] for d, _ in runs]
        best = min(range(len(runs)), key=totals.__getitem__)
        d, wall = runs[best]
        rows.append(result(GROUP, case, cache, 1, "", _timing(totals), import_seconds=d["import"],
                           first_call_seconds=d["call"], process_seconds=wall, repeats=len(runs)))
    imports = [t for t in imports if t is not None]
    if imports:
        rows.insert(0, result(GROUP, "import", cache, 1, "", _timing(imports), repeats=len(imports)))
    else:
        rows.insert(0, missing(GROUP, "import", cache, 1, why="every process failed"))
    return rows


def run(quick: bool = False) -> list[Result]:
    """Warm and cold start-up of every kernel-backed public function (seconds per first call)."""
    repeat = 1 if quick else 3
    _child(CASES)  # fill the on-disk cache
    warm: dict[str, list[tuple[dict, float]]] = {case: [] for case in CASES}
    warm_imports: list[float] = []
    for _ in range(repeat):
        for case, spec in CASES.items():
            got, wall = _child({case: spec})
            warm[case].append((got[case], wall))
            warm_imports.append(got["_import"])
    cold: dict[str, list[tuple[dict, float]]] = {}
    cold_imports: list[float] = []
    skipped: list[Result] = []
    for case, spec in CASES.items():
        if quick and case not in QUICK_COLD:
            skipped.append(missing(GROUP, case, "cold", 1, why="cold cache not measured with --quick"))
            continue
        with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache_dir:
            got, wall = _child({case: spec}, cache_dir=cache_dir)
        cold[case] = [(got[case], wall)]
        cold_imports.append(got["_import"])
    return _rows("warm", warm_imports, warm) + _rows("cold", cold_imports, cold) + skipped


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
