"""Benchmark group "dask": ``streamopt.dask.ewm`` out of core, on a LocalCluster of processes.

The data is Parquet written once (pyarrow) into a cache folder under the system's temporary
directory and reused: :data:`ROWS` float64 rows in :data:`PARTITIONS` files (``--quick``:
:data:`ROWS_QUICK` in :data:`PARTITIONS_QUICK`), read with ``dd.read_parquet`` (divisions
unknown).  Two cases, each ``ewm(alpha=ALPHA).mean()`` reduced to one number per column
(``.sum().compute()``: the result is never gathered):

- ``mean``: one column ``v``;
- ``mean-keyed``: ``v`` by ``k``, :data:`KEYS` keys spread over every partition.

Rows (libraries) per case:

- ``streamopt``: ``method="scan"`` on a 2-worker cluster (the baseline of every ratio);
- ``scan-1-worker``: the same on 1 worker (the ratio is the scan's scaling with cores);
- ``exact-2-workers``: ``method="exact"`` on 2 workers (its partitions run one after another);
- ``pandas``: read the whole file, ``DataFrame.ewm(alpha).mean()`` (``groupby(k).ewm`` keyed);
- ``streamopt-in-memory``: read the whole file, ``streamopt.ewm``.

One cluster per number of workers (1 thread each, each limited to :data:`WORKER_LIMIT`, less
than the full data: the work is out of core), its workers warmed up first (Numba's compilation);
one timed run per row.  ``extra["peak_rss_mb"]``: the largest peak resident memory of a worker
during the row (the peak is reset before each row, Linux), or of the process for the in-memory
rows (each in a new process).  The goal ``dask-scan-scales`` reads the ratio
``scan-1-worker`` / ``streamopt``.

    python bench/dask_ewm.py [--quick]

(Not ``bench/dask.py``: the bench folder is first on ``sys.path``, and that name would hide the dask package.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Result, format_table, missing, optional  # noqa: E402

GROUP = "dask"
ROWS, PARTITIONS = 200_000_000, 200
ROWS_QUICK, PARTITIONS_QUICK = 40_000, 4
KEYS = 10_000
ALPHA = 0.01
WORKER_LIMIT = "1GiB"
CACHE = Path(tempfile.gettempdir()) / "streamopt-bench-dask"


def dataset(rows: int, partitions: int, keyed: bool) -> Path:
    """The Parquet folder of ``rows`` rows in ``partitions`` files (made once; a file per partition)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = CACHE / f"{rows}-{partitions}-{'keyed' if keyed else 'plain'}"
    done = folder / "_complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2024)
    edges = np.linspace(0, rows, partitions + 1).astype(np.int64)
    for p in range(partitions):
        n = int(edges[p + 1] - edges[p])
        columns = {"v": rng.normal(size=n)}
        if keyed:
            columns["k"] = rng.integers(0, KEYS, size=n)
        pq.write_table(pa.table(columns), folder / f"part-{p:05d}.parquet")
    done.write_text("")
    return folder


def _reset_peak() -> bool:
    """Reset this process's peak resident memory (Linux: VmHWM); False where it cannot be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    """This process's peak resident memory since the last :func:`_reset_peak` (else since it started), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _warm() -> None:
    """Compile (or load from Numba's cache) every kernel the rows use, in this process."""
    import dask.dataframe as dd
    import pandas as pd

    import streamopt.dask

    small = dd.from_pandas(pd.DataFrame({"v": [1.0, 2.0, 3.0], "k": [0, 1, 0]}), npartitions=2)
    for method in ("exact", "scan"):
        for by, frame in ((None, small[["v"]]), ("k", small)):
            streamopt.dask.ewm(frame, alpha=ALPHA, by=by, method=method).mean().compute(scheduler="sync")


def _on_cluster(client: Any, folder: Path, method: str, keyed: bool) -> tuple[float, float]:
    """(seconds, the largest worker's peak RSS in MB during it) of one mean, reduced to a number per column."""
    import dask.dataframe as dd

    import streamopt.dask

    lazy = streamopt.dask.ewm(dd.read_parquet(folder), alpha=ALPHA, by="k" if keyed else None, method=method)
    total = lazy.mean().sum()
    client.run(_reset_peak)
    t0 = time.perf_counter()
    total.compute()
    seconds = time.perf_counter() - t0
    return seconds, max(client.run(_peak_rss_mb).values())


