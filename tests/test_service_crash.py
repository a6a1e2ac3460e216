"""Exactly once under crashes, whole batches under concurrency, group commits.

The crash test: 8 producers (threads, each its own HTTP client) send batches
with retries while the server is killed with SIGKILL 5 times at random
moments and restarted on the same database.  Every batch is acknowledged in
the end (applied, or a duplicate of the attempt that was committed before a
crash); the acknowledged batches, put in the order of their batch numbers,
must be exactly the applied ones (0 lost, 0 twice), and every acknowledged
result and every key's state must equal ``streamopt.ewm(..., by=key)`` over
them, bit for bit.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

import httpx
import numpy as np

import streamopt
from _server import Server, post_until_acknowledged

STATS = ("mean", "var", "std")


def _same(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _column(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


class Producer(threading.Thread):
    """Sends batch after batch (seq 1, 2, ...), each retried on connection errors and 5xx until answered."""

    def __init__(self, server: Server, stream: str, name: str, seed: int, keys: list, enough: threading.Event,
                 batch: int = 8, missing: float = 0.05, deadline: float = 90.0) -> None:
        super().__init__(name=name, daemon=True)
        self.server, self.stream, self.producer = server, stream, name
        self.rng = np.random.default_rng(seed)
        self.keys, self.batch, self.enough, self.missing = keys, batch, enough, missing
        self.deadline = time.monotonic() + deadline
        self.acks: list[tuple[int, list, list, dict]] = []  # (seq, keys, values, answer)
        self.retries = 0
        self.error: str | None = None

    def _retried(self) -> None:
        self.retries += 1

    def run(self) -> None:
        with httpx.Client(base_url=self.server.url, headers=self.server.headers, timeout=10) as client:
            seq = 0
            while not (self.enough.is_set() and seq >= 5):
                seq += 1
                keys = [self.keys[int(i)] for i in self.rng.integers(0, len(self.keys), self.batch)]
                values = [None if self.rng.random() < self.missing else float(v)
                          for v in self.rng.normal(0, 1, self.batch)]
                body = {"producer": self.producer, "seq": seq, "keys": keys, "values": values}
                r, self.error = post_until_acknowledged(
                    client, f"/v1/streams/{self.stream}/observations", body, self.deadline,
                    f"{self.producer}: seq {seq}", self._retried)
                if r is None:
                    return
                self.acks.append((seq, keys, values, r.json()))


def _check_exactly_once(client: httpx.Client, stream: str, producers: list[Producer]) -> dict:
    """Every acknowledged batch applied once, in batch-number order; results and key states equal ewm."""
    by_batch: dict[int, tuple[str, int, list, list]] = {}
    applied = []
    for p in producers:
        assert p.error is None, p.error
        assert [seq for seq, *_ in p.acks] == list(range(1, len(p.acks) + 1))
        for seq, keys, values, answer in p.acks:
            b = answer["batch"]
            assert isinstance(b, int), answer  # a duplicate names the committed attempt
            assert b not in by_batch, f"batch {b} acknowledged twice: {by_batch[b][:2]} and {(p.producer, seq)}"
            by_batch[b] = (p.producer, seq, keys, values)
            if not answer["duplicate"]:
                assert answer["applied"] == len(keys)
                applied.append((b, answer["results"]))
    info = client.get(f"/v1/streams/{stream}").json()
    assert sorted(by_batch) == list(range(1, info["batches"] + 1)), "a batch applied but never acknowledged"
    keys = [k for b in sorted(by_batch) for k in by_batch[b][2]]
    values = [v for b in sorted(by_batch) for v in by_batch[b][3]]
    assert info["observations"] == len(values)
    ew = streamopt.ewm(_column(values), alpha=0.2, by=keys)
    want = {s: getattr(ew, s)() for s in STATS}
    starts = np.cumsum([0] + [len(by_batch[b][2]) for b in sorted(by_batch)])
    for b, results in applied:
        lo, hi = starts[b - 1], starts[b]
        for s in STATS:
            assert _same(_column(results[s]), want[s][lo:hi]), (b, s)
    for key in set(keys):
        state = client.get(f"/v1/streams/{stream}/keys/{key}").json()
        last = max(i for i, k in enumerate(keys) if k == key)
        assert state["count"] == sum(1 for k, v in zip(keys, values) if k == key and v is not None)
        for s in STATS:
            assert _same(_column([state[s]]), want[s][last:last + 1]), (key, s)
    return {"batches": len(by_batch), "applied": len(applied), "duplicates": len(by_batch) - len(applied)}


def test_kill_9_five_times_loses_nothing_and_counts_nothing_twice(tmp_path):
    rnd = random.Random(2026)
    with Server(tmp_path / "crash.db", durability="full") as server:
        with server.client() as client:
            assert client.put("/v1/streams/crash", json={"alpha": 0.2, "stats": list(STATS)}).status_code == 201
        enough = threading.Event()
        keys = [f"sensor-{i}" for i in range(12)]
        producers = [Producer(server, "crash", f"p{i}", seed=i, keys=keys, enough=enough) for i in range(8)]
        for p in producers:
            p.start()
        try:
            for _ in range(5):
                time.sleep(rnd.uniform(0.2, 1.0))
                server.kill9()
                server.restart()
            time.sleep(0.3)
        finally:
            enough.set()
            for p in producers:
                p.join(120)
        assert not any(p.is_alive() for p in producers)
        assert server.starts == 6
        with server.client() as client:
            counts = _check_exactly_once(client, "crash", producers)
        assert counts["batches"] >= 8 * 5
        assert sum(p.retries for p in producers) > 0  # the kills did hit requests in flight or refused ones


def test_concurrent_readers_see_only_whole_batches(tmp_path):
    with Server(tmp_path / "read.db", durability="normal") as server:
        with server.client() as client:
            client.put("/v1/streams/r", json={"alpha": 0.2, "stats": list(STATS)})
        enough = threading.Event()
        writers = [Producer(server, "r", f"w{i}", seed=10 + i, keys=["only"], enough=enough, batch=10,
                            missing=0.0)
                   for i in range(4)]
        seen: list[tuple[int, int]] = []
        problems: list[str] = []

        def read() -> None:
            last = (0, 0)
            with server.client() as c:
                while any(w.is_alive() for w in writers) or not enough.is_set():
                    info = c.get("/v1/streams/r").json()
                    key = c.get("/v1/streams/r/keys/only")
                    count = (info["observations"], info["batches"])
                    if info["observations"] != 10 * info["batches"] or count < last:
                        problems.append(f"stream {info}, after {last}")
                    if key.status_code == 200 and key.json()["count"] % 10:
                        problems.append(f"key {key.json()}")
                    seen.append(count)
                    last = count

        readers = [threading.Thread(target=read, daemon=True) for _ in range(2)]
        for t in writers + readers:
            t.start()
        time.sleep(2.0)
        enough.set()
        for t in writers + readers:
            t.join(60)
        assert not problems, problems[:5]
        assert len({c for c in seen}) > 3  # the readers did read while batches were applied
        with server.client() as client:
            _check_exactly_once(client, "r", writers)


def test_concurrent_batches_share_one_commit(tmp_path):
    """Group commit: batches queued while the writer is busy are committed in one transaction."""
    from streamopt.service.engine import Engine, canonical_config
    from streamopt.service.parse import parse_json_batch

    async def scenario() -> None:
        engine = Engine(str(tmp_path / "g.db"))
        await engine.start()
        try:
            await engine.create("g", canonical_config({"alpha": 0.5}, False))
            commits = engine.commits
            batches = [parse_json_batch({"producer": f"p{i % 5}", "seq": i, "keys": [f"k{i % 7}"],
                                         "values": [float(i)]}) for i in range(50)]
            answers = await asyncio.gather(*(engine.post("g", b) for b in batches))
            assert sorted(a[1]["batch"] for a in answers) == list(range(1, 51))
            assert [a[1]["batch"] for a in answers] == list(range(1, 51))  # arrival order
            assert engine.commits - commits == 1
        finally:
            await engine.stop()

    asyncio.run(scenario())


def test_one_group_with_a_bad_batch_a_retry_and_a_duplicate(tmp_path):
    """A group's batches of one stream go through one update; a refused one is found and the rest apply in order."""
    from streamopt.service.engine import Engine, canonical_config
    from streamopt.service.parse import ApiError, parse_json_batch

    def batch(seq, keys, values, times):
        return parse_json_batch({"producer": "p", "seq": seq, "keys": keys, "values": values, "times": times})

    async def scenario() -> None:
        engine = Engine(":memory:")
        await engine.start()
        try:
            await engine.create("t", canonical_config({"halflife": "10s", "stats": list(STATS)}, True))
            s = 10**9
            first = batch(1, ["a", "b"], [1.0, 2.0], [10 * s, 10 * s])
            late = batch(2, ["b", "a"], [3.0, 4.0], [11 * s, 9 * s])  # key a goes back in time: 422
            fixed = batch(2, ["b", "a"], [3.0, 4.0], [11 * s, 12 * s])  # the corrected batch reuses seq 2
            again = batch(1, ["a", "b"], [1.0, 2.0], [10 * s, 10 * s])  # a retry of the first
            other = parse_json_batch({"producer": "q", "seq": 7, "keys": [1], "values": [1.0], "times": [0]})
            answers = await asyncio.gather(*(engine.post("t", b) for b in (first, late, fixed, again, other)),
                                           return_exceptions=True)
            assert answers[0][1]["batch"] == 1
            assert isinstance(answers[1], ApiError) and answers[1].status == 422 and "'a'" in answers[1].message
            assert answers[2][1]["batch"] == 2 and answers[2][1]["duplicate"] is False
            assert answers[3][1] == {"applied": 0, "duplicate": True, "batch": 1}
            assert isinstance(answers[4], ApiError) and answers[4].status == 400  # int key in a str stream
            assert engine.commits == 1
            ew = streamopt.ewm(np.array([1.0, 2.0, 3.0, 4.0]), halflife="10s", by=["a", "b", "b", "a"],
                               times=(np.array([10, 10, 11, 12], dtype="int64") * s).view("datetime64[ns]"))
            for stat in STATS:
                got = np.concatenate([answers[0][1]["results"][stat], answers[2][1]["results"][stat]])
                assert _same(got, getattr(ew, stat)()), stat
            assert engine.streams["t"].producers == {"p": 2}
        finally:
            await engine.stop()

    asyncio.run(scenario())
