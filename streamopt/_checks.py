"""Parameter validation and dtype coercion, shared by every public entry point.

One check per kind of parameter lives here, so that every error message reads the
same: ``"<name> must be <rule>, got <value!r>"``.  Kernels never validate; the
public API calls these before handing contiguous arrays to a kernel.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "check_real",
    "check_beta",
    "check_lr",
    "check_eps",
    "check_int",
    "check_bool",
    "resolve_alpha",
    "float_dtype",
    "as_float_array",
]


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a finite Python float, or raise TypeError/ValueError.

    Booleans are refused (``True`` is not a learning rate); NumPy scalars and
    0-d arrays of a real dtype are accepted.

    Examples
    --------
    >>> check_real("lr", 1)
    1.0
    >>> check_real("lr", True)
    Traceback (most recent call last):
    ...
    TypeError: lr must be a real number, got True
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def check_beta(name: str, value: Any) -> float:
    """A decay rate: a real number in [0, 1).

    Examples
    --------
    >>> check_beta("beta", 0.9)
    0.9
    """
    beta = check_real(name, value)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return beta


def check_lr(value: Any, name: str = "lr") -> float:
    """A learning rate: a finite real number > 0.

    Examples
    --------
    >>> check_lr(0.1)
    0.1
    """
    lr = check_real(name, value)
    if not lr > 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return lr


def check_eps(value: Any, name: str = "eps") -> float:
    """A denominator guard: a finite real number >= 0.

    Examples
    --------
    >>> check_eps(1e-8)
    1e-08
    """
    eps = check_real(name, value)
    if eps < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return eps


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """An integer (bools refused) not below ``minimum``.

    Examples
    --------
    >>> check_int("axis", -1)
    -1
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    out = int(value)
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return out


def check_bool(name: str, value: Any) -> bool:
    """A flag: a Python or NumPy bool.

    Examples
    --------
    >>> check_bool("skipna", True)
    True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def resolve_alpha(
    beta: Any = None,
    *,
    span: Any = None,
    com: Any = None,
    halflife: Any = None,
    alpha: Any = None,
    accepted: tuple[str, ...] = ("beta", "span", "com", "halflife", "alpha"),
) -> float:
    """Turn exactly one decay specification into the smoothing factor α = 1 − β.

    Conventions are pandas' ``ewm``: α = 2/(span + 1) with span ≥ 1,
    α = 1/(1 + com) with com ≥ 0, α = 1 − exp(−ln 2 / halflife) with halflife > 0,
    α in (0, 1]; and β in [0, 1) as in the notes (V_t = β·V_{t−1} + (1 − β)·θ_t).

    α is the internal parameter: for β given as a float, ``1 - beta`` is exact
    (Sterbenz), so β = 1 − 1e−9 loses nothing.

    ``accepted`` names the specifications the caller offers, for the message
    when not exactly one is given (the one place this rule is checked).

    Returns
    -------
    float
        α in (0, 1].

    Examples
    --------
    >>> resolve_alpha(0.75), resolve_alpha(span=3), resolve_alpha(com=1.0)
    (0.25, 0.5, 0.5)
    """
    given = {k: v for k, v in dict(beta=beta, span=span, com=com, halflife=halflife, alpha=alpha).items()
             if v is not None}
    if len(given) != 1:
        names = ", ".join(given) if given else "none"
        raise ValueError(f"exactly one of {', '.join(accepted)} must be given, got {names}")
    (name, raw), = given.items()
    if name == "beta":
        return 1.0 - check_beta("beta", raw)
    value = check_real(name, raw)
    if name == "span":
        if value < 1.0:
            raise ValueError(f"span must be >= 1, got {raw!r}")
        return 2.0 / (value + 1.0)
    if name == "com":
        if value < 0.0:
            raise ValueError(f"com must be >= 0, got {raw!r}")
        return 1.0 / (1.0 + value)
    if name == "halflife":
        if value <= 0.0:
            raise ValueError(f"halflife must be > 0, got {raw!r}")
        return -math.expm1(-math.log(2.0) / value)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {raw!r}")
    return value


def float_dtype(dtype: np.dtype, name: str = "x") -> np.dtype:
    """The computation dtype for input ``dtype``.

    float32 stays float32 and float64 stays float64; float16 computes in float32;
    integers and bools become float64.  Anything else (complex, object, strings,
    datetimes, long double) is a TypeError naming the parameter.

    Examples
    --------
    >>> float_dtype(np.int32), float_dtype(np.float16)
    (dtype('float64'), dtype('float32'))
    """
    dtype = np.dtype(dtype)
    if dtype == np.float64 or dtype == np.float32:
        return dtype
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"{name} must hold real numbers (float, int or bool), got dtype {dtype}")


def as_float_array(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as an ndarray of its computation dtype (see :func:`float_dtype`).

    Never copies a float32/float64 array that is already the right dtype; the
    caller must not write into the result unless it made the copy itself.

    Examples
    --------
    >>> as_float_array([1, 2])
    array([1., 2.])
    """
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be array-like of real numbers, got {type(x).__name__}") from exc
    dtype = float_dtype(arr.dtype, name)
    return arr if arr.dtype == dtype else arr.astype(dtype)
