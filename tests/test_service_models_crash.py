"""Models through the service: bit-exact recovery after kill -9, and the notes' 1,000-epoch Adam run.

The recovery test: 4 producers (threads, each its own HTTP client) post the
notes' mini-batches (moons, batches of 64 in the notes' shuffled order) with
retries, while the server is killed with SIGKILL at random moments and
restarted on the same database.  Every batch is acknowledged in the end, with
the step it made (a duplicate names the step of the attempt committed before
a crash); put in step order, the acknowledged batches replayed offline with
the library give the server's parameters and optimizer state bit for bit,
each batch once.
"""

from __future__ import annotations

import random
import threading
import time

import httpx
import numpy as np

from streamopt import MLP, Adam, train
from streamopt.datasets import moons
from _server import Server, post_until_acknowledged
from test_service_models import ADAM, DIMS, Offline, body, notes_batches, same_state

X, Y = moons(300, seed=3)


class Producer(threading.Thread):
    """Posts its batches in order (seq 1, 2, ...), each retried on connection errors and 5xx until answered."""

    def __init__(self, server: Server, model: str, name: str, batches: list[int], all_batches: list,
                 deadline: float = 240.0) -> None:
        super().__init__(name=name, daemon=True)
        self.server, self.model, self.producer = server, model, name
        self.batches, self.all = batches, all_batches
        self.deadline = time.monotonic() + deadline
        self.acks: list[tuple[int, int, dict]] = []  # (seq, batch index, answer)
        self.retries = 0
        self.error: str | None = None

    def _retried(self) -> None:
        self.retries += 1

    def run(self) -> None:
        with httpx.Client(base_url=self.server.url, headers=self.server.headers, timeout=10) as client:
            for seq, index in enumerate(self.batches, start=1):
                payload = body(*self.all[index], self.producer, seq)
                r, self.error = post_until_acknowledged(
                    client, f"/v1/models/{self.model}/learn", payload, self.deadline,
                    f"{self.producer}: seq {seq}", self._retried)
                if r is None:
                    return
                self.acks.append((seq, index, r.json()))


def test_kill_9_at_random_moments_recovers_bit_for_bit(tmp_path):
    rnd = random.Random(13)
    batches = notes_batches(60)  # 300 steps
    with Server(tmp_path / "crash.db", durability="full") as server:
        with server.client() as client:
            assert client.put("/v1/models/crash", json=ADAM).status_code == 201
        producers = [Producer(server, "crash", f"p{i}", list(range(i, len(batches), 4)), batches) for i in range(4)]
        for p in producers:
            p.start()
        try:
            for _ in range(5):
                time.sleep(rnd.uniform(0.2, 0.8))
                server.kill9()
                server.restart()
        finally:
            for p in producers:
                p.join(300)
        assert not any(p.is_alive() for p in producers)
        assert server.starts == 6
        by_step: dict[int, int] = {}
        for p in producers:
            assert p.error is None, p.error
            assert [seq for seq, _, _ in p.acks] == list(range(1, len(p.batches) + 1))
            for seq, index, answer in p.acks:
                step = answer["step"]
                assert isinstance(step, int), answer
                assert step not in by_step, f"step {step} acknowledged twice"
                by_step[step] = index
        assert sorted(by_step) == list(range(1, len(batches) + 1))  # every batch once, no step unacknowledged
        assert sum(p.retries for p in producers) > 0  # the kills did hit requests
        offline = Offline(lr=0.0007)
        for step in sorted(by_step):
            offline.step(*batches[by_step[step]])
        for p in producers:  # each applied answer's loss is the offline loss of its step
            for _, _, answer in p.acks:
                if not answer["duplicate"]:
                    assert answer["loss"] == offline.losses[answer["step"] - 1]
        with server.client() as client:
            same_state(client.get("/v1/models/crash/state").json(), offline)
            info = client.get("/v1/models/crash").json()
        assert info["step"] == len(batches) and info["points"]["loss"] == offline.losses


def test_adam_1000_epochs_through_the_service_equals_train(tmp_path):
    """The notes' experiment (Adam, lr 0.0007, batches of 64, epoch seeds 11, 12, ...) step by step over
    HTTP: the same parameters as ``train(..., compiled=False)`` bit for bit, the compiled loop's within 1e-12."""
    n_epochs = 1000
    batches = notes_batches(n_epochs)
    with Server(tmp_path / "adam.db", durability="normal") as server:
        with server.client() as client:
            client.put("/v1/models/notes", json=ADAM)
            for seq, (xb, yb) in enumerate(batches, start=1):
                r = client.post("/v1/models/notes/learn", json=body(xb, yb, "notes", seq))
                assert r.status_code == 200 and r.json()["step"] == seq, r.text
            state = client.get("/v1/models/notes/state").json()
    plain, compiled = MLP(DIMS, seed=3), MLP(DIMS, seed=3)
    o_plain, o_compiled = Adam(plain.params, lr=0.0007), Adam(compiled.params, lr=0.0007)
    train(plain, (X, Y), o_plain, epochs=n_epochs, progress=False, compiled=False)
    train(compiled, (X, Y), o_compiled, epochs=n_epochs, progress=False, compiled=True)
    served = MLP.from_state(state["model"])
    opt = Adam(served.params, lr=1.0)
    opt.load_state_dict(state["optimizer"])
    assert state["step"] == opt.t == o_plain.t == 5 * n_epochs
    assert served.params.flat.tobytes() == plain.params.flat.tobytes()
    assert opt.state_dict() == o_plain.state_dict()
    np.testing.assert_allclose(served.params.flat, compiled.params.flat, rtol=1e-12, atol=0)
    assert served.accuracy(X, Y) > 0.9
