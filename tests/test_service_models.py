"""Models in the service over real HTTP: create, learn, predict, state, errors, auth, restarts, group commits.

The server is a real ``python -m streamopt serve`` process (tests/_server.py)
with a token.  Every expected value comes from the library run offline on
the same batches (``loss, g = net.gradients(Xb, Yb); opt.step(g)``, the
batch ``streamopt.ewa``), never from the server.
"""

from __future__ import annotations

import asyncio
import itertools

import httpx
import numpy as np
import pytest

import streamopt
from streamopt import MLP, SGD, Adam, Momentum, RMSprop, epochs, schedules
from streamopt.datasets import moons
from _server import Server

X, Y = moons(300, seed=3)
DIMS = [2, 5, 2, 1]
ADAM = {"layers": DIMS, "seed": 3, "optimizer": {"name": "adam", "lr": 0.0007}}
_names = (f"m{i}" for i in itertools.count())


def notes_batches(n_epochs: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The notes' mini-batches of 64 (epoch i shuffled with seed 11 + i), examples as columns."""
    return [b for batches in epochs(X, Y, 64, seed=10, n_epochs=n_epochs, axis=1) for b in batches]


def body(xb: np.ndarray, yb: np.ndarray, producer: str | None = None, seq: int | None = None) -> dict:
    """A learn body: rows are examples."""
    out = {"X": xb.T.tolist(), "y": yb[0].tolist()}
    if producer is not None:
        out.update(producer=producer, seq=seq)
    return out


class Offline:
    """The library alone, one batch at a time: what the service must equal bit for bit."""

    def __init__(self, opt_cls=Adam, schedule=None, **options) -> None:
        self.net = MLP(DIMS, seed=3)
        self.opt = opt_cls(self.net.params, **options)
        self.schedule = schedule
        self.losses: list[float] = []
        self.accuracies: list[float] = []

    def step(self, xb, yb) -> None:
        self.accuracies.append(float(np.mean(self.net.predict(xb) == yb)))
        loss, g = self.net.gradients(xb, yb)
        if self.schedule is not None:
            self.opt.lr = self.schedule(self.opt.t)
        self.opt.step(g)
        self.losses.append(loss)


def same_state(state: dict, offline: Offline) -> None:
    """The service's GET .../state loads into the library and equals ``offline`` bit for bit."""
    net = MLP.from_state(state["model"])
    assert net.params.flat.tobytes() == offline.net.params.flat.tobytes()
    opt = type(offline.opt)(net.params, lr=1.0)
    opt.load_state_dict(state["optimizer"])
    assert opt.state_dict() == offline.opt.state_dict()
    assert state["step"] == offline.opt.t == len(offline.losses)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Server(tmp_path_factory.mktemp("models") / "m.db", token="tr41n") as s:
        yield s


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


def fresh(client: httpx.Client, config: dict | None = None) -> str:
    name = next(_names)
    r = client.put(f"/v1/models/{name}", json=config or ADAM)
    assert r.status_code == 201, r.text
    return name


# ------------------------------------------------------------------ creating
def test_put_creates_then_is_idempotent_then_conflicts(client):
    name = next(_names)
    r = client.put(f"/v1/models/{name}", json=ADAM)
    assert r.status_code == 201
    info = r.json()
    assert info["step"] == 0 and info["loss"] is None and info["accuracy"] is None
    assert info["config"] == {"layers": DIMS, "seed": 3, "schedule": None, "optimizer": {
        "name": "adam", "lr": 0.0007, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
        "decoupled": False, "amsgrad": False}}
    spelled_out = {"layers": DIMS, "optimizer": {"name": "adam", "lr": 0.0007, "beta1": 0.9, "eps": 1e-8},
                   "schedule": None}
    assert client.put(f"/v1/models/{name}", json=spelled_out).status_code == 200  # same model, defaults written
    for other in ({**ADAM, "seed": 4}, {**ADAM, "layers": [2, 4, 1]},
                  {**ADAM, "optimizer": {"name": "adam", "lr": 0.001}},
                  {**ADAM, "optimizer": {"name": "sgd", "lr": 0.0007}},
                  {**ADAM, "schedule": {"name": "inverse_sqrt", "lr0": 0.0007}}):
        r = client.put(f"/v1/models/{name}", json=other)
        assert r.status_code == 409 and "another configuration" in r.json()["error"], other
    assert name in client.get("/v1/models").json()["models"]


@pytest.mark.parametrize("config, field", [
    ({"optimizer": {"name": "adam", "lr": 0.1}}, "layers"),
    ({"layers": [2], "optimizer": {"name": "adam", "lr": 0.1}}, "layers"),
    ({"layers": [2, 0, 1], "optimizer": {"name": "adam", "lr": 0.1}}, "layers[1]"),
    ({"layers": [2, True], "optimizer": {"name": "adam", "lr": 0.1}}, "layers[1]"),
    ({"layers": [2, 2.5], "optimizer": {"name": "adam", "lr": 0.1}}, "layers[1]"),
    ({"layers": [1000, 1000, 1000], "optimizer": {"name": "adam", "lr": 0.1}}, "parameters"),
    ({"layers": [2, 1], "seed": -1, "optimizer": {"name": "adam", "lr": 0.1}}, "seed"),
    ({"layers": [2, 1], "seed": 2**32, "optimizer": {"name": "adam", "lr": 0.1}}, "seed"),
    ({"layers": [2, 1]}, "optimizer"),
    ({"layers": [2, 1], "optimizer": "adam"}, "optimizer"),
    ({"layers": [2, 1], "optimizer": {"name": "adamw", "lr": 0.1}}, "optimizer.name"),
    ({"layers": [2, 1], "optimizer": {"name": "adam"}}, "optimizer.lr"),
    ({"layers": [2, 1], "optimizer": {"name": "adam", "lr": -0.1}}, "lr"),
    ({"layers": [2, 1], "optimizer": {"name": "adam", "lr": 0.1, "beta1": 1.0}}, "beta1"),
    ({"layers": [2, 1], "optimizer": {"name": "adam", "lr": 0.1, "beta": 0.9}}, "optimizer.beta"),
    ({"layers": [2, 1], "optimizer": {"name": "adam", "lr": 0.1, "check_finite": False}}, "optimizer.check_finite"),
    ({"layers": [2, 1], "optimizer": {"name": "momentum", "lr": 0.1, "form": "other"}}, "form"),
    ({"layers": [2, 1], "optimizer": {"name": "adam", "lr": 0.1, "amsgrad": {}}}, "optimizer.amsgrad"),
    ({"layers": [2, 1], "optimizer": {"name": "sgd", "lr": 0.1}, "schedule": {"name": "cosine"}}, "schedule.name"),
    ({"layers": [2, 1], "optimizer": {"name": "sgd", "lr": 0.1},
      "schedule": {"name": "inverse_time", "lr0": 0.1}}, "decay_rate"),
    ({"layers": [2, 1], "optimizer": {"name": "sgd", "lr": 0.1},
      "schedule": {"name": "exponential", "lr0": 0.1, "base": 2.0}}, "base"),
    ({"layers": [2, 1], "optimizer": {"name": "sgd", "lr": 0.1}, "extra": 1}, "extra"),
])
def test_put_refuses_bad_configurations(client, config, field):
    name = next(_names)
    r = client.put(f"/v1/models/{name}", json=config)
    assert r.status_code == 400 and field in r.json()["error"], r.text
    assert client.get(f"/v1/models/{name}").status_code == 404


def test_put_refuses_bad_bodies_and_names(client):
    assert client.put("/v1/models/m-x", content=b"{").status_code == 400
    assert client.put("/v1/models/m-x", json=[1]).status_code == 400
    r = client.put("/v1/models/-bad", json=ADAM)
    assert r.status_code == 400 and "name" in r.json()["error"]


# ------------------------------------------------------------------ learning
def test_learn_equals_the_library_step_by_step_bit_for_bit(client):
    """Each answer (step, loss and accuracy before the step) and the final state equal offline training."""
    name = fresh(client)
    offline = Offline(lr=0.0007)
    for t, (xb, yb) in enumerate(notes_batches(4), start=1):
        offline.step(xb, yb)
        r = client.post(f"/v1/models/{name}/learn", json=body(xb, yb, "p", t))
        assert r.status_code == 200, r.text
        assert r.json() == {"step": t, "loss": offline.losses[-1], "accuracy_before": offline.accuracies[-1],
                            "duplicate": False}
    same_state(client.get(f"/v1/models/{name}/state").json(), offline)
    info = client.get(f"/v1/models/{name}").json()
    smooth = streamopt.ewa(np.array([offline.losses, offline.accuracies]).T, 0.98, bias_correction=True)
    assert info["step"] == 20 and info["producers"] == 1
    assert info["points"]["step"] == list(range(1, 21))
    assert info["points"]["loss"] == offline.losses
    assert info["points"]["accuracy"] == offline.accuracies
    assert info["points"]["loss_ewa"] == smooth[:, 0].tolist()
    assert info["points"]["accuracy_ewa"] == smooth[:, 1].tolist()
    assert (info["loss"], info["accuracy"]) == tuple(smooth[-1].tolist())
    assert "points" not in client.get(f"/v1/models/{name}", params={"points": "false"}).json()


@pytest.mark.parametrize("cls, options", [
    (SGD, {"lr": 0.05}), (Momentum, {"lr": 0.05, "beta": 0.8, "nesterov": True}),
    (RMSprop, {"lr": 0.01, "centered": True}), (Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
])
def test_every_optimizer_with_its_options(client, cls, options):
    name = fresh(client, {"layers": DIMS, "optimizer": {"name": cls.__name__.lower(), **options}})
    offline = Offline(cls, **options)
    for xb, yb in notes_batches(2):
        offline.step(xb, yb)
        assert client.post(f"/v1/models/{name}/learn", json=body(xb, yb)).json()["loss"] == offline.losses[-1]
    same_state(client.get(f"/v1/models/{name}/state").json(), offline)


def test_a_schedule_sets_the_rate_of_each_step(client):
    """Step t + 1 uses lr = schedule(t), t the steps taken before it."""
    name = fresh(client, {"layers": DIMS, "optimizer": {"name": "sgd", "lr": 0.5},
                          "schedule": {"name": "inverse_time", "lr0": 0.5, "decay_rate": 1.0, "interval": 3}})
    offline = Offline(SGD, schedule=schedules.inverse_time(0.5, 1.0, 3), lr=0.5)
    for xb, yb in notes_batches(2):
        offline.step(xb, yb)
        client.post(f"/v1/models/{name}/learn", json=body(xb, yb))
    state = client.get(f"/v1/models/{name}/state").json()
    same_state(state, offline)
    assert streamopt.state.parse_hex_float("lr", state["optimizer"]["lr"]) == 0.5 / (1 + 9 // 3)


def test_duplicates_answer_the_original_step_and_a_rejection_keeps_its_seq(client):
    name = fresh(client)
    b = notes_batches(1)
    assert client.post(f"/v1/models/{name}/learn", json=body(*b[0], "a", 5)).json()["step"] == 1
    assert client.post(f"/v1/models/{name}/learn", json=body(*b[1], "b", 1)).json()["step"] == 2
    for seq, step in ((5, 1), (3, None), (0, None)):
        r = client.post(f"/v1/models/{name}/learn", json=body(*b[2], "a", seq))
        assert r.status_code == 200 and r.json() == {"step": step, "duplicate": True}, r.text
    bad = body(*b[2], "a", 6)
    bad["y"][3] = 2
    r = client.post(f"/v1/models/{name}/learn", json=bad)
    assert r.status_code == 400 and "y[3]" in r.json()["error"]
    r = client.post(f"/v1/models/{name}/learn", json=body(*b[2], "a", 6))  # the same seq, corrected
    assert r.json()["step"] == 3 and r.json()["duplicate"] is False
    assert client.post(f"/v1/models/{name}/learn", json=body(*b[2], "a", 6)).json() == {"step": 3, "duplicate": True}
    offline = Offline(lr=0.0007)
    for xb, yb in b[:3]:
        offline.step(xb, yb)
    same_state(client.get(f"/v1/models/{name}/state").json(), offline)


def _learn_errors() -> list:
    xb, yb = notes_batches(1)[0]
    good = body(xb, yb, "p", 1)
    rows = good["X"]
    cases = [
        ([1, 2], 400, "body"),
        ({**good, "extra": 1}, 400, "extra"),
        ({"y": good["y"]}, 400, "X: required"),
        ({"X": rows}, 400, "y: required"),
        ({**good, "X": []}, 400, "X:"),
        ({**good, "X": "rows"}, 400, "X:"),
        ({**good, "X": [*rows[:5], [1.0, 2.0, 3.0], *rows[6:]]}, 400, "X[5]"),
        ({**good, "X": [*rows[:5], [1.0], *rows[6:]]}, 400, "X[5]"),
        ({**good, "X": [*rows[:7], 1.5, *rows[8:]]}, 400, "X[7]"),
        ({**good, "X": [*rows[:2], [1.0, "2"], *rows[3:]]}, 400, "X[2][1]"),
        ({**good, "X": [*rows[:2], [1.0, None], *rows[3:]]}, 400, "X[2][1]"),
        ({**good, "X": [*rows[:2], [True, 1.0], *rows[3:]]}, 400, "X[2][0]"),
        ({**good, "X": [*rows[:2], [1.0, 10**400], *rows[3:]]}, 400, "infinity"),  # refused by the JSON reader
        ({**good, "y": good["y"][:-1]}, 400, "one label per row"),
        ({**good, "y": [*good["y"][:4], 0.5, *good["y"][5:]]}, 400, "y[4]"),
        ({**good, "y": [*good["y"][:4], -1, *good["y"][5:]]}, 400, "y[4]"),
        ({**good, "y": [*good["y"][:4], "1", *good["y"][5:]]}, 400, "y[4]"),
        ({**good, "seq": -1}, 400, "seq"),
        ({**good, "seq": None}, 400, "producer and seq"),
        ({**good, "producer": ""}, 400, "producer"),
    ]
    return cases


@pytest.mark.parametrize("payload, status, words", _learn_errors())
def test_learn_refuses_bad_batches_and_changes_nothing(client, payload, status, words):
    name = fresh(client)
    before = client.get(f"/v1/models/{name}/state").json()
    r = client.post(f"/v1/models/{name}/learn", json=payload)
    assert r.status_code == status and words in r.json()["error"], r.text
    assert client.get(f"/v1/models/{name}/state").json() == before
    assert client.get(f"/v1/models/{name}").json()["step"] == 0


def test_learn_refuses_malformed_json_and_nan(client):
    name = fresh(client)
    xb, yb = notes_batches(1)[0]
    text = httpx.Request("POST", "/", json=body(xb, yb)).content
    for raw in (b"{", text.replace(b"]]", b"]", 1), text.replace(str(xb[0, 0]).encode(), b"NaN", 1),
                text.replace(str(xb[0, 0]).encode(), b"Infinity", 1),
                text.replace(str(xb[0, 0]).encode(), b"1e999", 1)):
        r = client.post(f"/v1/models/{name}/learn", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "error" in r.json(), raw[:80]
    assert client.get(f"/v1/models/{name}").json()["step"] == 0
    assert client.post("/v1/models/nope/learn", json=body(xb, yb)).status_code == 404
    assert client.post("/v1/models/nope/predict", json={"X": [[0.0, 1.0]]}).status_code == 404


def test_a_diverging_step_is_refused_with_422_and_changes_nothing(client):
    name = fresh(client, {"layers": [2, 1], "optimizer": {"name": "sgd", "lr": 1e300}})
    xb, yb = notes_batches(1)[0]
    answers = [client.post(f"/v1/models/{name}/learn", json=body(xb * 1e150, yb)) for _ in range(4)]
    refused = [r for r in answers if r.status_code != 200]
    assert refused and refused[0].status_code == 422 and "nothing was applied" in refused[0].json()["error"]
    state = client.get(f"/v1/models/{name}/state").json()
    assert np.isfinite(MLP.from_state(state["model"]).params.flat).all()
    assert state["step"] == sum(r.status_code == 200 for r in answers)


def test_predict_equals_the_library(client):
    name = fresh(client)
    offline = Offline(lr=0.0007)
    for xb, yb in notes_batches(1):
        offline.step(xb, yb)
        client.post(f"/v1/models/{name}/learn", json=body(xb, yb))
    r = client.post(f"/v1/models/{name}/predict", json={"X": X.T.tolist()})
    assert r.status_code == 200
    p = offline.net.predict_proba(X)[0]
    assert r.json() == {"probability": p.tolist(), "label": offline.net.predict(X)[0].tolist()}
    for payload, words in (({"X": [[1.0]]}, "X[0]"), ({"X": []}, "X"), ({}, "X: required"),
                           ({"X": [[1, 2]], "y": [1]}, "y")):
        r = client.post(f"/v1/models/{name}/predict", json=payload)
        assert r.status_code == 400 and words in r.json()["error"], payload


def test_several_outputs_take_rows_of_labels(client):
    name = fresh(client, {"layers": [2, 3, 2], "optimizer": {"name": "adam", "lr": 0.01}})
    xb = X[:, :10]
    yb = np.vstack([Y[:, :10], 1 - Y[:, :10]])
    net = MLP([2, 3, 2], seed=3)
    opt = Adam(net.params, lr=0.01)
    loss, g = net.gradients(xb, yb)
    opt.step(g)
    r = client.post(f"/v1/models/{name}/learn", json={"X": xb.T.tolist(), "y": yb.T.tolist()})
    assert r.json()["loss"] == loss
    p = client.post(f"/v1/models/{name}/predict", json={"X": xb.T.tolist()}).json()
    assert p["probability"] == net.predict_proba(xb).T.tolist()
    r = client.post(f"/v1/models/{name}/learn", json={"X": xb.T.tolist(), "y": Y[0, :10].tolist()})
    assert r.status_code == 400 and "y[0]" in r.json()["error"]


def test_delete_model(client):
    name = fresh(client)
    xb, yb = notes_batches(1)[0]
    client.post(f"/v1/models/{name}/learn", json=body(xb, yb, "p", 1))
    assert client.delete(f"/v1/models/{name}").status_code == 204
    assert client.get(f"/v1/models/{name}").status_code == 404
    assert client.delete(f"/v1/models/{name}").status_code == 404
    assert name not in client.get("/v1/models").json()["models"]
    assert client.put(f"/v1/models/{name}", json=ADAM).status_code == 201  # a new model: step 0, seq 1 is new
    assert client.post(f"/v1/models/{name}/learn", json=body(xb, yb, "p", 1)).json()["step"] == 1


# ------------------------------------------------------------------ auth, metrics, OpenAPI, recent window
def test_token_is_required_on_models_but_not_on_the_dashboard(server):
    for method, path in (("PUT", "/v1/models/a"), ("GET", "/v1/models"), ("GET", "/v1/models/a"),
                         ("POST", "/v1/models/a/learn"), ("POST", "/v1/models/a/predict"),
                         ("GET", "/v1/models/a/state"), ("DELETE", "/v1/models/a"), ("GET", "/v1/streams/a/recent")):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = httpx.request(method, server.url + path, headers=headers, json={})
            assert r.status_code == 401, (method, path)
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        r = httpx.get(server.url + "/dashboard/" + name)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind) and r.content, name
    for bad in ("/dashboard/nope.js", "/dashboard/..%2F__init__.py", "/dashboard/../app.py"):
        assert httpx.get(server.url + bad).status_code == 404, bad


def test_metrics_count_learn_steps_and_openapi_lists_every_route(client, server):
    name = fresh(client)
    xb, yb = notes_batches(1)[0]
    client.post(f"/v1/models/{name}/learn", json=body(xb, yb, "p", 1))
    client.post(f"/v1/models/{name}/learn", json=body(xb, yb, "p", 1))
    text = client.get("/metrics").text
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and line[0] != "#"}
    assert values["streamopt_learn_steps_total"] >= 1 and values["streamopt_learn_duplicates_total"] >= 1
    assert values["streamopt_models"] >= 1
    assert values['streamopt_requests_total{method="POST",route="/v1/models/{name}/learn",status="200"}'] >= 2
    from streamopt.service import create_app

    doc = client.get("/openapi.json").json()
    app = create_app(":memory:")
    for route in app.routes:
        path = route.path.replace(":path", "")
        assert path in doc["paths"], path
        for method in route.methods - {"HEAD"}:
            assert method.lower() in doc["paths"][path], (method, path)


def test_recent_window_of_a_stream_key(client):
    stream = next(_names)
    assert client.put(f"/v1/streams/{stream}", json={"alpha": 0.3, "stats": ["mean", "std"]}).status_code == 201
    keys = ["a", "b", "a", "a", "b"]
    values = [1.0, 2.0, None, 4.0, 5.0]
    r = client.post(f"/v1/streams/{stream}/observations", json={"keys": keys, "values": values}).json()
    got = client.get(f"/v1/streams/{stream}/recent", params={"key": "a"}).json()
    pick = [0, 2, 3]
    assert got == {"key": "a", "time": None, "index": pick, "value": [values[i] for i in pick],
                   "mean": [r["results"]["mean"][i] for i in pick], "std": [r["results"]["std"][i] for i in pick]}
    assert client.get(f"/v1/streams/{stream}/recent", params={"key": "b", "limit": 1}).json()["index"] == [4]
    for params, status in (({}, 400), ({"key": "zz"}, 404), ({"key": "a", "limit": 0}, 400),
                           ({"key": "a", "limit": "x"}, 400)):
        assert client.get(f"/v1/streams/{stream}/recent", params=params).status_code == status, params
    assert client.get("/v1/streams/nope/recent", params={"key": "a"}).status_code == 404
    timed = next(_names)
    client.put(f"/v1/streams/{timed}", json={"halflife": "1s", "stats": ["mean"]})
    client.post(f"/v1/streams/{timed}/observations", json={"keys": [7, 7], "values": [1.0, 3.0], "times": [0, 10**9]})
    got = client.get(f"/v1/streams/{timed}/recent", params={"key": "7"}).json()
    assert got["key"] == 7 and got["time"] == [0, 10**9] and got["std"] is None


def test_recent_window_keeps_the_last_observations():
    from types import SimpleNamespace

    from streamopt.service.recent import Recent

    r = Recent(capacity=100)
    rng = np.random.default_rng(1)
    keys, values = [], []
    for n in (1, 30, 63, 7, 150, 2, 99):
        k = np.array([f"k{int(i)}" for i in rng.integers(0, 3, n)], dtype=object)
        v = rng.normal(size=n)
        r.add(SimpleNamespace(keys=k, values=v, times=None), len(values), {"mean": -v})
        keys += k.tolist()
        values += v.tolist()
    for key in ("k0", "k1", "k2"):
        want = [i for i in range(len(keys) - 100, len(keys)) if keys[i] == key]
        got = r.get(key)
        assert got["index"] == want and got["value"] == [values[i] for i in want]
        assert got["mean"] == [-values[i] for i in want] and got["std"] is None
    assert len(r.keys) == 100


# ------------------------------------------------------------------ restarts, failures, group commits
def test_restart_keeps_every_model_exactly(tmp_path):
    batches = notes_batches(2)
    offline = Offline(lr=0.0007)
    with Server(tmp_path / "r.db") as server:
        with server.client() as c:
            c.put("/v1/models/r", json=ADAM)
            for seq, (xb, yb) in enumerate(batches[:6], start=1):
                offline.step(xb, yb)
                c.post("/v1/models/r/learn", json=body(xb, yb, "p", seq))
            info = c.get("/v1/models/r").json()
        assert server.stop() == 0
        server.start()
        with server.client() as c:
            assert c.get("/v1/models/r").json() == info  # points and EWA too
            same_state(c.get("/v1/models/r/state").json(), offline)
            assert c.post("/v1/models/r/learn", json=body(*batches[2], "p", 3)).json() == {"step": 3, "duplicate": True}
            server.kill9()
            server.restart()
            for seq, (xb, yb) in enumerate(batches[6:], start=7):
                offline.step(xb, yb)
                assert c.post("/v1/models/r/learn", json=body(xb, yb, "p", seq)).json()["loss"] == offline.losses[-1]
            same_state(c.get("/v1/models/r/state").json(), offline)
            smooth = streamopt.ewa(np.array([offline.losses, offline.accuracies]).T, 0.98, bias_correction=True)
            assert c.get("/v1/models/r").json()["points"]["loss_ewa"] == smooth[:, 0].tolist()


def test_a_failed_commit_restores_the_models_and_answers_503(tmp_path):
    from streamopt.service.engine import Engine
    from streamopt.service.models import parse_learn, parse_model_config
    from streamopt.service.parse import ApiError

    batches = notes_batches(1)

    def learn_body(i, seq):
        return parse_learn(body(*batches[i], "p", seq), DIMS)

    async def scenario():
        engine = Engine(str(tmp_path / "f.db"))
        await engine.start()
        try:
            await engine.create_model("f", parse_model_config(ADAM))
            await engine.learn("f", learn_body(0, 1))
            model = engine.models.models["f"]
            before = (model.state(), list(model.points), model.step, dict(model.producers))
            real = engine._store.commit

            def broken(writes):
                raise OSError("disk full")

            engine._store.commit = broken
            jobs = [engine.learn("f", learn_body(1, 2)), engine.learn("f", learn_body(2, 3))]
            for outcome in await asyncio.gather(*jobs, return_exceptions=True):
                assert isinstance(outcome, ApiError) and outcome.status == 503 and "disk full" in outcome.message
            assert (model.state(), list(model.points), model.step, dict(model.producers)) == before
            engine._store.commit = real
            _, again = await engine.learn("f", learn_body(1, 2))  # the same seq: not used up by the failure
            assert again["step"] == 2 and again["duplicate"] is False
        finally:
            await engine.stop()
        offline = Offline(lr=0.0007)
        for xb, yb in batches[:2]:
            offline.step(xb, yb)
        reopened = Engine(str(tmp_path / "f.db"))
        await reopened.start()
        try:
            same_state({"step": reopened.models.models["f"].step, **reopened.models.models["f"].saved}, offline)
            assert reopened.models.models["f"].producers == {"p": 2}
        finally:
            await reopened.stop()

    asyncio.run(scenario())


def test_one_group_commit_takes_learn_batches_of_several_models_and_stream_batches(tmp_path):
    """Queued learn batches of 3 models and stream batches share one transaction; each model's steps
    follow the arrival order."""
    from streamopt.service.engine import Engine, canonical_config
    from streamopt.service.models import parse_learn, parse_model_config
    from streamopt.service.parse import parse_json_batch

    batches = notes_batches(2)

    async def scenario():
        engine = Engine(str(tmp_path / "g.db"))
        await engine.start()
        try:
            for name in ("a", "b", "c"):
                await engine.create_model(name, parse_model_config(ADAM))
            await engine.create("s", canonical_config({"alpha": 0.5}, False))
            commits = engine.commits
            jobs, order = [], []
            for i, (xb, yb) in enumerate(batches):
                name = "abc"[i % 3]
                jobs.append(engine.learn(name, parse_learn(body(xb, yb, "p", i), DIMS)))
                order.append((name, i))
                jobs.append(engine.post("s", parse_json_batch({"keys": ["k"], "values": [float(i)]})))
            answers = await asyncio.gather(*jobs)
            assert engine.commits - commits == 1
            for name in "abc":
                mine = [i for n, i in order if n == name]
                steps = [answers[2 * i][1]["step"] for i in mine]
                assert steps == list(range(1, len(mine) + 1))
                offline = Offline(lr=0.0007)
                for i in mine:
                    offline.step(*batches[i])
                model = engine.models.models[name]
                same_state({"step": model.step, **model.saved}, offline)
            assert [a[1]["batch"] for a in answers[1::2]] == list(range(1, len(batches) + 1))
        finally:
            await engine.stop()

    asyncio.run(scenario())


# ------------------------------------------------------------------ the client
def test_client_create_model_learn_predict(server):
    from streamopt.client import Client, ServiceError

    offline = Offline(lr=0.0007)
    with Client(server.url, token=server.token, producer="client-test") as c:
        created = c.create_model("client-moons", DIMS, {"name": "adam", "lr": 0.0007})
        assert created["created"] is True and created["step"] == 0
        assert c.create_model("client-moons", DIMS, {"name": "adam", "lr": 0.0007})["created"] is False
        with pytest.raises(ServiceError) as info:
            c.create_model("client-moons", DIMS, {"name": "adam", "lr": 0.001})
        assert info.value.status == 409
        for t, (xb, yb) in enumerate(notes_batches(2), start=1):
            offline.step(xb, yb)
            ack = c.learn("client-moons", xb.T, yb[0])  # rows are examples
            assert (ack.step, ack.duplicate, ack.seq, ack.loss, ack.accuracy_before) == \
                (t, False, t, offline.losses[-1], offline.accuracies[-1])
        with pytest.raises(ServiceError) as info:
            c.learn("client-moons", np.full((3, 2), 0.5), [0, 1, 2])
        assert info.value.status == 400 and "y[2]" in info.value.message
        xb, yb = notes_batches(1)[0]
        again = c.learn("client-moons", xb.T, yb[0], seq=3)
        assert again.duplicate and again.step == 3 and again.loss is None
        p = c.predict("client-moons", X.T)
        np.testing.assert_array_equal(p["probability"], offline.net.predict_proba(X)[0])
        np.testing.assert_array_equal(p["label"], offline.net.predict(X)[0])
        assert c.model("client-moons")["step"] == 10
        same_state(c.model_state("client-moons"), offline)


# ------------------------------------------------------------------ the demo
def test_demo_serve_replays_the_temperatures_and_trains_the_moons(tmp_path):
    import subprocess
    import sys

    from _server import ROOT

    db = tmp_path / "demo.db"
    proc = subprocess.run([sys.executable, "-m", "streamopt", "demo", "--serve", "--port", "0", "--exit",
                           "--epochs", "4", "--pace", "0", "--db", str(db)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("dashboard: http://127.0.0.1:") and str(db) in lines[0]
    assert lines[1].startswith("seattle: 2922 observations replayed; temp_max mean ")
    assert lines[2].startswith("moons: 20 steps; ")
    with Server(db) as server, server.client() as c:
        assert c.get("/v1/streams/seattle").json()["observations"] == 2922
        offline = Offline(lr=0.0007)
        for xb, yb in notes_batches(4):
            offline.step(xb, yb)
        same_state(c.get("/v1/models/moons/state").json(), offline)


def test_too_many_rows_for_the_model_are_413(client):
    from streamopt.service.models import MAX_ACTIVATIONS

    name = fresh(client, {"layers": [2, 2048, 256, 1], "optimizer": {"name": "sgd", "lr": 0.1}})
    rows = MAX_ACTIVATIONS // (2048 + 256 + 1) + 1
    for path, payload in (("learn", {"X": [[0.0, 0.0]] * rows, "y": [0] * rows}),
                          ("predict", {"X": [[0.0, 0.0]] * rows})):
        r = client.post(f"/v1/models/{name}/{path}", json=payload)
        assert r.status_code == 413 and "X:" in r.json()["error"] and "limit" in r.json()["error"], path
    assert client.post(f"/v1/models/{name}/predict", json={"X": [[0.0, 0.0]] * (rows - 1)}).status_code == 200


def test_the_readme_curl_session_gives_the_readme_answers(client):
    """README's "Online training" shows curl commands (`-d`: a form content type, read as JSON) and the
    answers; replayed here against a real server, each answer byte for byte."""
    import re

    from conftest import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8").split("### Online training", 1)[1]
    block = text.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    steps = list(zip(block[0::2], block[1::2]))
    assert len(steps) == 5 and all(cmd.startswith("$ curl") for cmd, _ in steps)
    for command, shown in steps:
        m = re.fullmatch(r"\$ curl -s (?:-X (\w+) )?localhost:8000(\S+) -d '(.*)'", command)
        assert m, command
        method = m.group(1) or "POST"
        r = client.request(method, m.group(2), content=m.group(3),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.text == shown, command
