"""``streamopt.client.Client``: conversions, retries and exactly-once numbering, against a real server.

The retry rules are checked first on a scripted transport (every request the
client makes is recorded, answers are chosen per attempt); then everything
against real ``streamopt serve`` processes on loopback (``tests/_server.py``),
with the results compared bit for bit with :class:`streamopt.EWMStream` and
:func:`streamopt.ewm` fed the same observations, including a server killed
with SIGKILL while producers send.
"""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pandas as pd
import pytest

httpx = pytest.importorskip("httpx")
orjson = pytest.importorskip("orjson")

import streamopt  # noqa: E402
from streamopt.client import Client, SendResult, ServiceError, ServiceUnavailable  # noqa: E402

from _server import Server  # noqa: E402  (tests/_server.py: a real `streamopt serve` process)


# --------------------------------------------------------------------------- scripted transport
class Script:
    """An httpx transport answering from a list of answers (a status + body, or an exception to raise)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return httpx.Response(status, content=orjson.dumps(body) if body is not None else b"")

    def bodies(self) -> list[dict]:
        return [orjson.loads(r.content) for r in self.requests]


def scripted(*answers, **kw) -> tuple[Client, Script]:
    script = Script(*answers)
    kw.setdefault("backoff", 0.001)
    return Client("http://service.test", transport=httpx.MockTransport(script), **kw), script


OK = (200, {"applied": 1, "duplicate": False, "batch": 1})


def test_retries_resend_the_same_producer_and_seq():
    client, script = scripted(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), (503, {"error": "busy"}),
                              (500, None), (200, {"applied": 0, "duplicate": True, "batch": 7}), OK,
                              producer="p1")
    ack = client.send("s", ["a"], [1.0])
    assert ack == SendResult(applied=0, duplicate=True, batch=7, seq=1, results=None)
    bodies = script.bodies()
    assert len(bodies) == 5 and all(b == bodies[0] for b in bodies)
    assert bodies[0] == {"keys": ["a"], "values": [1.0], "producer": "p1", "seq": 1}
    assert script.requests[0].url.path == "/v1/streams/s/observations"
    assert client.send("s", ["a"], [2.0]).seq == 2  # the next batch: the next seq
    assert script.bodies()[-1]["seq"] == 2


def test_a_refused_batch_keeps_its_seq_and_raises_the_servers_message():
    client, script = scripted((422, {"error": "times[1]: older than key 'a''s last time"}), OK, OK)
    with pytest.raises(ServiceError, match=r"422: times\[1\]: older than key") as info:
        client.send("s", ["a", "a"], [1.0, 2.0], times=[5, 4])
    assert info.value.status == 422 and info.value.message.startswith("times[1]")
    assert len(script.requests) == 1  # a 4xx is not retried
    assert client.send("s", ["a", "a"], [1.0, 2.0], times=[4, 5]).seq == 1  # the corrected batch reuses it
    assert client.send("s", ["a"], [3.0], times=[6]).seq == 2
    assert [b["seq"] for b in script.bodies()] == [1, 1, 2]


def test_no_answer_after_the_retries_names_the_seq_and_uses_it_up():
    client, script = scripted(*[httpx.ConnectError("refused")] * 3, OK, OK, retries=2)
    with pytest.raises(ServiceUnavailable, match=r"3 attempts.*ConnectError.*seq=1") as info:
        client.send("s", ["a"], [1.0])
    assert info.value.seq == 1 and len(script.requests) == 3
    assert client.send("s", ["a"], [1.0], seq=info.value.seq).seq == 1  # the same batch, sent again
    assert client.send("s", ["b"], [2.0]).seq == 2  # never reused for other data


def test_backoff_grows_exponentially_with_jitter(monkeypatch):
    waits = []
    monkeypatch.setattr("streamopt.client.time.sleep", waits.append)
    client, _ = scripted(*[(502, None)] * 6, OK, backoff=0.1, max_backoff=0.5, retries=6)
    client.send("s", ["a"], [1.0])
    caps = [0.1, 0.2, 0.4, 0.5, 0.5, 0.5]
    assert len(waits) == 6 and all(cap / 2 <= w <= cap for w, cap in zip(waits, caps)), waits


def test_seq_counts_per_stream_and_a_stable_producer_resumes():
    client, script = scripted(OK, OK, OK, OK, producer="feed")
    client.send("a", ["k"], [1.0])
    client.send("b", ["k"], [1.0])
    client.send("a", ["k"], [1.0])
    again, script2 = scripted(OK, producer="feed")  # a rerun of the program: the same numbering
    again.send("a", ["k"], [1.0])
    assert [(r.url.path.split("/")[3], orjson.loads(r.content)["seq"]) for r in script.requests] == \
        [("a", 1), ("b", 1), ("a", 2)]
    assert script2.bodies()[0]["producer"] == "feed" and script2.bodies()[0]["seq"] == 1
    c1, c2 = Client("http://x"), Client("http://x")
    assert c1.producer != c2.producer and len(c1.producer) == 36  # a random UUID per Client
    c1.close(), c2.close()


def test_values_keys_and_times_are_converted():
    client, script = scripted(*[OK] * 6)
    client.send("s", np.array(["a", "b", "c"]), pd.array([1.5, None, 3.0], dtype="Float64"),
                times=np.array(["2024-01-01T00:00:00", "2024-01-01T00:00:01", "2024-01-01T00:00:02"],
                               dtype="datetime64[ns]"))
    client.send("s", pd.Series([1, 2]), [np.nan, np.inf],
                times=pd.DatetimeIndex(["2024-01-01T01:00:00", "2024-01-01T01:00:01"]).tz_localize("Europe/Berlin"))
    client.send("s", "a", 2, times="2024-01-01T00:00:05Z")
    client.send("s", [np.int64(3)], [None], times=[np.int64(10)])
    client.send("s", ["a", "b"], np.array([1, 2], dtype=np.float32), times=pd.Series([5, 6]))
    client.send("s", ["a"], [1.0], times=[pd.Timestamp("2024-01-01", tz="UTC").to_pydatetime()])
    b = script.bodies()
    t0 = 1704067200 * 10**9
    assert (b[0]["keys"], b[0]["values"], b[0]["times"]) == (["a", "b", "c"], [1.5, None, 3.0],
                                                             [t0, t0 + 10**9, t0 + 2 * 10**9])
    assert (b[1]["keys"], b[1]["values"], b[1]["times"]) == ([1, 2], [None, None], [t0, t0 + 10**9])
    assert (b[2]["keys"], b[2]["values"], b[2]["times"]) == (["a"], [2.0], ["2024-01-01T00:00:05Z"])
    assert (b[3]["keys"], b[3]["values"], b[3]["times"]) == ([3], [None], [10])
    assert b[4]["values"] == [1.0, 2.0] and b[4]["times"] == [5, 6]
    assert b[5]["times"] == [t0]


@pytest.mark.parametrize("call, error, match", [
    (lambda c: c.send("s", ["a", "b"], [1.0]), ValueError, r"keys must have one key per value \(1\), got 2"),
    (lambda c: c.send("s", ["a"], [1.0], times=[1, 2]), ValueError, r"times must have one entry per value"),
    (lambda c: c.send("s", ["a"], "1.0"), TypeError, "values must be a number or a 1-D array"),
    (lambda c: c.send("s", ["a"], [["x"]]), ValueError, r"values must be a number or 1-D, got shape \(1, 1\)"),
    (lambda c: c.send("s", ["a"], ["x"]), TypeError, "values must hold real numbers"),
    (lambda c: c.send("s", None, [1.0]), TypeError, "keys must be a key"),
    (lambda c: c.send("s", ["a"], [1.0], times=[pd.NaT]), ValueError, "NaT at position 0"),
    (lambda c: c.send("s", ["a"], [1.0], times=[1.5]), TypeError, "got 1.5 at position 0"),
    (lambda c: c.send("s", ["a"], [1.0], times=np.array([1.5])), TypeError, "times must have a datetime64 dtype"),
    (lambda c: c.send("s", ["a", "b"], [1.0, 2.0], times=[1, "2024-01-01"]), TypeError, "position 0"),
    (lambda c: c.send("s", ["a"], [1.0], seq=0), ValueError, "seq must be an int >= 1, got 0"),
    (lambda c: c.send("", ["a"], [1.0]), ValueError, "stream must be a non-empty str"),
    (lambda c: c.get("s", 1.5), TypeError, "key must be a str or an int, got 1.5"),
    (lambda c: list(c.keys("s", page=0)), ValueError, "page must be an int >= 1, got 0"),
])
def test_bad_arguments_raise_before_any_request(call, error, match):
    client, script = scripted()
    with pytest.raises(error, match=match):
        call(client)
    assert script.requests == []


@pytest.mark.parametrize("kw, match", [
    ({"url": "127.0.0.1:8000"}, "url must be an http"), ({"token": ""}, "token must be a non-empty str"),
    ({"retries": -1}, "retries must be an int >= 0"), ({"timeout": 0}, "timeout must be a positive number"),
    ({"producer": ""}, "producer must be a non-empty str"),
])
def test_bad_client_options(kw, match):
    with pytest.raises(ValueError, match=match):
        Client(**{"url": "http://x", **kw})


def test_token_header_keys_pages_and_a_lost_delete_answer():
    client, script = scripted((200, {"keys": ["a", "b"], "next": "b"}), (200, {"keys": ["c"], "next": None}),
                              httpx.ReadError("reset"), (404, {"error": "no stream 's'"}), token="t0k")
    assert list(client.keys("s", page=2)) == ["a", "b", "c"]
    assert [dict(r.url.params) for r in script.requests] == [{"limit": "2"}, {"limit": "2", "after": "b"}]
    client.delete_stream("s")  # the first DELETE was applied, its answer lost: the retry's 404 is success
    assert all(r.headers["authorization"] == "Bearer t0k" for r in script.requests)
    client2, _ = scripted((404, {"error": "no stream 's'"}))
    with pytest.raises(ServiceError, match="404: no stream 's'"):
        client2.delete_stream("s")  # a first DELETE's 404 is an error


# --------------------------------------------------------------------------- against a real server
STATS = ("mean", "var", "std")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the tests that do not restart it (each uses its own streams)."""
    with Server(tmp_path_factory.mktemp("server") / "s.db") as srv:
        yield srv


