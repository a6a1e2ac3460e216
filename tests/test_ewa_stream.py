"""Streaming EWA (`streamopt.EWA`): chunk invariance bit for bit, value/count, pandas chunks,
state save/load through JSON, and clear errors on a mismatched chunk or a corrupt state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamopt
from conftest import SETTINGS, random_data
from streamopt import EWA

betas = st.one_of(st.sampled_from([0.0, 0.5, 0.9, 0.999, 1 - 1e-9]), st.floats(0.0, 0.999))


def splits(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    edges = sorted({0, n, *(c % (n + 1) for c in cuts)})
    return list(zip(edges[:-1], edges[1:]))


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(0, 400), st.floats(0, 0.4), betas, st.booleans(), st.booleans(),
       st.lists(st.integers(0, 10**6), max_size=8))
def test_any_split_of_one_series_is_bit_identical(seed, n, nan_fraction, beta, bias, skipna, cuts):
    x = random_data(seed, n, nan_fraction, scale=None)
    whole = streamopt.ewa(x, beta, bias_correction=bias, skipna=skipna)
    s = EWA(beta, bias_correction=bias, skipna=skipna)
    parts = [s.update(x[a:b]) for a, b in splits(n, cuts)]
    got = np.concatenate(parts) if parts else np.empty(0)
    np.testing.assert_array_equal(got, whole)
    one = EWA(beta, bias_correction=bias, skipna=skipna)
    singles = np.array([one.update(float(v)) for v in x])
    np.testing.assert_array_equal(singles.reshape(-1), whole)
    if n:
        np.testing.assert_array_equal(s.value, whole[-1])
        assert s.count == one.count == int(np.count_nonzero(~np.isnan(x)) if skipna else n)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(0, 120), st.integers(1, 9), st.floats(0, 0.3), betas,
       st.booleans(), st.booleans(), st.lists(st.integers(0, 10**6), max_size=6), st.booleans())
def test_any_split_of_parallel_series_is_bit_identical(seed, n, k, nan_fraction, beta, bias, skipna, cuts,
                                                         fortran):
    x = random_data(seed, (n, k), nan_fraction, scale=None)
    whole = streamopt.ewa(x, beta, bias_correction=bias, skipna=skipna)
    s = EWA(beta, bias_correction=bias, skipna=skipna)
    parts = []
    for i, (a, b) in enumerate(splits(n, cuts)):
        chunk = x[a:b]
        parts.append(s.update(np.asfortranarray(chunk) if fortran and i % 2 else chunk))
    got = np.concatenate(parts) if parts else np.empty((0, k))
    np.testing.assert_array_equal(got, whole)
    steps = EWA(beta, bias_correction=bias, skipna=skipna)
    for i in range(n):
        np.testing.assert_array_equal(steps.update(x[i:i + 1]), whole[i:i + 1])
    if n:
        np.testing.assert_array_equal(s.value, whole[-1])
        np.testing.assert_array_equal(s.count, (~np.isnan(x)).sum(axis=0) if skipna else np.full(k, n))


def test_float32_stream_matches_float32_batch():
    x = random_data(3, 500, 0.1, scale=None).astype(np.float32)
    s = EWA(0.95, bias_correction=True)
    got = np.concatenate([s.update(x[:123]), s.update(x[123:124]), s.update(x[124:])])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, streamopt.ewa(x, 0.95, bias_correction=True))


def test_value_and_count_before_and_after():
    s = EWA(span=3)  # alpha = 0.5
    assert s.count == 0 and np.isnan(s.value)
    assert s.update(np.nan) != s.update(np.nan)  # NaN before the first observation
    assert s.update(2.0) == 1.0
    assert s.update(4) == 2.5  # an int is one observation too
    assert (s.value, s.count) == (2.5, 2)
    p = EWA(0.5, bias_correction=True)
    out = p.update(np.array([[1.0, np.nan], [3.0, 5.0]]))
    np.testing.assert_array_equal(out, streamopt.ewa(np.array([[1.0, np.nan], [3.0, 5.0]]), 0.5,
                                                     bias_correction=True))
    np.testing.assert_array_equal(p.value, out[-1])
    np.testing.assert_array_equal(p.count, [2, 1])


def test_pandas_chunks_keep_their_index():
    idx = pd.date_range("2024-01-01", periods=6, freq="h")
    s = pd.Series([1.0, 2.0, np.nan, 4.0, 5.0, 6.0], index=idx, name="x")
    e = EWA(0.8, bias_correction=True)
    first, second = e.update(s.iloc[:4]), e.update(s.iloc[4:])
    assert isinstance(first, pd.Series) and first.name == "x"
    pd.testing.assert_index_equal(second.index, idx[4:])
    pd.testing.assert_series_equal(pd.concat([first, second]), streamopt.ewa(s, 0.8, bias_correction=True))
    df = pd.DataFrame({"a": np.arange(6.0), "b": np.ones(6)}, index=idx)
    d = EWA(0.8)
    got = pd.concat([d.update(df.iloc[:2]), d.update(df.iloc[2:])])
    pd.testing.assert_frame_equal(got, streamopt.ewa(df, 0.8))
    with pytest.raises(ValueError, match="columns"):
        d.update(df.rename(columns={"b": "c"}))


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.integers(0, 10**6), st.booleans(), st.booleans(),
       st.sampled_from([1, 3]), st.sampled_from([np.float64, np.float32]))
def test_state_round_trip_through_json_continues_bit_identically(seed, n, cut, bias, skipna, k, dtype):
    x = random_data(seed, (n, k) if k > 1 else n, 0.2, scale=None).astype(dtype)
    cut %= n + 1
    whole = streamopt.ewa(x, span=7.5, bias_correction=bias, skipna=skipna)
    first = EWA(span=7.5, bias_correction=bias, skipna=skipna)
    head = first.update(x[:cut])
    saved = json.loads(json.dumps(first.state_dict()))
    loaded = EWA(span=7.5, bias_correction=bias, skipna=skipna)
    loaded.load_state_dict(saved)
    for resumed in (EWA.from_state(saved), loaded):
        tail = resumed.update(x[cut:])
        np.testing.assert_array_equal(np.concatenate([head, tail]), whole)
        assert tail.dtype == dtype


def test_state_keeps_nan_and_every_bit():
    s = EWA(0.3, skipna=False)
    s.update(np.array([0.1, 1e-300, np.nan]))
    d = json.loads(json.dumps(s.state_dict()))
    r = EWA.from_state(d)
    assert np.isnan(r.value) and r.count == 3 and np.isnan(r.update(1.0))
    s = EWA(1 - 1e-9, bias_correction=True)
    s.update(np.random.default_rng(1).normal(size=1000))
    r = EWA.from_state(json.loads(json.dumps(s.state_dict())))
    assert r.beta == s.beta and r.alpha == s.alpha
    assert r.value == s.value and r.update(0.123) == s.update(0.123)
    fresh = EWA.from_state(json.loads(json.dumps(EWA(0.5).state_dict())))
    assert fresh.count == 0 and fresh.update(2.0) == 1.0


def _corrupt(state: dict, **changes) -> dict:
    d = json.loads(json.dumps(state))
    for key, value in changes.items():
        if value is KeyError:
            del d[key]
        else:
            d[key] = value
    return d


@pytest.mark.parametrize(("changes", "needle"), [
    ({"format": "other"}, "format"),
    ({"version": 99}, "version"),
    ({"alpha": KeyError}, "alpha"),
    ({"alpha": "zz"}, "alpha"),
    ({"alpha": 0.5}, "alpha"),
    ({"beta": "0x1.0p+0"}, "beta"),
    ({"skipna": "yes"}, "skipna"),
    ({"mode": "cube"}, "mode"),
    ({"dtype": "int8"}, "dtype"),
    ({"k": 2}, "k"),
    ({"value": ["0x1.0p+0", "0x1.0p+0"]}, "value"),
    ({"value": [1.5]}, "value"),
    ({"value": ["not hex"]}, "value"),
    ({"count": [-1]}, "count"),
    ({"count": [1.5]}, "count"),
    ({"count": [True]}, "count"),
])
def test_corrupt_state_is_rejected(changes, needle):
    s = EWA(0.9)
    s.update([1.0, 2.0])
    bad = _corrupt(s.state_dict(), **changes)
    with pytest.raises((ValueError, TypeError), match=needle):
        EWA.from_state(bad)
    with pytest.raises((ValueError, TypeError), match=needle):
        EWA(0.9).load_state_dict(bad)


def test_mismatched_or_non_dict_state_is_rejected():
    state = EWA(0.9).state_dict()
    with pytest.raises(ValueError, match="beta"):
        EWA(0.5).load_state_dict(state)
    with pytest.raises(ValueError, match="bias_correction"):
        EWA(0.9, bias_correction=True).load_state_dict(state)
    with pytest.raises(TypeError, match="state"):
        EWA.from_state([1, 2])
    f32 = EWA(0.9)
    f32.update(np.float32([1, 2]))
    with pytest.raises(ValueError, match="float32"):
        EWA.from_state(_corrupt(f32.state_dict(), value=[float(0.1).hex()]))


def test_chunks_that_do_not_fit_the_stream():
    s = EWA(0.9)
    s.update(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2 columns"):
        s.update(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="1-D"):
        s.update(np.zeros(3))
    with pytest.raises(ValueError, match="3-D"):
        EWA(0.9).update(np.zeros((2, 2, 2)))
    one = EWA(0.9)
    one.update(1.0)
    with pytest.raises(ValueError, match="one series"):
        one.update(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="chunk"):
        one.update("abc")
    with pytest.raises(TypeError, match="chunk"):
        one.update(np.array(["a"]))


def test_fast_paths_read_only_chunks_numpy_scalars_and_reloaded_state_match_batch():
    """The one-series fast paths (floats, NumPy float64 scalars, read-only and plain 1-D chunks)
    keep their state buffer across load_state_dict and agree bit for bit with ewa()."""
    x = random_data(11, 300, 0.15, scale=None)
    whole = streamopt.ewa(x, 0.97, bias_correction=True)
    s = EWA(0.97, bias_correction=True)
    parts = [np.array([s.update(float(x[0])), s.update(x[1])])]
    frozen = x[2:150].copy()
    frozen.flags.writeable = False
    parts.append(s.update(frozen))
    restored = EWA(0.97, bias_correction=True)
    restored.load_state_dict(json.loads(json.dumps(s.state_dict())))
    parts.append(np.array([restored.update(float(v)) for v in x[150:160]]))
    parts.append(restored.update(x[160:]))
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert s.count == int(np.count_nonzero(~np.isnan(x[:150])))
    assert restored.count == int(np.count_nonzero(~np.isnan(x)))


@pytest.mark.parametrize("view", ["reversed", "step3", "misaligned", "empty-first"])
def test_strided_and_unusual_1d_chunks_after_earlier_updates_match_batch(view):
    """The 1-D fast path accepts any strides: chunks that are views (negative or >1 strides,
    misaligned data) fed after earlier updates must still reproduce ewa() bit for bit."""
    x = random_data(21, 500, 0.1, scale=None)
    whole = streamopt.ewa(x, 0.9, bias_correction=True)
    s = EWA(0.9, bias_correction=True)
    parts = [s.update(x[:0]), s.update(x[:130]), np.array([s.update(float(x[130]))])]
    rest = x[131:]
    if view == "reversed":
        chunk = rest[::-1].copy()[::-1]
    elif view == "step3":
        chunk = np.repeat(rest, 3)[::3]
    elif view == "misaligned":
        raw = np.zeros(rest.size * 8 + 1, np.uint8)
        chunk = np.frombuffer(raw.data, dtype=np.float64, count=rest.size, offset=1)
        raw[1:] = rest.view(np.uint8)
    else:
        chunk = rest.copy()
        parts.append(s.update(chunk[:0]))
    assert np.array_equal(chunk, rest, equal_nan=True)
    parts.append(s.update(chunk))
    np.testing.assert_array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
@pytest.mark.parametrize("shape", [(), (7,), (7, 3)])
def test_copies_continue_independently_and_bit_identically(how, shape):
    """A pickled or deep-copied stream continues exactly like the original, and feeding one never
    changes the other (the one-series fast path works on the copy's own buffer)."""
    import copy
    import pickle

    x = random_data(17, (60, *shape[1:]) if shape else 60, 0.1, scale=None)
    whole = streamopt.ewa(x, 0.9, bias_correction=True)
    s = EWA(0.9, bias_correction=True)
    first = s.update(x[:25]) if shape else np.array([s.update(float(v)) for v in x[:25]])
    twin = pickle.loads(pickle.dumps(s)) if how == "pickle" else copy.deepcopy(s)
    rest = [twin.update(x[25:])] if shape else [np.array([twin.update(float(v)) for v in x[25:]])]
    np.testing.assert_array_equal(np.concatenate([first, *rest]), whole)
    np.testing.assert_array_equal(s.count, (~np.isnan(x[:25])).sum(axis=0))
    again = s.update(x[25:]) if shape else np.array([s.update(float(v)) for v in x[25:]])
    np.testing.assert_array_equal(again, rest[0])
    np.testing.assert_array_equal(twin.value, s.value)


def test_loading_another_kind_of_state_turns_the_fast_paths_off():
    """A float64 one-series stream (fast paths on its buffer) that loads a panel or a float32
    state must no longer use the old buffer: updates follow the loaded state."""
    import gc

    import streamopt

    panel = streamopt.EWA(0.9)
    panel.update(np.ones((3, 2)))
    f32 = streamopt.EWA(0.9)
    f32.update(np.ones(3, np.float32))
    for other in (panel, f32):
        s = streamopt.EWA(0.9)
        s.update(1.0)
        s.load_state_dict(other.state_dict())
        gc.collect()
        if other is panel:
            with pytest.raises(ValueError, match="chunk must fit"):
                s.update(2.0)
            np.testing.assert_array_equal(s.update(np.ones((1, 2))), streamopt.ewa(np.ones((4, 2)), 0.9)[-1:])
        else:
            got = s.update(2.0)
            want = streamopt.ewa(np.array([1, 1, 1, 2], np.float32), 0.9)[-1]
            assert got == want
