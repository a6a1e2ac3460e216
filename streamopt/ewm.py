r"""pandas-compatible exponentially weighted statistics: :func:`ewm` and its :class:`EWM` object.

``streamopt.ewm(obj, ...)`` takes the parameters of pandas' ``obj.ewm(...)``
(``com``, ``span``, ``halflife``, ``alpha``, ``min_periods``, ``adjust``,
``ignore_na``, ``times``) and gives the same ``mean``, ``sum``, ``var``,
``std``, ``cov`` and ``corr``, computed in float64 by one-pass Numba kernels
(:mod:`streamopt._kernels.ewm`, :mod:`streamopt._kernels.ewm_cov`).  With
``by`` (keys), each key's rows are their own series, as pandas'
``obj.groupby(by).ewm(...)`` gives them, but on the input's rows: the keys are
factorized once and the same kernels keep one state per key in one pass.

Weights.  With decay β = 1 − α, the observation at row i seen from row t
weighs β^{δ(i, t)}, δ the number of rows between them (``ignore_na=False``),
or of observations between them (``ignore_na=True``); with ``times`` and a
time-span ``halflife`` h, β = ½ and δ = (t_t − t_i)/h, so the weight is
0.5^{(t − t_i)/h}::

    mean_t = Σ w_i x_i / Σ w_i                                  (adjust=True)
    mean_t = (f·mean_prev + α·x_t) / (f + α),  f = β^δ          (adjust=False)
    mean_t = f·mean_prev + (1 − f)·x_t                          (adjust=False, times)

and var/cov with adjust=False as pandas: the past weighs f, the new
observation α, normalised.  (pandas 3.1 also takes the third form without
times when com = 1 exactly, i.e. α = ½, and the second otherwise; here the
form does not jump at α = ½.)

Where pandas differs (it raises, or is wrong) the result here follows the
formula: ``sum``, ``var``, ``std``, ``cov`` and ``corr`` with ``times`` (pandas
raises NotImplementedError), and ``ignore_na=True`` with ``times`` (pandas
drops the time of a missing row from the gap, pandas issue 54604; here the
weight is 0.5^{(t − t_i)/h} whatever rows lie between, so ``ignore_na`` makes
no difference with times).
"""

from __future__ import annotations

import datetime
import functools
import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import _checks
from .state import excerpt
from ._kernels import ewm as _kernel
from ._kernels import ewm_cov as _kcov

__all__ = ["ewm", "EWM"]

_TIME_SPANS = (str, datetime.timedelta, np.timedelta64)


# ----------------------------------------------------------------- the data
def _column(values: Any, dtype: Any, where: str) -> np.ndarray:
    """One column as float64, NaN for a missing value; TypeError naming ``where`` for non-numbers."""
    if isinstance(dtype, np.dtype) and dtype == object:
        values = np.asarray(values, dtype=object)
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind not in ("floating", "integer", "mixed-integer-float", "boolean", "empty", "decimal"):
            raise TypeError(f"{where} must hold real numbers (float, int or bool), got values of kind {kind!r}")
        return pd.to_numeric(pd.Series(values, copy=False), errors="raise").to_numpy(
            dtype=np.float64, na_value=np.nan)
    if isinstance(dtype, np.dtype):
        _checks.float_dtype(dtype, where)
        return np.asarray(values, dtype=np.float64)
    if (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)) \
            and not pd.api.types.is_complex_dtype(dtype):
        return pd.Series(values, copy=False).to_numpy(dtype=np.float64, na_value=np.nan)
    raise TypeError(f"{where} must hold real numbers (float, int or bool), got dtype {dtype}")


def _numeric_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns pandas' ``numeric_only=True`` keeps: numbers, not bool, not timedelta."""
    return frame.select_dtypes(include=["number"], exclude=["timedelta"])


def _numeric_only(method: Callable[..., Any]) -> Callable[..., Any]:
    """Give a statistic pandas' ``numeric_only=False`` keyword (see :meth:`EWM._numeric`)."""
    @functools.wraps(method)
    def statistic(self: "EWM", *args: Any, numeric_only: bool = False, **kwargs: Any) -> Any:
        return method(self._numeric(method.__name__, numeric_only), *args, **kwargs)
    return statistic


