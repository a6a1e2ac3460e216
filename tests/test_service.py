"""The statistics service over real HTTP: every endpoint and error path, auth, limits, duplicates, restarts.

Each module-scoped server is a real ``python -m streamopt serve`` process on
loopback (tests/_server.py); each test uses its own stream names.  Expected
statistics come from ``streamopt.ewm(..., by=keys)`` (the batch code path),
never from the server.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import signal
import httpx
import numpy as np
import pandas as pd
import pytest

import streamopt
from _server import Server
from conftest import ROOT

README = ROOT / "README.md"

_names = (f"s{i}" for i in itertools.count())


def fresh(client: httpx.Client, config: dict, name: str | None = None) -> str:
    name = name or next(_names)
    r = client.put(f"/v1/streams/{name}", json=config)
    assert r.status_code == 201, r.text
    return name


def expected(values: list, keys: list, stats: tuple[str, ...], times=None, **decay) -> dict[str, np.ndarray]:
    """Each statistic after each observation, from the batch ``ewm`` (None -> NaN)."""
    x = np.array([np.nan if v is None else v for v in values], dtype=float)
    t = None if times is None else pd.to_datetime(times, utc=True).tz_localize(None)
    ew = streamopt.ewm(x, times=t, by=keys, **decay)
    return {s: getattr(ew, s)() for s in stats}


def as_array(column: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in column], dtype=float)


def same(a, b) -> bool:
    """Bit for bit, NaN equal to NaN."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Server(tmp_path_factory.mktemp("service") / "s.db") as s:
        yield s


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


# ------------------------------------------------------------------ the basics
def test_healthz_openapi_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/healthz", "/metrics", "/openapi.json", "/v1/streams", "/v1/streams/{name}",
                                 "/v1/streams/{name}/observations", "/v1/streams/{name}/keys",
                                 "/v1/streams/{name}/keys/{key}",
                                 # tests/test_service_models.py: models, a stream's recent window, the dashboard
                                 "/v1/streams/{name}/recent", "/v1/models", "/v1/models/{name}",
                                 "/v1/models/{name}/learn", "/v1/models/{name}/predict", "/v1/models/{name}/state",
                                 "/", "/dashboard/{file}"}
    assert set(doc["paths"]["/v1/streams/{name}"]) >= {"put", "get", "delete"}
    name = fresh(client, {"alpha": 0.5})
    client.post(f"/v1/streams/{name}/observations", json={"keys": ["a", "b"], "values": [1.0, 2.0]})
    client.post(f"/v1/streams/{name}/observations", json={"keys": ["a"], "values": ["x"]})
    text = client.get("/metrics").text
    for line in ('streamopt_requests_total{method="POST",route="/v1/streams/{name}/observations",status="200"}',
                 'streamopt_requests_total{method="POST",route="/v1/streams/{name}/observations",status="400"}',
                 "streamopt_request_seconds_bucket", "streamopt_observations_applied_total",
                 "streamopt_duplicates_total", "streamopt_database_bytes"):
        assert line in text, line
    size = next(float(x.split()[1]) for x in text.splitlines() if x.startswith("streamopt_database_bytes "))
    assert size > 0


def test_unknown_route_and_method_are_json_errors(client):
    r = client.get("/v2/nothing")
    assert r.status_code == 404 and "/v2/nothing" in r.json()["error"]
    r = client.post("/v1/streams/x")
    assert r.status_code == 405 and "POST" in r.json()["error"]


# ------------------------------------------------------------------ streams
def test_put_creates_then_is_idempotent_then_conflicts(client):
    name = next(_names)
    r = client.put(f"/v1/streams/{name}", json={"com": 1.0, "stats": ["mean", "std"]})
    assert r.status_code == 201
    assert r.json()["config"] == {"alpha": 0.5, "adjust": True, "ignore_na": False, "min_periods": 1,
                                  "stats": ["mean", "std"], "times": False}
    assert client.put(f"/v1/streams/{name}", json={"alpha": 0.5, "stats": ["mean", "std"]}).status_code == 200
    for other in ({"alpha": 0.25, "stats": ["mean", "std"]}, {"alpha": 0.5, "stats": ["std", "mean"]},
                  {"alpha": 0.5, "stats": ["mean", "std"], "adjust": False}):
        r = client.put(f"/v1/streams/{name}", json=other)
        assert r.status_code == 409 and name in r.json()["error"], other
    info = client.get(f"/v1/streams/{name}").json()
    assert info == {"name": name, "config": {"alpha": 0.5, "adjust": True, "ignore_na": False, "min_periods": 1,
                                             "stats": ["mean", "std"], "times": False},
                    "keys": 0, "observations": 0, "batches": 0, "producers": 0}
    assert name in client.get("/v1/streams").json()["streams"]


