"""Exponentially weighted averages: batch (:func:`ewa`, :func:`ewvar`, :func:`ewstd`) and streaming (:class:`EWA`).

The notes' recursion, for one series θ_1, θ_2, … and a decay rate β in [0, 1)::

    V_0 = 0,    V_count = β·V_{count−1} + (1 − β)·θ_count

V averages roughly the last 1/(1 − β) values (:func:`horizon`).  Because
V_0 = 0 the first values are biased towards 0; the bias-corrected output is
V_count / (1 − β^count), count = the number of observations seen, which
equals pandas' ``ewm(alpha=1 − β, adjust=True, ignore_na=True).mean()``.

Missing values, as in pandas: NaN, ±inf and masked entries of a
``numpy.ma.MaskedArray`` are not observations (pandas' window functions treat
±inf as missing too).

Everything here validates, converts and shapes; the arithmetic lives in the
Numba kernels of :mod:`streamopt._kernels` (``ewa_mean``, ``ewa_correction``,
``ewa_stream``, ``ewa_var``), shared by the batch functions and the streaming
class (:mod:`streamopt.stream`), so that a stream fed in any chunks reproduces
:func:`ewa` bit for bit.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import _checks
from ._kernels import ewa_mean as _km
from ._kernels import ewa_var as _kv

__all__ = ["ewa", "ewvar", "ewstd", "EWA", "horizon", "beta_from", "check_state", "state_mismatch"]

#: Series stored one after the other (a column-major 2-D input, or a stream of
#: such chunks) are split over every core once the input holds at least this
#: many bytes and 8 series: a series is one chain of dependent multiply-adds,
#: while row-major input is not split (its inner loop already runs across
#: series at memory speed).  ``bench/threads.py`` measures the break-even.
#: Read at each call.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024

#: The layouts :func:`_along_axis` hands to a kernel.
LANES, ROWS = "lanes", "rows"


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

    Parameters
    ----------
    beta : float
        The decay rate, in [0, 1).

    Returns
    -------
    float

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

    Parameters
    ----------
    span, com, halflife, alpha : float
        Exactly one.

    Returns
    -------
    float
        β in [0, 1).

    Examples
    --------
    >>> beta_from(span=19)
    0.9
    """
    return 1.0 - _checks.resolve_alpha(span=span, com=com, halflife=halflife, alpha=alpha,
                                       accepted=("span", "com", "halflife", "alpha"))


# ----------------------------------------------------------- input and output
def _column_dtype(dtype: Any, where: str, empty: bool) -> np.dtype | None:
    """The computation dtype of one pandas column (None: a nullable extension dtype, read as float64)."""
    if isinstance(dtype, np.dtype):
        if empty and dtype == object:  # pandas' default dtype of an empty Series
            return np.dtype(np.float64)
        return _checks.float_dtype(dtype, where)
    if (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)) \
            and not pd.api.types.is_complex_dtype(dtype):
        return None
    raise TypeError(f"{where} must hold real numbers (float, int or bool), got dtype {dtype}")


def _pandas_values(obj: pd.Series | pd.DataFrame, name: str) -> np.ndarray:
    """The float array behind a Series/DataFrame, each column converted by its own dtype (as pandas does).

    float32 columns give float32 when every column does; otherwise float64.
    Nullable dtypes: NA becomes NaN.  An empty object column is an empty float
    column.
    """
    empty = len(obj) == 0
    if isinstance(obj, pd.Series):
        dtypes = [_column_dtype(obj.dtype, name, empty)]
    else:
        dtypes = [_column_dtype(dt, f"{name}[{col!r}]", empty) for col, dt in obj.dtypes.items()]
    if any(dt is None for dt in dtypes):
        return obj.to_numpy(dtype=np.float64, na_value=np.nan)
    result = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
    return obj.to_numpy(dtype=result)


def _masked_values(x: np.ma.MaskedArray, name: str) -> np.ndarray:
    """A masked array's data as floats, NaN where masked (a new array: ``x`` is never written)."""
    values = _checks.as_float_array(np.ma.getdata(x), name)
    mask = np.ma.getmaskarray(x)
    return np.where(mask, values.dtype.type(np.nan), values) if mask.any() else values