def _series_of(obj: Any, name: str) -> tuple[np.ndarray, Callable[[np.ndarray], Any] | None, Any]:
    """pandas: (lanes (k, n) float64, wrap, row index); arrays: (the float array, None, None)."""
    if isinstance(obj, pd.Series):
        lane = _column(obj.array, obj.dtype, name).reshape(1, -1)
        index, series_name = obj.index, obj.name
        return np.ascontiguousarray(lane), lambda r: pd.Series(r[0], index=index, name=series_name, copy=False), index
    if isinstance(obj, pd.DataFrame):
        k, n = obj.shape[1], obj.shape[0]
        lanes = np.empty((k, n))
        for j, (col, dtype) in enumerate(obj.dtypes.items()):
            lanes[j] = _column(obj.iloc[:, j].array, dtype, f"{name}[{col!r}]")
        index, columns = obj.index, obj.columns
        return lanes, lambda r: pd.DataFrame(r.T, index=index, columns=columns, copy=False), index
    if isinstance(obj, (str, bytes)) or obj is None:
        raise TypeError(f"{name} must be a Series, DataFrame or array of real numbers, got {obj!r}")
    if isinstance(obj, np.ma.MaskedArray):
        values = np.array(_checks.as_float_array(np.ma.getdata(obj), name), dtype=np.float64)
        values[np.ma.getmaskarray(obj)] = np.nan
    else:
        values = _checks.as_float_array(obj, name)
    if values.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D or 2-D, got {values.ndim}-D input of shape {values.shape}")
    return values, None, None


def _data(obj: Any, axis: Any, name: str = "obj") -> tuple[np.ndarray, Callable[[np.ndarray], Any], Any]:
    """(lanes: float64 (k, n) C-contiguous, wrap: result lanes -> obj's type and shape, the row index or None).

    A 2-D array's series run along ``axis``; pandas objects' down their rows.
    """
    ax = _checks.check_int("axis", axis)
    lanes, wrap, index = _series_of(obj, name)
    if wrap is not None:
        if ax != 0:
            raise ValueError(f"axis must be 0 for a {type(obj).__name__} (series run down its rows), got {axis!r}")
        return lanes, wrap, index
    if not -lanes.ndim <= ax < lanes.ndim:
        raise ValueError(f"axis must be in [{-lanes.ndim}, {lanes.ndim}) for {lanes.ndim}-D input, got {axis!r}")
    if lanes.ndim == 1:
        # a view where it can be (``bench/ewm.py``, case ``mean-1d-bound``): the kernels only read it
        return np.ascontiguousarray(lanes, dtype=np.float64).reshape(1, -1), lambda r: r[0], None
    if ax % 2 == 0:
        return np.ascontiguousarray(lanes.T, dtype=np.float64), lambda r: np.ascontiguousarray(r.T), None
    return np.ascontiguousarray(lanes, dtype=np.float64), lambda r: r, None


# ---------------------------------------------------------- the parameters
def _times(times: Any, n: int, frame: Any) -> tuple[pd.DatetimeIndex, str]:
    """The times (a DatetimeIndex) and their unit, checked: a datetime column or array, one per row, no NaT."""
    if isinstance(times, str):
        if not isinstance(frame, pd.DataFrame) or times not in frame.columns:
            raise ValueError(f"times must be a datetime array or the name of a column of the DataFrame, "
                             f"got {times!r}")
        times = frame[times]
    try:
        t = pd.DatetimeIndex(times)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"times must be datetime64 values (a DatetimeIndex, datetime64 array or column), "
                        f"got {type(times).__name__}") from exc
    if not (pd.api.types.is_datetime64_dtype(getattr(times, "dtype", None))
            or isinstance(getattr(times, "dtype", None), pd.DatetimeTZDtype)):
        got = getattr(times, "dtype", type(times).__name__)
        raise TypeError(f"times must have a datetime64 dtype, got dtype {got}")
    if len(t) != n:
        raise ValueError(f"times must have one entry per row ({n}), got {len(t)}")
    nat = np.flatnonzero(t.isna())
    if nat.size:
        raise ValueError(f"times must not hold NaT, got NaT at position {nat[0]}")
    return t, t.unit


def _time_deltas(t: pd.DatetimeIndex, unit_ticks: float, slot: np.ndarray | None, nkeys: int,
                 uniques: Any) -> np.ndarray:
    """Each row's time since its key's previous row (slot None: one key), in halflives; ValueError if a key's
    times go back."""
    deltas = np.empty(len(t))
    i = _kernel.key_gaps(t.asi8, slot, nkeys, unit_ticks, deltas)
    if i >= 0:
        prev = i - 1 if slot is None else np.flatnonzero(slot[:i] == slot[i])[-1]
        within = "" if uniques is None else " within each key of by"
        key = "" if uniques is None else f" (key {uniques[slot[i]]!r})"
        raise ValueError(f"times must be non-decreasing{within}, got {t[i]} at position {i} after {t[prev]}{key}")
    return deltas


