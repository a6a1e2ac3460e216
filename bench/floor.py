"""The machine's limits: memory bandwidth (a Numba triad) and the latency of a serial chain.

Two floors bound every kernel of the project:

* **Bandwidth.**  A kernel that streams arrays much larger than the last-level
  cache cannot beat ``bytes moved / bandwidth``.  The bandwidth is measured
  with the STREAM triad

  .. math::  a_i = b_i + s\\,c_i,

  over three float64 arrays far larger than the last-level cache, counted as
  STREAM counts it: 24 bytes per element (two reads and one write; the
  write-allocate read is not counted).  The same counting is used for the
  kernels' ``bytes_per_element`` (see ``_harness``), so
  ``floor_ns_per_element(bpe, threads) = bpe / bandwidth(threads)`` is the
  time a kernel would take if it ran at the triad's speed.

* **Latency.**  A 1-D EWA is one loop-carried multiply-add chain,

  .. math::  v \\leftarrow \\beta v + \\alpha x_i,

  so each element waits for the previous one: no amount of bandwidth or cores
  helps.  :func:`chain_ns_per_element` measures that chain alone (no store),
  as one fused multiply-add per element, the shortest dependency the
  hardware offers.

Every value is the best of several repeats and is cached for the life of the
process, so the group scripts can ask for it as often as they like.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Result, Timing, format_table, measure, result  # noqa: E402

from streamopt._kernels._common import fma  # noqa: E402

GROUP = "floor"

#: Elements per triad array: 3 x 8e7 bytes = 240 MB, far above any last-level cache.
TRIAD_ELEMENTS = 10_000_000
#: With ``--quick``: 3 x 4e7 bytes = 120 MB, still several times a 32 MB L3.
TRIAD_ELEMENTS_QUICK = 5_000_000
#: Bytes the triad moves per element (STREAM counting: read b, read c, write a).
TRIAD_BYTES_PER_ELEMENT = 24.0
#: Elements of the latency chain: long enough that call overhead vanishes.
CHAIN_ELEMENTS = 1_000_000

_numba_options = dict(cache=True, error_model="numpy", nogil=True)


@numba.njit(**_numba_options)
def _triad_serial(a, b, c, s):
    for i in range(a.shape[0]):
        a[i] = b[i] + s * c[i]


@numba.njit(parallel=True, **_numba_options)
def _triad_parallel(a, b, c, s):
    for i in numba.prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


@numba.njit(**_numba_options)
def _chain(x, beta, alpha):
    # beta and alpha arrive as scalars of x's dtype, so float32 stays float32;
    # the loop-carried dependency is one fused multiply-add per element
    v = alpha - alpha
    for i in range(x.shape[0]):
        v = fma(beta, v, alpha * x[i])
    return v


@numba.njit(**_numba_options)
def _chain_unfused(x, beta, alpha):
    # the same chain as a multiply then an add (two roundings, two latencies)
    v = alpha - alpha
    for i in range(x.shape[0]):
        v = beta * v + alpha * x[i]
    return v


@numba.njit(**_numba_options)
def recursion(x, beta, alpha, out):
    """The bare 1-D EWA recursion ``v = beta*v + alpha*x[i]`` stored into ``out``: no bias
    correction, no NaN test, no checks; the bound of a 1-D EWA that writes its output
    (``bench/ewm.py``, case ``mean-1d-bound``).  The step is one fused multiply-add, as in
    :func:`_chain`: the shortest dependency, so the bound is never looser than the library's loop."""
    v = alpha - alpha
    for i in range(x.shape[0]):
        v = fma(beta, v, alpha * x[i])
        out[i] = v
    return out


# process-wide caches: threads -> bytes/s, dtype name -> ns/element
_BANDWIDTH: dict[int, float] = {}
_BANDWIDTH_TIMING: dict[int, tuple[Timing, int]] = {}
_CHAIN: dict[str, float] = {}
_CHAIN_TIMING: dict[str, Timing] = {}


