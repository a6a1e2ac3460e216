"""Fused optimizers against the NumPy reference, properties, state round trips and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import RTOL, SETTINGS, close
import streamopt.optim as optim_mod
import streamopt.state as state_mod
from streamopt import SGD, Adam, FlatParams, Momentum, RMSprop
from streamopt import reference as ref
from streamopt._kernels._common import one_minus_beta_pow
from streamopt.optim import NonFiniteGradientError

CLASSES = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam}

#: (kind, hyper-parameters, base learning rate): every rule and every variant.
CASES = [
    ("sgd", {}, 0.01),
    ("momentum", {"beta": 0.9}, 0.05),
    ("momentum", {"beta": 0.8, "form": "sum"}, 0.01),
    ("momentum", {"beta": 0.8, "form": "sum", "nesterov": True}, 0.01),
    ("momentum", {"beta": 0.9, "form": "ema", "nesterov": True}, 0.05),
    ("rmsprop", {"beta": 0.9, "eps": 1e-8}, 1e-3),
    ("rmsprop", {"beta": 0.95, "eps": 1e-6, "centered": True}, 1e-3),
    ("adam", {}, 1e-3),
    ("adam", {"beta1": 0.8, "beta2": 0.99, "weight_decay": 0.1}, 1e-3),
    ("adam", {"weight_decay": 0.1, "decoupled": True}, 1e-3),
    ("adam", {"beta2": 0.99, "amsgrad": True, "eps": 1e-6}, 1e-3),
]
CASE_IDS = [k + "-" + "-".join(f"{a}={b}" for a, b in h.items()) for k, h, _ in CASES]


def random_layout(seed: int, dtype) -> FlatParams:
    """1 to 6 arrays of random shapes (0 to 3 dimensions), sometimes an empty one."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for i in range(int(rng.integers(1, 7))):
        shape = tuple(int(d) for d in rng.integers(1, 8, size=int(rng.integers(0, 4))))
        arrays[f"p{i}"] = rng.normal(size=shape).astype(dtype)
    if seed % 2:
        arrays["empty"] = np.zeros((0, 3), dtype=dtype)
    return FlatParams(arrays)


class Reference:
    """The reference module's update for one case, on dicts of arrays."""

    def __init__(self, kind: str, hyper: dict, params: dict):
        self.kind, self.hyper = kind, dict(hyper)
        self.p = {k: v.copy() for k, v in params.items()}
        zeros = {k: np.zeros_like(v) for k, v in params.items()}
        self.a, self.b, self.c = dict(zeros), dict(zeros), dict(zeros)
        self.t = 0

    def step(self, grads: dict, lr: float) -> None:
        h = self.hyper
        if self.kind == "sgd":
            self.p = ref.gd_update(self.p, grads, lr)
        elif self.kind == "momentum":
            self.p, self.a = ref.momentum_update(self.p, grads, self.a, lr, **h)
        elif self.kind == "rmsprop":
            self.p, self.a, gavg = ref.rmsprop_update(self.p, grads, self.a, lr, gavg=self.b, **h)
            self.b = gavg if gavg is not None else self.b
        else:
            self.t += 1
            self.p, self.a, self.b, smax = ref.adam_update(self.p, grads, self.a, self.b, self.t, lr,
                                                           smax=self.c, **h)
            self.c = smax if smax is not None else self.c

    def buffers(self) -> dict[str, dict]:
        """The reference's state under the optimizer's buffer names."""
        if self.kind == "momentum":
            return {"v": self.a}
        if self.kind == "rmsprop":
            return {"s": self.a, "gavg": self.b} if self.hyper.get("centered") else {"s": self.a}
        if self.kind == "adam":
            out = {"m": self.a, "v": self.b}
            if self.hyper.get("amsgrad"):
                out["vmax"] = self.c
            return out
        return {}


# --------------------------------------------------------------- vs reference
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind, hyper, lr", CASES, ids=CASE_IDS)
def test_thousand_random_steps_match_reference(kind, hyper, lr, dtype):
    seed = CASES.index((kind, hyper, lr)) + (100 if dtype == np.float32 else 0)
    p = random_layout(seed, dtype)
    oracle = Reference(kind, hyper, p.to_dict())
    opt = CLASSES[kind](p, lr, **hyper)
    rng = np.random.default_rng(seed)
    g = p.zeros_like()
    for step in range(1000):
        g.flat[:] = rng.normal(size=p.size) * rng.choice([0.01, 1.0, 30.0])
        opt.lr = lr * (1.0 + 0.5 * math.sin(step / 50))  # the rate may change between steps
        opt.step(g)
        oracle.step(g.to_dict(), opt.lr)
    assert opt.t == 1000
    for name in p.names:
        close(p[name], oracle.p[name], rtol=RTOL[np.dtype(dtype)])
    for bname, per_param in oracle.buffers().items():
        buf = FlatParams._from_layout(p.layout, opt.buffers[bname])
        for name in p.names:
            close(buf[name], per_param[name], rtol=RTOL[np.dtype(dtype)])


