"""Benchmark group "service": the statistics service over loopback HTTP, the server and its clients in
separate processes.

Cases (``size`` is observations per request; ``ns_per_element`` the time per observation of the whole
service, wall clock, all clients together):

- ``batch-10000x4``: 4 producer processes, each sending batches of 10,000 observations over 1,000
  keys with :class:`streamopt.client.Client` (``results=False``: the acknowledgement only), one
  request at a time.  ``seconds`` = wall time / batches acknowledged.  Libraries: ``streamopt``
  (``--durability full``: every acknowledged batch fsynced), ``streamopt-normal``, ``streamopt-memory``
  (``--db :memory:``) — the cost of durability as ratios —, ``streamopt-results`` (full, with each
  observation's statistics in the answer: ``results=True``) and ``river``: one ``stats.EWMean`` per
  key in a dict, updated in this process, no network, no durability.
- ``request-1x64``: 64 concurrent connections each sending single-observation requests (its own
  producer, seq 1, 2, ...) as fast as the answers come, from 2 load-generator processes (asyncio
  over raw sockets, keep-alive, prepared request bytes: little client CPU per request).
  ``seconds`` = wall time / requests (1 / requests per second); ``request-1x64-p50`` and
  ``request-1x64-p99`` hold the latency percentiles (seconds per request, measured by the clients
  from sending the request to the last byte of the answer).

Every row's ``extra`` has the wall seconds and the CPU seconds the server and the clients used
(the server and the clients share the machine's cores: ``cpu``).  Each case runs ``rounds`` rounds
against the same server; the best round is the row, the median gives the spread.

    python bench/service.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Result, format_table, measure, missing, optional  # noqa: E402

GROUP = "service"
KEYS = 1_000
BATCH = 10_000
PRODUCERS = 4
CONNECTIONS = 64
REQUEST_PROCESSES = 2
ALPHA = 0.1
STREAM = "bench"
#: (rounds, batches per producer per round, seconds per request round)
FULL = (3, 25, 3.0)
QUICK = (1, 6, 1.0)
SERVER_START_SECONDS = 120.0


# --------------------------------------------------------------------------- the server
def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc), NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class Server:
    """``python -m streamopt serve`` in its own process on a free loopback port; stopped by SIGTERM."""

    def __init__(self, durability: str, folder: Path) -> None:
        db = ":memory:" if durability == "memory" else str(folder / f"{durability}.db")
        argv = [sys.executable, "-m", "streamopt", "serve", "--db", db, "--port", "0", "--host", "127.0.0.1"]
        if durability != "memory":
            argv += ["--durability", durability]
        self.log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a full pipe would stall the server
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = self._url()

    def _url(self) -> str:
        deadline = time.monotonic() + SERVER_START_SECONDS
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"https?://[^\s/]+", line)
            if m:
                return m.group(0)
        self.stop()
        self.log.seek(0)
        raise RuntimeError(f"the server did not print its URL: {''.join(lines)[-500:]}{self.log.read()[-2000:]}")

    def cpu(self) -> float:
        return _cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        _stop(self.proc, self.proc.terminate)
        self.log.close()


def _stop(proc: subprocess.Popen, ask: Any) -> None:
    """``ask()`` the process to end (SIGTERM, or closing its input), kill it after 30 s; close its output."""
    if proc.poll() is None:
        ask()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.stdout.close()


# --------------------------------------------------------------------------- load generators (subprocesses)
class Worker:
    """``python bench/service.py --worker KIND ARGS``: prints "ready", then one JSON line per "go"."""

    def __init__(self, kind: str, **args: Any) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", kind, json.dumps(args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline()
        if ready.strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"{kind} worker did not start: {ready!r}")

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"a worker died (exit status {self.proc.wait()})")
        out = json.loads(line)
        if "error" in out:
            raise RuntimeError(f"a worker failed: {out['error']}")
        return out

    def stop(self) -> None:
        _stop(self.proc, self.proc.stdin.close)


def key_names() -> list[str]:
    return [f"k{i:04d}" for i in range(KEYS)]


def _batch_worker(url: str, producer: int, batches: int, results: bool) -> None:
    """Send ``batches`` batches of ``BATCH`` observations per "go", one request at a time."""
    from streamopt.client import Client

    rng = np.random.default_rng(producer)
    keys = np.array(key_names())[rng.integers(0, KEYS, size=(batches, BATCH))]
    values = rng.normal(size=(batches, BATCH))
    with Client(url, producer=f"bench-batch-{producer}", timeout=120, retries=0) as client:
        print("ready", flush=True)
        for _ in sys.stdin:
            cpu0, t0 = time.process_time(), time.time()
            applied = 0
            for b in range(batches):
                applied += client.send(STREAM, keys[b], values[b], results=results).applied
            print(json.dumps({"start": t0, "end": time.time(), "applied": applied, "requests": batches,
                              "cpu": time.process_time() - cpu0}), flush=True)


async def _connection(host: str, port: int, producer: str, key: str, seq0: int, until: float,
                      latencies: list[float]) -> int:
    """One keep-alive connection sending single observations until ``until``; returns the next seq."""
    reader, writer = await asyncio.open_connection(host, port)
    head = (f"POST /v1/streams/{STREAM}/observations HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: ")
    seq = seq0
    clock = time.perf_counter
    try:
        while clock() < until:
            body = f'{{"producer":"{producer}","seq":{seq},"keys":["{key}"],"values":[{seq % 97 * 0.5}]}}'
            t0 = clock()
            writer.write(f"{head}{len(body)}\r\n\r\n{body}".encode())
            header = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", header).group(1))
            answer = await reader.readexactly(length)
            latencies.append(clock() - t0)
            if not header.startswith(b"HTTP/1.1 200") or b'"applied":1,' not in answer:
                raise RuntimeError(f"answer {header[:40]!r} {answer[:200]!r}")
            seq += 1
    finally:
        writer.close()
    return seq


def _request_worker(url: str, first: int, connections: int, seconds: float) -> None:
    """``connections`` concurrent connections (producers ``first`` ...), each sending single observations."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    names = key_names()
    seqs = [1] * connections
    print("ready", flush=True)
    for _ in sys.stdin:
        latencies: list[float] = []

        async def round_() -> list[int]:
            until = time.perf_counter() + seconds
            return await asyncio.gather(*(
                _connection(host, int(port), f"bench-req-{first + i}", names[(first + i) % KEYS], seqs[i],
                            until, latencies) for i in range(connections)))

        cpu0, t0 = time.process_time(), time.time()
        ends = asyncio.run(round_())
        t1 = time.time()
        requests = sum(e - s for e, s in zip(ends, seqs))
        seqs = list(ends)
        print(json.dumps({"start": t0, "end": t1, "requests": requests, "applied": requests,
                          "cpu": time.process_time() - cpu0, "latencies": latencies}), flush=True)