def _as_input(x: Any, name: str = "x") -> tuple[np.ndarray, Callable[[np.ndarray], Any] | None]:
    """(float array, wrapper turning a result array back into x's pandas type, or None)."""
    if isinstance(x, pd.Series):
        index, series_name = x.index, x.name
        return _pandas_values(x, name), lambda r: pd.Series(r, index=index, name=series_name, copy=False)
    if isinstance(x, pd.DataFrame):
        index, columns = x.index, x.columns
        return _pandas_values(x, name), lambda r: pd.DataFrame(r, index=index, columns=columns, copy=False)
    if isinstance(x, np.ma.MaskedArray):
        return _masked_values(x, name), None
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


def _plan(y: np.ndarray) -> tuple[str, str, np.ndarray]:
    """(layout, order, y): how a kernel walks ``y`` (time on axis 0): the one layout planner.

    One series, or series stored one after the other (column-major), run as
    ``lanes`` (each series contiguous); row-major series run as ``rows``; any
    other layout is copied row-major first.  ``order`` is the memory order of
    the result array, the same as the input's so that no transpose is needed.
    """
    if y.ndim <= 1 or math.prod(y.shape[1:]) == 1:
        return LANES, "C", np.ascontiguousarray(y)
    if y.flags.c_contiguous:
        return ROWS, "C", y
    if y.flags.f_contiguous:
        return LANES, "F", y
    return ROWS, "C", np.ascontiguousarray(y)


def _along_axis(values: np.ndarray, axis: int, out: np.ndarray | None,
                run: Callable[[str, np.ndarray, np.ndarray], None]) -> np.ndarray:
    """Apply ``run(layout, x2, out2)`` along ``axis`` of ``values``; returns the result array.

    ``layout`` is ``"lanes"`` (x2, out2 of shape (m, n), C-contiguous, one series
    per row) or ``"rows"`` (shape (n, m), C-contiguous, one series per column),
    as :func:`_plan` decides.  The axis is moved to the front and the other axes
    flattened, without copying when the input is C- or F-contiguous that way.
    The result goes to ``out`` if given (through a temporary when its layout
    does not fit or it overlaps the input in another way).
    """
    if values.ndim == 0:
        result = _along_axis(values.reshape(1), 0, None, run).reshape(())
        if out is not None:
            out[...] = result
            return out
        return result
    if out is not None and np.may_share_memory(out, values) and not (
            out.__array_interface__["data"][0] == values.__array_interface__["data"][0]
            and out.strides == values.strides):
        np.copyto(out, _along_axis(values, axis, None, run))
        return out
    if values.size == 0:
        return out if out is not None else np.empty(values.shape, values.dtype)
    layout, order, y = _plan(values if axis == 0 else np.moveaxis(values, axis, 0))
    n = y.shape[0]
    m = math.prod(y.shape[1:])
    out_y = None if out is None else out if axis == 0 else np.moveaxis(out, axis, 0)
    fits = out_y is not None and (out_y.flags.c_contiguous if order == "C" else out_y.flags.f_contiguous)
    target = out_y if fits else np.empty(y.shape, values.dtype, order=order)
    if layout == ROWS:
        run(ROWS, y.reshape(n, m), target.reshape(n, m))
    elif order == "C":
        run(LANES, y.reshape(1, n), target.reshape(1, n))
    else:
        run(LANES, y.reshape(n, m, order="F").T, target.reshape(n, m, order="F").T)
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
def mean_params(alpha: float, beta: float, correct: bool, skipna: bool) -> np.ndarray:
    """The ``params`` array of the mean kernels (:data:`streamopt._kernels.ewa_mean.PARAMS_SIZE` float64).

    α, β, the flags, then the table T_r = 1 − β^r (r = 0 … 63) of the correction.

    Examples
    --------
    >>> mean_params(0.5, 0.5, True, True)[:6].tolist()
    [0.5, 0.5, 1.0, 1.0, 0.0, 0.5]
    """
    params = np.empty(_km.PARAMS_SIZE)
    _km.fill_params(params, float(alpha), float(beta), bool(correct), bool(skipna))
    return params


