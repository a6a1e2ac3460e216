"""Rows of the "service" benchmark group for the models (online training): learn and predict over HTTP.

Same shape as bench/service.py (its server, rounds and rows): ``streamopt serve --durability full``
in its own process, load generators in others, loopback.

- ``learn-64x1``: one producer sending learn requests (a mini-batch of 64 moons examples, the
  [2, 5, 2, 1] network, Adam) one at a time; ``seconds`` = wall time per acknowledged step.
- ``learn-64x16``: 16 producers (keep-alive connections, 2 processes) on 4 models (4 producers
  each: group commits across models, one model's steps in order).
- ``predict-10000``: requests of 10,000 rows, one at a time; ``seconds`` per request, ``extra``
  the rows per second.
- ``learn-64x1`` library ``torch``: where torch is installed, the same server shape with a torch
  model and ``torch.optim.Adam`` stepping per request in-process (no HTTP): the ratio's other side.

    python bench/service_models.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Result, format_table, measure, missing, optional  # noqa: E402
from service import GROUP, Server, Worker, _rounds, _row  # noqa: E402

LAYERS = [2, 5, 2, 1]
BATCH = 64
PRODUCERS = 16
MODELS = 4
PROCESSES = 2
PREDICT_ROWS = 10_000
#: (rounds, steps per producer per round, predict requests per round)
FULL = (3, 200, 30)
QUICK = (1, 20, 5)


def _batches() -> list[tuple[list, list]]:
    from streamopt import epochs
    from streamopt.datasets import moons

    X, Y = moons(300, seed=3)
    return [(xb.T.tolist(), yb[0].tolist()) for e in epochs(X, Y, BATCH, seed=10, n_epochs=4, axis=1) for xb, yb in e]


async def _producer(host: str, port: int, model: str, name: str, seq0: int, steps: int, bodies: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = f"POST /v1/models/{model}/learn HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    try:
        for seq in range(seq0, seq0 + steps):
            X, y = bodies[seq % len(bodies)]
            body = json.dumps({"producer": name, "seq": seq, "X": X, "y": y}).encode()
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            header = await reader.readuntil(b"\r\n\r\n")
            answer = await reader.readexactly(int(re.search(rb"(?i)content-length:\s*(\d+)", header).group(1)))
            if not header.startswith(b"HTTP/1.1 200") or b'"duplicate":false' not in answer:
                raise RuntimeError(f"answer {header[:40]!r} {answer[:200]!r}")
    finally:
        writer.close()


def _learn_worker(url: str, first: int, producers: int, steps: int) -> None:
    """``producers`` connections (producer ``first`` ... on model ``first + i`` mod MODELS), ``steps`` each per go."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    bodies = _batches()
    seq = 1
    print("ready", flush=True)
    for _ in sys.stdin:
        cpu0, t0 = time.process_time(), time.time()

        async def round_() -> None:
            await asyncio.gather(*(_producer(host, int(port), f"m{(first + i) % MODELS}", f"learn-{first + i}", seq,
                                             steps, bodies) for i in range(producers)))

        asyncio.run(round_())
        seq += steps
        print(json.dumps({"start": t0, "end": time.time(), "requests": producers * steps,
                          "applied": producers * steps, "cpu": time.process_time() - cpu0}), flush=True)


def _predict_worker(url: str, requests: int) -> None:
    import httpx
    import orjson

    X = np.random.default_rng(0).normal(size=(PREDICT_ROWS, LAYERS[0]))
    body = orjson.dumps({"X": X}, option=orjson.OPT_SERIALIZE_NUMPY)
    with httpx.Client(base_url=url, timeout=120) as client:
        print("ready", flush=True)
        for _ in sys.stdin:
            cpu0, t0 = time.process_time(), time.time()
            for _ in range(requests):
                r = client.post("/v1/models/m0/predict", content=body, headers={"Content-Type": "application/json"})
                if r.status_code != 200:
                    raise RuntimeError(f"predict: {r.status_code} {r.text[:200]}")
            print(json.dumps({"start": t0, "end": time.time(), "requests": requests, "applied": requests * PREDICT_ROWS,
                              "cpu": time.process_time() - cpu0}), flush=True)


class _Worker(Worker):
    """A load generator of this file: ``python bench/service_models.py --worker KIND ARGS``."""

    def __init__(self, kind: str, **args: Any) -> None:
        import subprocess

        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", kind, json.dumps(args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"{kind} worker did not start")


def _torch(quick: bool) -> Result:
    """torch: the same model and a torch.optim.Adam step per mini-batch, in-process (no HTTP, no durability)."""
    case = f"learn-{BATCH}x1"
    torch = optional("torch")
    if torch is None:
        return missing(GROUP, case, "torch", BATCH, "float64")
    torch.manual_seed(3)
    layers = []
    for i in range(1, len(LAYERS)):
        layers += [torch.nn.Linear(LAYERS[i - 1], LAYERS[i]).double(),
                   torch.nn.ReLU() if i < len(LAYERS) - 1 else torch.nn.Sigmoid()]
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=0.0007)
    X, y = _batches()[0]
    xb, yb = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64).reshape(-1, 1)

    def step() -> None:
        opt.zero_grad()
        p = net(xb)
        loss = torch.nn.functional.binary_cross_entropy(p, yb)
        loss.backward()
        opt.step()

    timing = measure(step, repeat=3 if quick else 5, min_time=0.02 if quick else 0.2)
    return Result(GROUP, case, "torch", BATCH, "float64", timing.best, timing.spread,
                  {"in_process": True, "steps_per_second": 1 / timing.best})


def run(quick: bool = False) -> list[Result]:
    """The learn and predict cases against one server with ``--durability full``."""
    import httpx

    rounds, steps, requests = QUICK if quick else FULL
    rows = []
    with tempfile.TemporaryDirectory(prefix="streamopt-bench-") as tmp:
        server = Server("full", Path(tmp))
        workers: list[_Worker] = []
        try:
            X, y = _batches()[0]
            with httpx.Client(base_url=server.url, timeout=120) as c:
                for m in range(MODELS):
                    c.put(f"/v1/models/m{m}", json={"layers": LAYERS, "optimizer": {"name": "adam", "lr": 0.0007}})
                    c.post(f"/v1/models/m{m}/learn", json={"X": X, "y": y})  # kernels loaded: no first-call cost
                c.post("/v1/models/m0/predict", json={"X": X})
            for producers, processes in ((1, 1), (PRODUCERS, PROCESSES)):
                per = producers // processes
                workers = [_Worker("learn", url=server.url, first=100 * producers + i * per, producers=per,
                                   steps=steps) for i in range(processes)]
                rows.append(_row(f"learn-{BATCH}x{producers}", "streamopt", BATCH, _rounds(server, workers, rounds),
                                 "steps", durability="full", producers=producers, models=min(producers, MODELS),
                                 layers=LAYERS))
                for w in workers:
                    w.stop()
            workers = [_Worker("predict", url=server.url, requests=requests)]
            rows.append(_row(f"predict-{PREDICT_ROWS}", "streamopt", PREDICT_ROWS, _rounds(server, workers, rounds),
                             "rows", layers=LAYERS))
        finally:
            for w in workers:
                w.stop()
            server.stop()
    rows.append(_torch(quick))
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        try:
            (_learn_worker if sys.argv[2] == "learn" else _predict_worker)(**json.loads(sys.argv[3]))
        except Exception as exc:  # one line the parent reads, instead of a dead pipe
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
    else:
        print(format_table(run(quick="--quick" in sys.argv)))