@pytest.mark.parametrize("kind, hyper, lr", CASES, ids=CASE_IDS)
def test_parallel_kernels_bit_identical_to_serial(kind, hyper, lr, monkeypatch):
    n = 50_000  # several blocks
    rng = np.random.default_rng(7)
    w0 = rng.normal(size=n).astype(np.float32)
    grads = [rng.normal(size=n).astype(np.float32) for _ in range(3)]
    runs = []
    for threshold in (10**18, 0):
        monkeypatch.setattr(optim_mod, "PARALLEL_MIN_BYTES", threshold)
        w = w0.copy()
        opt = CLASSES[kind](w, lr, **hyper)
        assert opt.parallel == (threshold == 0)
        for g in grads:
            opt.step(g)
        runs.append((w, opt.buffers))
    (w_s, b_s), (w_p, b_p) = runs
    np.testing.assert_array_equal(w_s, w_p)
    for name in b_s:
        np.testing.assert_array_equal(b_s[name], b_p[name])


def test_parallel_finite_check(monkeypatch):
    monkeypatch.setattr(optim_mod, "PARALLEL_MIN_BYTES", 0)
    w = np.zeros(40_000)
    g = np.ones(40_000)
    g[33_333] = np.inf
    opt = Adam(w, 0.1)
    with pytest.raises(NonFiniteGradientError, match="grads holds inf at index 33333"):
        opt.step(g)
    assert opt.t == 0 and not w.any() and not opt.buffers["m"].any()


# ----------------------------------------------------------------- properties
finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)
lrs = st.floats(1e-4, 1.0)


@SETTINGS
@given(st.lists(finite, min_size=1, max_size=20), lrs, st.sampled_from(["ema", "sum"]), st.booleans(),
       st.integers(1, 5))
def test_momentum_with_beta_zero_is_sgd(w, lr, form, nesterov, steps):
    w = np.array(w)
    a, b = w.copy(), w.copy()
    sgd, mom = SGD(a, lr), Momentum(b, lr, beta=0.0, form=form, nesterov=nesterov)
    rng = np.random.default_rng(len(w))
    for _ in range(steps):
        g = rng.normal(size=w.size)
        sgd.step(g)
        mom.step(g)
    np.testing.assert_array_equal(a, b)


@SETTINGS
@given(st.lists(finite, min_size=1, max_size=20), st.floats(-50, 50).filter(lambda x: abs(x) > 1e-6), lrs,
       st.floats(0, 1e-3).filter(lambda x: x > 0), st.integers(1, 10))
def test_rmsprop_beta_zero_constant_gradient_closed_form(w, gval, lr, eps, steps):
    # β = 0: s = g², so each step moves by η·g / (|g| + ε), the same every time
    w0 = np.array(w)
    w = w0.copy()
    opt = RMSprop(w, lr, beta=0.0, eps=eps)
    g = np.full(w.size, gval)
    for _ in range(steps):
        opt.step(g)
    expected = w0 - steps * lr * gval / (abs(gval) + eps)
    np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-12 * steps * lr)
    np.testing.assert_array_equal(opt.buffers["s"], g * g)


@SETTINGS
@given(st.lists(st.floats(-1e3, 1e3).filter(lambda x: abs(x) > 1e-3), min_size=1, max_size=20), lrs,
       st.floats(0.0, 0.99), st.floats(0.0, 0.9999), st.sampled_from([5e-324, 1e-8, 1e-4]))
def test_adam_first_step_has_size_lr(g, lr, beta1, beta2, eps):
    # m̂ = g and v̂ = g² at t = 1, so |ΔW| = η·|g| / (|g| + ε) = η up to ε
    g = np.array(g)
    w = np.zeros_like(g)
    Adam(w, lr, beta1=beta1, beta2=beta2, eps=eps).step(g)
    np.testing.assert_allclose(np.abs(w), lr * np.abs(g) / (np.abs(g) + eps), rtol=1e-12)
    assert np.all(np.sign(w) == -np.sign(g))


def test_adam_bias_correction_exact_near_one():
    # β = 1 − 1e−12 at t = 1e9: 1 − β^t = −expm1(t·log1p(−α)); the naive form loses every digit
    alpha, t = 1e-12, 1e9
    exact = -math.expm1(t * math.log1p(-alpha))
    assert one_minus_beta_pow(alpha, t) == pytest.approx(exact, rel=1e-12)
    # series check, independent of expm1/log1p: t·log(1 − α) = −tα − tα²/2 − …
    x = t * alpha + t * alpha**2 / 2
    assert one_minus_beta_pow(alpha, t) == pytest.approx(x - x**2 / 2 + x**3 / 6 - x**4 / 24, rel=1e-12)
    # through the optimizer: one step at t = 1e9 against the reference's formula
    beta = 1.0 - alpha
    rng = np.random.default_rng(3)
    w0, g = rng.normal(size=5), rng.normal(size=5)
    m0, v0 = rng.normal(size=5) * 1e-3, rng.random(size=5) * 1e-6
    w = w0.copy()
    opt = Adam(w, 1e-3, beta1=beta, beta2=beta)
    opt.buffers["m"][:], opt.buffers["v"][:] = m0, v0
    opt.t = 10**9 - 1
    opt.step(g)
    expected, *_ = ref.adam_update({"w": w0}, {"w": g}, {"w": m0}, {"w": v0}, 10**9, 1e-3, beta, beta)
    np.testing.assert_allclose(w, expected["w"], rtol=1e-12)
    assert opt.t == 10**9