def mean_kernel(layout: str, x2: np.ndarray) -> str:
    """The name of the mean kernel of :mod:`streamopt._kernels.ewa_mean` for ``layout`` and ``x2``.

    Column-major input of 8 series or more and :data:`PARALLEL_MIN_BYTES` runs
    in parallel (bit-identical to the serial kernel).

    Examples
    --------
    >>> mean_kernel("rows", np.zeros((10, 3))), mean_kernel("lanes", np.zeros((3, 10)))
    ('ewa_rows', 'ewa_lanes')
    """
    if layout == ROWS:
        return "ewa_rows"
    if x2.shape[0] >= 8 and x2.nbytes >= PARALLEL_MIN_BYTES:
        return "ewa_lanes_parallel"
    return "ewa_lanes"


def ewa(x: Any, beta: Any = None, *, span: Any = None, com: Any = None, halflife: Any = None,
        alpha: Any = None, bias_correction: bool = False, axis: int = 0, skipna: bool = True,
        out: np.ndarray | None = None) -> Any:
    r"""Exponentially weighted average of ``x`` along ``axis``.

    .. math::

        V_0 = 0, \qquad V_c = \beta V_{c-1} + (1-\beta)\,\theta_c, \qquad
        \hat V_c = \frac{V_c}{1-\beta^c}\ \text{(bias\_correction)}

    with c the number of observations seen so far; 1 − β^c is computed from
    α = 1 − β without cancellation, so β = 1 − 1e−9 is as accurate as β = 0.9.

    Parameters
    ----------
    x : array-like, masked array, pandas Series or DataFrame
        Any number of dimensions.  float32 stays float32 (and is computed in
        float32), float64 stays float64, integers and bools become float64
        (a DataFrame: each column by its own dtype, float64 unless every
        column is float32); anything else is a TypeError naming the column.
        NaN, ±inf and masked entries are missing values.  Never modified.
    beta, span, com, halflife, alpha : float
        Exactly one: β in [0, 1), or pandas' conventions α = 2/(span + 1),
        α = 1/(1 + com), α = 1 − exp(−ln 2/halflife), α in (0, 1]; β = 1 − α.
    bias_correction : bool
        Output V_c / (1 − β^c).  With ``skipna`` this equals pandas'
        ``ewm(alpha=1 − β, adjust=True, ignore_na=True).mean()``.
    axis : int
        The time axis.  A DataFrame is smoothed down its rows with ``axis=0``.
    skipna : bool
        True: a missing value leaves the average untouched and the output there
        is the current value (NaN before the first observation).  False: from
        the first missing value on the output is NaN.
    out : ndarray, optional
        Receives the result (same shape, the result dtype) and is returned.
        NumPy input only.

    Returns
    -------
    ndarray, Series or DataFrame
        Same shape as ``x``; pandas input gives pandas output with the same
        index, name or columns; a masked array gives a plain ndarray (every
        position has a value: at a masked one, the current average).

    Notes
    -----
    V is kept unnormalised (it starts at 0), so on subnormal data (values below
    2^−1022 ≈ 2.2e−308) V carries an absolute error of about 2^−1074 ≈ 4.9e−324
    per step and the corrected output that error divided by 1 − β^c, e.g.
    ``ewa([5e-324, 5e-324], 0.5, bias_correction=True)`` gives 0 where pandas
    gives 5e−324.

    Examples
    --------
    >>> ewa([1.0, 1.0, 1.0], 0.5)
    array([0.5  , 0.75 , 0.875])
    >>> ewa([1.0, 1.0, 1.0], 0.5, bias_correction=True)
    array([1., 1., 1.])
    >>> ewa([1.0, float("inf"), 2.0, 3.0], 0.5, bias_correction=True)
    array([1.        , 1.        , 1.66666667, 2.42857143])
    """
    a, b = _decay(beta, span, com, halflife, alpha)
    correct = _checks.check_bool("bias_correction", bias_correction)
    skip = _checks.check_bool("skipna", skipna)
    values, ax, out, wrap = _prepare(x, axis, out)
    params = mean_params(a, b, correct, skip)

    def run(layout: str, x2: np.ndarray, out2: np.ndarray) -> None:
        k = x2.shape[0] if layout == LANES else x2.shape[1]
        if layout == LANES and k == 1:  # one series: its loop alone (compiles in a fraction of the lanes kernel)
            _km.ewa_series(x2[0], out2[0], values.dtype.type(0), 0, params)
            return
        kernel = getattr(_km, mean_kernel(layout, x2))
        kernel(x2, out2, np.zeros(k, values.dtype), np.zeros(k, np.int64), params)

    result = _along_axis(values, ax, out, run)
    return result if wrap is None else wrap(result)