@pytest.mark.parametrize("body, field", [
    ({}, "exactly one"), ({"alpha": 0.5, "span": 3}, "span"), ({"alpha": 2.0}, "alpha"),
    ({"alpha": "0.5"}, "alpha"), ({"alpha": True}, "alpha"), ({"halflife": "soon"}, "halflife"),
    ({"alpha": 0.5, "stats": ["median"]}, "stats"), ({"alpha": 0.5, "stats": "mean"}, "stats"),
    ({"alpha": 0.5, "adjust": 1}, "adjust"), ({"alpha": 0.5, "min_periods": -1}, "min_periods"),
    ({"alpha": 0.5, "min_periods": 1.5}, "min_periods"), ({"alpha": 0.5, "times": True}, "times"),
    ({"halflife": "1h", "times": False}, "times"), ({"alpha": 0.5, "beta": 0.5}, "beta"),
    ([0.5], "object"), ("alpha", "object"),
])
def test_put_refuses_bad_configurations(client, body, field):
    name = next(_names)
    r = client.put(f"/v1/streams/{name}", json=body)
    assert r.status_code == 400 and field in r.json()["error"], (body, r.text)
    assert client.get(f"/v1/streams/{name}").status_code == 404


def test_put_refuses_bad_bodies_and_names(client):
    for content in (b"", b"{", b'{"alpha": NaN}', b'{"alpha": 1e999}', b"\xff"):
        r = client.put("/v1/streams/ok", content=content)
        assert r.status_code == 400 and "error" in r.json(), content
    for name in ("-x", "a" * 129, "a b", "ü"):
        r = client.put(f"/v1/streams/{name}", json={"alpha": 0.5})
        assert r.status_code == 400 and "stream name" in r.json()["error"], name


def test_delete_stream(client):
    name = fresh(client, {"alpha": 0.5})
    client.post(f"/v1/streams/{name}/observations", json={"producer": "p", "seq": 5, "keys": ["a"], "values": [1.0]})
    assert client.delete(f"/v1/streams/{name}").status_code == 204
    assert client.get(f"/v1/streams/{name}").status_code == 404
    assert client.delete(f"/v1/streams/{name}").status_code == 404
    assert client.post(f"/v1/streams/{name}/observations", json={"keys": ["a"], "values": [1.0]}).status_code == 404
    fresh(client, {"alpha": 0.25}, name)  # a new stream of that name: no keys, no producers
    r = client.post(f"/v1/streams/{name}/observations",
                    json={"producer": "p", "seq": 5, "keys": ["a"], "values": [2.0]})
    assert r.json()["duplicate"] is False and r.json()["batch"] == 1


# ------------------------------------------------------------------ observations
def test_results_and_keys_equal_ewm_bit_for_bit(client):
    rng = np.random.default_rng(12)
    stats = ("mean", "var", "std")
    name = fresh(client, {"span": 7.0, "stats": list(stats), "min_periods": 2, "ignore_na": True})
    keys_all, values_all, got = [], [], {s: [] for s in stats}
    for batch in range(6):
        n = int(rng.integers(0, 40))
        keys = [f"k{int(k)}" for k in rng.integers(0, 9, n)]
        values = [None if rng.random() < 0.1 else float(v) for v in rng.normal(100, 10, n)]
        r = client.post(f"/v1/streams/{name}/observations", json={"keys": keys, "values": values})
        body = r.json()
        assert r.status_code == 200 and body["applied"] == n and body["batch"] == batch + 1, r.text
        for s in stats:
            got[s] += body["results"][s]
        keys_all += keys
        values_all += values
    want = expected(values_all, keys_all, stats, span=7.0, min_periods=2, ignore_na=True)
    for s in stats:
        assert same(as_array(got[s]), want[s]), s
    listed = client.get(f"/v1/streams/{name}/keys", params={"limit": 10_000}).json()
    assert listed == {"keys": list(dict.fromkeys(keys_all)), "next": None}
    for key in listed["keys"]:
        state = client.get(f"/v1/streams/{name}/keys/{key}").json()
        last = max(i for i, k in enumerate(keys_all) if k == key)
        assert state["key"] == key and state["time"] is None
        assert state["count"] == sum(1 for k, v in zip(keys_all, values_all) if k == key and v is not None)
        for s in stats:
            assert same(as_array([state[s]]), want[s][last:last + 1]), (key, s)
    info = client.get(f"/v1/streams/{name}").json()
    assert (info["keys"], info["observations"], info["batches"]) == (len(listed["keys"]), len(keys_all), 6)


