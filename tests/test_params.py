"""FlatParams: one contiguous buffer, views that write through, gradient forms and errors."""

from __future__ import annotations

import numpy as np
import pytest

from streamopt import FlatParams


def arrays(dtype=np.float64):
    rng = np.random.default_rng(0)
    return {
        "W1": rng.normal(size=(4, 2)).astype(dtype),
        "b1": np.zeros((4, 1), dtype=dtype),
        "W2": rng.normal(size=(1, 4)).astype(dtype),
        "b2": np.full((1, 1), 0.5, dtype=dtype),
    }


def test_buffer_holds_copies_in_order_with_views():
    src = arrays()
    before = {k: v.copy() for k, v in src.items()}
    p = FlatParams(src)
    assert p.names == ("W1", "b1", "W2", "b2")
    assert p.shapes == ((4, 2), (4, 1), (1, 4), (1, 1))
    assert p.size == p.flat.size == 8 + 4 + 4 + 1
    assert len(p) == 4
    assert p.flat.flags.c_contiguous and p.flat.ndim == 1
    np.testing.assert_array_equal(p.flat, np.concatenate([v.ravel() for v in src.values()]))
    for k in src:
        np.testing.assert_array_equal(p[k], src[k])
        assert np.shares_memory(p[k], p.flat)
    # writes go both ways, inputs are never touched
    p["W1"][1, 0] = 42.0
    assert p.flat[2] == 42.0
    p.flat[-1] = -7.0
    assert p["b2"][0, 0] == -7.0
    for k in src:
        np.testing.assert_array_equal(src[k], before[k])


@pytest.mark.parametrize(
    "dtypes, expected",
    [
        ((np.float32, np.float32), np.float32),
        ((np.float32, np.float16), np.float32),
        ((np.float32, np.float64), np.float64),
        ((np.int64, np.float32), np.float64),
        ((np.bool_, np.float64), np.float64),
    ],
)
def test_buffer_dtype_rule(dtypes, expected):
    p = FlatParams({f"a{i}": np.ones(3, dtype=d) for i, d in enumerate(dtypes)})
    assert p.dtype == expected and p.flat.dtype == expected


def test_explicit_dtype_and_pairs():
    p = FlatParams([("x", [1.0, 2.0]), ("y", 3)], dtype="float32")
    assert p.dtype == np.float32
    assert p["y"].shape == ()
    np.testing.assert_array_equal(p.flat, [1.0, 2.0, 3.0])


def test_to_dict_copies_zeros_like_and_copy():
    p = FlatParams(arrays())
    d = p.to_dict()
    d["W1"][...] = 0.0
    assert np.all(p["W1"] != 0.0)
    z = p.zeros_like()
    assert z.layout == p.layout and z.names == p.names and np.all(z.flat == 0)
    assert not np.shares_memory(z.flat, p.flat)
    c = p.copy()
    assert c == p and not np.shares_memory(c.flat, p.flat)
    c.flat[0] += 1
    assert c != p


def test_setitem_copies_with_shape_check():
    p = FlatParams(arrays())
    p["b1"] = np.arange(4.0).reshape(4, 1)
    np.testing.assert_array_equal(p.flat[8:12], np.arange(4.0))
    with pytest.raises(ValueError, match=r"params\['b1'\] has shape \(4, 1\)"):
        p["b1"] = np.zeros(4)
    with pytest.raises(KeyError, match="no parameter named 'nope'"):
        p["nope"]


def test_repr_names_layout():
    r = repr(FlatParams(arrays(np.float32)))
    assert "4 arrays" in r and "17 float32 parameters" in r and "W1(4, 2)" in r


def test_locate_maps_flat_index_to_name_and_index_skipping_empty_arrays():
    p = FlatParams({"e0": np.zeros((0, 3)), "A": np.zeros((2, 3)), "e1": np.zeros(0), "B": np.zeros(2)})
    assert p.layout.locate(0) == ("A", (0, 0))
    assert p.layout.locate(5) == ("A", (1, 2))
    assert p.layout.locate(6) == ("B", (0,))
    assert p.layout.locate(7) == ("B", (1,))