# ---------------------------------------------------------------- non-finite
@pytest.mark.parametrize("kind, hyper, lr", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_gradient_changes_nothing(kind, hyper, lr, bad):
    p = FlatParams({"W1": np.ones((3, 4)), "b1": np.zeros((3, 1))})
    opt = CLASSES[kind](p, lr, **hyper)
    g = p.zeros_like()
    g.flat[:] = np.linspace(-1, 1, p.size)
    opt.step(g)
    opt.step(g)
    before_p, before_b = p.flat.copy(), {k: v.copy() for k, v in opt.buffers.items()}
    g["W1"][2, 1] = bad
    g["b1"][1, 0] = np.nan  # only the first is reported
    with pytest.raises(NonFiniteGradientError, match=r"grads\['W1'\] holds (nan|inf|-inf) at index \(2, 1\) "
                                                     r"\(flat index 9\).*t=2 unchanged"):
        opt.step(g)
    np.testing.assert_array_equal(p.flat, before_p)
    for k, v in opt.buffers.items():
        np.testing.assert_array_equal(v, before_b[k])
    assert opt.t == 2
    opt.check_finite = False  # the unchecked path lets it through
    opt.step(g)
    assert opt.t == 3 and not np.isfinite(p.flat).all()


def test_nonfinite_in_plain_array_names_the_index():
    w = np.zeros((2, 3), dtype=np.float32)
    g = np.zeros((2, 3), dtype=np.float32)
    g[1, 2] = np.nan
    with pytest.raises(NonFiniteGradientError, match=r"grads holds nan at index \(1, 2\) \(flat index 5\)"):
        SGD(w, 0.1).step(g)


# ---------------------------------------------------------------------- state
@pytest.mark.parametrize("via", ["state_dict", "file"])
@pytest.mark.parametrize("kind, hyper, lr", CASES, ids=CASE_IDS)
def test_resume_is_bit_identical(kind, hyper, lr, via, tmp_path):
    rng = np.random.default_rng(11)
    grads = [rng.normal(size=37).astype(np.float32) for _ in range(12)]
    w0 = rng.normal(size=37).astype(np.float32)

    w = w0.copy()
    straight = CLASSES[kind](w, lr, **hyper)
    for g in grads:
        straight.step(g)

    first = w0.copy()
    stopped = CLASSES[kind](first, lr, **hyper)
    for g in grads[:5]:
        stopped.step(g)
    np.save(tmp_path / "w.npy", first)
    if via == "file":
        stopped.save(tmp_path / "opt.state")
        assert (tmp_path / "opt.state").exists()
    state = stopped.state_dict()
    del stopped, first

    resumed_w = np.load(tmp_path / "w.npy")
    resumed = CLASSES[kind](resumed_w, 123.0)  # hyper-parameters and lr come from the state
    if via == "file":
        resumed.load(tmp_path / "opt.state")
    else:
        resumed.load_state_dict(state)
    assert resumed.t == 5 and resumed.lr == lr and resumed.hyper == straight.hyper
    for g in grads[5:]:
        resumed.step(g)
    np.testing.assert_array_equal(resumed_w, w)
    assert resumed.t == straight.t == 12
    assert set(resumed.buffers) == set(straight.buffers)
    for k in straight.buffers:
        np.testing.assert_array_equal(resumed.buffers[k], straight.buffers[k])


def test_state_dict_is_a_copy_and_plain_json():
    import json

    opt = Adam(np.zeros(3), 0.1, amsgrad=True)
    opt.step(np.ones(3))
    state = opt.state_dict()
    assert state["format"] == "streamopt.Adam" and state["version"] == 2
    assert state["lr"] == (0.1).hex() and state["t"] == 1 and state["hyper"]["amsgrad"] is True
    assert state["hyper"]["beta2"] == (0.999).hex()
    m = state_mod.array_from_json("m", state["buffers"]["m"], "float64", (3,))
    np.testing.assert_array_equal(m, opt.buffers["m"])
    m[:] = 99  # the state holds copies
    assert not np.any(opt.buffers["m"] == 99)
    again = json.loads(json.dumps(state))  # plain JSON, exact through a text round trip
    other = Adam(np.zeros(3), 1.0)
    other.load_state_dict(again)
    assert other.state_dict() == state


@pytest.mark.parametrize("cls, kind", [(SGD, "SGD"), (Momentum, "Momentum"), (RMSprop, "RMSprop"), (Adam, "Adam")])
def test_state_format_names_the_class(cls, kind):
    state = cls(np.zeros(2, np.float32), 0.25).state_dict()
    assert state["format"] == f"streamopt.{kind}" and state["dtype"] == "float32" and state["size"] == 2


def test_inactive_buffers_are_not_saved():
    assert list(Adam(np.zeros(2), 0.1).state_dict()["buffers"]) == ["m", "v"]
    assert list(Adam(np.zeros(2), 0.1, amsgrad=True).state_dict()["buffers"]) == ["m", "v", "vmax"]
    assert list(RMSprop(np.zeros(2), 0.1, centered=True).state_dict()["buffers"]) == ["s", "gavg"]
    assert SGD(np.zeros(2), 0.1).state_dict()["buffers"] == {}


def _refuser(other):
    before = other.state_dict()

    def refused(state, exc, match):
        with pytest.raises(exc, match=match):
            other.load_state_dict(state)
        assert other.state_dict() == before

    return refused


def test_mismatched_state_is_refused_and_changes_nothing():
    w = np.zeros(4)
    adam = Adam(w, 0.1)
    adam.step(np.ones(4))
    good = adam.state_dict()
    other = Adam(np.zeros(4), 0.5, beta1=0.5)
    refused = _refuser(other)

    def with_buffer(name, a):
        return {**good, "buffers": {**good["buffers"], name: state_mod.array_to_json(a)}}

    refused(SGD(np.zeros(4), 0.1).state_dict(), ValueError,
            r"state\['format'\] must be 'streamopt.Adam', got 'streamopt.SGD'")
    refused(Adam(np.zeros(5), 0.1).state_dict(), ValueError, r"state\['size'\] must be 4 .*got 5")
    refused(Adam(np.zeros(4, np.float32), 0.1).state_dict(), TypeError, r"state\['dtype'\] must be 'float64'")
    refused({**good, "t": -1}, ValueError, r"state\['t'\] must be an integer >= 0")
    refused({**good, "t": 1.0}, ValueError, r"state\['t'\] must be an integer")
    refused({**good, "lr": (0.0).hex()}, ValueError, r"state\['lr'\] must be > 0")
    refused({**good, "lr": 0.1}, ValueError, r"state\['lr'\] must be a finite hex float string")
    refused({**good, "lr": "0.1"}, ValueError, r"state\['lr'\] must be a finite hex float string")
    refused({**good, "hyper": {**good["hyper"], "beta1": (1.0).hex()}}, ValueError,
            r"state\['hyper'\]\['beta1'\] must be in \[0, 1\)")
    refused({**good, "hyper": {**good["hyper"], "amsgrad": 1}}, ValueError,
            r"state\['hyper'\]\['amsgrad'\] must be true or false")
    refused({**good, "hyper": {"beta1": (0.9).hex()}}, ValueError, r"state\['hyper'\] must have the keys")
    refused({**good, "buffers": {"m": good["buffers"]["m"]}}, ValueError, r"state\['buffers'\] must hold")
    refused(with_buffer("v", np.zeros(3)), ValueError, r"state\['buffers'\]\['v'\]\['shape'\] must be \[4\]")
    refused(with_buffer("v", np.zeros(4, np.float32)), ValueError,
            r"state\['buffers'\]\['v'\]\['dtype'\] must be 'float64'")
    refused({k: v for k, v in good.items() if k != "t"}, ValueError, "state is missing 't'")
    refused({**good, "extra": 1}, ValueError, "unknown field")
    refused({**good, "version": 3}, ValueError, r"state\['version'\] must be the integer 2")
    refused([1, 2], TypeError, "state must be a dict")
    # switching amsgrad on through the state allocates its buffer
    ams = Adam(np.zeros(4), 0.1, amsgrad=True)
    ams.step(np.ones(4))
    other.load_state_dict(ams.state_dict())
    assert other.amsgrad and other.buffers["vmax"].shape == (4,)
    np.testing.assert_array_equal(other.buffers["vmax"], ams.buffers["vmax"])


def test_eps_zero_refused_at_construction_and_in_a_state():
    # with eps = 0 a zero gradient on a zero second moment is 0/0: the step would write NaN
    for make in (lambda w: Adam(w, 0.1, eps=0.0), lambda w: RMSprop(w, 0.1, eps=0.0),
                 lambda w: RMSprop(w, 0.1, eps=-0.0, centered=True)):
        w = np.zeros(3)
        with pytest.raises(ValueError, match=r"eps must be > 0: with eps = 0 a zero gradient on a zero second "
                                             r"moment divides 0 by 0, got -?0.0"):
            make(w)
    for cls in (Adam, RMSprop):
        good = cls(np.zeros(3), 0.1).state_dict()
        refused = _refuser(cls(np.zeros(3), 0.1))
        refused({**good, "hyper": {**good["hyper"], "eps": (0.0).hex()}}, ValueError,
                r"state\['hyper'\]\['eps'\] must be > 0: with")
    # the smallest positive eps is allowed and keeps a zero gradient finite
    w = np.zeros(3)
    Adam(w, 0.1, eps=5e-324).step(np.zeros(3))
    assert np.array_equal(w, np.zeros(3))


def test_step_count_is_bounded():
    # below 2**53 the count is exact as a float; beyond, the state is refused (nothing changes) and opt.t too
    opt = Adam(np.zeros(2), 0.1)
    good = opt.state_dict()
    refused = _refuser(opt)
    refused({**good, "t": 2**70}, ValueError, r"state\['t'\] must be < 2\*\*53")
    refused({**good, "t": 2**53}, ValueError, r"state\['t'\] must be < 2\*\*53")
    legacy = _v1_state(opt)
    refused({**legacy, "t": 2**70}, ValueError, r"state\['t'\] must be < 2\*\*53")
    with pytest.raises(ValueError, match=r"t must be < 2\*\*53"):
        opt.t = 2**53
    with pytest.raises(TypeError, match="t must be an integer"):
        opt.t = 1.5
    assert opt.t == 0
    opt.load_state_dict({**good, "t": 2**53 - 1})
    w_before = opt.flat.copy()
    opt.step(np.ones(2))  # the largest allowed count still steps
    assert opt.t == 2**53 and np.all(opt.flat < w_before)


# ------------------------------------------------------------- 0.1.0 states
def _v1_state(opt) -> dict:
    """The state as 0.1.0's ``state_dict`` wrote it (format 1, floats, every buffer as an ndarray)."""
    kinds = {SGD: "sgd", Momentum: "momentum", RMSprop: "rmsprop", Adam: "adam"}
    hyper = opt.hyper
    full = {"sgd": [], "momentum": ["v"], "rmsprop": ["s", "gavg"], "adam": ["m", "v", "vmax"]}[kinds[type(opt)]]
    live = opt.buffers
    return {"format": 1, "kind": kinds[type(opt)], "dtype": opt.dtype.name, "size": int(opt.flat.size),
            "lr": opt.lr, "hyper": hyper, "t": opt.t,
            "buffers": {name: live[name].copy() if name in live else np.zeros(0, opt.dtype) for name in full}}


def _save_v1(opt, path) -> None:
    """``save`` as 0.1.0 wrote it: an .npz with the JSON state and one ``buffer:<name>`` array per buffer."""
    import json

    state = _v1_state(opt)
    buffers = state.pop("buffers")
    with open(path, "wb") as fh:
        np.savez(fh, state=np.array(json.dumps(state)), **{f"buffer:{k}": v for k, v in buffers.items()})


@pytest.mark.parametrize("via", ["state_dict", "npz"])
@pytest.mark.parametrize("kind, hyper, lr", CASES, ids=CASE_IDS)
def test_a_010_state_resumes_bit_identically(kind, hyper, lr, via, tmp_path):
    rng = np.random.default_rng(5)
    grads = [rng.normal(size=9) for _ in range(6)]
    w = rng.normal(size=9)
    straight = CLASSES[kind](w.copy(), lr, **hyper)
    stopped_w = w.copy()
    stopped = CLASSES[kind](stopped_w, lr, **hyper)
    for g in grads[:3]:
        straight.step(g)
        stopped.step(g)
    resumed = CLASSES[kind](stopped_w.copy(), 7.0)
    if via == "npz":
        _save_v1(stopped, tmp_path / "old.npz")
        resumed.load(tmp_path / "old.npz")
    else:
        resumed.load_state_dict(_v1_state(stopped))
    assert resumed.t == 3 and resumed.lr == lr and resumed.hyper == straight.hyper
    for g in grads[3:]:
        straight.step(g)
        resumed.step(g)
    np.testing.assert_array_equal(resumed.flat, straight.flat)
    assert resumed.state_dict()["buffers"] == straight.state_dict()["buffers"]


def test_a_mismatched_010_state_is_refused_and_changes_nothing():
    good = _v1_state(Adam(np.zeros(4), 0.1))
    refused = _refuser(Adam(np.zeros(4), 0.5, beta1=0.5))
    refused(_v1_state(SGD(np.zeros(4), 0.1)), ValueError, r"state\['kind'\] must be 'adam' for Adam, got 'sgd'")
    refused({**good, "size": 5}, ValueError, r"state\['size'\] must be 4 .*got 5")
    refused({**good, "t": -1}, ValueError, r"state\['t'\] must be >= 0")
    refused({**good, "lr": 0.0}, ValueError, r"state\['lr'\] must be > 0")
    refused({**good, "hyper": {**good["hyper"], "beta1": 1.0}}, ValueError, "beta1'\\] must be in")
    refused({**good, "hyper": {**good["hyper"], "eps": 0.0}}, ValueError, r"eps'\] must be > 0")
    refused({**good, "buffers": {"m": np.zeros(4)}}, ValueError, r"state\['buffers'\] must hold")
    refused({**good, "buffers": {**good["buffers"], "v": np.zeros(3)}}, ValueError,
            r"state\['buffers'\]\['v'\] must have shape \(4,\)")
    refused({**good, "buffers": {**good["buffers"], "vmax": np.zeros(4)}}, ValueError,
            r"state\['buffers'\]\['vmax'\] must have shape \(0,\)")
    refused({**good, "buffers": {**good["buffers"], "v": np.zeros(4, np.float32)}}, TypeError,
            r"state\['buffers'\]\['v'\] must be float64")
    refused({k: v for k, v in good.items() if k != "t"}, ValueError, "state is missing 't'")


def test_load_refuses_a_foreign_file(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match=r"x.npz' is not a streamopt optimizer state file"):
        SGD(np.zeros(2), 0.1).load(tmp_path / "x.npz")
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(0).bytes(256))
    opt = Adam(np.zeros(2), 0.1)
    with pytest.raises(ValueError, match=r"random.bin' is not a streamopt optimizer state file") as info:
        opt.load(tmp_path / "random.bin")
    assert "allow_pickle" not in str(info.value)
    np.savez(tmp_path / "objects.npz", state=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"objects.npz' is not a streamopt optimizer state file") as info:
        opt.load(tmp_path / "objects.npz")
    assert "allow_pickle" not in str(info.value)
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04" + np.random.default_rng(1).bytes(100))
    with pytest.raises(ValueError, match=r"broken.npz' is not a streamopt optimizer state file"):
        opt.load(tmp_path / "broken.npz")
    # a JSON state of another kind is refused by the envelope
    SGD(np.zeros(2), 0.1).save(tmp_path / "sgd.json")
    with pytest.raises(ValueError, match=r"must be 'streamopt.Adam', got 'streamopt.SGD'"):
        opt.load(tmp_path / "sgd.json")
    assert opt.t == 0


