"""Two checkouts of streamopt, the same cases, interleaved: is a change faster or slower?

    python bench/ab.py BEFORE [AFTER] [--case NAME ...] [--rounds N]

BEFORE and AFTER are source checkouts (folders holding ``streamopt/``; AFTER
defaults to this one), e.g. a ``git worktree add /tmp/before <commit>``.  Every
round runs each case once per checkout, alternating, each time in a new process
importing that checkout (``PYTHONPATH``), so drifting machine load hits both
sides alike; a case's time is its best over the rounds.  ``cold-*`` cases copy
the package to an empty folder first (no Numba cache: the first call compiles).
The full suite (``streamopt bench --compare``) measures every case once per run;
this script is for the rows whose before/after differ by more than their
spread, to tell a change from a noisy neighbour.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: case -> (set-up, timed statement, calls per repeat); "cold-*" cases time one first call.
CASES: dict[str, tuple[str, str, int]] = {
    "update-1": ("s = streamopt.EWA(0.9); s.update(1.0)", "s.update(1.0)", 20_000),
    "chunk-10": ("x = rng.normal(size=10); s = streamopt.EWA(0.9); s.update(x)", "s.update(x)", 20_000),
    "chunk-1e5": ("x = rng.normal(size=100_000); s = streamopt.EWA(0.9); s.update(x)", "s.update(x)", 200),
    "ewa-2d-F-1e7": ("x = np.asfortranarray(rng.normal(size=(100_000, 100))); streamopt.ewa(x, 0.9)",
                     "streamopt.ewa(x, 0.9)", 5),
    **{f"{name.lower()}-{size}-{dtype}": (
        f"p = np.zeros({size}, '{dtype}'); g = rng.normal(size={size}).astype('{dtype}'); "
        f"o = streamopt.{name}(p, lr=1e-3); o.step(g)", "o.step(g)", 20)
       for name, size, dtype in (("SGD", "10**7", "float32"), ("Momentum", "10**7", "float64"),
                                 ("Adam", "10**6", "float64"), ("Adam", "10**7", "float32"))},
    "sgd-10": ("p = np.zeros(10); g = np.ones(10); o = streamopt.SGD(p, lr=1e-3); o.step(g)", "o.step(g)", 20_000),
    "cold-ewa": ("x = rng.random(1000)", "streamopt.ewa(x, 0.9)", 1),
    "cold-EWA.update": ("", "streamopt.EWA(0.9).update(1.0)", 1),
    "cold-SGD.step": ("p = np.zeros(100); g = np.full(100, 0.5)", "streamopt.SGD(p, lr=0.01).step(g)", 1),
}

_CHILD = r"""
import sys, time, timeit
import numpy as np
import streamopt
rng = np.random.default_rng(0)
setup, stmt, number = sys.argv[1], sys.argv[2], int(sys.argv[3])
exec(setup)
if number == 1:
    t0 = time.perf_counter(); exec(stmt); print(time.perf_counter() - t0)
else:
    print(min(timeit.repeat(stmt, number=number, repeat=5, globals=globals())) / number)
"""


def run_case(checkout: Path, case: str) -> float:
    """Seconds per call of ``case`` in a new process importing ``checkout``'s streamopt."""
    setup, stmt, number = CASES[case]
    with tempfile.TemporaryDirectory() as tmp:
        source = checkout
        if case.startswith("cold-"):
            source = Path(tmp)
            shutil.copytree(checkout / "streamopt", source / "streamopt",
                            ignore=shutil.ignore_patterns("__pycache__"))
        env = dict(os.environ, PYTHONPATH=str(source))
        out = subprocess.run([sys.executable, "-c", _CHILD, setup, stmt, str(number)], env=env, cwd=tmp,
                             capture_output=True, text=True, timeout=600, check=True)
    return float(out.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="checkout before the change")
    parser.add_argument("after", type=Path, nargs="?", default=ROOT, help="checkout after (default: this one)")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="cases to run (default: all)")
    parser.add_argument("--rounds", type=int, default=3, help="alternations per case (default 3)")
    args = parser.parse_args(argv)
    for side in (args.before, args.after):
        if not (side / "streamopt" / "__init__.py").is_file():
            parser.error(f"{side} holds no streamopt/ package")
    cases = args.case or list(CASES)
    print(f"before: {args.before}\nafter:  {args.after}\nbest of {args.rounds} alternating rounds, "
          "each in a new process\n")
    print("| case | before | after | after / before |\n|---|---|---|---|")
    for case in cases:
        best = {"before": float("inf"), "after": float("inf")}
        for _ in range(args.rounds):
            for side, path in (("before", args.before), ("after", args.after)):
                best[side] = min(best[side], run_case(path.resolve(), case))
        unit, scale = ("s", 1.0) if case.startswith("cold-") else ("µs", 1e6)
        print(f"| {case} | {best['before'] * scale:.4g} {unit} | {best['after'] * scale:.4g} {unit} | "
              f"{best['after'] / best['before']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