@pytest.mark.parametrize(
    "arg, exc, match",
    [
        ({}, ValueError, "at least one array"),
        ({"a": np.zeros(0)}, ValueError, "at least one value"),
        ({"a": np.array(["x", "y"])}, TypeError, r"arrays\['a'\] must hold real numbers"),
        ({"a": np.array([1 + 2j])}, TypeError, r"arrays\['a'\] must hold real numbers"),
        ({"a": [[1.0], [2.0, 3.0]]}, TypeError, r"arrays\['a'\]"),
        ({1: np.ones(2)}, TypeError, "names must be strings, got 1"),
        ({"": np.ones(2)}, ValueError, "non-empty"),
        ([("a", np.ones(2)), ("a", np.ones(2))], ValueError, "unique, got 'a' twice"),
        ([("a", np.ones(2), 3)], TypeError, r"\(name, array\) pairs"),
        (np.ones(3), TypeError, "mapping of names to arrays, got ndarray"),
        (5, TypeError, "mapping of names to arrays, got int"),
    ],
)
def test_bad_input(arg, exc, match):
    with pytest.raises(exc, match=match):
        FlatParams(arg)


def test_bad_dtype_argument():
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got 'int32'"):
        FlatParams({"a": np.ones(2)}, dtype="int32")


# ----------------------------------------------------------------- gradients
def test_gather_accepts_three_forms_identically():
    p = FlatParams(arrays())
    g = p.zeros_like()
    g.flat[:] = np.arange(p.size, dtype=float)
    out = np.empty_like(p.flat)
    assert p.gather(g, out) is g.flat  # same layout: no copy
    flat = g.flat.copy()
    assert p.gather(flat, out) is flat  # right dtype and length: no copy
    np.testing.assert_array_equal(p.gather(g.to_dict(), out), g.flat)
    np.testing.assert_array_equal(p.gather(flat.astype(np.float32), out), g.flat)  # converted
    np.testing.assert_array_equal(p.gather(list(flat), out), g.flat)


def test_gather_names_the_first_mismatch():
    p = FlatParams(arrays())
    out = np.empty_like(p.flat)
    good = p.zeros_like().to_dict()
    with pytest.raises(ValueError, match="grads has no array named 'b1'"):
        p.gather({k: v for k, v in good.items() if k != "b1"}, out)
    with pytest.raises(ValueError, match="unexpected array 'b3'"):
        p.gather({**good, "b3": np.zeros(1)}, out)
    with pytest.raises(ValueError, match=r"grads\['W2'\] must have shape \(1, 4\), got shape \(4, 1\)"):
        p.gather({**good, "W2": np.zeros((4, 1))}, out)
    with pytest.raises(TypeError, match=r"grads\['W1'\] must hold real numbers"):
        p.gather({**good, "W1": np.zeros((4, 2), dtype=complex)}, out)
    with pytest.raises(ValueError, match=r"grads must have shape \(17,\), got shape \(16,\)"):
        p.gather(np.zeros(16), out)
    other = FlatParams({"W1": np.zeros((4, 2)), "b1": np.zeros((1, 4)), "W2": np.zeros((1, 4)), "b2": np.zeros((1, 1))})
    with pytest.raises(ValueError, match=r"grads\['b1'\] must have shape \(4, 1\), got shape \(1, 4\)"):
        p.gather(other, out)
    renamed = FlatParams({"W1": np.zeros((4, 2)), "c1": np.zeros((4, 1)), "W2": np.zeros((1, 4)), "b2": np.zeros((1, 1))})
    with pytest.raises(ValueError, match="holds 'c1' where 'b1' was expected"):
        p.gather(renamed, out)
    extra = FlatParams({**p.zeros_like().to_dict(), "W3": np.zeros(2)})
    with pytest.raises(ValueError, match="grads has an unexpected array 'W3'"):
        p.gather(extra, out)
    shorter = FlatParams({"W1": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="grads has no array named 'b1'"):
        p.gather(shorter, out)


def test_gather_converts_a_flatparams_of_another_dtype():
    p = FlatParams(arrays())
    g32 = FlatParams(arrays(np.float32))
    out = np.empty_like(p.flat)
    got = p.gather(g32, out)
    assert got is out and got.dtype == np.float64
    np.testing.assert_array_equal(got, g32.flat.astype(np.float64))
