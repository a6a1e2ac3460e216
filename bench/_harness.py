"""Timing utilities shared by every benchmark script in ``bench/``.

Machines here are shared and noisy, so a measurement is the **best** of several
repeats (each repeat long enough to be well above timer resolution), reported
with its spread (median / best − 1).  Benchmarks compare libraries measured in
the same run and report ratios.

Conventions for :class:`Result` (read by ``bench/run.py`` and ``bench/report.py``)
---------------------------------------------------------------------------------
``library``
    ``"streamopt"`` is the baseline of every ratio: peer seconds / streamopt
    seconds, so ``3x`` means streamopt is 3 times faster.  Peers are named after
    the library: ``"pandas"``, ``"polars"``, ``"numbagg"``, ``"river"``,
    ``"numpy"`` (the NumPy reference / the notes' NumPy form), and for PyTorch
    names starting with ``"torch"`` (``"torch-forloop"``, ``"torch-foreach"``,
    ``"torch-fused"``, ``"torch"``): "torch's fastest path" is the fastest of them.
    A row with library ``"floor"`` (a script that measures its own floor) is the
    floor column of its (case, size, dtype), not a library.
``case``
    ``ewa``: starts with ``"1d"`` or ``"2d"`` (the goals pick rows by that prefix).
    ``optim``: starts with the optimizer's name (``"sgd"``, ``"momentum"``,
    ``"rmsprop"``, ``"adam"``, ``"adamw"``).
``size``
    Elements per call: values (n·k for 2-D), parameters, values per update call.
``extra`` keys
    ``bytes_per_element`` (float, on the streamopt row): bytes the operation
    must move per element, counted as STREAM counts them: each array read adds
    its itemsize, each array written adds it again, no write-allocate.  EWA
    float64: read x, write out = 16; Adam float32: parameters, m and v read and
    written, gradient read = 4·(2+2+2+1) = 28.  The runner turns it into the
    bandwidth floor ``bytes_per_element / triad bandwidth(threads)``
    (``bench/floor.py``).  Groups ``ewa`` and ``stream`` may leave it out: the
    runner then uses EWA's minimum, 2 · itemsize, with a ``chain`` floor
    except for ``2d`` cases.
    ``threads`` (int): threads the kernel may use at that size (default: all
    cores); picks the triad bandwidth of 1 core or of all cores.
    ``floor`` (str): ``"bandwidth"`` (default) or ``"chain"`` for a serial
    recurrence (1-D EWA), whose floor is the slower of the multiply-add chain's
    latency and the one-core bandwidth.
    ``floor_ns_per_element`` (float): the floor itself, filled in by the
    runner from the keys above unless a script sets it.
    ``compile_seconds`` (float): one-time compilation, reported apart.
    ``first_call_seconds`` / ``import_seconds`` (float): a start-up row (a new
    process's import and first call); the report shows such rows in seconds
    and leaves them out of the per-element plots.
    ``repeats`` (int, optional): how many repeats the best is taken from; with 1
    the report writes "(1 run)" instead of a spread.
    ``missing`` (str): set by :func:`missing`: why the library was not measured.
"""

from __future__ import annotations

import importlib
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable


@dataclass
class Timing:
    """Seconds per call: the best repeat, the median repeat, and their spread."""

    best: float
    median: float
    repeats: int
    number: int

    @property
    def spread(self) -> float:
        """median / best − 1: 0.05 means the median repeat was 5% slower than the best."""
        return self.median / self.best - 1.0 if self.best > 0 else float("nan")


def measure(fn: Callable[[], Any], *, repeat: int = 5, min_time: float = 0.05,
            max_number: int = 1_000_000, setup: Callable[[], Any] | None = None) -> Timing:
    """Time ``fn()`` (after one warm-up call): ``repeat`` repeats of ``number`` calls.

    ``number`` is chosen so that one repeat lasts at least ``min_time`` seconds.
    ``setup`` (optional) runs before every repeat, outside the timing (e.g. to
    reset state that ``fn`` mutates).
    """
    if setup is not None:
        setup()
    fn()  # warm-up: compilation, caches, first-touch page faults
    number = 1
    while True:
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time or number >= max_number:
            break
        number = min(max_number, max(number * 2, int(number * min_time / max(elapsed, 1e-9) * 1.2)))
    times = [elapsed / number]
    for _ in range(repeat - 1):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return Timing(best=min(times), median=statistics.median(times), repeats=repeat, number=number)


def optional(module: str) -> Any | None:
    """Import a peer library, or return None when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


@dataclass
class Result:
    """One measured case: ``library`` doing ``case`` at ``size`` elements in ``dtype``."""

    group: str                 # "ewa", "stream", "optim", "train", "startup", "floor"
    case: str                  # e.g. "1d", "2d-C", "adam", "update-1"
    library: str               # "streamopt", "pandas", "numbagg", "torch-fused", "floor", ...
    size: int                  # elements / parameters / values per call
    dtype: str                 # "float32", "float64" or ""
    seconds: float             # best time per call
    spread: float              # median / best − 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ns_per_element(self) -> float:
        return self.seconds / max(self.size, 1) * 1e9

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ns_per_element"] = self.ns_per_element
        return d


def timing_options(quick: bool) -> dict[str, Any]:
    """:func:`measure`'s repeats and minimum repeat time for a group's cases (``--quick``: fewer, shorter)."""
    return {"repeat": 3, "min_time": 0.02} if quick else {"repeat": 5, "min_time": 0.1}


def result(group: str, case: str, library: str, size: int, dtype: str, timing: Timing, **extra: Any) -> Result:
    """A :class:`Result` from a :class:`Timing`."""
    return Result(group, case, library, int(size), dtype, timing.best, timing.spread, dict(extra))


def missing(group: str, case: str, library: str, size: int = 0, dtype: str = "", why: str = "not installed") -> Result:
    """A peer that could not be measured: reported as missing, never silently dropped."""
    return Result(group, case, library, size, dtype, float("nan"), float("nan"), {"missing": why})


def format_table(results: list[Result]) -> str:
    """The rows as the report shows them: a Markdown table per group (see ``report.group_table``)."""
    import report

    return "\n\n".join(report.group_table(results, g) for g in dict.fromkeys(r.group for r in results))