def _keys(by: Any, n: int, frame: Any) -> tuple[np.ndarray, int, Any]:
    """(slot: int64 key number per row, −1 for a missing key; number of keys; the keys) for ``by``."""
    if isinstance(by, str) and isinstance(frame, pd.DataFrame):
        if by not in frame.columns:
            raise ValueError(f"by must be an array of keys or the name of a column of the DataFrame, got {by!r}")
        by = frame[by]
    elif isinstance(by, (str, bytes)) or np.isscalar(by) or not hasattr(by, "__len__"):
        raise TypeError(f"by must be an array of keys (one per row) or a DataFrame column name, got {by!r}")
    if np.ndim(by) != 1 and not isinstance(by, (pd.Series, pd.Index)):
        raise ValueError(f"by must be 1-D (one key per row), got shape {np.shape(by)}")
    if len(by) != n:
        raise ValueError(f"by must have one key per row ({n}), got {len(by)}")
    dense = _dense_integer_keys(by, n)
    if dense is not None:
        return dense
    try:
        codes, uniques = pd.factorize(by if isinstance(by, (pd.Series, pd.Index, np.ndarray))
                                      else np.asarray(by, dtype=object), use_na_sentinel=True)
    except TypeError as exc:
        raise TypeError(f"by must hold hashable keys, got {excerpt(by)}: {exc}") from exc
    return np.ascontiguousarray(codes, dtype=np.int64), max(len(uniques), 1), uniques


#: Integer keys spanning at most this many values (and at most 4 per row) are their own slots, key − min.
DENSE_KEYS_MAX = 1 << 20


def _dense_integer_keys(by: Any, n: int) -> tuple[np.ndarray, int, np.ndarray] | None:
    """(key − min, the span, the keys of the span) for NumPy integer keys of a small span; else None.

    A key's slot needs no hash table then (``bench/ewm.py``, case ``grouped``);
    a slot no key has is never touched, so the results are those of
    ``pandas.factorize``'s numbering.
    """
    values = by.to_numpy() if isinstance(by, (pd.Series, pd.Index)) else by
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "iu" or n == 0:
        return None
    lo, hi = int(values.min()), int(values.max())
    span = hi - lo + 1
    if span > min(DENSE_KEYS_MAX, 4 * n) or hi > np.iinfo(np.int64).max:
        return None
    return np.subtract(values.astype(np.int64, copy=False), lo), span, np.arange(lo, hi + 1)


def _halflife_ticks(halflife: Any, unit: str) -> float:
    """The time-span ``halflife`` in ticks of the times' ``unit`` (pandas' reading of "2D", timedeltas)."""
    try:
        span = pd.Timedelta(halflife)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"halflife must be a time span such as '2D', got {halflife!r}") from exc
    if span is pd.NaT or not span > pd.Timedelta(0):
        raise ValueError(f"halflife must be a positive time span, got {halflife!r}")
    ticks = span / pd.Timedelta(1, unit=unit)
    return float(ticks)