def test_save_writes_json_atomically(tmp_path, monkeypatch):
    import json

    opt = Adam(np.zeros(2), 0.1)
    opt.step(np.ones(2))
    path = opt.save(tmp_path / "adam.json")
    assert json.loads(path.read_text()) == opt.state_dict()
    # a failed write leaves the old file whole and no temporary file behind
    monkeypatch.setattr(json, "dumps", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        opt.save(tmp_path / "adam.json")
    monkeypatch.undo()
    assert json.loads(path.read_text())["t"] == 1 and [p.name for p in tmp_path.iterdir()] == ["adam.json"]


# ------------------------------------------------------------ parameters/grads
def test_gradient_forms_give_identical_steps():
    base = {"W": np.arange(6.0).reshape(2, 3), "b": np.ones(2)}
    results = []
    for form in ("flatparams", "flat", "mapping", "float32-flat"):
        p = FlatParams(base)
        g = p.zeros_like()
        g.flat[:] = np.arange(p.size) / 8 - 0.5  # exact in float32 too
        grads = {"flatparams": g, "flat": g.flat.copy(), "mapping": g.to_dict(),
                 "float32-flat": g.flat.astype(np.float32)}[form]
        opt = Adam(p, 0.1)
        opt.step(grads)
        opt.step(grads)
        results.append(p.flat.copy())
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_plain_ndarray_updated_in_place_with_its_shape():
    w = np.ones((2, 3), dtype=np.float32)
    opt = SGD(w, 0.5)
    opt.step(np.ones((2, 3), dtype=np.float32))
    opt.step(np.ones(6))  # flat, float64: converted
    np.testing.assert_array_equal(w, np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"grads must have shape \(2, 3\) or \(6,\), got shape \(3, 2\)"):
        opt.step(np.ones((3, 2)))
    with pytest.raises(TypeError, match="grads must hold real numbers"):
        opt.step(np.ones(6, dtype=complex))
    with pytest.raises(TypeError, match="grads must hold real numbers"):
        opt.step({"W": np.ones(6)})


def test_caller_gradients_are_not_modified():
    g = np.linspace(-1, 1, 5)
    g0 = g.copy()
    for cls in CLASSES.values():
        cls(np.zeros(5), 0.1).step(g)
    np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: SGD(np.zeros(3), 0.0), ValueError, "lr must be > 0, got 0.0"),
        (lambda: SGD(np.zeros(3), -1), ValueError, "lr must be > 0, got -1"),
        (lambda: SGD(np.zeros(3), float("nan")), ValueError, "lr must be finite, got nan"),
        (lambda: SGD(np.zeros(3), "0.1"), TypeError, "lr must be a real number"),
        (lambda: SGD(np.zeros(3), True), TypeError, "lr must be a real number, got True"),
        (lambda: Momentum(np.zeros(3), 0.1, beta=1.0), ValueError, r"beta must be in \[0, 1\), got 1.0"),
        (lambda: Momentum(np.zeros(3), 0.1, beta=-0.1), ValueError, r"beta must be in \[0, 1\)"),
        (lambda: Momentum(np.zeros(3), 0.1, form="nesterov"), ValueError, "form must be 'ema' or 'sum', got 'nesterov'"),
        (lambda: Momentum(np.zeros(3), 0.1, nesterov=1), TypeError, "nesterov must be True or False, got 1"),
        (lambda: RMSprop(np.zeros(3), 0.1, eps=-1e-8), ValueError, "eps must be > 0: .*, got -1e-08"),
        (lambda: Adam(np.zeros(3), 0.1, eps=float("inf")), ValueError, "eps must be finite"),
        (lambda: RMSprop(np.zeros(3), 0.1, centered="yes"), TypeError, "centered must be True or False"),
        (lambda: Adam(np.zeros(3), 0.1, beta1=1.5), ValueError, r"beta1 must be in \[0, 1\), got 1.5"),
        (lambda: Adam(np.zeros(3), 0.1, beta2=float("nan")), ValueError, "beta2 must be finite"),
        (lambda: Adam(np.zeros(3), 0.1, weight_decay=-0.1), ValueError, "weight_decay must be >= 0"),
        (lambda: Adam(np.zeros(3), 0.1, amsgrad=None), TypeError, "amsgrad must be True or False"),
        (lambda: SGD(np.zeros(3), 0.1, check_finite="no"), TypeError, "check_finite must be True or False"),
        (lambda: SGD(np.zeros(3, dtype=np.int64), 0.1), TypeError, "params must be float32 or float64.*int64"),
        (lambda: SGD(np.zeros(3, dtype=np.float16), 0.1), TypeError, "params must be float32 or float64.*float16"),
        (lambda: SGD(np.zeros((3, 4))[:, ::2], 0.1), ValueError, "params must be C-contiguous"),
        (lambda: SGD(np.zeros((3, 4)).T, 0.1), ValueError, "params must be C-contiguous"),
        (lambda: SGD(np.broadcast_to(np.zeros(1), (3,)), 0.1), ValueError, "params must be"),
        (lambda: SGD(np.zeros(0), 0.1), ValueError, r"params must hold at least one value, got shape \(0,\)"),
        (lambda: SGD([1.0, 2.0], 0.1), TypeError, "params must be a FlatParams or a float32/float64 ndarray, got list"),
    ],
)
def test_bad_construction(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_base_class_is_not_an_optimizer():
    with pytest.raises(TypeError, match="Optimizer is the base class: use SGD, Momentum, RMSprop or Adam"):
        optim_mod.Optimizer(np.zeros(2), 0.1)


def test_read_only_params_refused():
    w = np.zeros(3)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="params must be writeable"):
        SGD(w, 0.1)


