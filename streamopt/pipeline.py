"""Mini-batch sources: in-memory arrays cut into batches, and CSV files streamed in chunks.

Three generators, one contract: each yields batches, ``(X_batch, Y_batch)``
when there are targets and ``X_batch`` alone when there are none, so a
training loop (:func:`streamopt.train`) or a streaming average
(:class:`streamopt.EWA`) consumes either kind of source the same way.

- :func:`minibatches`: one pass over arrays held in memory, shuffled with the
  notes' legacy-RNG semantics (``RandomState(seed).permutation(m)``).
- :func:`epochs`: one :func:`minibatches` pass per epoch, epoch i shuffled with
  seed s + 1 + i, which is how the notes reshuffle (``seed = seed + 1`` at the
  start of every epoch, from ``seed = 10``).
- :func:`csv_batches`: a CSV file (or standard input) read with pandas in
  chunks of ``chunksize`` rows, never whole, with an optional shuffle buffer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._checks import check_bool, check_int

__all__ = ["minibatches", "epochs", "csv_batches"]


def _examples(obj: Any, name: str, axis: int) -> tuple[Any, int]:
    """``obj`` as something we can index along ``axis`` (ndarray or pandas), and its length there."""
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        if axis >= obj.ndim:
            raise ValueError(f"axis must be < {name}.ndim = {obj.ndim} for a pandas {name}, got {axis}")
        return obj, obj.shape[axis]
    arr = obj if isinstance(obj, np.ndarray) else np.asarray(obj)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar {obj!r}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis must be in [-{arr.ndim}, {arr.ndim}) for {name} of shape {arr.shape}, got {axis}")
    return arr, arr.shape[axis]


def _take(obj: Any, index: np.ndarray | slice, axis: int) -> Any:
    """Examples ``index`` of ``obj`` along ``axis``: a view for a slice, a copy otherwise."""
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return obj.iloc[index] if axis == 0 else obj.iloc[:, index]
    if isinstance(index, slice):
        key = [slice(None)] * obj.ndim
        key[axis] = index
        return obj[tuple(key)]
    return np.take(obj, index, axis=axis)


def minibatches(
    X: Any,
    Y: Any = None,
    batch_size: int = 64,
    *,
    seed: int | None = None,
    shuffle: bool = True,
    axis: int = 0,
    drop_last: bool = False,
) -> Iterator[Any]:
    """One pass over in-memory data in mini-batches.

    The m examples (along ``axis`` of ``X``) are put in an order, then cut
    into consecutive batches of ``batch_size``; the last one holds the
    m mod batch_size left over (dropped with ``drop_last``).  The order is

    - ``numpy.random.RandomState(seed).permutation(m)`` with a ``seed``: the
      notes' ``random_mini_batches(X, Y, batch_size, seed)`` batches, exactly;
    - a fresh random permutation with ``seed=None``;
    - 0, 1, …, m − 1 with ``shuffle=False`` (batches are then views).

    Parameters
    ----------
    X : array-like, pandas DataFrame or Series
        The inputs.  The notes keep examples as columns: pass ``axis=1``.
    Y : array-like, DataFrame or Series, optional
        The targets, with as many examples: along ``axis`` when ``Y`` has as
        many dimensions as ``X``, along its only axis when it is 1-D.
    batch_size : int, default 64
        Examples per batch, ≥ 1.
    seed : int, optional
        Seed in [0, 2³²) of the legacy generator that shuffles.
    shuffle : bool, default True
        Whether to shuffle at all.
    axis : int, default 0
        The examples' axis of ``X`` (0: rows, 1: columns as in the notes).
    drop_last : bool, default False
        Drop the final, smaller batch.

    Yields
    ------
    (X_batch, Y_batch) or X_batch
        Batches of the same kind as the inputs (ndarray, DataFrame, Series);
        ``X_batch`` alone when ``Y`` is None.  Shuffled batches are copies:
        the caller's arrays are never written.

    Raises
    ------
    ValueError
        ``X`` and ``Y`` hold different numbers of examples, there are no
        examples, ``batch_size`` < 1 or ``seed`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(10).reshape(1, 10)
    >>> [xb.tolist() for xb in minibatches(X, batch_size=4, shuffle=False, axis=1)]
    [[[0, 1, 2, 3]], [[4, 5, 6, 7]], [[8, 9]]]
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    shuffle = check_bool("shuffle", shuffle)
    drop_last = check_bool("drop_last", drop_last)
    axis = check_int("axis", axis)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
        if seed >= 2**32:
            raise ValueError(f"seed must be < 2**32, got {seed!r}")
    X, m = _examples(X, "X", axis)
    if m == 0:
        raise ValueError(f"X holds no examples (its axis {axis} has length 0)")
    y_axis = axis
    if Y is not None:
        y_ndim = Y.ndim if hasattr(Y, "ndim") else np.ndim(Y)
        X_ndim = X.ndim
        y_axis = axis if y_ndim == X_ndim else 0
        Y, m_y = _examples(Y, "Y", y_axis)
        if m_y != m:
            raise ValueError(
                f"X and Y must hold the same number of examples, got {m} in X (axis {axis}) "
                f"and {m_y} in Y (axis {y_axis})"
            )
    return _minibatches(X, Y, m, batch_size, seed, shuffle, axis, y_axis, drop_last)


def _minibatches(X, Y, m, batch_size, seed, shuffle, axis, y_axis, drop_last):
    if shuffle:
        rng = np.random.RandomState(seed) if seed is not None else np.random.RandomState()
        order: np.ndarray | None = rng.permutation(m)
    else:
        order = None
    stop = m - m % batch_size if drop_last else m
    for start in range(0, stop, batch_size):
        end = min(start + batch_size, m)
        index = slice(start, end) if order is None else order[start:end]
        xb = _take(X, index, axis)
        if Y is None:
            yield xb
        else:
            yield xb, _take(Y, index, y_axis)


def epochs(
    X: Any,
    Y: Any = None,
    batch_size: int = 64,
    *,
    seed: int = 10,
    n_epochs: int | None = None,
    axis: int = 0,
    drop_last: bool = False,
) -> Iterator[Iterator[Any]]:
    """Epoch after epoch of :func:`minibatches`, reshuffled as the notes do.

    Epoch i (counted from 0) is ``minibatches(X, Y, batch_size, seed=seed + 1 + i)``:
    the notes start from ``seed = 10`` and add 1 before drawing each epoch's
    batches, so their epochs use seeds 11, 12, ….

    Parameters
    ----------
    X, Y, batch_size, axis, drop_last
        As in :func:`minibatches`.
    seed : int, default 10
        The start seed s (≥ 0); epoch i uses s + 1 + i.
    n_epochs : int, optional
        Number of epochs (≥ 0); endless when None.

    Yields
    ------
    iterator
        One iterator of batches per epoch.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(6).reshape(1, 6)
    >>> [[xb.tolist() for xb in ep] for ep in epochs(X, batch_size=4, n_epochs=2, axis=1)]
    [[[[4, 2, 5, 3]], [[0, 1]]], [[[0, 4, 1, 2]], [[5, 3]]]]
    """
    seed = check_int("seed", seed, minimum=0)
    if n_epochs is not None:
        n_epochs = check_int("n_epochs", n_epochs, minimum=0)
        if n_epochs and seed + n_epochs >= 2**32:
            raise ValueError(f"seed + n_epochs must be < 2**32, got seed={seed!r}, n_epochs={n_epochs!r}")
    # validate once, up front, so that a bad argument fails here and not at the first epoch
    minibatches(X, Y, batch_size, seed=seed, axis=axis, drop_last=drop_last)
    return _epochs(X, Y, batch_size, seed, n_epochs, axis, drop_last)


def _epochs(X, Y, batch_size, seed, n_epochs, axis, drop_last):
    i = 0
    while n_epochs is None or i < n_epochs:
        yield minibatches(X, Y, batch_size, seed=seed + 1 + i, axis=axis, drop_last=drop_last)
        i += 1


# ------------------------------------------------------------------ CSV stream
def _open_source(source: Any) -> tuple[Any, str]:
    """What pandas should read, and a name for messages.  ``"-"`` is standard input."""
    if isinstance(source, (str, os.PathLike)):
        if os.fspath(source) == "-":
            return sys.stdin, "<stdin>"
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"source: no such file {path!r}")
        return path, repr(path)
    if hasattr(source, "read"):
        return source, getattr(source, "name", "<file>")
    raise TypeError(f"source must be a path, '-' (standard input) or a file object, got {type(source).__name__}")


def _names(value: Any, name: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        if not value:
            raise ValueError(f"{name} must name at least one column, got an empty list")
        return list(value)
    raise TypeError(f"{name} must be a column name or a list of column names, got {value!r}")


def csv_batches(
    source: Any,
    columns: str | Sequence[str] | None = None,
    target: str | Sequence[str] | None = None,
    *,
    batch_size: int = 64,
    chunksize: int = 10_000,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    axis: int = 0,
    dtype: Any = np.float64,
    drop_last: bool = False,
) -> Iterator[Any]:
    """Batches of a CSV file (or standard input), read in chunks: the file is never loaded whole.

    pandas reads ``chunksize`` rows at a time; the rows are regrouped into
    batches of ``batch_size`` across chunk boundaries, in file order, or
    through a shuffle buffer.  At most ``chunksize + shuffle_buffer +
    batch_size`` rows are held in memory at any time.

    Shuffle buffer (``shuffle_buffer = k > 0``): rows enter a pool of k rows;
    every row read beyond the first k makes one row, drawn uniformly from the
    pool, leave it for the output; at the end of the file the pool is emptied
    in random order.  k ≥ the number of rows gives a uniform shuffle of the
    whole file; smaller k mixes rows within a window of about k.

    Parameters
    ----------
    source : path, ``"-"`` or file object
        The CSV, with a header row.  ``"-"`` reads standard input.
    columns : str or list of str, optional
        Feature columns, in this order.  Default: every column but ``target``.
    target : str or list of str, optional
        Target column(s).  Without one, batches are ``X_batch`` alone.
    batch_size : int, default 64
        Rows per batch (≥ 1); the last batch is smaller unless ``drop_last``.
    chunksize : int, default 10000
        Rows per pandas read (≥ 1).
    shuffle_buffer : int, default 0
        Size of the shuffle pool (≥ 0); 0 keeps the file's order.
    seed : int, optional
        Seed of the shuffle buffer's generator (``numpy.random.default_rng``).
    axis : {0, 1}, default 0
        0: a batch is (rows × features), 1: (features × rows), the notes' layout;
        a single target column then gives Y of shape (rows,) or (1, rows).
    dtype : float dtype, default float64
        dtype of the arrays.
    drop_last : bool, default False
        Drop the final, smaller batch.

    Yields
    ------
    (X_batch, Y_batch) or X_batch
        NumPy arrays.  Missing values arrive as NaN: a consumer that cannot
        take them (e.g. :func:`streamopt.train`) raises.

    Raises
    ------
    FileNotFoundError
        ``source`` names no file.
    ValueError
        A requested column is missing, the file has no rows, bad sizes.
    TypeError
        A requested column is not numeric.

    Examples
    --------
    >>> import io
    >>> from streamopt.pipeline import csv_batches
    >>> text = io.StringIO("x1,x2,y\\n1,2,0\\n3,4,1\\n5,6,0\\n")
    >>> for X, Y in csv_batches(text, ["x1", "x2"], "y", batch_size=2):
    ...     print(X.tolist(), Y.tolist())
    [[1.0, 2.0], [3.0, 4.0]] [0.0, 1.0]
    [[5.0, 6.0]] [0.0]
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    chunksize = check_int("chunksize", chunksize, minimum=1)
    shuffle_buffer = check_int("shuffle_buffer", shuffle_buffer, minimum=0)
    drop_last = check_bool("drop_last", drop_last)
    axis = check_int("axis", axis)
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 or 1, got {axis!r}")
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a float dtype, got {dtype}")
    feature_names = _names(columns, "columns")
    target_names = _names(target, "target")
    handle, label = _open_source(source)
    return _csv_batches(handle, label, feature_names, target_names, batch_size, chunksize,
                        shuffle_buffer, seed, axis, dtype, drop_last)


def _csv_batches(handle, label, feature_names, target_names, batch_size, chunksize,
                 shuffle_buffer, seed, axis, dtype, drop_last):
    rng = np.random.default_rng(seed)
    targets = target_names or []
    wanted: list[str] | None = None
    n_x = 0
    pool = np.empty((0, 0), dtype=dtype)
    carry = np.empty((0, 0), dtype=dtype)
    rows_seen = 0

    def emit(rows: np.ndarray) -> Iterator[Any]:
        # rows: (k, n_x + n_y); one batch
        xb = rows[:, :n_x]
        yb = rows[:, n_x:]
        if axis == 1:
            xb = np.ascontiguousarray(xb.T)
            yb = np.ascontiguousarray(yb.T)
            if len(targets) == 1:
                yb = yb.reshape(1, -1)
        else:
            xb = np.ascontiguousarray(xb)
            yb = np.ascontiguousarray(yb[:, 0] if len(targets) == 1 else yb)
        yield (xb, yb) if targets else xb

    def cut(rows: np.ndarray, final: bool) -> Iterator[Any]:
        nonlocal carry
        if carry.size:
            rows = np.concatenate([carry, rows])
        full = rows.shape[0] - rows.shape[0] % batch_size
        for start in range(0, full, batch_size):
            yield from emit(rows[start:start + batch_size])
        carry = rows[full:]
        if final and carry.shape[0] and not drop_last:
            yield from emit(carry)

    try:
        reader = pd.read_csv(handle, chunksize=chunksize)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{label} is empty (no header, no rows)") from None
    for chunk in reader:
        if wanted is None:
            header = [str(c) for c in chunk.columns]
            missing = [c for c in (feature_names or []) + targets if c not in header]
            if missing:
                raise ValueError(f"columns not in {label}: {', '.join(missing)} (it has {', '.join(header)})")
            features = feature_names if feature_names is not None else [c for c in header if c not in targets]
            if not features:
                raise ValueError(f"no feature columns left in {label} (all are targets)")
            wanted = features + targets
            n_x = len(features)
            pool = np.empty((0, len(wanted)), dtype=dtype)
            carry = np.empty((0, len(wanted)), dtype=dtype)
        part = chunk[wanted]
        for col in wanted:
            if not (pd.api.types.is_numeric_dtype(part[col]) or part[col].isna().all()):
                raise TypeError(f"column {col!r} of {label} must be numeric, got dtype {part[col].dtype}")
        rows = part.to_numpy(dtype=dtype)
        rows_seen += rows.shape[0]
        if shuffle_buffer:
            pool = np.concatenate([pool, rows])
            n_out = pool.shape[0] - shuffle_buffer
            if n_out > 0:
                # each row beyond the pool's size lets one uniformly drawn row out
                chosen = rng.permutation(pool.shape[0])
                out, keep = chosen[:n_out], np.sort(chosen[n_out:])
                rows = pool[out]
                pool = pool[keep]
            else:
                continue
        yield from cut(rows, final=False)
    if wanted is None or rows_seen == 0:
        raise ValueError(f"{label} holds no data rows")
    if shuffle_buffer and pool.shape[0]:
        yield from cut(pool[rng.permutation(pool.shape[0])], final=True)
    else:
        yield from cut(np.empty((0, len(wanted)), dtype=dtype), final=True)