class EWM:
    """Exponentially weighted statistics of one object, as pandas' ``obj.ewm(...)``: made by :func:`ewm`.

    Every method returns the input's type (ndarray, Series or DataFrame) in
    float64, with its index, columns and name.  Every method takes pandas'
    ``numeric_only=False``: True keeps a DataFrame's number columns only (not
    bool, not timedelta), and a DataFrame with other columns is accepted by
    :func:`ewm` but refused by each statistic without it (as pandas does).

    Examples
    --------
    >>> import streamopt
    >>> streamopt.ewm([1.0, 2.0, 3.0], alpha=0.5).mean()
    array([1.        , 1.66666667, 2.42857143])
    """

    def __init__(self, obj: Any, com: Any = None, span: Any = None, halflife: Any = None, alpha: Any = None, *,
                 min_periods: Any = 0, adjust: Any = True, ignore_na: Any = False, times: Any = None,
                 by: Any = None, axis: Any = 0) -> None:
        self._adjust = _checks.check_bool("adjust", adjust)
        self._ignore_na = _checks.check_bool("ignore_na", ignore_na)
        mp = 0 if min_periods is None else _checks.check_int("min_periods", min_periods, minimum=0)
        self._min_periods = max(mp, 1)
        frame = obj
        if isinstance(obj, pd.DataFrame):
            named = [c for c in (times, by) if isinstance(c, str) and c in obj.columns]
            if named:
                obj = obj.drop(columns=named)
        self._obj = obj
        self._axis = axis
        # a numeric_only subset is a new EWM on the same rows: the arguments with named columns resolved
        self._arguments = dict(com=com, span=span, halflife=halflife, alpha=alpha, min_periods=min_periods,
                               adjust=adjust, ignore_na=ignore_na, axis=axis,
                               times=frame[times] if isinstance(times, str) and times in getattr(frame, "columns", ())
                               else times,
                               by=frame[by] if isinstance(by, str) and by in getattr(frame, "columns", ()) else by)
        self._non_numeric: TypeError | None = None
        self._numeric_subset: EWM | None = None
        try:
            self._lanes, self._wrap, self._index = _data(obj, axis)
        except TypeError as exc:
            if not isinstance(obj, pd.DataFrame):
                raise
            # as pandas: the frame is accepted, each statistic refuses it unless numeric_only=True
            self._non_numeric = exc
            self._lanes, self._wrap, self._index = _data(_numeric_columns(obj), axis)
        n = self._lanes.shape[1]
        # slot None: the kernels' one-series loop
        self._slot, self._nkeys, uniques = (None, 1, None) if by is None else _keys(by, n, frame)
        if times is not None:
            others = [k for k, v in dict(com=com, span=span, alpha=alpha).items() if v is not None]
            if others:
                raise ValueError(f"with times give the decay as halflife (a time span), got {others[0]}="
                                 f"{dict(com=com, span=span, alpha=alpha)[others[0]]!r}")
            if halflife is None:
                raise ValueError("halflife must be given (a time span such as '2D') when times is given, got None")
            if not isinstance(halflife, _TIME_SPANS):
                raise ValueError(f"halflife must be a time span such as '2D' when times is given, got {halflife!r}")
            t, unit = _times(times, n, frame)
            self._deltas = _time_deltas(t, _halflife_ticks(halflife, unit), self._slot, self._nkeys, uniques)
            self._log_beta = math.log(0.5)
            self._alpha = 0.5
            self._count_missing = True  # a gap is the time between observations, missing rows or not
        else:
            if isinstance(halflife, _TIME_SPANS):
                raise ValueError(f"halflife may be a time span ({halflife!r}) only with times=; "
                                 "give times or a number of rows")
            a = _checks.resolve_alpha(com=com, span=span, halflife=halflife, alpha=alpha,
                                      accepted=("com", "span", "halflife", "alpha"))
            self._alpha = a
            self._log_beta = math.log1p(-a) if a < 1.0 else -math.inf
            self._deltas = None  # a regular grid: every row one step after the previous
            self._count_missing = not self._ignore_na
        self._times = times is not None

    # ------------------------------------------------------------ helpers
    def _numeric(self, name: str, numeric_only: Any) -> "EWM":
        """The EWM a statistic runs on: self, or with ``numeric_only=True`` the one of a frame's numeric columns."""
        numeric_only = _checks.check_bool("numeric_only", numeric_only)
        obj = self._obj
        if isinstance(obj, pd.Series) and numeric_only and not pd.api.types.is_numeric_dtype(obj.dtype):
            raise NotImplementedError(f"EWM.{name} does not implement numeric_only=True for a Series of dtype "
                                      f"{obj.dtype} (as pandas)")
        if not isinstance(obj, pd.DataFrame):
            return self
        if not numeric_only:
            if self._non_numeric is not None:
                raise TypeError(f"{self._non_numeric} (numeric_only=True skips the columns that are not numbers)")
            return self
        if self._numeric_subset is None:
            numeric = _numeric_columns(obj)
            self._numeric_subset = self if numeric.shape[1] == obj.shape[1] and self._non_numeric is None \
                else EWM(numeric, **self._arguments)
        return self._numeric_subset

    def _on_rows(self, index: pd.Index) -> "EWM":
        """The EWM for rows realigned to ``index``: self on its own index, else the same decay on new rows."""
        if self._index is not None and index.equals(self._index):
            return self
        if self._slot is not None or self._times:
            raise ValueError("other must have obj's index when by or times is given (its rows cannot be "
                             "realigned), got another index")
        return EWM(np.zeros(len(index)), alpha=self._alpha, min_periods=self._min_periods, adjust=self._adjust,
                   ignore_na=self._ignore_na)

    def _cov_lanes(self, x: np.ndarray, y: np.ndarray | None, biased: bool, root: bool = False,
                   masked: bool = False) -> np.ndarray:
        """The EW covariance of the lanes x and y (y None: the variance of x; ``root``: its square root;
        ``masked``: of x + 0·y and y + 0·x, formed in the kernel)."""
        out = np.empty(x.shape)
        _kcov.ewm_cov(x, y, masked, out, self._deltas, self._slot, self._nkeys, self._log_beta, self._alpha,
                      self._adjust, self._count_missing, self._min_periods, biased, root)
        return out

    # ------------------------------------------------------------ statistics
    @_numeric_only
    def mean(self) -> Any:
        r"""The EW mean: Σ w_i x_i / Σ w_i over the observations so far (pandas' ``ewm().mean()``).

        Examples
        --------
        >>> import pandas as pd, streamopt
        >>> streamopt.ewm(pd.Series([1.0, None, 5.0]), times=pd.to_datetime(["2024-01-01", "2024-01-02",
        ...               "2024-01-05"]), halflife="2D", ignore_na=True).mean().tolist()
        [1.0, 1.0, 4.2]
        """
        out = np.empty(self._lanes.shape)
        _kernel.ewm_mean_sum(self._lanes, out, self._deltas, self._slot, self._nkeys, self._log_beta,
                             self._alpha, self._adjust, self._times, self._count_missing, self._ignore_na,
                             self._min_periods, True)
        return self._wrap(out)

    @_numeric_only
    def sum(self) -> Any:
        r"""The EW sum Σ w_i x_i, the newest observation weighing 1 (pandas' ``ewm().sum()``; adjust=True only).

        Examples
        --------
        >>> import streamopt
        >>> streamopt.ewm([1.0, 1.0, 1.0], alpha=0.5).sum()
        array([1.  , 1.5 , 1.75])
        """
        if not self._adjust:
            raise NotImplementedError("sum is defined for adjust=True only (as in pandas), got adjust=False")
        out = np.empty(self._lanes.shape)
        _kernel.ewm_mean_sum(self._lanes, out, self._deltas, self._slot, self._nkeys, self._log_beta,
                             self._alpha, True, self._times, self._count_missing, self._ignore_na,
                             self._min_periods, False)
        return self._wrap(out)

    @_numeric_only
    def var(self, bias: bool = False) -> Any:
        r"""The EW variance (pandas' ``ewm().var(bias)``).

        .. math::

            \sigma^2 = \frac{\sum_i w_i (x_i-\mu)^2}{\sum_i w_i}
            \cdot \frac{(\sum_i w_i)^2}{(\sum_i w_i)^2 - \sum_i w_i^2}

        (the last factor only with ``bias=False``; NaN while undefined).  Never
        negative, exactly 0 on a constant series.

        Examples
        --------
        >>> import streamopt
        >>> streamopt.ewm([0.0, 2.0, 2.0], alpha=0.5).var(bias=True)
        array([0.        , 0.88888889, 0.48979592])
        """
        biased = _checks.check_bool("bias", bias)
        return self._wrap(self._cov_lanes(self._lanes, None, biased))

    @_numeric_only
    def std(self, bias: bool = False) -> Any:
        """The EW standard deviation: √:meth:`var`.

        Examples
        --------
        >>> import streamopt
        >>> streamopt.ewm([0.0, 2.0], alpha=0.5).std(bias=True)
        array([0.        , 0.94280904])
        """
        biased = _checks.check_bool("bias", bias)
        return self._wrap(self._cov_lanes(self._lanes, None, biased, root=True))

    def _pairs(self, other: Any, pairwise: bool | None) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], Any]]:
        """Arrays (or an array-like ``other``): (x, y lanes of equal shape, wrap), series paired by position."""
        x = self._lanes
        k, n = x.shape
        if other is None:
            if pairwise is False or (k == 1 and not isinstance(self._obj, pd.DataFrame) and np.ndim(self._obj) != 2):
                return x, x, self._wrap
            return (*_all_pairs(x, x), self._pairwise_wrap(k, k, n, self._obj, self._index))
        y, other_wrap, other_index = _data(other, self._axis, "other")
        if y.shape[1] != n:
            raise ValueError(f"other must have {n} rows (one per row of obj), got {y.shape[1]}")
        if pairwise:
            return (*_all_pairs(x, y), self._pairwise_wrap(k, y.shape[0], n, None, None))
        if y.shape[0] == x.shape[0]:
            return x, y, self._wrap
        if y.shape[0] == 1:
            return x, np.repeat(y, x.shape[0], axis=0), self._wrap
        if x.shape[0] == 1:
            return np.repeat(x, y.shape[0], axis=0), y, other_wrap
        raise ValueError(f"other must have 1 or {x.shape[0]} series, got {y.shape[0]}")

    @staticmethod
    def _pairwise_wrap(kx: int, ky: int, n: int, frame: Any, index: Any) -> Callable[[np.ndarray], Any]:
        """Result lanes of :func:`_all_pairs` as pandas' pairwise frame (rows (index, column of other) ×
        columns of obj), or an array of shape (n, kx, ky)."""
        def wrap(r: np.ndarray) -> Any:
            cube = r.reshape(kx, ky, n)
            if isinstance(frame, pd.DataFrame):
                return _pairwise_frame(cube, frame.columns, index, frame.columns)
            return np.ascontiguousarray(cube.transpose(2, 0, 1))
        return wrap

    def _corr_lanes(self, x: np.ndarray, y: np.ndarray, masked: bool = False) -> np.ndarray:
        """cov(x, y) / √(var(x)·var(y)), the variances over the rows where both are observed (one pass;
        ``masked`` as in :meth:`_cov_lanes`)."""
        out = np.empty(x.shape)
        _kcov.ewm_corr(x, y, masked, out, self._deltas, self._slot, self._nkeys, self._log_beta, self._alpha,
                       self._adjust, self._count_missing, self._min_periods)
        return out

    def _binary(self, name: str, other: Any, pairwise: Any, numeric_only: Any,
                stat: Callable[["EWM", np.ndarray, np.ndarray, bool], np.ndarray]) -> Any:
        """cov/corr: ``stat(engine, x lanes, y lanes, masked)`` on the pairs pandas forms (``flex_binary_moment``;
        ``masked``: of x + 0·y and y + 0·x, as :meth:`_cov_lanes`)."""
        if pairwise is not None:
            pairwise = _checks.check_bool("pairwise", pairwise)
        engine = self._numeric(name, numeric_only)
        if not isinstance(engine._obj, (pd.Series, pd.DataFrame)) \
                or not (other is None or isinstance(other, (pd.Series, pd.DataFrame))):
            x, y, wrap = engine._pairs(other, pairwise)
            return wrap(stat(engine, x, y, False))
        target = engine._wrap(engine._lanes)  # float64, obj's index and columns
        if other is None:
            return engine._pandas_pairs(target, target, True if pairwise is None else pairwise, True, stat)
        if isinstance(other, pd.DataFrame) and numeric_only:
            other = _numeric_columns(other)
        lanes, wrap, _ = _series_of(other, "other")
        return engine._pandas_pairs(target, wrap(lanes), bool(pairwise), False, stat)

    def _pandas_pairs(self, a: Any, b: Any, pairwise: bool, same: bool,
                      stat: Callable[["EWM", np.ndarray, np.ndarray, bool], np.ndarray]) -> Any:
        """pandas' pairing of two float64 objects: aligned on the index (and columns), each pair over the rows
        where both are observed."""
        if isinstance(a, pd.Series) and isinstance(b, pd.Series):
            if a.index.equals(b.index):  # a + 0 * b formed in the kernel, on a's index (``bench/ewm.py``, case cov)
                name = (a.iloc[:0] + 0 * b.iloc[:0]).name  # the name pandas gives a + 0 * b
                r = stat(self._on_rows(a.index), a.to_numpy().reshape(1, -1), b.to_numpy().reshape(1, -1), True)
                return pd.Series(r[0], index=a.index, name=name, copy=False)
            x, y = a + 0 * b, b + 0 * a
            r = stat(self._on_rows(x.index), x.to_numpy().reshape(1, -1), y.to_numpy().reshape(1, -1), False)
            return pd.Series(r[0], index=x.index, name=x.name, copy=False)
        if isinstance(a, pd.Series) or isinstance(b, pd.Series):  # each column of the frame with the series
            frame, series = (a, b) if isinstance(a, pd.DataFrame) else (b, a)
            f, s = frame.align(series, join="outer", axis=0)
            cols, other = f.to_numpy().T, s.to_numpy().reshape(1, -1)
            r = stat(self._on_rows(f.index), np.ascontiguousarray(cols), np.repeat(other, len(cols), axis=0), True)
            out = pd.DataFrame(r.T, index=f.index, columns=frame.columns, copy=False)
            return out if f.index.equals(frame.index) else out.reindex(frame.index)
        if not pairwise:
            if same:
                return self._wrap(stat(self, self._lanes, self._lanes, False))
            for what, frame in (("obj", a), ("other", b)):
                if not frame.columns.is_unique:
                    raise ValueError(f"{what}'s columns must be unique to pair them by name (pairwise=False), "
                                     f"got {excerpt(list(frame.columns))}")
            x, y = a.align(b, join="outer")
            x, y = x + 0 * y, y + 0 * x
            columns = a.columns.union(b.columns)
            x, y = x.reindex(columns=columns), y.reindex(columns=columns)
            r = stat(self._on_rows(x.index), x.to_numpy().T, y.to_numpy().T, False)
            return pd.DataFrame(r.T, index=x.index, columns=columns, copy=False)
        if same or a.index.equals(b.index):
            index, xa, yb = a.index, a, b
        else:
            index = a.index.union(b.index)
            xa, yb = a.align(b, join="outer", axis=0)
            if not xa.index.equals(index):
                raise ValueError("obj and other must have indexes without repeated labels to be paired "
                                 "(pairwise=True)")
        x, y = _all_pairs(xa.to_numpy().T, yb.to_numpy().T)
        r = stat(self._on_rows(index), x, y, not same)
        return _pairwise_frame(r.reshape(a.shape[1], b.shape[1], len(index)), a.columns, index, b.columns)

    def cov(self, other: Any = None, pairwise: bool | None = None, bias: bool = False,
            numeric_only: bool = False) -> Any:
        r"""The EW covariance with ``other`` over the rows where both are observed (pandas' ``ewm().cov()``).

        Parameters
        ----------
        other : Series, DataFrame or array-like, optional
            pandas objects are paired as pandas pairs them: aligned on the index
            (the union of both, as ``x + 0 * y`` aligns), a DataFrame with a
            DataFrame column by column name (the union of the columns), a
            DataFrame with a Series each column with the series (on the frame's
            rows).  An array-like ``other`` is paired by position (a Series/1-D
            array with every series of obj, or one of obj's shape series by
            series).  None: obj with itself (``pairwise`` defaults to True).
            With ``by`` or ``times`` the rows cannot be realigned: a pandas
            ``other`` must have obj's index.
        pairwise : bool, optional
            True: every pair (column of obj, column of other), as pandas gives
            it: rows (index, column of other) × columns of obj (a 2-D array:
            shape (n, k_obj, k_other)).  False: columns paired by name (by
            position for arrays).  None: True when ``other`` is None, else False.
        bias : bool
            False: the unbiased estimate (see :meth:`var`).
        numeric_only : bool
            True: a DataFrame's number columns only (not bool, as pandas).

        Examples
        --------
        >>> import streamopt
        >>> streamopt.ewm([1.0, 2.0, 3.0, 4.0], alpha=0.2).cov([10.0, 11.0, 13.0, 16.0]).round(6)
        array([     nan, 0.5     , 1.52459 , 3.408836])
        >>> import pandas as pd
        >>> x, y = pd.Series([1.0, 2.0, 3.0], index=[0, 1, 2]), pd.Series([5.0, 7.0, 4.0], index=[1, 2, 3])
        >>> streamopt.ewm(x, alpha=0.5).cov(y).tolist()  # on the union index; both observed on rows 1 and 2 only
        [nan, nan, 1.0, 1.0]
        """
        biased = _checks.check_bool("bias", bias)
        return self._binary("cov", other, pairwise, numeric_only,
                            lambda e, x, y, masked: e._cov_lanes(x, y, biased, masked=masked))

    def corr(self, other: Any = None, pairwise: bool | None = None, numeric_only: bool = False) -> Any:
        r"""The EW correlation cov(x, y) / √(var(x)·var(y)), all over the rows where both are observed.

        ``other``, ``pairwise`` and ``numeric_only`` as in :meth:`cov`.  NaN where a variance is 0.

        Examples
        --------
        >>> import streamopt
        >>> streamopt.ewm([1.0, 2.0, 3.0, 4.0], alpha=0.2).corr([10.0, 11.0, 13.0, 16.0]).round(6)
        array([     nan, 1.      , 0.982821, 0.977802])
        """
        return self._binary("corr", other, pairwise, numeric_only, EWM._corr_lanes)


