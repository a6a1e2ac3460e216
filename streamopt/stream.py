"""The streaming exponentially weighted average :class:`EWA` (also importable from :mod:`streamopt.ewa`).

Its state is one float64 buffer (:mod:`streamopt._kernels.ewa_stream`: the
mean kernels' parameters, then V and the count of each series); every update
runs the kernels of :func:`streamopt.ewa` on it, so a stream reproduces the
batch function bit for bit whatever the chunks.  A saved state is the
``streamopt.EWA`` envelope of :mod:`streamopt.state`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from . import _checks
from . import state as _state
from ._kernels import ewa_mean as _km
from ._kernels import ewa_stream as _ks
from .ewa import LANES, ROWS, _along_axis, _as_input, _decay, mean_kernel

__all__ = ["EWA", "check_state", "state_mismatch"]

STATE_KIND = "EWA"
STATE_VERSION = 1
STATE_FIELDS = ("alpha", "beta", "bias_correction", "skipna", "mode", "dtype", "k", "value", "count")
_MAX_COUNT = 2**53  # counts are held as float64: exact up to this
_F64 = np.dtype(np.float64)
_STREAM_LAYOUT = {"ewa_rows": _ks.ROWS, "ewa_lanes": _ks.LANES}


class EWA:
    r"""Streaming exponentially weighted average: feed chunks, get the smoothed chunk back.

    Keeps V and the observation count of one series or of k parallel series;
    :meth:`update` runs the same kernels as :func:`streamopt.ewa`, so for any
    split of a series into chunks the concatenated outputs are bit-identical
    to :func:`streamopt.ewa` on the whole series and to feeding one value at a
    time.

    Parameters
    ----------
    beta, span, com, halflife, alpha : float
        Exactly one, as in :func:`streamopt.ewa`.
    bias_correction : bool
        Output V_count / (1 − β^count).
    skipna : bool
        As in :func:`streamopt.ewa`: a missing value (NaN, ±inf, masked) is
        skipped (True) or poisons the stream (False).

    Notes
    -----
    The first :meth:`update` fixes the kind of stream: one series (scalar and
    1-D chunks, including a Series) or k series (2-D chunks of shape (n, k),
    including a DataFrame of k columns), and its dtype (float32 if that chunk
    is float32, float64 otherwise; later chunks are converted to it).

    Examples
    --------
    >>> s = EWA(0.5)
    >>> s.update([1.0, 1.0])
    array([0.5 , 0.75])
    >>> s.update(1.0)
    0.875
    >>> s.count
    3
    """

    __slots__ = ("_alpha", "_beta", "_correct", "_skipna", "_mode", "_k", "_dtype", "_buf", "_addr", "_columns")

    def __init__(self, beta: Any = None, *, span: Any = None, com: Any = None, halflife: Any = None,
                 alpha: Any = None, bias_correction: bool = False, skipna: bool = True) -> None:
        a, b = _decay(beta, span, com, halflife, alpha)
        self._setup(a, b, _checks.check_bool("bias_correction", bias_correction),
                    _checks.check_bool("skipna", skipna))

    def _setup(self, alpha: float, beta: float, correct: bool, skipna: bool) -> None:
        self._alpha, self._beta, self._correct, self._skipna = alpha, beta, correct, skipna
        self._mode: str | None = None
        self._k: int | None = None
        self._dtype: np.dtype | None = None
        self._buf: np.ndarray | None = None
        self._addr = 0  # a one-series float64 stream: the address of _buf, for the fast paths of update()
        self._columns = None

    # ------------------------------------------------------------ parameters
    @property
    def alpha(self) -> float:
        """α = 1 − β, the smoothing factor."""
        return self._alpha

    @property
    def beta(self) -> float:
        """The decay rate β."""
        return self._beta

    @property
    def bias_correction(self) -> bool:
        """Whether the outputs are V_count / (1 − β^count)."""
        return self._correct

    @property
    def skipna(self) -> bool:
        """Whether a missing value is skipped (True) or poisons the stream (False)."""
        return self._skipna

    def __repr__(self) -> str:
        return (f"EWA(beta={self._beta!r}, bias_correction={self._correct}, skipna={self._skipna}, "
                f"count={self.count!r})")

    # ------------------------------------------------------------------ state
    def _start(self, mode: str, k: int, dtype: np.dtype) -> None:
        """Zero state for a stream of ``k`` series of ``dtype``."""
        self._mode, self._k, self._dtype = mode, k, np.dtype(dtype)
        self._buf = np.zeros(_ks.buffer_size(k))
        _ks.fill_params(self._buf[:_ks.SERIES], self._alpha, self._beta, self._correct, self._skipna)
        self._addr = self._buf.ctypes.data if mode == "series" and self._dtype == _F64 else 0

    def _field(self, field: int) -> np.ndarray:
        """One field (:data:`~streamopt._kernels.ewa_stream.V` or ``COUNT``) of every series: a view of k."""
        return self._buf[_ks.SERIES + field::_ks.FIELDS]

    @property
    def count(self) -> int | np.ndarray:
        """Observations seen: an int for one series, an int64 array of k for k series.

        Examples
        --------
        >>> s = EWA(0.5)
        >>> _ = s.update([1.0, float("nan"), 2.0])
        >>> s.count
        2
        """
        if self._mode is None:
            return 0
        counts = self._field(_ks.COUNT)
        return int(counts[0]) if self._mode == "series" else counts.astype(np.int64)

    @property
    def value(self) -> float | np.ndarray:
        """The current smoothed value (bias-corrected if asked; NaN before any observation).

        A float for one series, an array of k for k series: the value the last
        update output for each series.

        Examples
        --------
        >>> s = EWA(0.5, bias_correction=True)
        >>> _ = s.update([1.0, 3.0])
        >>> s.value
        2.3333333333333335
        """
        if self._mode is None:
            return math.nan
        out = np.empty(self._k, self._dtype)
        _ks.stream_value(out, self._buf)
        return float(out[0]) if self._mode == "series" else out

    # ----------------------------------------------------------------- update
    def update(self, chunk: Any) -> Any:
        """Feed a chunk; returns its smoothed values (same shape, pandas kept).

        Parameters
        ----------
        chunk : scalar, 1-D array, 2-D array (n, k), masked array, Series or DataFrame
            A scalar is one observation of one series, a 1-D array consecutive
            observations of one series, a 2-D array n consecutive time steps of
            k parallel series (one step is shape (1, k)).

        Returns
        -------
        float, ndarray, Series or DataFrame
            The outputs for this chunk, as :func:`streamopt.ewa` would give at
            these positions of the whole stream.

        Examples
        --------
        >>> s = EWA(0.5)
        >>> s.update([[2.0, 4.0]])
        array([[1., 2.]])
        """
        address = self._addr
        if address:  # the fast paths: a float, or a 1-D float64 array (any strides), into one float64 series
            cls = chunk.__class__
            if cls is float or cls is np.float64:
                return _ks.stream_one_at(chunk, address)
            if cls is np.ndarray and chunk.dtype is _F64 and chunk.ndim == 1:
                out = np.empty(chunk.shape[0])
                _ks.stream_series_at(chunk, out, address)
                return out
        return self._update(chunk)

    def _update(self, chunk: Any) -> Any:
        values, wrap = _as_input(chunk, "chunk")
        columns = chunk.columns if isinstance(chunk, pd.DataFrame) else None
        if values.ndim > 2:
            raise ValueError(f"chunk must be a scalar, a 1-D or a 2-D array, got {values.ndim}-D "
                             f"shape {values.shape}")
        mode = "panel" if values.ndim == 2 else "series"
        k = values.shape[1] if values.ndim == 2 else 1
        if self._mode is None:
            self._start(mode, k, np.float32 if values.dtype == np.float32 else np.float64)
            self._columns = columns
        elif mode != self._mode:
            what = "one series (scalars and 1-D chunks)" if self._mode == "series" else \
                f"{self._k} series (2-D chunks of shape (n, {self._k}))"
            raise ValueError(f"chunk must fit this stream of {what}, got a {values.ndim}-D chunk "
                             f"of shape {values.shape}")
        elif k != self._k:
            raise ValueError(f"chunk must have {self._k} columns (fixed by the first update), "
                             f"got shape {values.shape}")
        elif columns is not None and self._columns is not None and not columns.equals(self._columns):
            raise ValueError(f"chunk must have the columns of the first DataFrame {list(self._columns)!r}, "
                             f"got {list(columns)!r}")
        if values.dtype != self._dtype:
            values = values.astype(self._dtype)
        if self._addr and values.ndim == 0:  # one value of one float64 series (its first one included)
            return _ks.stream_one_at(float(values), self._addr)
        if self._addr and values.ndim == 1:
            out = np.empty(values.shape[0])
            _ks.stream_series_at(values, out, self._addr)
            return out if wrap is None else wrap(out)
        buf = self._buf

        def run(layout: str, x2: np.ndarray, out2: np.ndarray) -> None:
            kernel = mean_kernel(layout, x2)
            if kernel in _STREAM_LAYOUT:
                _ks.stream_chunk(x2, out2, buf, _STREAM_LAYOUT[kernel])
                return
            k = x2.shape[0]  # the parallel lanes kernel, on the state unpacked here
            v, count = np.empty(k, self._dtype), np.empty(k, np.int64)
            _ks.load(buf, v, count)
            getattr(_km, kernel)(x2, out2, v, count, buf[:_ks.SERIES])
            _ks.store(buf, v, count)

        result = _along_axis(values, 0, None, run)
        if values.ndim == 0:
            return float(result)
        return result if wrap is None else wrap(result)

    # ------------------------------------------------------- copy and pickle
    def __getstate__(self) -> dict[str, Any]:
        """The attributes, without the buffer's address (meaningless in a copy or another process)."""
        return {name: getattr(self, name) for name in self.__slots__ if name != "_addr"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore (copy, deepcopy, pickle); the address is that of the restored buffer."""
        for name, value in state.items():
            setattr(self, name, value)
        self._addr = self._buf.ctypes.data if self._mode == "series" and self._dtype == _F64 else 0

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The full state as plain JSON data: the ``streamopt.EWA`` envelope, version 1.

        Floats are exact hex strings (``float.hex``); ``value`` holds the raw V
        of each series (not bias-corrected) and ``count`` the observation
        counts; with the parameters this is everything :meth:`load_state_dict`
        needs to continue bit-identically.

        Examples
        --------
        >>> s = EWA(0.5)
        >>> _ = s.update(1.0)
        >>> d = s.state_dict()
        >>> d["format"], d["version"], d["value"], d["count"]
        ('streamopt.EWA', 1, ['0x1.0000000000000p-1'], [1])
        """
        started = self._mode is not None
        return _state.envelope(STATE_KIND, STATE_VERSION, {
            "alpha": _state.hex_float(self._alpha),
            "beta": _state.hex_float(self._beta),
            "bias_correction": self._correct,
            "skipna": self._skipna,
            "mode": self._mode,
            "dtype": str(self._dtype) if started else None,
            "k": self._k,
            "value": [_state.hex_float(v) for v in self._field(_ks.V)] if started else [],
            "count": [int(c) for c in self._field(_ks.COUNT)] if started else [],
        })

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EWA:
        """A new EWA continuing from ``state`` (parameters included).

        Examples
        --------
        >>> s = EWA(0.5)
        >>> _ = s.update(1.0)
        >>> EWA.from_state(s.state_dict()).update(1.0)
        0.75
        """
        params, series = _read_state(state)
        obj = cls.__new__(cls)
        obj._setup(*params)
        obj._restore(series)
        return obj

    def check_compatible(self, state: dict[str, Any]) -> None:
        """Raise ValueError unless ``state`` was written by an EWA with this one's parameters.

        The message names the first parameter that differs (``beta``, ``alpha``,
        ``bias_correction``, ``skipna``); a malformed state is a
        :class:`streamopt.state.StateError` (a ValueError) or a TypeError.

        Examples
        --------
        >>> EWA(0.5).check_compatible(EWA(0.9).state_dict())
        Traceback (most recent call last):
        ...
        ValueError: state does not match this EWA: state has beta=0.9, this EWA has beta=0.5
        """
        check_state(state, self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; its parameters must equal this EWA's (else ValueError naming the first
        that differs, see :meth:`check_compatible`).

        Examples
        --------
        >>> s, t = EWA(0.5), EWA(0.5)
        >>> _ = s.update([1.0, 2.0])
        >>> t.load_state_dict(s.state_dict())
        >>> t.update(3.0) == s.update(3.0)
        True
        """
        params, series = _read_state(state)
        _raise_mismatch(_mismatch(params, self))
        self._restore(series)

    def _restore(self, series: tuple[str | None, str | None, int | None, np.ndarray, np.ndarray]) -> None:
        mode, dtype, k, v, counts = series
        self._setup(self._alpha, self._beta, self._correct, self._skipna)
        if mode is not None:
            self._start(mode, k, np.dtype(dtype))
            self._field(_ks.V)[:] = v
            self._field(_ks.COUNT)[:] = counts


# ----------------------------------------------------------------- the state
_PARAMETERS = ("beta", "alpha", "bias_correction", "skipna")


def _read_params(state: Any) -> tuple[float, float, bool, bool]:
    """(α, β, bias_correction, skipna) of an EWA state, checked (envelope included)."""
    _state.open_envelope(state, STATE_KIND, STATE_VERSION, STATE_FIELDS)
    alpha = _state.parse_hex_float("state['alpha']", state["alpha"], finite=True)
    beta = _state.parse_hex_float("state['beta']", state["beta"], finite=True)
    if not (0.0 < alpha <= 1.0 and 0.0 <= beta < 1.0 and abs(alpha + beta - 1.0) <= 4e-16):
        raise _state.StateError(f"state['alpha'] and state['beta'] must satisfy 0 < alpha = 1 - beta <= 1, "
                                f"got alpha={_state.excerpt(state['alpha'])}, beta={_state.excerpt(state['beta'])}")
    return (alpha, beta, _state.parse_bool("state['bias_correction']", state["bias_correction"]),
            _state.parse_bool("state['skipna']", state["skipna"]))


def _read_state(state: Any):
    """((α, β, bias_correction, skipna), (mode, dtype, k, values, counts)) of an EWA state, fully checked.

    Reads exactly what :meth:`EWA.state_dict` writes (version 1, also written
    by streamopt 0.1.0) and nothing else.
    """
    params = _read_params(state)
    mode = state["mode"]
    if mode is None:
        for key in ("dtype", "k"):
            if state[key] is not None:
                raise _state.StateError(f"state['{key}'] must be null for a stream not started, "
                                        f"got {_state.excerpt(state[key])}")
        if state["value"] != [] or state["count"] != []:
            raise _state.StateError("state['value'] and state['count'] must be empty for a stream not started")
        return params, (None, None, None, np.empty(0), np.empty(0))
    if mode not in ("series", "panel"):
        raise _state.StateError(f"state['mode'] must be 'series', 'panel' or null, got {_state.excerpt(mode)}")
    dtype = state["dtype"]
    if dtype not in ("float32", "float64"):
        raise _state.StateError(f"state['dtype'] must be 'float32' or 'float64', got {_state.excerpt(dtype)}")
    k = _state.parse_int("state['k']", state["k"], 1 if mode == "series" else 0, 1 if mode == "series" else None)
    raw_v, raw_c = state["value"], state["count"]
    if not isinstance(raw_v, list) or len(raw_v) != k:
        raise _state.StateError(f"state['value'] must be a list of {k} hex float strings, got {_state.excerpt(raw_v)}")
    if not isinstance(raw_c, list) or len(raw_c) != k:
        raise _state.StateError(f"state['count'] must be a list of {k} integers, got {_state.excerpt(raw_c)}")
    v = np.empty(k)
    for i, item in enumerate(raw_v):
        v[i] = _state.parse_hex_float(f"state['value'][{i}]", item)
        if dtype == "float32" and not (math.isnan(v[i]) or float(np.float32(v[i])) == v[i]):
            raise _state.StateError(f"state['value'][{i}] must be a float32 value, got {_state.excerpt(item)}")
    counts = np.array([_state.parse_int(f"state['count'][{i}]", item, 0, _MAX_COUNT) for i, item in enumerate(raw_c)],
                      dtype=np.float64)
    return params, (mode, dtype, k, v, counts)


def _mismatch(params: tuple[float, float, bool, bool], ewa: EWA) -> tuple[str, Any, Any] | None:
    alpha, beta, correct, skipna = params
    theirs = {"beta": beta, "alpha": alpha, "bias_correction": correct, "skipna": skipna}
    mine = {"beta": ewa.beta, "alpha": ewa.alpha, "bias_correction": ewa.bias_correction, "skipna": ewa.skipna}
    for key in _PARAMETERS:
        if theirs[key] != mine[key]:
            return key, theirs[key], mine[key]
    return None


def _raise_mismatch(found: tuple[str, Any, Any] | None) -> None:
    if found is not None:
        key, theirs, mine = found
        raise ValueError(f"state does not match this EWA: state has {key}={theirs!r}, this EWA has {key}={mine!r}")


def state_mismatch(state: Any, ewa: EWA) -> tuple[str, Any, Any] | None:
    """The first parameter in which ``state`` (an EWA state) and ``ewa`` differ, or None if none does.

    Returns ``(name, value in the state, value of ewa)`` with name one of
    ``beta``, ``alpha``, ``bias_correction``, ``skipna``; a malformed state is a
    :class:`streamopt.state.StateError` or TypeError.

    Examples
    --------
    >>> state_mismatch(EWA(0.9).state_dict(), EWA(0.9, bias_correction=True))
    ('bias_correction', False, True)
    >>> state_mismatch(EWA(0.9).state_dict(), EWA(0.9)) is None
    True
    """
    return _mismatch(_read_params(state), ewa)


def check_state(state: Any, ewa: EWA) -> None:
    """Raise ValueError naming the first parameter in which ``state`` and ``ewa`` differ (:func:`state_mismatch`).

    Examples
    --------
    >>> check_state(EWA(0.9).state_dict(), EWA(0.9))
    """
    _raise_mismatch(state_mismatch(state, ewa))
