"""The benchmark suite in one command: every group, a table per group, JSON, a Markdown report, plots.

    python bench/run.py [--quick] [--only GROUP ...] [--out DIR] [--compare OLD/results.json]
    streamopt bench    [--quick] [--only GROUP ...] [--out DIR] [--compare OLD/results.json]

Groups (one script each in ``bench/``, each with ``run(quick) -> list[Result]``):

    floor    the machine's limits: triad memory bandwidth, serial multiply-add latency
    ewa      batch EWA, 1-D and 2-D, vs pandas, polars, numbagg, NumPy
    stream   streaming EWA updates vs river and pandas online
    ewm      pandas-compatible EW statistics (times, var, std, cov, corr) vs pandas, polars
    optim    fused optimizer steps vs torch.optim and NumPy
    train    the notes' experiment vs its NumPy form and PyTorch
    startup  import + first call in a new process, warm and cold Numba cache
    service  the statistics service over loopback HTTP: batches, single requests, durability

A group whose script is missing or raises is reported as such and the others
still run; the exit status is then 1.  ``--quick`` uses fewer sizes and
repeats (the whole suite in under a minute); its numbers are indicative only.
``--compare`` adds streamopt's before/after (an earlier ``results.json``)
per group and the earlier verdict of each goal.  ``python bench/report.py
results.json [--compare OLD]`` re-renders a report without measuring.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _harness import Result, format_table  # noqa: E402

#: group -> script (module) in bench/, in the order they run (floor first: the others reuse its cache).
GROUPS: dict[str, str] = {
    "floor": "floor",
    "ewa": "ewa",
    "stream": "stream",
    "ewm": "ewm",
    "optim": "optimizers",
    "train": "train",
    "startup": "startup",
    "service": "service",
}

#: distributions whose version the header prints ("missing" when not installed).
VERSIONS = ("streamopt", "numpy", "numba", "pandas", "matplotlib", "polars", "numbagg", "river", "torch")

DEFAULT_OUT = "bench-results"


# --------------------------------------------------------------------------- machine
def _proc(path: str, *keys: str) -> str | None:
    """The value of the first ``key: value`` line of a /proc file whose key starts with one of ``keys``."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.lower().startswith(keys):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python and the version of every library measured."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:
        available = os.cpu_count()
    try:
        floor = importlib.import_module("floor")
        llc, threads = floor.last_level_cache_bytes(), floor.all_threads()
    except Exception:
        llc, threads = None, None
    memory = _proc("/proc/meminfo", "memtotal")  # "24641960 kB"
    return {
        "cpu": _proc("/proc/cpuinfo", "model name", "hardware", "cpu model") or platform.processor()
        or platform.machine() or "unknown",
        "last-level cache (MB)": None if llc is None else round(llc / 1024**2, 1),
        "cores": os.cpu_count(),
        "cores available": available,
        "numba threads": threads,
        "memory (GB)": None if memory is None else round(int(memory.split()[0]) / 1024**2, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load average at start (1, 5, 15 min)": _load_average(),
        "versions": {name: _version(name) for name in VERSIONS},
    }


def _threading_layer() -> str:
    """Numba's threading layer once a parallel kernel has run (it changes how threads wait)."""
    if "numba" not in sys.modules:
        return "not loaded"
    try:
        return str(sys.modules["numba"].threading_layer())
    except ValueError:  # no parallel kernel ran in this process
        return "not initialised"


def machine_header(machine: dict[str, Any]) -> str:
    lines = [f"{k}: {v}" for k, v in machine.items() if k != "versions"]
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    return "\n".join(lines)


# --------------------------------------------------------------------------- floors
def _sample_bandwidth() -> None:
    """Measure the triad once more (between groups): the floors use the best bandwidth of the run."""
    try:
        floor = importlib.import_module("floor")
        if floor._BANDWIDTH:
            floor.remeasure_bandwidth()
    except Exception:  # the floor is optional; set_floors reports problems
        pass


def set_floors(results: list[Result], quick: bool) -> str | None:
    """Measure the triad once more, then fill ``extra["floor_ns_per_element"]`` on streamopt rows
    that state their ``bytes_per_element``, from the best bandwidth of the run.

    The floor is ``bytes_per_element / triad bandwidth(threads)`` (threads: the
    row's ``threads``, default all cores); with ``floor="chain"`` it is the
    serial multiply-add latency of the dtype, or the one-core bandwidth floor
    when that is slower and the data do not fit in the last-level cache (a
    chain floor a script set itself stands).
    EWA rows (groups ``ewa`` and ``stream``) without ``bytes_per_element`` get
    the operation's minimum, read x and write the output (2 · itemsize), and a
    chain floor unless the case is ``2d`` (one series is one serial chain).
    Bandwidth rows whose bytes (size × bytes_per_element) fit in the last-level
    cache get ``in_cache=True``: the memory floor does not bound them.  The
    floor group's triad rows show the best measurement, and a script's own
    ``floor`` rows with ``bytes_per_element`` are recomputed from it.
    Returns an error message when the floor could not be measured.
    """
    for r in results:  # EWA's irreducible traffic when its script does not state it: read x, write out
        if (r.group in ("ewa", "stream") and r.library == "streamopt" and "bytes_per_element" not in r.extra
                and r.dtype in ("float32", "float64")):
            r.extra["bytes_per_element"] = 2 * (4 if r.dtype == "float32" else 8)
            r.extra.setdefault("floor", "bandwidth" if r.case.startswith("2d") else "chain")
    try:
        floor = importlib.import_module("floor")
        if floor._BANDWIDTH:  # (the samples between groups may have raised it too)
            floor.remeasure_bandwidth(quick=quick)
        llc = floor.last_level_cache_bytes()
        for r in results:
            bpe = r.extra.get("bytes_per_element")
            if r.group == "floor" and r.case.startswith("triad-") and r.extra.get("threads") in floor._BANDWIDTH:
                timing, _ = floor._BANDWIDTH_TIMING[r.extra["threads"]]
                r.seconds, r.spread = timing.best, timing.spread
                r.extra["gb_per_s"] = floor._BANDWIDTH[r.extra["threads"]] / 1e9
                continue
            if bpe is None or "missing" in r.extra or r.library not in ("streamopt", "floor") or r.group == "floor":
                continue
            in_cache = llc is not None and r.size * float(bpe) < llc
            if r.extra.get("floor") == "chain":  # the latency holds wherever the data are; the bandwidth out of cache
                if r.library == "floor" or "floor_ns_per_element" in r.extra:
                    continue
                value = floor.chain_ns_per_element(r.dtype or "float64", quick=quick)
                if not in_cache:
                    value = max(value, floor.floor_ns_per_element(float(bpe), 1, quick=quick))
            else:
                threads = int(r.extra.get("threads") or floor.all_threads())
                value = floor.floor_ns_per_element(float(bpe), threads, quick=quick)
                if r.library == "floor":
                    r.seconds = value * r.size * 1e-9
                    continue
                r.extra["in_cache"] = in_cache  # data in the cache are not bound by the memory bandwidth
            r.extra["floor_ns_per_element"] = value
    except Exception as exc:  # the numbers of the groups stand without a floor
        return f"floor not computed: {type(exc).__name__}: {exc}"
    return None


# --------------------------------------------------------------------------- suite
def _load(module_name: str):
    """Import a group script; returns (module, None) or (None, (status, detail))."""
    try:
        return importlib.import_module(module_name), None
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None, ("missing", f"bench/{module_name}.py not found")
        return None, ("failed", f"import of bench/{module_name}.py: {type(exc).__name__}: {exc}")
    except Exception as exc:
        return None, ("failed", f"import of bench/{module_name}.py: {type(exc).__name__}: {exc}")


def _valid(rows: Any) -> list[Result]:
    if not isinstance(rows, list) or not all(isinstance(r, Result) for r in rows):
        raise TypeError(f"run() must return a list of Result, not {str(rows)[:200]}")
    return rows


def run_suite(*, quick: bool = False, only: Sequence[str] | None = None, out: str | Path = DEFAULT_OUT,
              echo: Callable[[str], None] = lambda s: print(s, flush=True),
              command: str | None = None, compare: str | Path | None = None) -> int:
    """Run the selected groups, print their tables, write the report into ``out``.

    ``compare``: the ``results.json`` of an earlier run (e.g. before a kernel
    change); the report then shows streamopt's before/after per group.

    Returns 0 when every selected group ran, 1 when one is missing or failed
    (its section in the report says why; the others are complete).
    """
    selected = [g for g in GROUPS if not only or g in only]
    unknown = sorted(set(only or ()) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    if compare is not None and not Path(compare).is_file():
        raise FileNotFoundError(f"--compare {compare}: no such results.json")
    if command is None:
        command = "streamopt bench" + (" --quick" if quick else "") + "".join(f" --only {g}" for g in only or ())
    machine = machine_info()
    echo(machine_header(machine))
    results: list[Result] = []
    groups: dict[str, dict[str, Any]] = {}
    t_suite = time.perf_counter()
    for group in selected:
        echo(f"\n== {group} (bench/{GROUPS[group]}.py{', quick' if quick else ''}) ==")
        t0 = time.perf_counter()
        module, problem = _load(GROUPS[group])
        if problem is None:
            try:
                rows = _valid(module.run(quick=quick))
            except Exception as exc:
                tb = traceback.format_exception(exc)
                problem = ("failed", f"{type(exc).__name__}: {exc}")
                echo("".join(tb[-3:]).rstrip())
            else:
                results.extend(rows)
                echo(format_table(rows) if rows else "(no rows)")
        seconds = time.perf_counter() - t0
        if problem is None:
            groups[group] = {"status": "ok", "seconds": seconds}
        else:
            groups[group] = {"status": problem[0], "detail": problem[1], "seconds": seconds}
            echo(f"{group}: {problem[0]}: {problem[1]}")
        echo(f"({group}: {seconds:.1f} s)")
        if group != "floor" and not quick:
            _sample_bandwidth()
    floor_error = set_floors(results, quick)
    if floor_error:
        echo(floor_error)
    import report

    machine["load average at end (1, 5, 15 min)"] = _load_average()
    machine["numba threading layer"] = _threading_layer()
    machine["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "not set")
    written = report.write_report(Path(out), machine, results, groups, quick=quick, command=command,
                                  before=None if compare is None else Path(compare))
    goals = report.evaluate_goals(results)
    echo("\n== goals ==")
    for g in goals:
        echo(f"{g.status:>13}  {g.name}: {g.measured}")
    echo(f"\nwrote {', '.join(str(p) for p in written.values())} ({time.perf_counter() - t_suite:.0f} s in all)")
    return 0 if all(info["status"] == "ok" for info in groups.values()) else 1


def build_parser(prog: str = "python bench/run.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="fewer sizes and repeats: the whole suite in under a minute")
    parser.add_argument("--only", action="append", choices=list(GROUPS), metavar="GROUP",
                        help=f"run only this group (repeatable): {', '.join(GROUPS)}")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help="folder for results.json, report.md and the plots (default: %(default)s)")
    parser.add_argument("--compare", metavar="OLD_JSON",
                        help="results.json of an earlier run: the report shows streamopt's before/after")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.compare is not None and not Path(args.compare).is_file():
        parser.error(f"--compare {args.compare}: no such results.json")
    return run_suite(quick=args.quick, only=args.only, out=args.out, compare=args.compare,
                     command="python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