def assert_same(got, want):
    """Bit for bit, NaN where NaN."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape and got.tobytes() == want.tobytes(), (got[:5], want[:5])


def random_batch(rng, n, keys, nan_fraction=0.1):
    values = rng.normal(size=n) * 10.0 ** rng.integers(-3, 4)
    values[rng.random(n) < nan_fraction] = np.nan
    return np.array(keys)[rng.integers(0, len(keys), size=n)], values


def test_results_and_key_states_equal_ewmstream_bit_for_bit(server):
    rng = np.random.default_rng(1)
    want = streamopt.EWMStream(alpha=0.3, min_periods=2, stats=STATS)
    with Client(server.url) as c:
        assert c.create_stream("s1", alpha=0.3, min_periods=2, stats=STATS)["created"] is True
        assert c.create_stream("s1", alpha=0.3, min_periods=2, stats=list(STATS))["created"] is False
        for i in range(4):
            keys, values = random_batch(rng, 50, ["a", "b", "ç", "a b/c"])
            ack = c.send("s1", keys, values)
            assert (ack.applied, ack.duplicate, ack.batch, ack.seq) == (50, False, i + 1, i + 1)
            out = want.update(values, keys=keys)
            for s in STATS:
                assert_same(ack.results[s], out[s])
        for key in want.keys():
            got, exp = c.get("s1", key), want.get(key)
            assert got["key"] == key and got["count"] == exp["count"]
            for s in STATS:
                assert_same(got[s], exp[s])
        assert sorted(c.keys("s1", page=3)) == sorted(want.keys())
        info = c.info("s1")
        assert info["observations"] == 200 and info["keys"] == len(want)
        ack = c.send("s1", ["a"], [1.0], results=False)
        assert ack.results is None and ack.applied == 1


def test_times_of_every_kind_give_ewmstreams_results(server):
    t0 = pd.Timestamp("2024-05-01T00:00:00Z")
    want = streamopt.EWMStream(halflife="1h", stats=("mean",))
    with Client(server.url) as c:
        c.create_stream("temps", halflife=pd.Timedelta("1h"), stats=["mean"], times=True)
        batches = [
            (["x", "y"], [20.0, 10.0], pd.DatetimeIndex([t0, t0 + pd.Timedelta("10min")])),
            (["x", "x"], [21.0, np.nan], (t0 + pd.to_timedelta(["1h", "2h"])).tz_localize(None).to_numpy()),
            (["y"], [12.0], ["2024-05-01T03:00:00Z"]),
            (["x"], [25.0], [(t0 + pd.Timedelta("5h")).value]),
        ]
        for keys, values, times in batches:
            ack = c.send("temps", keys, values, times=times)
            t = pd.DatetimeIndex(pd.to_datetime(times, utc=True) if isinstance(times, list) and
                                 isinstance(times[0], str) else pd.to_datetime(times, utc=True))
            assert_same(ack.results["mean"], want.update(np.array(values), keys=keys, times=t)["mean"])
        assert c.get("temps", "x")["count"] == want.get("x")["count"] == 3
        assert_same(c.get("temps", "x")["mean"], want.get("x")["mean"])


def test_a_rerun_with_a_stable_producer_applies_nothing_twice(server):
    rng = np.random.default_rng(2)
    data = [random_batch(rng, 30, ["a", "b", "c"]) for _ in range(3)]
    with Client(server.url, producer="feed-1") as c:
        c.create_stream("s2", span=10)
        first = [c.send("s2", k, v) for k, v in data[:2]]  # "killed" after two batches
        state = {k: c.get("s2", k) for k in "abc"}
    with Client(server.url, producer="feed-1") as c:  # the rerun on the same data
        again = [c.send("s2", k, v) for k, v in data]
        assert [(a.duplicate, a.applied, a.batch) for a in again] == \
            [(True, 0, first[0].batch), (True, 0, first[1].batch), (False, 30, 3)]
        assert c.info("s2")["observations"] == 90
    keys = np.concatenate([k for k, _ in data])
    values = np.concatenate([v for _, v in data])
    expected = streamopt.ewm(values, span=10, by=keys).mean()
    with Client(server.url) as c:
        for k in "abc":
            assert_same(c.get("s2", k)["mean"], expected[np.flatnonzero(keys == k)[-1]])
            assert state[k]["count"] < c.get("s2", k)["count"]


def test_a_refused_batch_applies_nothing_and_its_seq_is_reused(server):
    with Client(server.url) as c:
        c.create_stream("s3", halflife="1h", times=True)
        c.send("s3", ["a", "b"], [1.0, 2.0], times=[10**12, 10**12])
        before = c.get("s3", "b"), c.info("s3")
        with pytest.raises(ServiceError) as info:
            c.send("s3", ["b", "a", "b"], [5.0, 6.0, 7.0], times=[2 * 10**12, 10**11, 3 * 10**12])
        assert info.value.status == 422 and "'a'" in info.value.message and "1" in info.value.message
        assert (c.get("s3", "b"), c.info("s3")) == before  # nothing of the batch applied
        ack = c.send("s3", ["b", "a", "b"], [5.0, 6.0, 7.0], times=[2 * 10**12, 2 * 10**12, 3 * 10**12])
        assert (ack.seq, ack.batch, ack.applied) == (2, 2, 3)


def test_errors_carry_the_status_and_the_servers_message(server):
    with Client(server.url, retries=0) as c:
        c.create_stream("s4", alpha=0.5)
        cases = [
            (lambda: c.get("nope", "a"), 404), (lambda: c.get("s4", "zz"), 404), (lambda: c.info("nope"), 404),
            (lambda: c.send("nope", ["a"], [1.0]), 404), (lambda: c.delete_stream("nope"), 404),
            (lambda: c.create_stream("s4", alpha=0.25), 409),
            (lambda: c.create_stream("s5", alpha=0.5, span=3), 400),
            (lambda: c.create_stream("s5", alpha=2.0), 400),
            (lambda: c.send("s4", ["k" * 257], [1.0]), 400),
            (lambda: c.send("s4", ["a", 1], [1.0, 2.0]), 400),
        ]
        for call, status in cases:
            with pytest.raises(ServiceError) as info:
                call()
            assert info.value.status == status and info.value.message, (status, info.value)
        with pytest.raises(ServiceError, match="keys\\[0\\]"):
            c.send("s4", ["k" * 257], [1.0])
        assert c.info("s4")["observations"] == 0
        assert c.send("s4", ["a"], [1.0]).seq == 1  # none of the refused batches used a seq
        c.delete_stream("s4")
        with pytest.raises(ServiceError, match="404"):
            c.info("s4")


def test_a_server_with_a_token_wants_it(tmp_path):
    with Server(tmp_path / "s.db", token="s3cret") as srv:
        for token in (None, "wrong"):
            with Client(srv.url, token=token) as c, pytest.raises(ServiceError) as info:
                c.create_stream("s", alpha=0.5)
            assert info.value.status == 401
        with Client(srv.url, token="s3cret") as c:
            c.create_stream("s", alpha=0.5)
            assert c.send("s", ["a"], [2.0]).results["mean"].tolist() == [2.0]
            assert c.healthy()


def test_retries_carry_batches_across_a_restart(tmp_path):
    with Server(tmp_path / "s.db") as srv:
        with Client(srv.url, backoff=0.05, max_backoff=0.5, retries=40) as c:
            c.create_stream("s", alpha=0.5)
            c.send("s", ["a"], [1.0])
            srv.kill9()
            restarted = threading.Timer(0.5, srv.restart)
            restarted.start()
            ack = c.send("s", ["a"], [3.0])  # refused connections until the restart, then applied once
            restarted.join()
            assert (ack.applied, ack.duplicate, ack.seq) == (1, False, 2)
            assert c.get("s", "a")["count"] == 2 and c.get("s", "a")["mean"] == (1.0 * 0.5 + 3.0) / 1.5


def test_exactly_once_while_the_server_is_killed(tmp_path):
    """3 producers send while the server is killed with SIGKILL 3 times: every batch is applied once."""
    keys_all = [f"k{i}" for i in range(12)]
    sent: list[tuple[np.ndarray, np.ndarray, SendResult]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    with Server(tmp_path / "s.db") as srv:
        with Client(srv.url) as c:
            c.create_stream("crash", alpha=0.2, stats=["mean", "var"])

        def produce(i: int) -> None:
            rng = np.random.default_rng(100 + i)
            try:
                with Client(srv.url, timeout=5, retries=60, backoff=0.02, max_backoff=0.5) as c:
                    for _ in range(12):
                        keys, values = random_batch(rng, 40, keys_all)
                        ack = c.send("crash", keys, values)
                        with lock:
                            sent.append((keys, values, ack))
                        time.sleep(rng.random() * 0.05)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=produce, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        chaos = random.Random(7)
        for _ in range(3):
            time.sleep(0.2 + chaos.random() * 0.4)
            srv.kill9()
            srv.restart()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        assert len(sent) == 36
        order = sorted(sent, key=lambda s: s[2].batch)
        assert [s[2].batch for s in order] == list(range(1, 37))  # each batch applied once, in some order
        keys = np.concatenate([s[0] for s in order])
        values = np.concatenate([s[1] for s in order])
        ewm = streamopt.ewm(values, alpha=0.2, by=keys)
        mean, var = ewm.mean(), ewm.var()
        start = 0
        for k, v, ack in order:
            if not ack.duplicate:  # a retried batch whose first answer was lost has no results
                assert_same(ack.results["mean"], mean[start:start + len(v)])
                assert_same(ack.results["var"], var[start:start + len(v)])
            start += len(v)
        with Client(srv.url) as c:
            assert c.info("crash")["observations"] == len(values)
            for k in keys_all:
                last = np.flatnonzero(keys == k)[-1]
                got = c.get("crash", k)
                assert_same(got["mean"], mean[last])
                assert_same(got["var"], var[last])