def test_results_false_and_integer_keys(client):
    name = fresh(client, {"alpha": 0.5, "stats": ["mean"]})
    r = client.post(f"/v1/streams/{name}/observations", params={"results": "false"},
                    json={"keys": [17, -3, 17], "values": [1, 2.5, 3]})
    assert r.json() == {"applied": 3, "duplicate": False, "batch": 1}
    state = client.get(f"/v1/streams/{name}/keys/17").json()
    assert state == {"key": 17, "count": 2, "time": None, "time_ns": None, "mean": (1 * 0.5 + 3) / 1.5}
    assert client.get(f"/v1/streams/{name}/keys/-3").json()["mean"] == 2.5
    assert client.get(f"/v1/streams/{name}/keys/x").status_code == 404
    assert client.get(f"/v1/streams/{name}/keys", params={"after": 17}).json() == {"keys": [-3], "next": None}
    r = client.post(f"/v1/streams/{name}/observations", json={"keys": ["17"], "values": [1]})
    assert r.status_code == 400 and "keys" in r.json()["error"]
    assert client.post(f"/v1/streams/{name}/observations", params={"results": "maybe"},
                       json={"keys": [1], "values": [1]}).status_code == 400


def test_times_iso_and_nanoseconds_and_422(client):
    name = fresh(client, {"halflife": "1h", "stats": ["mean", "std"]})
    keys = ["a", "b", "a", "a", "b"]
    values = [1.0, 5.0, None, 4.0, 7.0]
    times = ["2024-01-01T00:00:00Z", "2024-01-01T00:30:00+00:00", "2024-01-01 01:00",
             int(pd.Timestamp("2024-01-01T02:00:00").value), "2024-01-01T03:00:00.000000001Z"]
    r = client.post(f"/v1/streams/{name}/observations", json={"keys": keys, "values": values, "times": times})
    assert r.status_code == 200, r.text
    want = expected(values, keys, ("mean", "std"), times=[pd.Timestamp(t, tz="UTC") for t in times], halflife="1h")
    assert same(as_array(r.json()["results"]["mean"]), want["mean"])
    assert same(as_array(r.json()["results"]["std"]), want["std"])
    before = client.get(f"/v1/streams/{name}/keys/a").json()
    assert before["time"] == "2024-01-01T02:00:00+00:00" and before["count"] == 2
    # key a's last time is 02:00: a batch going back in time is refused whole, naming the key and position
    r = client.post(f"/v1/streams/{name}/observations",
                    json={"keys": ["b", "a"], "values": [1.0, 2.0], "times": ["2024-01-02", "2024-01-01T01:59:59Z"]})
    assert r.status_code == 422 and "'a'" in r.json()["error"] and "position 1" in r.json()["error"], r.text
    assert client.get(f"/v1/streams/{name}/keys/a").json() == before
    assert client.get(f"/v1/streams/{name}").json()["observations"] == 5
    r = client.post(f"/v1/streams/{name}/observations", json={"keys": ["a"], "values": [1.0]})
    assert r.status_code == 400 and "times" in r.json()["error"]