# ------------------------------------------------------------------ variance
def _ewvar_values(x: Any, beta, span, com, halflife, alpha, bias, axis, skipna, out):
    a, b = _decay(beta, span, com, halflife, alpha)
    biased = _checks.check_bool("bias", bias)
    skip = _checks.check_bool("skipna", skipna)
    values, ax, out, wrap = _prepare(x, axis, out)

    def run(layout: str, x2: np.ndarray, out2: np.ndarray) -> None:
        k = x2.shape[0] if layout == LANES else x2.shape[1]
        kernel = _kv.ewvar_lanes if layout == LANES else _kv.ewvar_rows
        kernel(x2, out2, np.zeros((6, k)), b, biased, skip)

    return _along_axis(values, ax, out, run), wrap


def ewvar(x: Any, beta: Any = None, *, span: Any = None, com: Any = None, halflife: Any = None,
          alpha: Any = None, bias: bool = False, axis: int = 0, skipna: bool = True,
          out: np.ndarray | None = None) -> Any:
    r"""Exponentially weighted variance of ``x`` along ``axis`` (pandas' ``ewm().var()``).

    With weights w_i = β^{c−i} on the c observations seen so far,

    .. math::

        \mu_c = \frac{\sum_i w_i x_i}{\sum_i w_i}, \qquad
        \sigma^2_c = \frac{\sum_i w_i (x_i-\mu_c)^2}{\sum_i w_i}
        \cdot \frac{(\sum_i w_i)^2}{(\sum_i w_i)^2 - \sum_i w_i^2}

    (the last factor only with ``bias=False``, the default; NaN while it is
    undefined, i.e. after one observation).  Computed with a weighted West
    update (mean and weighted sum of squares), in float64 whatever the input
    dtype: never negative, exactly 0 on a constant series, accurate with a
    large offset.  Equals pandas' ``ewm(alpha=1 − β, adjust=True,
    ignore_na=True).var(bias=bias)``; NaN, ±inf and masked entries are missing.

    Parameters
    ----------
    x, beta, span, com, halflife, alpha, axis, skipna, out
        As in :func:`ewa`.
    bias : bool
        True: the biased (weighted population) variance, without the last
        factor.  The name is pandas'.

    Returns
    -------
    ndarray, Series or DataFrame
        As in :func:`ewa`.

    Examples
    --------
    >>> ewvar([2.0, 2.0, 2.0], 0.5)
    array([nan,  0.,  0.])
    >>> ewvar([0.0, 2.0], 0.5, bias=True)
    array([0.        , 0.88888889])
    """
    result, wrap = _ewvar_values(x, beta, span, com, halflife, alpha, bias, axis, skipna, out)
    return result if wrap is None else wrap(result)


def ewstd(x: Any, beta: Any = None, *, span: Any = None, com: Any = None, halflife: Any = None,
          alpha: Any = None, bias: bool = False, axis: int = 0, skipna: bool = True,
          out: np.ndarray | None = None) -> Any:
    """Exponentially weighted standard deviation: √:func:`ewvar`.

    Parameters
    ----------
    x, beta, span, com, halflife, alpha, bias, axis, skipna, out
        As in :func:`ewvar`.

    Returns
    -------
    ndarray, Series or DataFrame
        As in :func:`ewa`.

    Examples
    --------
    >>> ewstd([0.0, 2.0], 0.5, bias=True)
    array([0.        , 0.94280904])
    """
    result, wrap = _ewvar_values(x, beta, span, com, halflife, alpha, bias, axis, skipna, out)
    np.sqrt(result, out=result)
    return result if wrap is None else wrap(result)


from .stream import EWA, check_state, state_mismatch  # noqa: E402  (the class builds on the helpers above)