def test_lr_setter_validates_and_keeps_old_value():
    opt = Adam(np.zeros(2), 0.1)
    for bad in (0, -0.5, float("inf"), None):
        with pytest.raises((TypeError, ValueError), match="lr must be"):
            opt.lr = bad
    assert opt.lr == 0.1
    opt.lr = np.float32(0.25)
    assert opt.lr == 0.25 and type(opt.lr) is float
    with pytest.raises(TypeError, match="check_finite must be True or False, got 0"):
        opt.check_finite = 0
    assert opt.check_finite is True


def test_interface_for_the_training_loop():
    from streamopt._kernels import optim as kernels

    p = FlatParams({"W": np.zeros((2, 2), np.float32), "b": np.zeros(2, np.float32)})
    for cls in CLASSES.values():
        opt = cls(p, 0.1)
        assert opt.flat is p.flat and opt.t == 0 and isinstance(opt.lr, float)
        state, settings = opt._kernel_args()
        assert state.dtype == np.float32 and state.shape == (len(opt.buffers), 6) and state.flags.c_contiguous
        assert all(np.shares_memory(row, buf) for row, buf in zip(state, opt.buffers.values()))  # its own arrays
        assert settings.dtype == np.float64 and settings[kernels.KIND] == cls.rule.code
        assert settings[kernels.LR] == 0.1 and settings[kernels.T] == 0 and settings[kernels.CHECK] == 1
        # the kernel updates the optimizer through them
        settings[kernels.LR] = 0.5
        kernels.step(p.flat, np.ones(6, np.float32), state, settings)
        assert opt.lr == 0.5 and opt.t == 1
    assert set(Adam(p, 0.1).buffers) == {"m", "v"} and set(Adam(p, 0.1, amsgrad=True).buffers) == {"m", "v", "vmax"}
    assert set(RMSprop(p, 0.1).buffers) == {"s"} and RMSprop(p, 0.1, centered=True).buffers["gavg"].size == 6
    settings = Adam(p, 0.1, beta1=0.5, weight_decay=0.25, amsgrad=True)._kernel_args().settings
    np.testing.assert_array_equal(settings[kernels.HYPER:], [0.5, 0.999, 1e-8, 0.25, 0.0, 1.0])
    settings = Momentum(p, 0.1, beta=0.5, form="sum", nesterov=True)._kernel_args().settings
    np.testing.assert_array_equal(settings[kernels.HYPER:], [0.5, 1.0, 1.0])
    assert "Adam(lr=0.1" in repr(Adam(p, 0.1)) and "t=0" in repr(Adam(p, 0.1))