@pytest.mark.parametrize("body, status, words", [
    ({"values": [1.0]}, 400, ["keys", "required"]),
    ({"keys": ["a"]}, 400, ["values", "required"]),
    ({"keys": "a", "values": [1.0]}, 400, ["keys"]),
    ({"keys": ["a", "b"], "values": [1.0]}, 400, ["values", "2"]),
    ({"keys": ["a", "b"], "values": [1.0, "2"]}, 400, ["values[1]"]),
    ({"keys": ["a", "b"], "values": [1.0, True]}, 400, ["values[1]"]),
    ({"keys": ["a", "b"], "values": [1.0, [2]]}, 400, ["values[1]"]),
    ({"keys": ["a", 1.5], "values": [1.0, 2.0]}, 400, ["keys[1]"]),
    ({"keys": ["a", None], "values": [1.0, 2.0]}, 400, ["keys[1]"]),
    ({"keys": [True], "values": [1.0]}, 400, ["keys[0]"]),
    ({"keys": ["a", 2], "values": [1.0, 2.0]}, 400, ["keys[1]"]),
    ({"keys": ["a", "é" * 129], "values": [1.0, 2.0]}, 400, ["keys[1]", "256"]),
    ({"keys": [2**64], "values": [1.0]}, 400, ["keys[0]"]),
    ({"keys": ["a"], "values": [1.0], "producer": "p"}, 400, ["seq"]),
    ({"keys": ["a"], "values": [1.0], "seq": 1}, 400, ["producer"]),
    ({"keys": ["a"], "values": [1.0], "producer": "p", "seq": -1}, 400, ["seq"]),
    ({"keys": ["a"], "values": [1.0], "producer": "p", "seq": 1.0}, 400, ["seq"]),
    ({"keys": ["a"], "values": [1.0], "producer": "", "seq": 1}, 400, ["producer"]),
    ({"keys": ["a"], "values": [1.0], "times": [0]}, 400, ["times"]),
    ({"keys": ["a"], "values": [1.0], "extra": 1}, 400, ["extra"]),
    ([1.0], 400, ["object"]),
])
def test_post_refuses_bad_batches_and_applies_nothing(client, body, status, words):
    name = fresh(client, {"alpha": 0.5})
    good = client.post(f"/v1/streams/{name}/observations", json={"keys": ["a"], "values": [3.0]})
    assert good.status_code == 200
    r = client.post(f"/v1/streams/{name}/observations", json=body)
    assert r.status_code == status, r.text
    for word in words:
        assert word in r.json()["error"], (word, r.text)
    info = client.get(f"/v1/streams/{name}").json()
    assert (info["keys"], info["observations"], info["batches"]) == (1, 1, 1)
    assert client.get(f"/v1/streams/{name}/keys/a").json()["mean"] == 3.0


