"""EWMStream: chunk invariance against streamopt.ewm (bit for bit), saved state, all-or-nothing chunks, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import streamopt
from streamopt.state import StateError

STATS = ("mean", "var", "std")
T0 = np.datetime64("2024-01-01T00:00:00", "ns")


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values, NaN at the same positions, and the same sign of zero."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True) and np.array_equal(
        np.signbit(a), np.signbit(b))


@st.composite
def cases(draw):
    n = draw(st.integers(1, 30))
    x = np.array(draw(st.lists(st.one_of(st.floats(-1e3, 1e3), st.sampled_from([np.nan, np.inf, 2.0])),
                               min_size=n, max_size=n)))
    int_keys = draw(st.booleans())
    pool = [3, 1, 7] if int_keys else ["a", "b", "c"]
    keys = np.array(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)),
                    dtype=np.int64 if int_keys else object)
    timed = draw(st.booleans())
    steps = draw(st.lists(st.integers(0, 5 * 3600), min_size=n, max_size=n))
    times = T0 + np.cumsum(steps).astype("timedelta64[s]").astype("timedelta64[ns]") if timed else None
    if timed:
        decay = {"halflife": draw(st.sampled_from(["1h", pd.Timedelta("90min"), np.timedelta64(2, "h")]))}
    else:
        name = draw(st.sampled_from(["alpha", "com", "span", "halflife"]))
        decay = {name: draw(st.sampled_from([0.3, 1.0] if name == "alpha" else [1.5, 2.0, 7.0]))}
    params = dict(decay, adjust=draw(st.booleans()), ignore_na=draw(st.booleans()),
                  min_periods=draw(st.integers(0, 3)))
    cuts = sorted(set(draw(st.lists(st.integers(1, n), max_size=n))) | {n})
    return x, keys, times, params, cuts


def batch(x, keys, times, params):
    e = streamopt.ewm(x, **params, times=times, by=keys)
    return {"mean": e.mean(), "var": e.var(), "std": e.std()}


def feed(stream, x, keys, times, cuts, start=0):
    outs = []
    for stop in cuts:
        if stop <= start:
            continue
        t = None if times is None else times[start:stop]
        outs.append(stream.update(x[start:stop], keys=keys[start:stop], times=t))
        start = stop
    return outs


def joined(outs, stats):
    return {s: np.concatenate([o[s] for o in outs]) for s in stats}


@settings(max_examples=150, deadline=None)
@given(cases(), st.sampled_from([("mean",), ("var",), ("std", "mean"), STATS]))
def test_any_chunks_equal_the_batch_bit_for_bit(case, stats):
    x, keys, times, params, cuts = case
    x0, k0 = x.copy(), keys.copy()
    got = joined(feed(streamopt.EWMStream(**params, stats=stats), x, keys, times, cuts), stats)
    want = batch(x, keys, times, params)
    for s in stats:
        assert same_bits(got[s], want[s]), (s, got[s], want[s])
    assert same_bits(x, x0) and (keys == k0).all()


@settings(max_examples=40, deadline=None)
@given(cases())
def test_one_value_at_a_time_equals_the_batch(case):
    x, keys, times, params, _ = case
    got = joined(feed(streamopt.EWMStream(**params, stats=STATS), x, keys, times, range(1, len(x) + 1)), STATS)
    want = batch(x, keys, times, params)
    assert all(same_bits(got[s], want[s]) for s in STATS)


@settings(max_examples=80, deadline=None)
@given(cases(), st.data())
def test_saved_state_continues_bit_for_bit(case, data):
    x, keys, times, params, cuts = case
    whole = streamopt.EWMStream(**params, stats=STATS)
    want = joined(feed(whole, x, keys, times, cuts), STATS)
    stops = sorted(set(data.draw(st.lists(st.sampled_from(cuts), max_size=3))))
    stream, outs, start = streamopt.EWMStream(**params, stats=STATS), [], 0
    for stop in cuts:
        t = None if times is None else times[start:stop]
        outs.append(stream.update(x[start:stop], keys=keys[start:stop], times=t))
        start = stop
        if stop in stops:
            stream = streamopt.EWMStream.from_state(json.loads(json.dumps(stream.state_dict())))
    got = joined(outs, STATS)
    assert all(same_bits(got[s], want[s]) for s in STATS)
    assert json.dumps(stream.state_dict()) == json.dumps(whole.state_dict())


def test_get_keys_len_and_known_values():
    s = streamopt.EWMStream(alpha=0.5, stats=("mean", "var", "std"))
    s.update([1.0, 10.0, 3.0], keys=["a", "b", "a"])
    assert s.keys() == ["a", "b"] and len(s) == 2
    # key a: weights 0.5, 1 on 1, 3: mean 7/3, biased var 8/9, unbiased × (Σw)²/((Σw)² − Σw²) = 2.25/(2.25 − 1.25)
    a = s.get("a")
    assert a["count"] == 2 and a["time"] is None
    assert a["mean"] == pytest.approx(7 / 3, rel=1e-15)
    assert a["var"] == pytest.approx(8 / 9 * 2.25 / (2.25 - 1.25), rel=1e-14)
    assert a["std"] == pytest.approx(np.sqrt(8 / 9 * 2.25 / (2.25 - 1.25)), rel=1e-14)
    with pytest.raises(KeyError, match="'z'"):
        s.get("z")


def test_untracked_statistics_are_none_and_times_are_reported():
    s = streamopt.EWMStream(halflife="1D")
    s.update([1.0, 5.0], times=pd.to_datetime(["2024-01-01", "2024-01-03"]))
    g = s.get()
    assert g["var"] is None and g["std"] is None and g["count"] == 2
    assert g["time"] == pd.Timestamp("2024-01-03")
    # weights 0.25 and 1: (0.25 + 5) / 1.25
    assert g["mean"] == pytest.approx(4.2, rel=1e-15)


def test_series_in_dataframe_out_with_its_index_and_scalar_input():
    s = streamopt.EWMStream(alpha=0.5, stats=("std", "mean"))
    out = s.update(pd.Series([1.0, 3.0], index=[10, 20]), keys=[1, 1])
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["std", "mean"] and list(out.index) == [10, 20]
    assert out["mean"].tolist() == [1.0, (0.5 * 1.0 + 3.0) / 1.5]
    one = s.update(2.0, keys=[1])
    assert set(one) == {"std", "mean"} and one["mean"].shape == (1,)


@pytest.mark.parametrize("stats", [("mean",), STATS])
def test_a_chunk_going_back_in_time_is_refused_whole(stats):
    s = streamopt.EWMStream(halflife="1h", stats=stats)
    t = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 02:00"])
    s.update([1.0, 2.0], keys=["a", "b"], times=t)
    before = json.dumps(s.state_dict())
    bad = pd.to_datetime(["2024-01-01 03:00", "2024-01-01 03:00", "2024-01-01 01:00"])
    with pytest.raises(ValueError, match=r"times.*position 2.*'b'"):
        s.update([5.0, 6.0, 7.0], keys=["a", "new", "b"], times=bad)
    assert json.dumps(s.state_dict()) == before and s.keys() == ["a", "b"]
    # within the chunk too
    with pytest.raises(ValueError, match=r"position 1.*'a'"):
        s.update([5.0, 6.0], keys=["a", "a"], times=pd.to_datetime(["2024-01-01 05:00", "2024-01-01 04:00"]))
    assert json.dumps(s.state_dict()) == before


@pytest.mark.parametrize("kwargs, update, error, match", [
    ({"alpha": 0.5}, {"values": [1.0, 2.0], "keys": ["a"]}, ValueError, "keys must have one key per value"),
    ({"alpha": 0.5}, {"values": [1.0], "keys": "a"}, ValueError, "keys must be a 1-D"),
    ({"alpha": 0.5}, {"values": [1.0, 2.0], "keys": [1, "a"]}, TypeError, "keys must be all str or all int"),
    ({"alpha": 0.5}, {"values": [1.0], "keys": [1.5]}, TypeError, "keys must be all str or all int"),
    ({"alpha": 0.5}, {"values": [1.0], "keys": np.array([True])}, TypeError, "keys must be all str or all int"),
    ({"alpha": 0.5}, {"values": [1.0], "keys": [None]}, ValueError, "keys must not hold missing"),
    ({"halflife": "1D"}, {"values": [1.0]}, ValueError, "times must be given"),
    ({"alpha": 0.5}, {"values": [1.0], "times": pd.to_datetime(["2024-01-01"])}, ValueError,
     "times may be given only"),
    ({"halflife": "1D"}, {"values": [1.0, 2.0], "times": pd.to_datetime(["2024-01-01", None])}, ValueError,
     "times must not hold NaT"),
    ({"halflife": "1D"}, {"values": [1.0, 2.0], "times": pd.to_datetime(["2024-01-01"])}, ValueError,
     "times must have one entry per row"),
    ({"alpha": 0.5}, {"values": [[1.0]]}, ValueError, "values must be a number or 1-D"),
    ({"alpha": 0.5}, {"values": ["x"]}, (TypeError, ValueError), "values"),
])
def test_bad_updates_name_the_parameter_and_change_nothing(kwargs, update, error, match):
    s = streamopt.EWMStream(**kwargs, stats=STATS)
    first = {"values": [0.5], "keys": ["k"]} if "keys" in update else {"values": [0.5]}
    if "halflife" in kwargs:
        first["times"] = pd.to_datetime(["2023-12-31"])
    s.update(first.pop("values"), **first)
    before = json.dumps(s.state_dict())
    values = update.pop("values")
    with pytest.raises(error, match=match):
        s.update(values, **update)
    assert json.dumps(s.state_dict()) == before


def test_key_kinds_cannot_change_or_mix_with_a_keyless_stream():
    s = streamopt.EWMStream(alpha=0.5)
    s.update([1.0], keys=[1])
    with pytest.raises(TypeError, match="keys must be of one kind"):
        s.update([1.0], keys=["1"])
    with pytest.raises(ValueError, match="keys must be given"):
        s.update([1.0])
    plain = streamopt.EWMStream(alpha=0.5)
    plain.update([1.0, 2.0])
    assert plain.keys() == [None]
    with pytest.raises(ValueError, match="keys must be None"):
        plain.update([1.0], keys=["a"])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"alpha": 0.5, "stats": ("mean", "median")}, ValueError, "stats"),
    ({"alpha": 0.5, "stats": "mean"}, TypeError, "stats"),
    ({"halflife": "1D", "alpha": 0.5}, ValueError, "alpha"),
    ({"alpha": 0.5, "adjust": 1}, TypeError, "adjust"),
    ({"alpha": 0.5, "min_periods": -1}, ValueError, "min_periods"),
    ({}, (TypeError, ValueError), "com|span|halflife|alpha"),
])
def test_bad_parameters_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        streamopt.EWMStream(**kwargs)


def test_saved_state_form_and_bad_states():
    s = streamopt.EWMStream(alpha=0.25, stats=("var",))
    s.update([1.0, 2.0], keys=["a", "b"])
    d = s.state_dict()
    assert d["format"] == "streamopt.EWMStream" and d["version"] == 1 and d["keys"] == ["a", "b"]
    assert d["alpha"] == (0.25).hex() and set(d["arrays"]) >= {"last_time", "seen", "cs"}
    for field, value, match in [("keys", ["a", 1], "keys"), ("keys", ["a", "a"], "repeat"),
                                ("alpha", 0.25, "alpha"), ("version", 2, "version"),
                                ("arrays", {}, "arrays"), ("stats", ["x"], "stats")]:
        bad = json.loads(json.dumps(d))
        bad[field] = value
        with pytest.raises(StateError, match=match):
            streamopt.EWMStream.from_state(bad)
    bad = json.loads(json.dumps(d))
    bad["keys"] = ["a"]
    with pytest.raises(StateError, match="shape"):
        streamopt.EWMStream.from_state(bad)


def test_many_keys_grow_the_state():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 500, 3000)
    x = rng.normal(size=3000)
    s = streamopt.EWMStream(span=10.0, stats=STATS)
    got = joined(feed(s, x, keys, None, [700, 701, 2000, 3000]), STATS)
    want = batch(x, keys, None, {"span": 10.0})
    assert all(same_bits(got[s_], want[s_]) for s_ in STATS) and len(s) == len(np.unique(keys))


def test_an_empty_update_returns_empty_columns_and_adds_no_key():
    s = streamopt.EWMStream(alpha=0.5, stats=("mean", "std"))
    out = s.update(np.array([]))
    assert out["mean"].shape == (0,) and out["std"].shape == (0,) and len(s) == 0
    timed = streamopt.EWMStream(halflife="1D")
    assert timed.update([], keys=[], times=np.array([], dtype="datetime64[ns]"))["mean"].shape == (0,)
    assert len(timed) == 0


# ---------------------------------------------------------------- per-key state records and config
@settings(max_examples=80, deadline=None)
@given(cases(), st.sampled_from([("mean",), ("var",), ("std", "mean"), STATS]), st.data())
def test_key_states_moved_as_bytes_continue_bit_for_bit(case, stats, data):
    x, keys, times, params, cuts = case
    whole = streamopt.EWMStream(**params, stats=stats)
    want = joined(feed(whole, x, keys, times, cuts), stats)
    split = data.draw(st.sampled_from(cuts))
    first = streamopt.EWMStream(**params, stats=stats)
    outs = feed(first, x, keys, times, [c for c in cuts if c <= split])
    # to a fresh stream built from the config (through JSON), key by key in reverse order, as bytes
    moved = streamopt.EWMStream(**json.loads(json.dumps(first.config())))
    assert moved.config() == first.config() and moved.state_dtype == first.state_dtype
    for key in reversed(first.keys()):
        blob = first.key_states([key]).tobytes()
        moved.set_key_states([key], np.frombuffer(blob, dtype=moved.state_dtype))
    assert moved.keys() == first.keys()[::-1]
    outs += feed(moved, x, keys, times, cuts, start=split)
    got = joined(outs, stats)
    assert all(same_bits(got[s], want[s]) for s in stats)
    # the records equal the uninterrupted stream's, field by field, bit for bit
    ks = whole.keys()
    assert moved.key_states(ks).tobytes() == whole.key_states(ks).tobytes()
    assert whole.key_states().tobytes() == whole.key_states(ks).tobytes()


def test_key_states_records_hold_each_state_array():
    s = streamopt.EWMStream(halflife="1h", stats=("mean", "var"))
    s.update([1.0, 2.0, 4.0], keys=["a", "b", "a"],
             times=pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:30", "2024-01-01 01:00"]))
    rows = s.key_states()
    assert rows.dtype == s.state_dtype and rows.dtype.names[:2] == ("last_time", "seen")
    assert set(rows.dtype.names) == set(s.state_dict()["arrays"])
    assert rows["last_time"].tolist() == [pd.Timestamp("2024-01-01 01:00").value,
                                          pd.Timestamp("2024-01-01 00:30").value]
    assert rows["m_nobss"].tolist() == [2, 1] and rows["v_nobss"].tolist() == [2, 1]
    # key a: weights 0.5 (one halflife back) and 1: mean (0.5 + 4) / 1.5
    assert rows["values"][0] == (0.5 * 1.0 + 4.0) / 1.5
    assert rows.dtype.itemsize == sum(rows.dtype[name].itemsize for name in rows.dtype.names)  # packed
    # a copy: changing it changes no state
    rows["values"][:] = 0.0
    assert s.get("a")["mean"] == (0.5 * 1.0 + 4.0) / 1.5
    assert streamopt.EWMStream(alpha=0.5, stats=("std",)).state_dtype.names == (
        "last_time", "seen", "v_starts", "wts", "s2s", "dens", "mxs", "cs", "v_nobss", "v_gaps")
    empty = streamopt.EWMStream(alpha=0.5).key_states()
    assert empty.shape == (0,) and empty.dtype == streamopt.EWMStream(alpha=0.5).state_dtype


def test_key_states_of_a_stream_without_keys():
    s = streamopt.EWMStream(alpha=0.25, stats=STATS)
    s.update([1.0, 3.0])
    t = streamopt.EWMStream(**s.config())
    t.set_key_states(s.keys(), s.key_states([None]))
    assert t.keys() == [None]
    assert same_bits(t.update([2.0])["var"], s.update([2.0])["var"])
    u = streamopt.EWMStream(**s.config())
    u.set_key_states(None, s.key_states())
    assert u.key_states().tobytes() == t.key_states().tobytes()
    with pytest.raises(ValueError, match="keys must be None"):
        u.set_key_states(["a"], s.key_states())


def test_set_key_states_replaces_a_known_key_and_keeps_the_others():
    s = streamopt.EWMStream(alpha=0.5, stats=STATS)
    s.update([1.0, 10.0, 3.0], keys=[1, 2, 1])
    other = streamopt.EWMStream(alpha=0.5, stats=STATS)
    other.update([100.0], keys=[5])
    b_before = s.key_states([2]).tobytes()
    s.set_key_states(np.array([1, 9]), other.key_states([5, 5]))
    assert s.keys() == [1, 2, 9] and s.get(1)["mean"] == 100.0 and s.get(9)["count"] == 1
    assert s.key_states([2]).tobytes() == b_before
    s.set_key_states([], s.key_states([]))
    assert s.keys() == [1, 2, 9]


def test_unknown_keys_are_key_errors_naming_the_key():
    s = streamopt.EWMStream(alpha=0.5)
    s.update([1.0, 2.0], keys=["a", "b"])
    with pytest.raises(KeyError, match=r"'z'.*position 1"):
        s.key_states(["a", "z"])
    for other_kind in (1, 1.0, True, None):
        with pytest.raises(KeyError, match=repr(other_kind)):
            s.key_states([other_kind])
    with pytest.raises(ValueError, match="keys must be a 1-D"):
        s.key_states("a")
    assert s.key_states(np.array(["b", "a"]))["values"].tolist() == [2.0, 1.0]
    ints = streamopt.EWMStream(alpha=0.5)
    ints.update([1.0], keys=[3])
    assert ints.key_states([np.int32(3)])["values"].tolist() == [1.0]
    with pytest.raises(KeyError, match="'3'"):
        ints.key_states(["3"])
    with pytest.raises(KeyError, match=str(2**70)):
        ints.key_states([3, 2**70])
    with pytest.raises(KeyError, match="'a'"):
        ints.get("a")
    plain = streamopt.EWMStream(alpha=0.5)
    plain.update([1.0])
    assert plain.key_states([None])["values"].tolist() == [1.0]
    with pytest.raises(KeyError, match="'a'"):
        plain.key_states([None, "a"])
    with pytest.raises(KeyError, match="None"):
        streamopt.EWMStream(alpha=0.5).get()


def _bad_set_calls():
    s = streamopt.EWMStream(alpha=0.5, stats=("mean", "var"))
    good = s.state_dtype
    rows = np.zeros(2, dtype=good)
    negative = rows.copy()
    negative["v_nobss"][1] = -1
    mean_only = streamopt.EWMStream(alpha=0.5).state_dtype
    return [
        (["a", "b"], np.zeros(2, dtype=mean_only), TypeError, "rows must be an array of the stream's state_dtype"),
        (["a", "b"], np.zeros(2, dtype=good).tolist(), TypeError, "rows must be an array"),
        (["a", "b"], np.zeros((1, 2), dtype=good), ValueError, "rows must be 1-D"),
        (["a"], rows, ValueError, r"keys must have one key per row of rows \(2\), got 1"),
        ("ab", rows, ValueError, "keys must be a 1-D"),
        (["new", "new"], rows, ValueError, "keys must be distinct.*'new'.*position 1"),
        (["new", 1], rows, TypeError, "keys must be all str or all int"),
        ([1, 2], rows, TypeError, "keys must be of one kind"),
        (["new", None], rows, ValueError, "keys must not hold missing"),
        (None, rows[:1], ValueError, "keys must be given"),
        (["a", "new"], negative, ValueError, r"rows\['v_nobss'\] must be >= 0.*-1 at position 1"),
    ]


@pytest.mark.parametrize("index", range(len(_bad_set_calls())))
def test_bad_set_key_states_name_the_parameter_and_change_nothing(index):
    keys, rows, error, match = _bad_set_calls()[index]
    s = streamopt.EWMStream(alpha=0.5, stats=("mean", "var"))
    s.update([1.0, 2.0], keys=["a", "b"])
    before = json.dumps(s.state_dict())
    rows_before = np.array(rows, copy=True)
    with pytest.raises(error, match=match):
        s.set_key_states(keys, rows)
    assert json.dumps(s.state_dict()) == before and s.keys() == ["a", "b"]
    assert np.array_equal(np.asarray(rows), rows_before)


@pytest.mark.parametrize("kwargs, want", [
    ({"com": 1.0}, {"alpha": 0.5}),
    ({"span": 3}, {"alpha": 0.5}),
    ({"alpha": np.float64(0.25)}, {"alpha": 0.25}),
    ({"halflife": 2.0}, {"alpha": -np.expm1(-np.log(2.0) / 2.0)}),
    ({"halflife": "1h"}, {"halflife": "0 days 01:00:00"}),
    ({"halflife": pd.Timedelta("90min")}, {"halflife": "0 days 01:30:00"}),
    ({"halflife": np.timedelta64(1, "ns")}, {"halflife": "0 days 00:00:00.000000001"}),
    ({"halflife": "1000D"}, {"halflife": "1000 days 00:00:00"}),
])
def test_config_is_canonical_json_and_rebuilds_the_same_stream(kwargs, want):
    s = streamopt.EWMStream(**kwargs, adjust=False, ignore_na=True, min_periods=2, stats=("std", "mean"))
    cfg = s.config()
    assert cfg == {**want, "adjust": False, "ignore_na": True, "min_periods": 2, "stats": ["std", "mean"]}
    again = streamopt.EWMStream(**json.loads(json.dumps(cfg)))
    assert again.config() == cfg
    assert json.dumps(again.state_dict()) == json.dumps(s.state_dict())  # same α, log β, halflife bits
    assert streamopt.EWMStream.from_state(s.state_dict()).config() == cfg
    assert streamopt.EWMStream(alpha=0.5).config()["min_periods"] == 1  # 0 and 1 mean the same


# ---------------------------------------------------------------- key lookup: forms of keys, many keys
@pytest.mark.parametrize("int_keys", [True, False])
def test_keys_arriving_over_many_chunks_keep_their_order_and_states(int_keys):
    # new keys in every chunk, old keys coming back: looked up in the recent keys, then in a rebuilt index
    rng = np.random.default_rng(1)
    n = 6000
    ids = np.minimum(rng.geometric(0.002, n), 3000) + np.arange(n) // 4
    keys = ids if int_keys else np.array([f"k{i}" for i in ids], dtype=object)
    x = rng.normal(size=n)
    s = streamopt.EWMStream(alpha=0.2, stats=STATS)
    cuts = list(range(37, n, 37)) + [n]
    got = joined(feed(s, x, keys, None, cuts), STATS)
    want = batch(x, keys, None, {"alpha": 0.2})
    assert all(same_bits(got[s_], want[s_]) for s_ in STATS)
    assert s.keys() == pd.unique(keys).tolist()
    assert all(type(k) is (int if int_keys else str) for k in s.keys())
    some = list(pd.unique(keys)[[5, 0, -1]])
    assert s.key_states(some).tobytes() == b"".join(s.key_states([k]).tobytes() for k in some)


def test_key_forms_give_the_same_stream():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    want = streamopt.EWMStream(alpha=0.5).update(x, keys=["a", "b", "a", "c"])["mean"]
    for keys in (np.array(["a", "b", "a", "c"]), pd.Series(["a", "b", "a", "c"]),
                 pd.Series(["a", "b", "a", "c"], dtype=object), np.array(["a", "b", "a", "c"], dtype=object),
                 [np.str_("a"), "b", "a", "c"], pd.Categorical(["a", "b", "a", "c"])):
        s = streamopt.EWMStream(alpha=0.5)
        assert same_bits(s.update(x, keys=keys)["mean"], want) and s.keys() == ["a", "b", "c"]
        assert all(type(k) is str for k in s.keys())
    want = streamopt.EWMStream(alpha=0.5).update(x, keys=[1, 2, 1, 3])["mean"]
    for keys in (np.array([1, 2, 1, 3], dtype=np.int8), np.array([1, 2, 1, 3], dtype=np.uint64),
                 pd.Series([1, 2, 1, 3]), np.array([1, 2, 1, 3], dtype=object), [np.int64(1), 2, 1, 3],
                 pd.array([1, 2, 1, 3], dtype="Int64")):
        s = streamopt.EWMStream(alpha=0.5)
        assert same_bits(s.update(x, keys=keys)["mean"], want) and s.keys() == [1, 2, 3]
        assert all(type(k) is int for k in s.keys())


@pytest.mark.parametrize("keys, match", [
    (np.array([1, 2**63], dtype=np.uint64), "within int64, got 9223372036854775808"),
    ([1, 2**70], "within int64, got 1180591620717411303424"),
    (pd.array([6, None], dtype="Int64"), "missing keys.*position 1"),
    (np.array(["a", np.nan], dtype=object), "missing keys.*position 1"),
])
def test_keys_outside_int64_or_missing_are_refused_whole(keys, match):
    s = streamopt.EWMStream(alpha=0.5)
    s.update([0.0], keys=np.array([3]) if not isinstance(keys[0], str) else ["z"])
    before = json.dumps(s.state_dict())
    with pytest.raises(ValueError, match=match):
        s.update(np.ones(len(keys)), keys=keys)
    assert json.dumps(s.state_dict()) == before


def test_key_lookup_without_the_index_engine_gives_the_same_slots(monkeypatch):
    rng = np.random.default_rng(2)
    for keys in (rng.integers(0, 50, 400), np.array([f"s{i}" for i in rng.integers(0, 50, 400)], dtype=object)):
        x = rng.normal(size=400)
        fast = streamopt.EWMStream(span=4.0, stats=STATS)
        want = joined(feed(fast, x, keys, None, [100, 200, 300, 400]), STATS)
        with monkeypatch.context() as m:
            m.setattr(streamopt.ewmstream, "_engine_of", lambda index: None)
            plain = streamopt.EWMStream(span=4.0, stats=STATS)
            got = joined(feed(plain, x, keys, None, [100, 200, 300, 400]), STATS)
            assert plain.key_states(fast.keys()).tobytes() == fast.key_states().tobytes()
        assert all(same_bits(got[s], want[s]) for s in STATS)


def test_a_refused_chunk_leaves_no_trace_of_its_new_keys():
    # the refused chunk's new keys take no slot: the next chunk's new keys get the slots in order
    t = lambda *h: pd.to_datetime([f"2024-01-01 {i:02d}:00" for i in h])  # noqa: E731
    s = streamopt.EWMStream(halflife="1h", stats=STATS)
    s.update([1.0, 2.0], keys=["a", "b"], times=t(5, 5))
    with pytest.raises(ValueError, match="position 2"):
        s.update([3.0, 4.0, 5.0], keys=["x", "y", "a"], times=t(6, 6, 4))
    s.update([6.0, 7.0, 8.0], keys=["y", "a", "z"], times=t(7, 7, 7))
    assert s.keys() == ["a", "b", "y", "z"]
    x, keys = np.array([1.0, 2.0, 6.0, 7.0, 8.0]), np.array(["a", "b", "y", "a", "z"], dtype=object)
    want = batch(x, keys, t(5, 5, 7, 7, 7), {"halflife": "1h"})
    for key in ("a", "b", "y", "z"):
        last = np.flatnonzero(keys == key)[-1]
        got = s.get(key)
        assert all(same_bits(got[st_], want[st_][last]) for st_ in STATS)
