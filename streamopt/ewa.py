"""Exponentially weighted averages: batch (:func:`ewa`, :func:`ewvar`, :func:`ewstd`) and streaming (:class:`EWA`).

The notes' recursion, for one series θ_1, θ_2, … and a decay rate β in [0, 1)::

    V_0 = 0,    V_t = β·V_{t−1} + (1 − β)·θ_t

V_t averages roughly the last 1/(1 − β) values (:func:`horizon`).  Because
V_0 = 0 the first values are biased towards 0; the bias-corrected output is
V_t / (1 − β^t), t = the number of observations seen, which equals pandas'
``ewm(alpha=1 − β, adjust=True, ignore_na=True).mean()``.

Everything here validates, converts and shapes; the arithmetic lives in the
Numba kernels of :mod:`streamopt._kernels.ewa`, shared by the batch functions
and the streaming class, so that a stream fed in any chunks reproduces
:func:`ewa` bit for bit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from . import _checks
from ._kernels import ewa as _k

__all__ = ["ewa", "ewvar", "ewstd", "EWA", "horizon", "beta_from"]

_TABLE_SIZE = _k.BLOCK
_STATE_FORMAT = "streamopt.EWA"
_STATE_VERSION = 1
_MAX_COUNT = 2**53  # counts are held as float64: exact below this

#: Series stored one after the other (a column-major 2-D input, or a stream of
#: such chunks) are split over every core once the input holds at least this
#: many bytes and 8 series.  A series is one chain of dependent multiply-adds, so
#: one core does ~1 ns per value; row-major input is not split (its inner loop
#: already runs across series at memory speed).  Read at each call.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024


# ------------------------------------------------------------------ parameters
def _decay(beta: Any, span: Any, com: Any, halflife: Any, alpha: Any) -> tuple[float, float]:
    """(α, β) from exactly one specification; β is kept as given when given."""
    a = _checks.resolve_alpha(beta, span=span, com=com, halflife=halflife, alpha=alpha)
    if beta is not None:
        return a, float(beta)
    return a, 1.0 - a


def horizon(beta: Any) -> float:
    """The number of values an EWA with decay β roughly averages: 1 / (1 − β).

    The weight of the value k steps back is (1 − β)·β^k, and at k = 1/(1 − β)
    it has fallen to β^{1/(1−β)} ≈ 1/e (slightly below: the relative gap is
    about −(1 − β)/2).

    Examples
    --------
    >>> horizon(0.9)
    10.000000000000002
    """
    b = _checks.check_beta("beta", beta)
    return 1.0 / (1.0 - b)


def beta_from(*, span: Any = None, com: Any = None, halflife: Any = None, alpha: Any = None) -> float:
    """β = 1 − α from exactly one of pandas' ``ewm`` conventions.

    α = 2/(span + 1) (span ≥ 1), α = 1/(1 + com) (com ≥ 0),
    α = 1 − exp(−ln 2 / halflife) (halflife > 0), or α itself in (0, 1].

    Examples
    --------
    >>> beta_from(span=19)
    0.9
    """
    given = [name for name, v in (("span", span), ("com", com), ("halflife", halflife), ("alpha", alpha))
             if v is not None]
    if len(given) != 1:
        raise ValueError(f"exactly one of span, com, halflife, alpha must be given, got {', '.join(given) or 'none'}")
    return 1.0 - _checks.resolve_alpha(span=span, com=com, halflife=halflife, alpha=alpha)


# ----------------------------------------------------------- input and output
def _pandas_values(obj: pd.Series | pd.DataFrame, name: str) -> np.ndarray:
    """The float array behind a Series/DataFrame (nullable dtypes: NA becomes NaN)."""
    dtypes = [obj.dtype] if isinstance(obj, pd.Series) else list(obj.dtypes)
    extension = False
    for dt in dtypes:
        if isinstance(dt, np.dtype):
            _checks.float_dtype(dt, name)
        elif (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)) \
                and not pd.api.types.is_complex_dtype(dt):
            extension = True
        else:
            raise TypeError(f"{name} must hold real numbers (float, int or bool), got dtype {dt}")
    if extension:
        return obj.to_numpy(dtype=np.float64, na_value=np.nan)
    return _checks.as_float_array(obj.to_numpy(), name)


def _as_input(x: Any, name: str = "x") -> tuple[np.ndarray, Any]:
    """(float array, wrapper turning a result array back into x's pandas type or None)."""
    if isinstance(x, pd.Series):
        index, series_name = x.index, x.name
        return _pandas_values(x, name), lambda r: pd.Series(r, index=index, name=series_name, copy=False)
    if isinstance(x, pd.DataFrame):
        index, columns = x.index, x.columns
        return _pandas_values(x, name), lambda r: pd.DataFrame(r, index=index, columns=columns, copy=False)
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be array-like of real numbers, got {x!r}")
    return _checks.as_float_array(x, name), None


def _check_axis(axis: Any, ndim: int) -> int:
    a = _checks.check_int("axis", axis)
    size = max(ndim, 1)
    if not -size <= a < size:
        raise ValueError(f"axis must be in [{-size}, {size}) for {ndim}-D input, got {axis!r}")
    return a % size


def _check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out must have the input's shape {shape}, got shape {out.shape}")
    if out.dtype != dtype:
        raise TypeError(f"out must have the result dtype {dtype}, got dtype {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("out must be writeable, got a read-only array")
    return out


def _smooth(values: np.ndarray, axis: int, out: np.ndarray | None, run) -> np.ndarray:
    """Apply ``run(layout, x2, out2)`` along ``axis`` of ``values``; returns the result array.

    ``layout`` is ``"lanes"`` (x2, out2 of shape (m, n), C-contiguous, one series
    per row) or ``"rows"`` (shape (n, m), C-contiguous, one series per column).
    The axis is moved to the front and the other axes flattened, without copying
    when the input is C- or F-contiguous that way; otherwise one contiguous copy
    is made.  The result goes to ``out`` if given (through a temporary when its
    layout does not fit or it overlaps the input in another way).
    """
    if values.ndim == 0:
        result = _smooth(values.reshape(1), 0, None, run).reshape(())
        if out is not None:
            out[...] = result
            return out
        return result
    y = values if axis == 0 else np.moveaxis(values, axis, 0)
    n = y.shape[0]
    m = math.prod(y.shape[1:])
    if out is not None and np.may_share_memory(out, values) and not (
            out.__array_interface__["data"][0] == values.__array_interface__["data"][0]
            and out.strides == values.strides):
        np.copyto(out, _smooth(values, axis, None, run))
        return out
    if values.size == 0:
        return out if out is not None else np.empty(values.shape, values.dtype)

    if m == 1 or y.flags.c_contiguous:
        layout, order = ("lanes", "C") if m == 1 else ("rows", "C")
    elif y.flags.f_contiguous:
        layout, order = "lanes", "F"
    else:
        y = np.ascontiguousarray(y)
        layout, order = "rows", "C"
    if m == 1:
        y = np.ascontiguousarray(y)

    def fits(a: np.ndarray) -> bool:
        return a.flags.c_contiguous if order == "C" else a.flags.f_contiguous

    out_y = None if out is None else out if axis == 0 else np.moveaxis(out, axis, 0)
    target = out_y if out_y is not None and fits(out_y) else np.empty(y.shape, values.dtype, order=order)
    if layout == "rows":
        run("rows", y.reshape(n, m), target.reshape(n, m))
    elif order == "C":
        run("lanes", y.reshape(1, n), target.reshape(1, n))
    else:
        run("lanes", y.reshape(n, m, order="F").T, target.reshape(n, m, order="F").T)
    if out is None:
        return target if axis == 0 else np.moveaxis(target, 0, axis)
    if target is not out_y:
        np.copyto(out_y, target)
    return out


def _prepare(x: Any, axis: Any, out: Any) -> tuple[np.ndarray, int, np.ndarray | None, Any]:
    values, wrap = _as_input(x, "x")
    if out is not None:
        if wrap is not None:
            raise TypeError(f"out must be None for pandas input (x is a {type(x).__name__}), got {type(out).__name__}")
        out = _check_out(out, values.shape, values.dtype)
    return values, _check_axis(axis, values.ndim), out, wrap


# ---------------------------------------------------------------------- mean
class _MeanKernel:
    """The EWA mean's kernel arguments for one (α, β, dtype, flags)."""

    __slots__ = ("alpha", "beta", "alpha64", "table", "bias", "skipna", "dtype")

    def __init__(self, alpha: float, beta: float, dtype: np.dtype, bias: bool, skipna: bool,
                 table: np.ndarray | None = None) -> None:
        scalar = np.dtype(dtype).type
        self.alpha, self.beta, self.alpha64 = scalar(alpha), scalar(beta), float(alpha)
        if table is None:
            table = np.empty(_TABLE_SIZE)
            _k.fill_table(float(alpha), table)
        self.table, self.bias, self.skipna, self.dtype = table, bias, skipna, np.dtype(dtype)

    def __call__(self, layout: str, x2: np.ndarray, out2: np.ndarray,
                 v: np.ndarray | None = None, t: np.ndarray | None = None) -> None:
        k = x2.shape[0] if layout == "lanes" else x2.shape[1]
        if v is None:
            v, t = np.zeros(k, self.dtype), np.zeros(k)
        if layout == "rows":
            kernel = _k.ewa_rows
        elif k >= 8 and x2.nbytes >= PARALLEL_MIN_BYTES:
            kernel = _k.ewa_lanes_parallel
        else:
            kernel = _k.ewa_lanes
        kernel(x2, out2, v, t, self.table, self.alpha, self.beta, self.alpha64, self.bias, self.skipna)


def ewa(x: Any, beta: Any = None, *, span: Any = None, com: Any = None, halflife: Any = None,
        alpha: Any = None, bias_correction: bool = False, axis: int = 0, skipna: bool = True,
        out: np.ndarray | None = None) -> Any:
    r"""Exponentially weighted average of ``x`` along ``axis``.

    .. math::

        V_0 = 0, \qquad V_t = \beta V_{t-1} + (1-\beta)\,\theta_t, \qquad
        \hat V_t = \frac{V_t}{1-\beta^t}\ \text{(bias\_correction)}

    with t the number of observations seen so far; 1 − β^t is computed from
    α = 1 − β without cancellation, so β = 1 − 1e−9 is as accurate as β = 0.9.

    Parameters
    ----------
    x : array-like, pandas Series or DataFrame
        Any number of dimensions.  float32 stays float32 (and is computed in
        float32), float64 stays float64, integers and bools become float64;
        anything else is a TypeError.  Never modified.
    beta, span, com, halflife, alpha : float
        Exactly one: β in [0, 1), or pandas' conventions α = 2/(span + 1),
        α = 1/(1 + com), α = 1 − exp(−ln 2/halflife), α in (0, 1]; β = 1 − α.
    bias_correction : bool
        Output V_t / (1 − β^t).  With ``skipna`` this equals pandas'
        ``ewm(alpha=1 − β, adjust=True, ignore_na=True).mean()``.
    axis : int
        The time axis.  A DataFrame is smoothed down its rows with ``axis=0``.
    skipna : bool
        True: a NaN leaves the average untouched and the output there is the
        current value (NaN before the first observation).  False: from the
        first NaN on the output is NaN.
    out : ndarray, optional
        Receives the result (same shape, the result dtype) and is returned.
        NumPy input only.

    Returns
    -------
    ndarray, Series or DataFrame
        Same shape as ``x``; pandas input gives pandas output with the same
        index, name or columns.

    Examples
    --------
    >>> ewa([1.0, 1.0, 1.0], 0.5)
    array([0.5  , 0.75 , 0.875])
    >>> ewa([1.0, 1.0, 1.0], 0.5, bias_correction=True)
    array([1., 1., 1.])
    """
    a, b = _decay(beta, span, com, halflife, alpha)
    bias = _checks.check_bool("bias_correction", bias_correction)
    skip = _checks.check_bool("skipna", skipna)
    values, ax, out, wrap = _prepare(x, axis, out)
    result = _smooth(values, ax, out, _MeanKernel(a, b, values.dtype, bias, skip))
    return result if wrap is None else wrap(result)


# ------------------------------------------------------------------ variance
def _ewvar_values(x: Any, beta, span, com, halflife, alpha, bias, axis, skipna, out):
    a, b = _decay(beta, span, com, halflife, alpha)
    biased = _checks.check_bool("bias", bias)
    skip = _checks.check_bool("skipna", skipna)
    values, ax, out, wrap = _prepare(x, axis, out)

    def run(layout: str, x2: np.ndarray, out2: np.ndarray) -> None:
        k = x2.shape[0] if layout == "lanes" else x2.shape[1]
        state = np.zeros((5, k))
        kernel = _k.ewvar_lanes if layout == "lanes" else _k.ewvar_rows
        kernel(x2, out2, state, b, biased, skip)

    return _smooth(values, ax, out, run), wrap


def ewvar(x: Any, beta: Any = None, *, span: Any = None, com: Any = None, halflife: Any = None,
          alpha: Any = None, bias: bool = False, axis: int = 0, skipna: bool = True,
          out: np.ndarray | None = None) -> Any:
    r"""Exponentially weighted variance of ``x`` along ``axis`` (pandas' ``ewm().var()``).

    With weights w_i = β^{t−i} on the observations seen so far,

    .. math::

        \mu_t = \frac{\sum_i w_i x_i}{\sum_i w_i}, \qquad
        \sigma^2_t = \frac{\sum_i w_i (x_i-\mu_t)^2}{\sum_i w_i}
        \cdot \frac{(\sum_i w_i)^2}{(\sum_i w_i)^2 - \sum_i w_i^2}

    (the last factor only with ``bias=False``, the default; NaN while it is
    undefined, i.e. after one observation).  Computed with a weighted West
    update (mean and weighted sum of squares), in float64 whatever the input
    dtype: never negative, exactly 0 on a constant series, accurate with a
    large offset.  Equals pandas' ``ewm(alpha=1 − β, adjust=True,
    ignore_na=True).var(bias=bias)``.

    Parameters are those of :func:`ewa` (without ``bias_correction``: this
    variance is already the adjusted one), plus ``bias``.

    Examples
    --------
    >>> ewvar([2.0, 2.0, 2.0], 0.5)
    array([nan,  0.,  0.])
    """
    result, wrap = _ewvar_values(x, beta, span, com, halflife, alpha, bias, axis, skipna, out)
    return result if wrap is None else wrap(result)


def ewstd(x: Any, beta: Any = None, *, span: Any = None, com: Any = None, halflife: Any = None,
          alpha: Any = None, bias: bool = False, axis: int = 0, skipna: bool = True,
          out: np.ndarray | None = None) -> Any:
    """Exponentially weighted standard deviation: √:func:`ewvar` (same parameters).

    Examples
    --------
    >>> ewstd([0.0, 2.0], 0.5, bias=True)
    array([0.        , 0.94280904])
    """
    result, wrap = _ewvar_values(x, beta, span, com, halflife, alpha, bias, axis, skipna, out)
    np.sqrt(result, out=result)
    return result if wrap is None else wrap(result)


# ----------------------------------------------------------------- streaming
_scalar_entry = None
_series_entry = None
_F64 = np.dtype(np.float64)


def _entry_point(dispatcher, *example):
    """The compiled function for ``example``'s types, called without Numba's type dispatch.

    For the streaming fast paths only, whose callers guarantee exactly these
    argument types; falls back to the dispatcher where Numba has no entry point.
    """
    dispatcher(*example)
    try:
        signature = tuple(dispatcher.typeof_pyval(a) for a in example)
        return dispatcher.overloads[signature].entry_point
    except (AttributeError, IndexError, KeyError):  # pragma: no cover - other Numba versions
        return dispatcher


def _fast_kernels() -> None:
    """Compile (or load) the one-series kernels and fetch their entry points."""
    global _scalar_entry, _series_entry
    if _scalar_entry is None:
        probe = np.zeros(_k.SCALAR_SIZE)
        probe[_k.SCALAR_LAYOUT["alpha"]] = 1.0
        address = probe.ctypes.data
        strided = np.zeros(4)[::2]  # compiled for any layout (not C: two elements, stride 2)
        _series_entry = _entry_point(_k.ewa_series_at, strided, strided, address)
        _scalar_entry = _entry_point(_k.ewa_scalar_at, 1.0, address)


def _hex_list(values: np.ndarray) -> list[str]:
    return [float(v).hex() for v in values]


class EWA:
    r"""Streaming exponentially weighted average: feed chunks, get the smoothed chunk back.

    Keeps V (and the observation count t) of one series or of k parallel
    series; :meth:`update` runs the same kernel as :func:`ewa`, so for any split
    of a series into chunks the concatenated outputs are bit-identical to
    :func:`ewa` on the whole series and to feeding one value at a time.

    Parameters
    ----------
    beta, span, com, halflife, alpha : float
        Exactly one, as in :func:`ewa`.
    bias_correction : bool
        Output V_t / (1 − β^t).
    skipna : bool
        As in :func:`ewa`: a NaN is skipped (True) or poisons the stream (False).

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

    __slots__ = ("_alpha", "_beta", "_bias", "_skipna", "_kernel", "_mode", "_k", "_dtype",
                 "_v", "_t", "_buf", "_addr", "_columns")

    def __init__(self, beta: Any = None, *, span: Any = None, com: Any = None, halflife: Any = None,
                 alpha: Any = None, bias_correction: bool = False, skipna: bool = True) -> None:
        a, b = _decay(beta, span, com, halflife, alpha)
        self._setup(a, b, _checks.check_bool("bias_correction", bias_correction),
                    _checks.check_bool("skipna", skipna))

    def _setup(self, alpha: float, beta: float, bias: bool, skipna: bool) -> None:
        self._alpha, self._beta, self._bias, self._skipna = alpha, beta, bias, skipna
        self._kernel: _MeanKernel | None = None
        self._mode: str | None = None
        self._k: int | None = None
        self._dtype: np.dtype | None = None
        self._v = self._t = self._buf = None
        self._addr = 0  # the address of _buf when the fast one-series paths apply
        self._columns = None

    # ------------------------------------------------------------ parameters
    @property
    def alpha(self) -> float:
        """α = 1 − β."""
        return self._alpha

    @property
    def beta(self) -> float:
        """The decay rate β."""
        return self._beta

    @property
    def bias_correction(self) -> bool:
        return self._bias

    @property
    def skipna(self) -> bool:
        return self._skipna

    def __repr__(self) -> str:
        return (f"EWA(beta={self._beta!r}, bias_correction={self._bias}, skipna={self._skipna}, "
                f"count={self.count!r})")

    # ------------------------------------------------------------------ state
    def _start(self, mode: str, k: int, dtype: np.dtype) -> None:
        """Allocate zero state for a stream of ``k`` series of ``dtype``."""
        self._mode, self._k, self._dtype = mode, k, np.dtype(dtype)
        if mode == "series" and self._dtype == np.float64:
            lay = _k.SCALAR_LAYOUT
            buf = np.zeros(_k.SCALAR_SIZE)
            table = buf[lay["table"]:lay["table"] + _TABLE_SIZE]
            _k.fill_table(self._alpha, table)
            buf[lay["alpha"]], buf[lay["beta"]] = self._alpha, self._beta
            buf[lay["bias"]], buf[lay["skipna"]] = float(self._bias), float(self._skipna)
            buf[lay["q"]] = -1.0
            self._buf, self._v, self._t = buf, buf[lay["v"]:lay["v"] + 1], buf[lay["t"]:lay["t"] + 1]
            _fast_kernels()
            self._addr = buf.ctypes.data
        else:
            table = None
            self._buf, self._v, self._t = None, np.zeros(k, self._dtype), np.zeros(k)
            self._addr = 0  # no one-series buffer: the fast paths must not run
        self._kernel = _MeanKernel(self._alpha, self._beta, self._dtype, self._bias, self._skipna, table)

    @property
    def count(self) -> int | np.ndarray:
        """Observations seen: an int for one series, an int64 array of k for k series."""
        if self._mode is None:
            return 0
        if self._mode == "series":
            return int(self._t[0])
        return self._t.astype(np.int64)

    @property
    def value(self) -> float | np.ndarray:
        """The current smoothed value (bias-corrected if asked; NaN before any observation).

        A float for one series, an array of k for k series: the value the last
        update output for each series.
        """
        if self._mode is None:
            return math.nan
        row = np.empty((1, self._k), self._dtype)
        _k._emit_row(row, 0, self._v, self._t, self._kernel.table, self._alpha, self._bias)
        return float(row[0, 0]) if self._mode == "series" else row[0]

    # ----------------------------------------------------------------- update
    def update(self, chunk: Any) -> Any:
        """Feed a chunk; returns its smoothed values (same shape, pandas kept).

        Parameters
        ----------
        chunk : scalar, 1-D array, 2-D array (n, k), Series or DataFrame
            A scalar is one observation of one series, a 1-D array consecutive
            observations of one series, a 2-D array n consecutive time steps of
            k parallel series (one step is shape (1, k)).

        Returns
        -------
        float, ndarray, Series or DataFrame
            The outputs for this chunk, as :func:`ewa` would give at these
            positions of the whole stream.
        """
        address = self._addr
        if address:  # one float64 series: fast paths for a float and an aligned 1-D array
            cls = chunk.__class__
            if cls is float or cls is np.float64:
                return _scalar_entry(chunk, address)
            # any strides (the kernel is compiled for any layout); read-only is fine (it only reads)
            if cls is np.ndarray and chunk.dtype is _F64 and chunk.ndim == 1 and chunk.flags.aligned:
                out = np.empty(len(chunk))
                _series_entry(chunk, out, address)
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
        if values.ndim == 0:
            if self._addr:
                return _scalar_entry(float(values), self._addr)
            out = np.empty((1, 1), self._dtype)
            self._kernel("lanes", np.ascontiguousarray(values.reshape(1, 1)), out, self._v, self._t)
            return float(out[0, 0])
        fortran = values.flags.f_contiguous and not values.flags.c_contiguous
        out = np.empty(values.shape, self._dtype, order="F" if fortran else "C")
        if values.size:
            if mode == "series":
                self._kernel("lanes", np.ascontiguousarray(values).reshape(1, -1), out.reshape(1, -1),
                             self._v, self._t)
            elif values.flags.c_contiguous:
                self._kernel("rows", values, out, self._v, self._t)
            elif fortran:
                self._kernel("lanes", values.T, out.T, self._v, self._t)
            else:
                self._kernel("rows", np.ascontiguousarray(values), out, self._v, self._t)
        return out if wrap is None else wrap(out)

    # ------------------------------------------------------- copy and pickle
    def __getstate__(self) -> dict[str, Any]:
        """The attributes, without the buffer's address (meaningless in a copy or another process)."""
        return {name: getattr(self, name) for name in self.__slots__ if name != "_addr"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore (copy, deepcopy, pickle): the value and count views and the address follow the buffer."""
        for name, value in state.items():
            setattr(self, name, value)
        self._addr = 0
        buf = self._buf
        if buf is not None:
            lay = _k.SCALAR_LAYOUT
            self._v, self._t = buf[lay["v"]:lay["v"] + 1], buf[lay["t"]:lay["t"] + 1]
            _fast_kernels()
            self._addr = buf.ctypes.data

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The full state as plain JSON data; floats as exact hex strings (``float.hex``).

        ``value`` holds the raw V of each series (not bias-corrected) and
        ``count`` the observation counts; together with the parameters this is
        everything :meth:`load_state_dict` needs to continue bit-identically.
        """
        started = self._mode is not None
        return {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            "alpha": float(self._alpha).hex(),
            "beta": float(self._beta).hex(),
            "bias_correction": self._bias,
            "skipna": self._skipna,
            "mode": self._mode,
            "dtype": str(self._dtype) if started else None,
            "k": self._k,
            "value": _hex_list(self._v) if started else [],
            "count": [int(c) for c in self._t] if started else [],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EWA:
        """A new EWA continuing from ``state`` (parameters included)."""
        params = _parse_params(state)
        obj = cls.__new__(cls)
        obj._setup(*params)
        obj._restore(state)
        return obj

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; its parameters must equal this EWA's (else ValueError)."""
        alpha, beta, bias, skipna = _parse_params(state)
        mine = {"beta": self._beta, "alpha": self._alpha, "bias_correction": self._bias, "skipna": self._skipna}
        theirs = {"beta": beta, "alpha": alpha, "bias_correction": bias, "skipna": skipna}
        for key in mine:
            if mine[key] != theirs[key]:
                raise ValueError(f"state does not match this EWA: state has {key}={theirs[key]!r}, "
                                 f"this EWA has {key}={mine[key]!r}")
        self._restore(state)

    def _restore(self, state: dict[str, Any]) -> None:
        mode = state.get("mode")
        if mode is None:
            for key in ("dtype", "k"):
                if state.get(key) is not None:
                    raise ValueError(f"state['{key}'] must be None for a stream not started, got {state[key]!r}")
            if state.get("value") or state.get("count"):
                raise ValueError("state['value'] and state['count'] must be empty for a stream not started")
            self._setup(self._alpha, self._beta, self._bias, self._skipna)
            return
        if mode not in ("series", "panel"):
            raise ValueError(f"state['mode'] must be 'series', 'panel' or None, got {mode!r}")
        dtype = state.get("dtype")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"state['dtype'] must be 'float32' or 'float64', got {dtype!r}")
        k = state.get("k")
        if isinstance(k, bool) or not isinstance(k, int) or k < 0 or (mode == "series" and k != 1):
            raise ValueError(f"state['k'] must be {'1' if mode == 'series' else 'an integer >= 0'} "
                             f"for mode {mode!r}, got {k!r}")
        raw_v, raw_t = state.get("value"), state.get("count")
        if not isinstance(raw_v, list) or len(raw_v) != k:
            raise ValueError(f"state['value'] must be a list of {k} hex strings, got {raw_v!r}")
        if not isinstance(raw_t, list) or len(raw_t) != k:
            raise ValueError(f"state['count'] must be a list of {k} integers, got {raw_t!r}")
        v = np.empty(k, dtype)
        for i, item in enumerate(raw_v):
            f = _parse_hex(f"state['value'][{i}]", item)
            if dtype == "float32" and not (math.isnan(f) or float(np.float32(f)) == f):
                raise ValueError(f"state['value'][{i}] must be a float32 value, got {item!r}")
            v[i] = f
        counts = np.empty(k)
        for i, item in enumerate(raw_t):
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= _MAX_COUNT:
                raise ValueError(f"state['count'][{i}] must be an integer in [0, 2**53], got {item!r}")
            counts[i] = item
        self._setup(self._alpha, self._beta, self._bias, self._skipna)
        self._start(mode, k, np.dtype(dtype))
        self._v[:] = v
        self._t[:] = counts


def _parse_hex(where: str, item: Any) -> float:
    if not isinstance(item, str):
        raise ValueError(f"{where} must be a hex float string (float.hex), got {item!r}")
    try:
        return float.fromhex(item)
    except (ValueError, OverflowError):
        raise ValueError(f"{where} must be a hex float string (float.hex), got {item!r}") from None


def _parse_params(state: Any) -> tuple[float, float, bool, bool]:
    """Check the envelope of a state dict; returns (α, β, bias_correction, skipna)."""
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict from EWA.state_dict(), got {type(state).__name__}")
    if state.get("format") != _STATE_FORMAT:
        raise ValueError(f"state['format'] must be {_STATE_FORMAT!r}, got {state.get('format')!r}")
    if state.get("version") != _STATE_VERSION:
        raise ValueError(f"state['version'] must be {_STATE_VERSION}, got {state.get('version')!r} "
                         "(saved by another version of streamopt?)")
    missing = [key for key in ("alpha", "beta", "bias_correction", "skipna", "mode", "dtype", "k", "value",
                               "count") if key not in state]
    if missing:
        raise ValueError(f"state is missing {', '.join(missing)}")
    alpha = _parse_hex("state['alpha']", state["alpha"])
    beta = _parse_hex("state['beta']", state["beta"])
    if not (0.0 < alpha <= 1.0 and 0.0 <= beta < 1.0 and abs(alpha + beta - 1.0) <= 4e-16):
        raise ValueError(f"state['alpha'] and state['beta'] must satisfy 0 < alpha = 1 - beta <= 1, "
                         f"got alpha={state['alpha']!r}, beta={state['beta']!r}")
    for key in ("bias_correction", "skipna"):
        if not isinstance(state[key], bool):
            raise ValueError(f"state['{key}'] must be true or false, got {state[key]!r}")
    return alpha, beta, state["bias_correction"], state["skipna"]