def test_hyper_parameters_are_read_only_attributes():
    opt = Adam(np.zeros(2), 0.1, beta1=0.5)
    assert opt.beta1 == 0.5 and opt.amsgrad is False
    with pytest.raises(AttributeError):
        opt.beta1 = 0.7
    assert opt.hyper["beta1"] == 0.5


@pytest.mark.parametrize("cls", list(CLASSES.values()))
def test_rule_matches_its_kernel(cls):
    # the one definition lists the reals, the switches and the buffers in the order of the kernel's arguments
    import inspect

    from streamopt._kernels import optim as kernels

    rule = cls.rule
    args = list(inspect.signature(rule.kernel.py_func).parameters)
    listed = [name for name, _ in rule.buffers] + ["lr"] + [h.kernel_arg for h in rule.hyper]
    # a switched buffer comes after the buffers always in use (it is the state's last row, or absent)
    switched = [switch is not None for _, switch in rule.buffers]
    assert switched == sorted(switched)
    assert args[:2] == ["p", "g"] and args[2:2 + len(listed)] == listed
    assert args[2 + len(listed):] in ([], ["c1", "c2"])
    assert rule.name == cls.__name__ and getattr(kernels, rule.name.upper()) == rule.code
    # the class's keyword arguments are the rule's hyper-parameters
    params = list(inspect.signature(cls).parameters)
    assert params[:2] == ["params", "lr"] and params[2:-1] == [h.name for h in rule.hyper]