def all_threads() -> int:
    """The number of threads Numba may use (the cores available to this process)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def _measure_triad(threads: int, n: int, repeat: int) -> Timing:
    rng = np.random.default_rng(0)
    b = rng.random(n)
    c = rng.random(n)
    a = np.empty(n)
    if threads <= 1:
        kernel = _triad_serial
        return measure(lambda: kernel(a, b, c, 3.0), repeat=repeat, min_time=0.02)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return measure(lambda: _triad_parallel(a, b, c, 3.0), repeat=repeat, min_time=0.02)
    finally:
        numba.set_num_threads(previous)


def _triad(threads: int, quick: bool) -> bool:
    """Measure the triad with ``threads`` threads; keep it when it beats the best so far (True then)."""
    n = TRIAD_ELEMENTS_QUICK if quick else TRIAD_ELEMENTS
    timing = _measure_triad(threads, n, repeat=3 if quick else 7)
    bandwidth = TRIAD_BYTES_PER_ELEMENT * n / timing.best
    if bandwidth <= _BANDWIDTH.get(threads, 0.0):
        return False
    _BANDWIDTH[threads] = bandwidth
    _BANDWIDTH_TIMING[threads] = (timing, n)
    return True


def bandwidth_bytes_per_second(threads: int, *, quick: bool = False) -> float:
    """Memory bandwidth in bytes per second with ``threads`` threads (best of repeats).

    Measured once per process with the triad ``a = b + s*c`` over arrays far
    larger than the last-level cache (``quick`` uses smaller arrays and fewer
    repeats; it only matters for the first call, later calls return the cached
    value whichever way it was measured).

    Parameters
    ----------
    threads : int
        1 for one core; :func:`all_threads` for the whole machine.  Values
        above :func:`all_threads` are clipped to it.  With more than one
        thread the result is the better of that measurement and one core's
        (a busy machine can make the threaded triad slower than one core, and
        a kernel allowed several threads could always run on one).
    """
    threads = max(1, min(int(threads), all_threads()))
    for t in sorted({1, threads} - set(_BANDWIDTH)):
        _triad(t, quick)
    return max(_BANDWIDTH[1], _BANDWIDTH[threads])


def remeasure_bandwidth(*, quick: bool = False) -> bool:
    """Measure the triad again for every thread count measured so far; keep the better value.

    A floor is a best case: one busy moment during the first measurement (another
    process on a core) must not lower it for the whole run, or kernels would
    appear faster than the machine allows, and on a shared host the bandwidth
    changes with the other tenants' traffic.  The suite calls this between
    groups, beside every optimizer case the floor bounds, and at the end, and
    recomputes every floor from the best value.  Returns True when a bandwidth
    improved.
    """
    if not _BANDWIDTH:  # nothing measured yet: measure (and keep) one core and all cores
        bandwidth_bytes_per_second(all_threads(), quick=quick)
        return True
    return any([_triad(threads, quick) for threads in sorted(_BANDWIDTH)])


def last_level_cache_bytes() -> int | None:
    """Size of the largest CPU cache in bytes (Linux sysfs), or None when unknown.

    Data smaller than this may be served from cache, faster than memory: the
    bandwidth floor bounds only kernels whose data do not fit.
    """
    best = None
    for d in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (d / "size").read_text().strip()
            kind = (d / "type").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction" or not text:
            continue
        scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1].upper(), 1)
        try:
            size = int(text.rstrip("KMGkmg")) * scale
        except ValueError:
            continue
        best = size if best is None else max(best, size)
    return best


def floor_ns_per_element(bytes_per_element: float, threads: int, *, quick: bool = False) -> float:
    """The bandwidth floor: nanoseconds per element of a kernel moving ``bytes_per_element``.

    .. math::  t_{floor} = \\frac{\\text{bytes per element}}{\\text{bandwidth}(\\text{threads})}

    For example Adam in float32 reads and writes parameters, first and second
    moments and reads the gradient: 4 (2 + 2 + 2 + 1) = 28 bytes per parameter.
    """
    return float(bytes_per_element) / bandwidth_bytes_per_second(threads, quick=quick) * 1e9


def chain_ns_per_element(dtype: str = "float64", *, quick: bool = False, fused: bool = True) -> float:
    """The latency bound of a serial multiply-add chain ``v = b*v + a*x[i]``, ns per element.

    This is what a 1-D EWA must do for each element, one after the other: the
    fastest any 1-D EWA can be on this core (before stores and NaN tests).
    ``fused`` (the bound): one fused multiply-add per element, ``fma(b, v, a*x[i])``;
    otherwise a multiply then an add, for comparison.
    """
    dtype = np.dtype(dtype).name
    key = dtype if fused else f"{dtype}-unfused"
    if key not in _CHAIN:
        x = np.random.default_rng(1).random(CHAIN_ELEMENTS).astype(dtype)
        beta, alpha = x.dtype.type(0.9), x.dtype.type(0.1)
        kernel = _chain if fused else _chain_unfused
        timing = measure(lambda: kernel(x, beta, alpha), repeat=3 if quick else 7, min_time=0.02)
        _CHAIN[key] = timing.best / CHAIN_ELEMENTS * 1e9
        _CHAIN_TIMING[key] = timing
    return _CHAIN[key]


def run(quick: bool = False) -> list[Result]:
    """The floor itself: triad bandwidth on 1 and all cores, and the chain latency in float64/float32.

    Triad rows: ``size`` is the elements per array, ns/element is per triad
    element, ``extra`` holds ``gb_per_s`` and ``threads``.  Chain rows:
    ns/element is the latency of one fused multiply-add step (the floor), and
    ``chain-unfused`` of a multiply then an add (for comparison).
    """
    out: list[Result] = []
    for threads in sorted({1, all_threads()}):
        bandwidth_bytes_per_second(threads, quick=quick)
        timing, n = _BANDWIDTH_TIMING[threads]
        out.append(result(GROUP, f"triad-{threads}t", "numba", n, "float64", timing,
                          gb_per_s=_BANDWIDTH[threads] / 1e9, threads=threads,
                          bytes_per_element=TRIAD_BYTES_PER_ELEMENT))
    for fused in (True, False):
        for dtype in ("float64", "float32"):
            chain_ns_per_element(dtype, quick=quick, fused=fused)
            key = dtype if fused else f"{dtype}-unfused"
            out.append(result(GROUP, "chain" if fused else "chain-unfused", "numba", CHAIN_ELEMENTS, dtype,
                              _CHAIN_TIMING[key], threads=1))
    return out


if __name__ == "__main__":
    rows = run(quick="--quick" in sys.argv)
    print(format_table(rows))
    for threads, bw in sorted(_BANDWIDTH.items()):
        print(f"bandwidth with {threads} thread(s): {bw / 1e9:.1f} GB/s")
    print(f"(cores visible: {os.cpu_count()}, Numba threads: {all_threads()})")