IN_MEMORY = r"""
import json, resource, sys, time
import pandas as pd
folder, alpha, keyed, library = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
import streamopt
small = pd.DataFrame({"v": [1.0, 2.0], "k": [0, 1]})
streamopt.ewm(small[["v"]], alpha=alpha).mean(); streamopt.ewm(small, alpha=alpha, by="k").mean()
t0 = time.perf_counter()
df = pd.read_parquet(folder)
if library == "pandas":
    out = df.groupby("k")["v"].ewm(alpha=alpha).mean() if keyed else df["v"].ewm(alpha=alpha).mean()
else:
    out = streamopt.ewm(df, alpha=alpha, by="k").mean() if keyed else streamopt.ewm(df[["v"]], alpha=alpha).mean()
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _in_memory(folder: Path, keyed: bool, library: str) -> tuple[float, float] | str:
    """(seconds, peak RSS in MB) of reading the whole file and one in-memory mean, in a new process;
    or why it has no time (the process was killed, e.g. by the kernel when memory ran out)."""
    out = subprocess.run([sys.executable, "-c", IN_MEMORY, str(folder), str(ALPHA), "1" if keyed else "0", library],
                         capture_output=True, text=True, env=os.environ.copy())
    if out.returncode < 0:
        return (f"the process was killed by signal {-out.returncode} (SIGKILL: the machine's memory ran out)"
                if out.returncode == -9 else f"the process was killed by signal {-out.returncode}")
    if out.returncode != 0:
        raise RuntimeError(f"{library} in memory failed: {out.stderr.strip().splitlines()[-1:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return got["seconds"], got["peak_rss_mb"]


def run(quick: bool = False) -> list[Result]:
    rows, partitions = (ROWS_QUICK, PARTITIONS_QUICK) if quick else (ROWS, PARTITIONS)
    results: list[Result] = []
    libraries = ("streamopt", "scan-1-worker", "exact-2-workers", "pandas", "streamopt-in-memory")
    if optional("distributed") is None or optional("pyarrow") is None or optional("dask.dataframe") is None:
        return [missing(GROUP, case, lib, rows, "float64", "dask[dataframe], distributed or pyarrow not installed")
                for case in ("mean", "mean-keyed") for lib in libraries]
    import distributed

    folders = {keyed: dataset(rows, partitions, keyed) for keyed in (False, True)}
    cases = (("mean", False), ("mean-keyed", True))
    extra = {"partitions": partitions, "worker_limit": WORKER_LIMIT, "repeats": 1}
    runs = {1: (("scan-1-worker", "scan"),), 2: (("streamopt", "scan"), ("exact-2-workers", "exact"))}
    rows_of: dict[tuple[str, str], Result] = {}
    for workers, methods in runs.items():  # one cluster per size, its workers warmed up (Numba) before timing
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      memory_limit=WORKER_LIMIT, dashboard_address=":0", silence_logs=50) as cluster, \
                distributed.Client(cluster) as client:
            client.run(_warm)
            for case, keyed in cases:
                for library, method in methods:
                    seconds, peak = _on_cluster(client, folders[keyed], method, keyed)
                    rows_of[case, library] = Result(GROUP, case, library, rows, "float64", seconds, 0.0,
                                                    {**extra, "workers": workers, "method": method,
                                                     "peak_rss_mb": peak})
    for case, keyed in cases:
        for library in ("pandas", "streamopt-in-memory"):
            got = _in_memory(folders[keyed], keyed, library)
            if isinstance(got, str):
                rows_of[case, library] = missing(GROUP, case, library, rows, "float64", got)
                continue
            seconds, peak = got
            rows_of[case, library] = Result(GROUP, case, library, rows, "float64", seconds, 0.0,
                                            {**extra, "peak_rss_mb": peak})
    results = [rows_of[case, library] for case, _ in cases for library in libraries]
    return results


if __name__ == "__main__":
    rows = run(quick="--quick" in sys.argv)
    print(format_table(rows))
    for r in rows:
        peak = r.extra.get("peak_rss_mb", float("nan"))
        print(f"{r.case:12s} {r.library:22s} {r.seconds:9.3f} s  peak RSS {peak:8.0f} MB")