@pytest.mark.parametrize("cls, hyper, bytes_", [(SGD, {}, 3), (Momentum, {}, 5), (RMSprop, {}, 5),
                                                 (RMSprop, {"centered": True}, 7), (Adam, {}, 7),
                                                 (Adam, {"amsgrad": True}, 9)])
def test_bytes_per_parameter(cls, hyper, bytes_):
    # W and g read, W written, each buffer in use read and written
    assert cls(np.zeros(2, np.float32), 0.1, **hyper).bytes_per_parameter == 4 * bytes_
    assert cls(np.zeros(2), 0.1, **hyper).bytes_per_parameter == 8 * bytes_


def test_centered_rmsprop_never_takes_the_root_of_a_negative():
    # constant gradients: s − ḡ² = β^t(1 − β^t)·g² → 0, and rounding pushes it below 0 (checked below
    # with the same recurrences in NumPy); the kernel clamps it at 0 instead of producing NaN
    beta, g = 0.9, np.linspace(0.1, 3, 50)
    s, a, negative = np.zeros(50), np.zeros(50), 0
    for _ in range(600):
        s = beta * s + (1 - beta) * g * g
        a = beta * a + (1 - beta) * g
        negative += int(np.sum(s - a * a < 0))
    assert negative > 0
    w = np.zeros(50)
    opt = RMSprop(w, 1e-12, beta=beta, eps=1e-3, centered=True)
    for _ in range(600):
        opt.step(g)
    assert np.isfinite(w).all()
    np.testing.assert_array_equal(opt.buffers["s"], s)  # same recurrence, same rounding
    # once the variance estimate is (about) 0 the step is η·g/ε
    w_before = w.copy()
    opt.step(g)
    np.testing.assert_allclose(w_before - w, 1e-12 * g / 1e-3, rtol=1e-3)