def _all_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x lanes, y lanes) of every pair (i, j), i major: lane i·k_y + j pairs x[i] with y[j]."""
    i, j = np.divmod(np.arange(x.shape[0] * y.shape[0]), y.shape[0])
    return x[i], y[j]


def _pairwise_frame(cube: np.ndarray, columns: pd.Index, index: pd.Index, other_columns: pd.Index) -> pd.DataFrame:
    """pandas' pairwise layout of ``cube[i, j, t]`` = stat(column i, other column j) at row t:
    rows (index, other column) × columns."""
    k, ko, n = cube.shape
    if other_columns.nlevels > 1:
        levels = [np.tile(other_columns.get_level_values(lv), n) for lv in range(other_columns.nlevels)]
        rows = pd.MultiIndex.from_arrays([np.repeat(index, ko), *levels],
                                         names=[*index.names, *other_columns.names])
    else:
        rows = pd.MultiIndex.from_product([index, other_columns], names=[*index.names, *other_columns.names])
    out = pd.DataFrame(cube.transpose(2, 1, 0).reshape(n * ko, k), index=rows, columns=columns.copy(), copy=False)
    out.columns = out.columns.set_names(columns.names)
    return out


def ewm(obj: Any, com: Any = None, span: Any = None, halflife: Any = None, alpha: Any = None, *,
        min_periods: Any = 0, adjust: Any = True, ignore_na: Any = False, times: Any = None,
        by: Any = None, axis: Any = 0) -> EWM:
    r"""Exponentially weighted statistics of ``obj``, with pandas' ``obj.ewm(...)`` parameters.

    Parameters
    ----------
    obj : Series, DataFrame, array-like or masked array
        1-D, or 2-D with the series along ``axis``.  Numbers, bools, nullable
        and object columns of numbers; NaN, ±inf, NA and masked entries are
        missing.  Never modified.
    com, span, halflife, alpha : float
        Exactly one: α = 1/(1 + com), α = 2/(span + 1), α = 1 − exp(−ln 2/halflife),
        or α in (0, 1].  With ``times``: ``halflife`` only, a time span ("2D",
        ``pd.Timedelta``, ``np.timedelta64``, ``datetime.timedelta``).
    min_periods : int
        Output NaN until this many observations (at least 1, as pandas).
    adjust : bool
        True: weights β^δ on every observation (Σ w x / Σ w).  False: pandas'
        recursion mean ← (β^δ·mean + α·x) / (β^δ + α) (with times
        mean ← β^δ·mean + (1 − β^δ)·x).
    ignore_na : bool
        True: a missing row does not age the observations before it (without
        times).  With times the age is always the time elapsed.
    times : DatetimeIndex, datetime64 array or column name
        One time per row, non-decreasing, no NaT; the weight of observation i
        at time t is 0.5^{(t − t_i)/halflife}.  A column name takes (and drops)
        that column of a DataFrame.  With ``by``, non-decreasing within each
        key only.
    by : array-like of hashable keys or column name, optional
        One key per row (str, int, any hashable; factorized as
        ``pandas.factorize`` does): each key's rows form their own series,
        smoothed in row order, and every statistic is returned on the input's
        rows, index and order (pandas' ``obj.groupby(by).ewm(...)`` re-aligned
        to the original rows).  A row with a missing key (None, NaN) belongs to
        no series and is NaN, as groupby's ``dropna=True`` drops it.  A column
        name takes (and drops) that column of a DataFrame.
    axis : int
        The time axis of a 2-D array (0 for pandas objects).

    Returns
    -------
    EWM
        With ``mean``, ``sum``, ``var``, ``std``, ``cov``, ``corr``.

    Examples
    --------
    >>> import pandas as pd, streamopt
    >>> s = pd.Series([1.0, 2.0, None, 4.0], name="x")
    >>> streamopt.ewm(s, com=1.0).mean().round(6).tolist() == s.ewm(com=1.0).mean().round(6).tolist()
    True
    >>> streamopt.ewm(s, span=4, adjust=False).mean()
    0    1.000000
    1    1.400000
    2    1.400000
    3    2.768421
    Name: x, dtype: float64

    One series per key, on the input's rows:

    >>> df = pd.DataFrame({"v": [1.0, 10.0, 3.0, 20.0], "k": ["a", "b", "a", "b"]})
    >>> streamopt.ewm(df, alpha=0.5, by="k").mean()
               v
    0   1.000000
    1  10.000000
    2   2.333333
    3  16.666667
    """
    return EWM(obj, com, span, halflife, alpha, min_periods=min_periods, adjust=adjust, ignore_na=ignore_na,
               times=times, by=by, axis=axis)