def _worker_main(kind: str, args: dict[str, Any]) -> None:
    try:
        (_batch_worker if kind == "batch" else _request_worker)(**args)
    except Exception as exc:  # one line the parent reads, instead of a dead pipe
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)


# --------------------------------------------------------------------------- measuring
def _rounds(server: Server, workers: list[Worker], rounds: int) -> list[dict[str, Any]]:
    """Run ``rounds`` rounds (every worker at once); per round the wall time, requests, CPU, latencies."""
    out = []
    for _ in range(rounds):
        cpu0 = server.cpu()
        for w in workers:
            w.go()
        parts = [w.result() for w in workers]
        out.append({
            "wall": max(p["end"] for p in parts) - min(p["start"] for p in parts),
            "requests": sum(p["requests"] for p in parts),
            "applied": sum(p["applied"] for p in parts),
            "client_cpu": sum(p["cpu"] for p in parts),
            "server_cpu": server.cpu() - cpu0,
            "latencies": [x for p in parts for x in p.get("latencies", ())],
        })
    return out


def _row(case: str, library: str, size: int, rounds: list[dict[str, Any]], per: str,
         **extra: Any) -> Result:
    """The best round as a row: ``seconds`` = wall time per request; the spread from the median round."""
    times = [r["wall"] / r["requests"] for r in rounds]
    best = rounds[int(np.argmin(times))]
    spread = statistics.median(times) / min(times) - 1.0 if len(times) > 1 else float("nan")
    extra.update(repeats=len(rounds), wall_seconds=best["wall"], requests=best["requests"],
                 server_cpu_seconds=best["server_cpu"], client_cpu_seconds=best["client_cpu"],
                 cpu=os.cpu_count())
    extra[f"{per}_per_second"] = best["applied"] / best["wall"]
    return Result(GROUP, case, library, size, "float64", min(times), spread, extra)


