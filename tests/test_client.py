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
