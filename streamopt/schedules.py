r"""Learning-rate schedules: plain callables of the epoch (or step) number.

Each function returns a small immutable object; calling it with a
non-negative integer ``n`` (the epoch, or the mini-batch step) gives the
learning rate for that epoch:

=========================================  ==========================================
schedule                                   η(n)
=========================================  ==========================================
``inverse_time(lr0, decay_rate, interval)``  lr0 / (1 + decay_rate·⌊n / interval⌋)
``exponential(lr0, base, interval)``         lr0 · base^⌊n / interval⌋
``inverse_sqrt(lr0, k)``                     k · lr0 / √max(n, 1)
``piecewise(boundaries, values)``            values[i], i = #{b in boundaries : b ≤ n}
=========================================  ==========================================

``inverse_time`` with ``interval=1`` is the notes' η = η₀ / (1 + decay_rate·epoch);
with ``interval=1000`` it is the course's "scheduled" decay, which lowers the
rate only every 1000 epochs.  ``exponential`` is the notes' 0.95^epoch·η₀,
``inverse_sqrt`` their k/√epoch·η₀ (or k/√t·η₀ with the step count t), and
``piecewise`` their discrete staircase.

Examples
--------
>>> from streamopt import schedules
>>> s = schedules.inverse_time(0.1, decay_rate=1.0)
>>> [s(n) for n in range(3)]
[0.1, 0.05, 0.03333333333333333]
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import check_int, check_lr, check_real

__all__ = ["Schedule", "inverse_time", "exponential", "inverse_sqrt", "piecewise"]


class Schedule:
    """Base class: a learning rate as a function of the epoch (or step) ``n``.

    Subclasses implement ``_rate(n)``; :meth:`__call__` validates ``n`` (an
    integer ≥ 0) and returns a Python float.  Schedules are immutable,
    comparable and hashable, and their ``repr`` rebuilds them.

    Examples
    --------
    >>> s = inverse_sqrt(0.1)
    >>> isinstance(s, Schedule), s
    (True, inverse_sqrt(lr0=0.1, k=1.0))
    >>> s(-1)
    Traceback (most recent call last):
    ...
    ValueError: n must be >= 0, got -1
    """

    __slots__ = ()

    def __call__(self, n: int) -> float:
        return self._rate(check_int("n", n, minimum=0))

    def _rate(self, n: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _args(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._args() == other._args()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")


def _set(obj: Schedule, **values: Any) -> None:
    for k, v in values.items():
        object.__setattr__(obj, k, v)


class inverse_time(Schedule):  # noqa: N801 - a callable named like the function it is
    r"""η(n) = lr0 / (1 + decay_rate·⌊n / interval⌋).

    Parameters
    ----------
    lr0 : float
        The initial rate η₀ > 0.
    decay_rate : float
        ≥ 0 (0 keeps the rate constant).
    interval : int
        ≥ 1: the rate changes every ``interval`` epochs (1: the notes' formula;
        1000: the course's scheduled decay).

    Examples
    --------
    >>> s = inverse_time(0.1, decay_rate=1.0, interval=1000)
    >>> s(0), s(999), s(1000), s(2500)
    (0.1, 0.1, 0.05, 0.03333333333333333)
    """

    __slots__ = ("lr0", "decay_rate", "interval")

    def __init__(self, lr0: float, decay_rate: float, interval: int = 1):
        decay_rate = check_real("decay_rate", decay_rate)
        if decay_rate < 0:
            raise ValueError(f"decay_rate must be >= 0, got {decay_rate!r}")
        _set(self, lr0=check_lr(lr0, "lr0"), decay_rate=decay_rate,
             interval=check_int("interval", interval, minimum=1))

    def _rate(self, n: int) -> float:
        return self.lr0 / (1.0 + self.decay_rate * (n // self.interval))

    def _args(self) -> dict[str, Any]:
        return {"lr0": self.lr0, "decay_rate": self.decay_rate, "interval": self.interval}


class exponential(Schedule):  # noqa: N801
    r"""η(n) = lr0 · base^⌊n / interval⌋.

    Parameters
    ----------
    lr0 : float
        The initial rate η₀ > 0.
    base : float
        In (0, 1] (the notes use 0.95).
    interval : int
        ≥ 1: the rate changes every ``interval`` epochs.

    Notes
    -----
    For very large n the rate underflows to 0.0, which an optimizer refuses
    as a learning rate (lr must be > 0).

    Examples
    --------
    >>> s = exponential(0.1, base=0.5, interval=2)
    >>> [s(n) for n in range(5)]
    [0.1, 0.1, 0.05, 0.05, 0.025]
    """

    __slots__ = ("lr0", "base", "interval")

    def __init__(self, lr0: float, base: float = 0.95, interval: int = 1):
        base = check_real("base", base)
        if not 0.0 < base <= 1.0:
            raise ValueError(f"base must be in (0, 1], got {base!r}")
        _set(self, lr0=check_lr(lr0, "lr0"), base=base, interval=check_int("interval", interval, minimum=1))

    def _rate(self, n: int) -> float:
        return self.lr0 * self.base ** (n // self.interval)

    def _args(self) -> dict[str, Any]:
        return {"lr0": self.lr0, "base": self.base, "interval": self.interval}


class inverse_sqrt(Schedule):  # noqa: N801
    r"""η(n) = k · lr0 / √n for n ≥ 1, and k · lr0 at n = 0 (as at n = 1).

    The notes' k/√epoch·η₀ (or k/√t·η₀ with t the mini-batch count).  Epochs
    counted from 0 start at the same rate as from 1: η(0) = η(1) = k·lr0.

    Parameters
    ----------
    lr0 : float
        η₀ > 0.
    k : float
        > 0.

    Examples
    --------
    >>> s = inverse_sqrt(0.1, k=2.0)
    >>> s(0), s(1), s(4)
    (0.2, 0.2, 0.1)
    """

    __slots__ = ("lr0", "k")

    def __init__(self, lr0: float, k: float = 1.0):
        _set(self, lr0=check_lr(lr0, "lr0"), k=check_lr(k, "k"))

    def _rate(self, n: int) -> float:
        return self.k * self.lr0 / math.sqrt(max(n, 1))

    def _args(self) -> dict[str, Any]:
        return {"lr0": self.lr0, "k": self.k}


def _items(value: Any, name: str, what: str) -> list[Any]:
    """The items of a 1-D sequence or array-like ``value`` (a list, tuple, ndarray, Series, …)."""
    if isinstance(value, (str, bytes)) or not (isinstance(value, Sequence) or hasattr(value, "__array__")):
        raise TypeError(f"{name} must be a sequence or 1-D array of {what}, got {value!r}")
    if isinstance(value, Sequence):
        return list(value)
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    return arr.tolist()


class piecewise(Schedule):  # noqa: N801
    r"""A staircase: η(n) = values[i], i the number of boundaries ≤ n.

    ``values[0]`` for n < boundaries[0], ``values[1]`` for
    boundaries[0] ≤ n < boundaries[1], …, ``values[-1]`` from the last
    boundary on: the notes' discrete (manual) decay.

    Parameters
    ----------
    boundaries : sequence or 1-D array of int
        Strictly increasing integers ≥ 1 (a list, tuple or NumPy array).
    values : sequence or 1-D array of float
        ``len(boundaries) + 1`` learning rates, each > 0.

    Examples
    --------
    >>> import numpy as np
    >>> s = piecewise(np.array([10, 20]), np.array([0.1, 0.01, 0.001]))
    >>> s(0), s(10), s(25)
    (0.1, 0.01, 0.001)
    """

    __slots__ = ("boundaries", "values")

    def __init__(self, boundaries: Sequence[int] | np.ndarray, values: Sequence[float] | np.ndarray):
        items = _items(boundaries, "boundaries", "integers")
        values = _items(values, "values", "learning rates")
        bounds = tuple(check_int(f"boundaries[{i}]", b, minimum=1) for i, b in enumerate(items))
        for i in range(1, len(bounds)):
            if bounds[i] <= bounds[i - 1]:
                raise ValueError(f"boundaries must be strictly increasing, got {list(bounds)!r}")
        if len(values) != len(bounds) + 1:
            raise ValueError(
                f"values must hold len(boundaries) + 1 = {len(bounds) + 1} rates, got {len(values)}"
            )
        rates = tuple(check_lr(v, f"values[{i}]") for i, v in enumerate(values))
        _set(self, boundaries=bounds, values=rates)

    def _rate(self, n: int) -> float:
        return self.values[bisect.bisect_right(self.boundaries, n)]

    def _args(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values)}
