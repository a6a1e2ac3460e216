"""Bad input, table-driven: every parameter of `ewa`, `ewvar`, `ewstd`, `EWA`, `horizon` and
`beta_from` with every kind of wrong value gets a ValueError/TypeError whose message names the
parameter and the value, and the input is left unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamopt
from streamopt import EWA

X = np.array([[1.0, 2.0], [np.nan, 4.0], [5.0, 6.0]])

# parameter -> [(wrong value, text the message must contain)]
DECAY_CASES = {
    "beta": [(1.0, "1.0"), (-0.1, "-0.1"), (1.5, "1.5"), (float("nan"), "nan"), (float("inf"), "inf"),
             ("0.9", "'0.9'"), (True, "True"), ([0.9], "[0.9]"), (0.9 + 0j, "0.9")],
    "span": [(0.5, "0.5"), (-3, "-3"), (float("inf"), "inf"), ("9", "'9'"), (False, "False")],
    "com": [(-1.0, "-1.0"), (float("nan"), "nan"), ("a", "'a'")],
    "halflife": [(0, "0"), (-2.0, "-2.0"), (float("-inf"), "-inf"), (None, None)],
    "alpha": [(0.0, "0.0"), (1.5, "1.5"), (-0.2, "-0.2"), (b"x", "b'x'")],
}
FLAG_CASES = [("yes", "'yes'"), (1, "1"), (None, "None"), (np.array([True]), "array")]
COMMON_CASES = {
    "skipna": FLAG_CASES,
    "axis": [(2, "2"), (-3, "-3"), (1.0, "1.0"), ("0", "'0'"), (True, "True")],
    "out": [([0.0] * 6, "list"), (np.empty((2, 3)), "(2, 3)"), (np.empty((3, 2), np.float32), "float32"),
            (np.empty(6), "(6,)")],
}
X_CASES = [("abc", "'abc'"), (np.array(["a", "b"]), "<U1"), (np.array([1 + 2j]), "complex128"),
           (np.array([None, 1.0], dtype=object), "object"), ([[1.0, 2.0], [3.0]], "list"),
           (pd.Series(["a", "b"]), "str"), (np.array(["2024-01-01"], dtype="datetime64[D]"), "datetime64")]

FUNCTIONS = {
    "ewa": (streamopt.ewa, {"bias_correction": FLAG_CASES}),
    "ewvar": (streamopt.ewvar, {"bias": FLAG_CASES}),
    "ewstd": (streamopt.ewstd, {"bias": FLAG_CASES}),
}


def _cases():
    for fname, (_, extra) in FUNCTIONS.items():
        for table in (DECAY_CASES, COMMON_CASES, extra):
            for param, cases in table.items():
                for value, text in cases:
                    if value is None and param != "halflife":
                        yield pytest.param(fname, param, value, text, id=f"{fname}-{param}-None")
                    elif value is not None:
                        yield pytest.param(fname, param, value, text, id=f"{fname}-{param}-{text}")


@pytest.mark.parametrize(("fname", "param", "value", "text"), list(_cases()))
def test_bad_parameter_names_itself_and_its_value(fname, param, value, text):
    func = FUNCTIONS[fname][0]
    x = X.copy()
    kwargs = {param: value}
    if param not in DECAY_CASES:
        kwargs["beta"] = 0.9
    with pytest.raises((ValueError, TypeError)) as info:
        func(x, **kwargs)
    message = str(info.value)
    assert param in message
    assert text in message
    np.testing.assert_array_equal(x, X)


@pytest.mark.parametrize("fname", list(FUNCTIONS))
@pytest.mark.parametrize(("value", "text"), X_CASES)
def test_bad_x_names_x_and_what_it_is(fname, value, text):
    before = value.copy() if hasattr(value, "copy") else value
    with pytest.raises(TypeError) as info:
        FUNCTIONS[fname][0](value, 0.9)
    assert "x must" in str(info.value) and text in str(info.value)
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(value, before)


@pytest.mark.parametrize("fname", list(FUNCTIONS))
def test_decay_given_twice_or_never(fname):
    func = FUNCTIONS[fname][0]
    with pytest.raises(ValueError, match="exactly one of .*got beta, span"):
        func(X, 0.9, span=3)
    with pytest.raises(ValueError, match="exactly one of .*got none"):
        func(X)


def test_out_is_numpy_only_and_writeable():
    s = pd.Series([1.0, 2.0])
    with pytest.raises(TypeError, match="out must be None for pandas input"):
        streamopt.ewa(s, 0.5, out=np.empty(2))
    ro = np.empty((3, 2))
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="out must be writeable"):
        streamopt.ewa(X, 0.5, out=ro)


@pytest.mark.parametrize(("param", "value", "text"), [
    *((p, v, t) for p, cases in DECAY_CASES.items() for v, t in cases if v is not None),
    ("bias_correction", "no", "'no'"), ("skipna", 0, "0"),
])
def test_streaming_constructor(param, value, text):
    kwargs = {param: value}
    if param not in DECAY_CASES:
        kwargs["beta"] = 0.9
    with pytest.raises((ValueError, TypeError)) as info:
        EWA(**kwargs)
    assert param in str(info.value) and text in str(info.value)


@pytest.mark.parametrize(("value", "text"), DECAY_CASES["beta"])
def test_horizon(value, text):
    with pytest.raises((ValueError, TypeError)) as info:
        streamopt.horizon(value)
    assert "beta" in str(info.value) and text in str(info.value)


def test_beta_from():
    with pytest.raises(ValueError, match="exactly one of span, com, halflife, alpha"):
        streamopt.beta_from()
    with pytest.raises(ValueError, match="exactly one of .*got span, com"):
        streamopt.beta_from(span=3, com=2)
    with pytest.raises(ValueError, match="com must be >= 0, got -1"):
        streamopt.beta_from(com=-1)
    with pytest.raises(TypeError):
        streamopt.beta_from(0.9)  # keyword-only: β is not converted from itself


def test_bad_chunk_leaves_the_stream_unchanged():
    s = EWA(0.9)
    s.update(np.array([1.0, 2.0]))
    before = s.state_dict()
    chunk = np.zeros((2, 2))
    with pytest.raises(ValueError, match="chunk"):
        s.update(chunk)
    with pytest.raises(TypeError, match="chunk"):
        s.update({"a": 1})
    assert s.state_dict() == before
    np.testing.assert_array_equal(chunk, 0.0)
