"""What a busy machine does to the parallel optimizer kernels (not part of the suite: run it by hand).

A parallel step is as fast as its slowest thread.  When every core is busy
with other work, a woken worker thread waits for a time slice, and with
OpenMP's default wait policy the calling thread *spins* at the barrier,
holding the one core the worker could have used.  This script times one Adam
step (float32, checked) with the serial and with the parallel kernels, called
back to back and called in isolation (10 ms of sleep before each call, so the
workers have gone idle), and the same for ``streamopt.ewa`` of a column-major
float64 array (100 series), under three settings, each in a new process:

``default``            Numba's OpenMP layer with the default (active) wait policy
``OMP_WAIT_POLICY=passive``  waiting threads sleep instead of spinning
``NUMBA_NUM_THREADS=1``      one thread: the parallel kernels run on the caller alone

Run it once on a quiet machine and once with every core busy (for example
with ``python -c "while True: pass" &`` once per core) and compare::

    python bench/threads.py [--sizes 100000 1000000]

The load average is printed with each table; times are microseconds per step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SETTINGS = {
    "default": {},
    "OMP_WAIT_POLICY=passive": {"OMP_WAIT_POLICY": "passive"},
    "NUMBA_NUM_THREADS=1": {"NUMBA_NUM_THREADS": "1"},
}


def _times(call) -> dict:
    """Back-to-back and isolated (after 10 ms of sleep) seconds per call."""
    for _ in range(3):
        call()
    k = 20
    t0 = time.perf_counter()
    for _ in range(k):
        call()
    back_to_back = (time.perf_counter() - t0) / k
    isolated = []
    for _ in range(30):
        time.sleep(0.01)
        t0 = time.perf_counter()
        call()
        isolated.append(time.perf_counter() - t0)
    isolated.sort()
    return {"back_to_back": back_to_back, "isolated_median": isolated[len(isolated) // 2],
            "isolated_p90": isolated[int(0.9 * len(isolated))]}


def _child(n: int, what: str) -> dict:
    """Time the serial and the parallel kernels in this process (called in a subprocess).

    ``what`` is ``adam`` (one checked float32 Adam step of ``n`` parameters) or
    ``ewa`` (``streamopt.ewa`` of a column-major float64 array of ``n`` values
    as ``n // 100`` rows × 100 series).
    """
    import importlib

    import numpy as np

    module = importlib.import_module("streamopt.optim" if what == "adam" else "streamopt.ewa")
    out = {}
    saved = module.PARALLEL_MIN_BYTES
    try:
        for mode, min_bytes in (("serial", 2**62), ("parallel", 0)):
            module.PARALLEL_MIN_BYTES = min_bytes
            if what == "adam":
                g = np.full(n, 1e-3, np.float32)
                opt = module.Adam(np.ones(n, np.float32), 1e-6)
                out[mode] = _times(lambda: opt.step(g))
            else:
                x = np.asfortranarray(np.random.default_rng(0).normal(size=(n // 100, 100)))
                out[mode] = _times(lambda: module.ewa(x, 0.9, bias_correction=True))
    finally:
        module.PARALLEL_MIN_BYTES = saved
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="Adam: parameters per step")
    parser.add_argument("--ewa-sizes", type=int, nargs="*", default=[2_000_000],
                        help="EWA: values of the column-major input (rows x 100 series)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--what", default="adam", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.what)))
        return
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'what':5} {'setting':26} {'n':>9}  {'kernels':8} {'back to back':>13} {'isolated (median)':>18} "
          f"{'isolated (p90)':>15}")
    for what, sizes in (("adam", args.sizes), ("ewa", args.ewa_sizes)):
        for n in sizes:
            for name, env in SETTINGS.items():
                run = subprocess.run([sys.executable, __file__, "--child", str(n), "--what", what],
                                     env={**os.environ, **env}, capture_output=True, text=True, check=True)
                res = json.loads(run.stdout.strip().splitlines()[-1])
                for mode, r in res.items():
                    print(f"{what:5} {name:26} {n:>9}  {mode:8} {r['back_to_back'] * 1e6:>10.0f} µs "
                          f"{r['isolated_median'] * 1e6:>15.0f} µs {r['isolated_p90'] * 1e6:>12.0f} µs")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