def test_post_refuses_malformed_json_nan_and_bad_times(client):
    name = fresh(client, {"halflife": "1D"})
    for content, word in ((b'{"keys": ["a"], "values": [NaN], "times": [0]}', "JSON"),
                          (b'{"keys": ["a"], "values": [1e999], "times": [0]}', "JSON"),
                          (b'{"keys": ["a"], "values": [Infinity], "times": [0]}', "JSON"),
                          (b'{"keys": ["a"], "values": [1.0], "times": ["yesterday"]}', "times[0]"),
                          (b'{"keys": ["a"], "values": [1.0], "times": ["NaT"]}', "times[0]"),
                          (b'{"keys": ["a"], "values": [1.0], "times": [1.5]}', "times[0]"),
                          (b'{"keys": ["a"], "values": [1.0], "times": [-9223372036854775808]}', "times[0]"),
                          (b'{"keys": ["a"]', "JSON"), (b"", "empty")):
        r = client.post(f"/v1/streams/{name}/observations", content=content,
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and word in r.json()["error"], (content, r.text)
    r = client.post(f"/v1/streams/{name}/observations", content=b"<a/>", headers={"Content-Type": "text/xml"})
    assert r.status_code == 415
    r = client.post("/v1/streams/nothing-here/observations", json={"keys": ["a"], "values": [1.0]})
    assert r.status_code == 404 and "nothing-here" in r.json()["error"]
    assert client.get(f"/v1/streams/{name}").json()["observations"] == 0


def test_duplicates_and_seq_reuse_after_a_rejection(client):
    name = fresh(client, {"alpha": 0.5, "stats": ["mean"]})
    post = lambda **b: client.post(f"/v1/streams/{name}/observations", json=b)  # noqa: E731
    r = post(producer="p", seq=1, keys=["a"], values=[1.0])
    assert r.json()["duplicate"] is False and r.json()["batch"] == 1
    r = post(producer="p", seq=1, keys=["a"], values=[1.0])
    assert r.status_code == 200 and r.json() == {"applied": 0, "duplicate": True, "batch": 1}
    r = post(producer="p", seq=0, keys=["a"], values=[9.0])  # below the last seq, never applied: no batch
    assert r.json() == {"applied": 0, "duplicate": True, "batch": None}
    r = post(producer="p", seq=3, keys=["a", 1], values=[5.0, 5.0])  # rejected: seq 3 stays free
    assert r.status_code == 400
    r = post(producer="p", seq=3, keys=["a"], values=[5.0])
    assert r.json()["duplicate"] is False and r.json()["batch"] == 2
    r = post(producer="p", seq=2, keys=["a"], values=[7.0])  # skipped over: a duplicate now
    assert r.json() == {"applied": 0, "duplicate": True, "batch": None}
    r = post(producer="q", seq=1, keys=["a"], values=[3.0])  # producers are independent
    assert r.json()["duplicate"] is False and r.json()["batch"] == 3
    r = post(keys=["a"], values=[1.0])  # no producer: no deduplication
    assert r.json()["batch"] == 4
    assert client.get(f"/v1/streams/{name}/keys/a").json()["count"] == 4
    want = expected([1.0, 5.0, 3.0, 1.0], ["a"] * 4, ("mean",), alpha=0.5)["mean"]
    assert client.get(f"/v1/streams/{name}/keys/a").json()["mean"] == want[-1]
    assert client.get(f"/v1/streams/{name}").json()["producers"] == 2


def test_csv_bodies(client):
    name = fresh(client, {"halflife": "1h", "stats": ["mean", "var"]})
    text = "time,key,value\n2024-01-01T00:00:00Z,a,1.5\n3600000000000,b,\n2024-01-01T02:00Z,a,NaN\n" \
           "2024-01-01T03:00Z,a,-2e1\n"
    r = client.post(f"/v1/streams/{name}/observations", content=text, params={"producer": "csv", "seq": "1"},
                    headers={"Content-Type": "text/csv; charset=utf-8"})
    assert r.status_code == 200, r.text
    times = [pd.Timestamp(t, tz="UTC") for t in ("2024-01-01T00:00", "1970-01-01T01:00", "2024-01-01T02:00",
                                                  "2024-01-01T03:00")]
    want = expected([1.5, None, None, -20.0], ["a", "b", "a", "a"], ("mean", "var"), times=times, halflife="1h")
    assert same(as_array(r.json()["results"]["mean"]), want["mean"])
    assert same(as_array(r.json()["results"]["var"]), want["var"])
    r = client.post(f"/v1/streams/{name}/observations", content=text, params={"producer": "csv", "seq": "1"},
                    headers={"Content-Type": "text/csv"})
    assert r.json()["duplicate"] is True
    for bad, word in (("key,value,extra\na,1,2\n", "header"), ("key,time,value\na,2024-01-05,x\n", "value[0]"),
                      ("key,time,value\na,2024-01-05,inf\n", "value[0]"), ("key,time,value\na,1\n", "row 0"),
                      ("key,time,value\na,soon,1\n", "time[0]"), ("", "empty")):
        r = client.post(f"/v1/streams/{name}/observations", content=bad, headers={"Content-Type": "text/csv"})
        assert r.status_code == 400 and word in r.json()["error"], (bad, r.text)
    r = client.post(f"/v1/streams/{name}/observations", content="key,time,value\na,2024-01-05,1\n",
                    params={"producer": "csv", "seq": "x"}, headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and "seq" in r.json()["error"]
    assert client.get(f"/v1/streams/{name}").json()["observations"] == 4


def test_keys_pages(client):
    name = fresh(client, {"alpha": 0.5})
    keys = [f"key/{i:03d}" for i in range(25)][::-1]  # order of first appearance, not sorted; '/' in a key
    client.post(f"/v1/streams/{name}/observations", json={"keys": keys, "values": [1.0] * 25})
    seen, after = [], None
    while True:
        params = {"limit": 10} if after is None else {"limit": 10, "after": after}
        page = client.get(f"/v1/streams/{name}/keys", params=params).json()
        seen += page["keys"]
        after = page["next"]
        if after is None:
            break
    assert seen == keys
    assert client.get(f"/v1/streams/{name}/keys/key%2F007").json()["key"] == "key/007"
    for params, word in (({"limit": 0}, "limit"), ({"limit": "x"}, "limit"), ({"limit": 10**6}, "limit"),
                         ({"after": "nope"}, "after")):
        r = client.get(f"/v1/streams/{name}/keys", params=params)
        assert r.status_code == 400 and word in r.json()["error"], params
    assert client.get("/v1/streams/nope/keys").status_code == 404
    assert client.get(f"/v1/streams/{name}/keys/nope").status_code == 404


# ------------------------------------------------------------------ auth and limits
@pytest.fixture(scope="module")
def guarded():
    with Server(":memory:", env={"STREAMOPT_TOKEN": "s3cret token"}, args=("--max-body-bytes", "2048")) as s:
        s.token = "s3cret token"  # for s.client() and s.headers
        yield s


def test_token_is_required_on_v1_and_metrics(guarded):
    assert httpx.get(guarded.url + "/healthz").status_code == 200
    assert httpx.get(guarded.url + "/openapi.json").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret token"},
                    {"Authorization": "Bearer s3cret tokens"}, {"Authorization": "Basic s3cret token"}):
        for method, path in (("PUT", "/v1/streams/a"), ("GET", "/v1/streams/a"), ("GET", "/v1/streams"),
                             ("POST", "/v1/streams/a/observations"), ("GET", "/metrics")):
            r = httpx.request(method, guarded.url + path, headers=headers, json={"alpha": 0.5})
            assert r.status_code == 401 and "token" in r.json()["error"], (headers, path)
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = httpx.get(guarded.url + "/v1/streams", headers={"Authorization": "bearer s3cret token"})
    assert r.status_code == 200  # the scheme is case-insensitive (RFC 7235)
    with guarded.client() as c:
        assert c.put("/v1/streams/a", json={"alpha": 0.5}).status_code == 201
        r = c.post("/v1/streams/a/observations", json={"keys": ["x", "x"], "values": [1.0, 2.0]})
        assert r.json()["results"]["mean"] == pytest.approx([1.0, 5 / 3], rel=1e-15, abs=0)  # within an ulp
        metrics = c.get("/metrics")
        assert metrics.status_code == 200 and "streamopt_database_bytes 0.0" in metrics.text  # --db :memory:


def test_body_limit(guarded):
    with guarded.client() as c:
        c.put("/v1/streams/big", json={"alpha": 0.5})
        small = {"keys": ["a"] * 100, "values": [1.0] * 100}
        assert c.post("/v1/streams/big/observations", json=small).status_code == 200
        big = {"keys": ["a"] * 400, "values": [1.0] * 400}
        r = c.post("/v1/streams/big/observations", json=big)
        assert r.status_code == 413 and "2048" in r.json()["error"]

        def chunks():  # no Content-Length: the server counts what arrives
            for _ in range(10):
                yield b" " * 1000

        r = c.post("/v1/streams/big/observations", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        r = c.put("/v1/streams/big2", content=b" " * 3000 + b'{"alpha": 0.5}')
        assert r.status_code == 413
        assert c.get("/v1/streams/big").json()["observations"] == 100


# ------------------------------------------------------------------ restarts and the command line
def test_restart_keeps_state_and_producers(tmp_path):
    """Also: --token on the command line, --durability normal, SIGTERM's and SIGINT's exit status 0."""
    rng = np.random.default_rng(3)
    keys = [f"k{int(k)}" for k in rng.integers(0, 5, 60)]
    values = rng.normal(size=60).tolist()
    times = [int(t) for t in np.cumsum(rng.integers(0, 10**9, 60))]
    with Server(tmp_path / "r.db", token="t0k", durability="normal") as server:
        assert httpx.get(server.url + "/v1/streams").status_code == 401
        with server.client() as c:
            fresh(c, {"halflife": "2s", "stats": ["mean", "var", "std"]}, "r")
            r1 = c.post("/v1/streams/r/observations", json={"producer": "p", "seq": 1, "keys": keys[:30],
                                                            "values": values[:30], "times": times[:30]})
        assert server.stop() == 0  # SIGTERM: a clean stop
        server.start()
        with server.client() as c:
            r = c.post("/v1/streams/r/observations", json={"producer": "p", "seq": 1, "keys": keys[:30],
                                                           "values": values[:30], "times": times[:30]})
            assert r.json() == {"applied": 0, "duplicate": True, "batch": 1}
            assert server.stop(sig=signal.SIGINT) == 0  # Ctrl-C: a clean stop too
            server.start()
            server.kill9()
            server.restart()
            r2 = c.post("/v1/streams/r/observations", json={"producer": "p", "seq": 2, "keys": keys[30:],
                                                            "values": values[30:], "times": times[30:]})
            assert r2.json()["batch"] == 2
            want = expected(values, keys, ("mean", "var", "std"), times=pd.to_datetime(times, utc=True), halflife="2s")
            for s in ("mean", "var", "std"):
                got = as_array(r1.json()["results"][s] + r2.json()["results"][s])
                assert same(got, want[s]), s
            assert c.get("/v1/streams/r/keys").json()["keys"] == list(dict.fromkeys(keys))
            assert c.get("/v1/streams/r").json()["observations"] == 60


def _serve(capsys, *args: str) -> tuple[int, str]:
    """``streamopt serve ARGS`` in this process (each case fails before serving): (exit status, stderr)."""
    from streamopt.cli import main

    status = main(["serve", *args])
    return status, capsys.readouterr().err


def test_serve_refuses_a_public_address_without_a_token(capsys, monkeypatch):
    monkeypatch.delenv("STREAMOPT_TOKEN", raising=False)
    status, err = _serve(capsys, "--host", "0.0.0.0", "--port", "0")
    assert status == 2 and "non-loopback" in err and "STREAMOPT_TOKEN" in err
    status, err = _serve(capsys, "--host", "0.0.0.0", "--token", " ")
    assert status == 2 and "--token" in err
    monkeypatch.setenv("STREAMOPT_TOKEN", "")
    status, err = _serve(capsys, "--host", "0.0.0.0", "--port", "0")
    assert status == 2 and "non-loopback" in err


def test_serve_refuses_a_database_in_use_and_a_port_in_use(tmp_path, capsys):
    with Server(tmp_path / "busy.db") as server:
        status, err = _serve(capsys, "--db", str(tmp_path / "busy.db"), "--port", "0")
        assert status == 2 and "another streamopt serve" in err, err
        status, err = _serve(capsys, "--db", str(tmp_path / "other.db"), "--port", str(server.port))
        assert status == 2 and "cannot listen" in err, err
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    status, err = _serve(capsys, "--db", str(tmp_path / "junk.db"), "--port", "0")
    assert status == 2 and "junk.db" in err and "Traceback" not in err, err


# ------------------------------------------------------------------ the engine in process: a failing commit
def test_a_failed_commit_restores_the_touched_keys_and_answers_503(tmp_path):
    from streamopt.service.engine import Engine, canonical_config
    from streamopt.service.parse import ApiError, parse_json_batch

    async def scenario():
        engine = Engine(str(tmp_path / "f.db"))
        await engine.start()
        try:
            await engine.create("f", canonical_config({"alpha": 0.5, "stats": ["mean", "var"]}, False))
            _, ok = await engine.post("f", parse_json_batch({"producer": "p", "seq": 1, "keys": ["a", "b"],
                                                             "values": [1.0, 2.0]}))
            entry = engine.streams["f"]
            before = entry.stream.key_states().tobytes()
            real = engine._store.commit

            def broken(writes):
                raise OSError("disk full")

            engine._store.commit = broken
            batch = parse_json_batch({"producer": "p", "seq": 2, "keys": ["a", "c", "b"], "values": [5.0, 6.0, 7.0]})
            other = parse_json_batch({"producer": "q", "seq": 1, "keys": ["d", "a"], "values": [1.0, 2.0]})
            failed = await asyncio.gather(engine.post("f", batch), engine.post("f", other), return_exceptions=True)
            for answer in failed:  # one group, one failed commit: both refused
                assert isinstance(answer, ApiError) and answer.status == 503 and "disk full" in answer.message
            assert engine.commits == 1  # the first batch; the failed group is not counted
            assert entry.stream.key_states().tobytes() == before and entry.stream.keys() == ["a", "b"]
            assert entry.order == ["a", "b"] and entry.producers == {"p": 1} and entry.batches == 1
            assert entry.observations == 2
            engine._store.commit = real
            _, again = await engine.post("f", batch)  # the same seq: not used up by the failure
            assert again["duplicate"] is False and again["batch"] == 2
            want = expected([1.0, 2.0, 5.0, 6.0, 7.0], ["a", "b", "a", "c", "b"], ("mean", "var"), alpha=0.5)
            assert same(np.concatenate([ok["results"]["mean"], again["results"]["mean"]]), want["mean"])
        finally:
            await engine.stop()
        reopened = Engine(str(tmp_path / "f.db"))
        await reopened.start()
        try:
            assert reopened.streams["f"].stream.key_states().tobytes() == \
                engine.streams["f"].stream.key_states().tobytes()
            assert reopened.streams["f"].producers == {"p": 2}
        finally:
            await reopened.stop()

    asyncio.run(scenario())


def test_math_of_a_known_case(client):
    """A hand-computed case, independent of every code path: mean of 1 and 3 with alpha 0.5, adjust=True."""
    name = fresh(client, {"alpha": 0.5, "stats": ["mean", "var"]})
    r = client.post(f"/v1/streams/{name}/observations", json={"keys": ["a", "a"], "values": [1.0, 3.0]})
    mean = (0.5 * 1 + 3) / 1.5
    var = (0.5 * (1 - mean) ** 2 + (3 - mean) ** 2) / 1.5 / (1 - (1 + 0.25) / 1.5**2)
    assert r.json()["results"]["mean"] == [1.0, mean]
    assert r.json()["results"]["var"][0] is None and math.isclose(r.json()["results"]["var"][1], var, rel_tol=1e-14)


def test_the_readme_requests_give_the_readme_answers(client):
    """README's "Service" section shows these requests (as curl commands) and these answers, byte for byte."""
    answers = []
    r = client.put("/v1/streams/temps", content='{"halflife": "1h", "stats": ["mean", "std"]}',
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 201
    answers.append(r.text)
    assert r.text == ('{"name":"temps","config":{"halflife":"0 days 01:00:00","adjust":true,"ignore_na":false,'
                      '"min_periods":1,"stats":["mean","std"],"times":true},"keys":0,"observations":0,"batches":0,'
                      '"producers":0}')
    body = ('{"producer": "hub", "seq": 1, "keys": ["kitchen", "garage", "kitchen"], "values": [21.5, 12.0, 22.5], '
            '"times": ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"]}')
    r = client.post("/v1/streams/temps/observations", content=body, headers={"Content-Type": "application/json"})
    answers.append(r.text)
    assert r.text == ('{"applied":3,"duplicate":false,"batch":1,"results":{"mean":[21.5,12.0,22.166666666666668],'
                      '"std":[null,null,0.7071067811865476]}}')
    r = client.post("/v1/streams/temps/observations", content=body, headers={"Content-Type": "application/json"})
    assert r.text == '{"applied":0,"duplicate":true,"batch":1}'
    r = client.post("/v1/streams/temps/observations", params={"producer": "import", "seq": 1},
                    content="key,time,value\ngarage,2024-05-01T12:00:00Z,13.5\n", headers={"Content-Type": "text/csv"})
    answers.append(r.text)
    assert r.text == ('{"applied":1,"duplicate":false,"batch":2,"results":{"mean":[13.200000000000001],'
                      '"std":[1.0606601717798214]}}')  # 13.2 and √1.125, each to an ulp
    answers.append(client.get("/v1/streams/temps/keys/kitchen").text)
    assert answers[-1] == (
        '{"key":"kitchen","count":2,"time":"2024-05-01T11:00:00+00:00","time_ns":1714561200000000000,'
        '"mean":22.166666666666668,"std":0.7071067811865476}')
    r = client.get("/v1/streams/temps/keys", params={"limit": 100})
    assert r.text == '{"keys":["kitchen","garage"],"next":null}'
    answers.append(r.text)
    shown = README.read_text(encoding="utf-8").split("answer, in order", 1)[1].split("```text\n", 1)[1]
    assert answers == shown.split("```", 1)[0].splitlines()  # the README shows exactly these answers
    r = client.post("/v1/streams/temps/observations", headers={"Content-Type": "application/json"},
                    content='{"keys": ["kitchen"], "values": [20.0], "times": ["2024-05-01T09:00:00Z"]}')
    assert r.status_code == 422
    assert r.text == ('{"error":"times must be non-decreasing within each key, got 2024-05-01 09:00:00 at position 0 '
                      'of the chunk, before key \'kitchen\'\'s last time 2024-05-01 11:00:00; nothing was applied"}')
    assert client.delete("/v1/streams/temps").status_code == 204