def test_parallel_kernels_chosen_by_bytes_moved():
    limit = optim_mod.PARALLEL_MIN_BYTES
    big_adam = limit // 28 + 1        # float32 Adam moves 7 · 4 bytes per parameter
    assert Adam(np.zeros(big_adam, np.float32), 0.1).parallel
    assert not Adam(np.zeros(big_adam - 2, np.float32), 0.1).parallel
    assert not SGD(np.zeros(big_adam, np.float32), 0.1).parallel   # 12 bytes per parameter
    assert SGD(np.zeros(limit // 12 + 1, np.float32), 0.1).parallel
    assert Adam(np.zeros(big_adam // 2 + 1), 0.1).parallel          # float64: twice the bytes
    # switching amsgrad on through a state moves more bytes: the choice follows
    small = Adam(np.zeros(limit // 36 + 1, np.float32), 0.1)
    assert not small.parallel
    small.load_state_dict(Adam(np.zeros(limit // 36 + 1, np.float32), 0.1, amsgrad=True).state_dict())
    assert small.parallel


def test_a_hyper_parameter_definition_is_checked():
    from streamopt.optim import Hyper

    for bad in (dict(kind="real"), dict(kind="switch", check=float), dict(kind="choice", choices=("a",)),
                dict(kind="flag")):
        with pytest.raises(ValueError, match="x: a real needs a check"):
            Hyper("x", **bad)
    assert Hyper("x", "choice", choices=("a", "b")).packed("b") == 1.0