def _create(url: str) -> None:
    from streamopt.client import Client

    with Client(url, timeout=120) as c:
        c.create_stream(STREAM, alpha=ALPHA, stats=["mean", "var"])
        keys = key_names()
        c.send(STREAM, keys, np.zeros(KEYS))  # every key exists, the kernels are loaded: no first-call costs


def _service(durability: str, folder: Path, quick: bool) -> list[Result]:
    rounds, batches, seconds = QUICK if quick else FULL
    library = "streamopt" if durability == "full" else f"streamopt-{durability}"
    server = Server(durability, folder)
    workers: list[Worker] = []
    rows = []
    try:
        _create(server.url)
        # with the statistics of every observation in the answers too: only at full durability, not quick
        for results in (False, True) if durability == "full" and not quick else (False,):
            workers = [Worker("batch", url=server.url, producer=i + PRODUCERS * results, batches=batches,
                              results=results) for i in range(PRODUCERS)]
            got = _rounds(server, workers, rounds)
            if any(r["applied"] != r["requests"] * BATCH for r in got):
                raise RuntimeError(f"batches answered as duplicates or partly applied: {got}")
            rows.append(_row(f"batch-{BATCH}x{PRODUCERS}", library + "-results" * results, BATCH, got,
                             "observations", durability=durability, producers=PRODUCERS, keys=KEYS,
                             results=results))
            for w in workers:
                w.stop()
        per = CONNECTIONS // REQUEST_PROCESSES
        workers = [Worker("requests", url=server.url, first=i * per, connections=per, seconds=seconds)
                   for i in range(REQUEST_PROCESSES)]
        got = _rounds(server, workers, rounds)
        case = f"request-1x{CONNECTIONS}"
        rows.append(_row(case, library, 1, got, "requests", durability=durability, connections=CONNECTIONS,
                         load_processes=REQUEST_PROCESSES))
        best = rows[-1].extra
        best["client_cpu_seconds_per_request"] = best["client_cpu_seconds"] / best["requests"]
        for q in (50, 99):
            lat = [float(np.percentile(r["latencies"], q)) for r in got]
            rows.append(Result(GROUP, f"{case}-p{q}", library, 1, "float64", min(lat),
                               statistics.median(lat) / min(lat) - 1.0 if len(lat) > 1 else float("nan"),
                               {"repeats": len(lat), "percentile": q, "durability": durability}))
    finally:
        for w in workers:
            w.stop()
        server.stop()
    return rows


def _river(quick: bool) -> Result:
    """river: one ``EWMean`` per key in a dict, updated observation by observation, in this process."""
    case = f"batch-{BATCH}x{PRODUCERS}"
    stats = optional("river.stats")
    if stats is None:
        return missing(GROUP, case, "river", BATCH, "float64")
    rng = np.random.default_rng(0)
    keys = np.array(key_names())[rng.integers(0, KEYS, size=BATCH)].tolist()
    values = rng.normal(size=BATCH).tolist()
    means = {k: stats.EWMean(fading_factor=ALPHA) for k in key_names()}

    def batch() -> None:
        for k, v in zip(keys, values):
            means[k].update(v)

    timing = measure(batch, repeat=3 if quick else 5, min_time=0.02 if quick else 0.2)
    return Result(GROUP, case, "river", BATCH, "float64", timing.best, timing.spread,
                  {"in_process": True, "observations_per_second": BATCH / timing.best})


def run(quick: bool = False) -> list[Result]:
    """Every case against a server with ``--durability full``; unless ``quick``, also ``normal`` and ``:memory:``."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="streamopt-bench-") as tmp:
        for durability in ("full",) if quick else ("full", "normal", "memory"):
            rows += _service(durability, Path(tmp), quick)
    rows.append(_river(quick))
    import service_models  # the models' learn and predict cases (bench/service_models.py), same group

    rows += service_models.run(quick)
    order = {case: i for i, case in enumerate(dict.fromkeys(r.case for r in rows))}
    return sorted(rows, key=lambda r: order[r.case])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2], json.loads(sys.argv[3]))
    else:
        print(format_table(run(quick="--quick" in sys.argv)))
