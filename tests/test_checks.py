"""The shared parameter checks: conversions match pandas' conventions, every error names the parameter."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from streamopt._checks import (
    as_float_array,
    check_beta,
    check_eps,
    check_int,
    check_lr,
    float_dtype,
    resolve_alpha,
)


@pytest.mark.parametrize(
    "kwargs",
    [dict(span=1.0), dict(span=9.5), dict(com=0.0), dict(com=3.25), dict(halflife=0.5),
     dict(halflife=7.0), dict(alpha=0.3), dict(alpha=1.0)],
)
def test_alpha_follows_pandas_conventions(kwargs):
    # pandas is the oracle: ewm with our alpha must equal ewm with the original spec
    x = pd.Series(np.random.default_rng(0).normal(size=50))
    a = resolve_alpha(**kwargs)
    expected = x.ewm(**kwargs).mean()
    got = x.ewm(alpha=a).mean()
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)


def test_beta_gives_exact_alpha_near_one():
    beta = 1 - 1e-9
    alpha = resolve_alpha(beta)
    assert alpha == 1.0 - beta  # exact (Sterbenz), no rounding
    assert math.isclose(alpha, 1e-9, rel_tol=1e-7)
    assert resolve_alpha(0.0) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        (dict(), ValueError, "exactly one of"),
        (dict(beta=0.9, span=3), ValueError, "beta, span"),
        (dict(beta=1.0), ValueError, "beta must be in [0, 1), got 1.0"),
        (dict(beta=-0.1), ValueError, "beta must be in [0, 1), got -0.1"),
        (dict(beta=float("nan")), ValueError, "beta must be finite, got nan"),
        (dict(beta="0.9"), TypeError, "beta must be a real number, got '0.9'"),
        (dict(beta=True), TypeError, "beta must be a real number, got True"),
        (dict(span=0.5), ValueError, "span must be >= 1, got 0.5"),
        (dict(com=-1), ValueError, "com must be >= 0, got -1"),
        (dict(halflife=0), ValueError, "halflife must be > 0, got 0"),
        (dict(alpha=0.0), ValueError, "alpha must be in (0, 1], got 0.0"),
        (dict(alpha=1.5), ValueError, "alpha must be in (0, 1], got 1.5"),
        (dict(alpha=[0.5]), TypeError, "alpha must be a real number, got [0.5]"),
    ],
)
def test_resolve_alpha_errors_name_parameter_and_value(kwargs, exc, words):
    with pytest.raises(exc) as info:
        resolve_alpha(**kwargs)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: check_lr(0.0), ValueError, "lr must be > 0, got 0.0"),
        (lambda: check_lr(float("inf")), ValueError, "lr must be finite, got inf"),
        (lambda: check_lr(None), TypeError, "lr must be a real number, got None"),
        (lambda: check_eps(-1e-8), ValueError, "eps must be >= 0, got -1e-08"),
        (lambda: check_beta("beta1", 1), ValueError, "beta1 must be in [0, 1), got 1"),
        (lambda: check_int("batch_size", 0, minimum=1), ValueError, "batch_size must be >= 1, got 0"),
        (lambda: check_int("batch_size", 2.0), TypeError, "batch_size must be an integer, got 2.0"),
        (lambda: check_int("epochs", False), TypeError, "epochs must be an integer, got False"),
    ],
)
def test_scalar_checks(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


def test_scalar_checks_accept_numpy_scalars():
    assert check_lr(np.float32(0.5)) == 0.5
    assert check_beta("beta", np.array(0.25)) == 0.25
    assert check_int("n", np.int64(3)) == 3


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [("float64", "float64"), ("float32", "float32"), ("float16", "float32"),
     ("int8", "float64"), ("uint64", "float64"), ("bool", "float64")],
)
def test_float_dtype_rules(dtype, expected):
    assert float_dtype(np.dtype(dtype)) == np.dtype(expected)


@pytest.mark.parametrize("dtype", ["complex128", "object", "U3", "datetime64[ns]", "longdouble"])
def test_float_dtype_refuses_others(dtype):
    if np.dtype(dtype) == np.float64:  # platforms where long double is double
        pytest.skip("long double is float64 here")
    with pytest.raises(TypeError, match=r"x must hold real numbers .* got dtype"):
        float_dtype(np.dtype(dtype))


def test_as_float_array_does_not_copy_or_modify():
    a = np.arange(5.0)
    assert as_float_array(a) is a
    ints = np.arange(5)
    out = as_float_array(ints)
    assert out.dtype == np.float64 and ints.dtype.kind == "i"
    with pytest.raises(TypeError, match="x must be array-like"):
        as_float_array([[1.0], [1.0, 2.0]])
