"""The state of a streaming EWA mean (:class:`streamopt.EWA`): one float64 buffer, and its kernels.

A stream of k series keeps everything in one float64 array::

    [ params (PARAMS_SIZE: α, β, flags, T_0 … T_63) | V_0, count_0 | V_1, count_1 | … ]

The parameters at the front are those of every mean kernel
(:mod:`.ewa_mean`); series j's V is at ``SERIES + FIELDS·j + V`` and its
count at ``SERIES + FIELDS·j + COUNT`` (a float64 count is exact below 2^53;
a float32 stream's V is a float32 value, exact in float64).  The kernels here
unpack that state, run the batch kernels on it and store it back, so a stream
runs exactly the operations of :func:`streamopt.ewa` on the whole series.

One buffer (rather than several arrays) because the per-call cost of a
one-value update is mostly Numba's argument dispatch, which grows with every
array passed; the one-series entry points (:func:`stream_one_at`,
:func:`stream_series_at`) take the buffer's address, an int, which dispatches
faster still (``bench/stream.py``, cases ``update-1`` and ``chunk-*``).
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from ._common import as_dtype_of, jit
from .ewa_mean import PARAMS_SIZE, advance, emit, ewa_lanes, ewa_rows, ewa_series, fill_params, unpack
from .ewa_correction import corrected, terms_for

#: Where the series' state starts in the buffer, and the fields of one series.
SERIES = PARAMS_SIZE
FIELDS = 2
V = 0
COUNT = 1

#: The length of the buffer of a one-series stream.
ONE_SERIES_SIZE = SERIES + FIELDS

#: How :func:`stream_chunk` runs a chunk (the layouts of :mod:`.ewa_mean`'s serial kernels).
ROWS, LANES = 0, 1


def buffer_size(k: int) -> int:
    """The length of the buffer of a stream of ``k`` series."""
    return SERIES + FIELDS * k


@jit
def load(buf, v, count) -> None:
    """v[j], count[j] from the buffer (v in its own dtype)."""
    for j in range(v.shape[0]):
        v[j] = buf[SERIES + FIELDS * j + V]
        count[j] = int(buf[SERIES + FIELDS * j + COUNT])


@jit
def store(buf, v, count) -> None:
    """The inverse of :func:`load`."""
    for j in range(v.shape[0]):
        buf[SERIES + FIELDS * j + V] = v[j]
        buf[SERIES + FIELDS * j + COUNT] = float(count[j])


@jit
def stream_one(x: float, buf) -> float:
    """One observation of a one-series float64 stream; returns its output (as :func:`.ewa_mean.ewa_series`)."""
    params = buf[:SERIES]
    alpha, beta, alpha64, table, correct, skipna = unpack(params, buf)
    v, seen = advance(x, buf[SERIES + V], alpha, beta, skipna)
    count = int(buf[SERIES + COUNT]) + (1 if seen else 0)
    buf[SERIES + V] = v
    buf[SERIES + COUNT] = float(count)
    _, a_q, b_q = terms_for(alpha64, count, -1, 0.0, 1.0)
    return corrected(v, count, a_q, b_q, table, correct)


@jit
def stream_series(x, out, buf) -> None:
    """Consecutive values of a one-series stream: 1-D ``x`` into ``out`` (any strides, the stream's dtype)."""
    v, count = ewa_series(x, out, as_dtype_of(buf[SERIES + V], out), int(buf[SERIES + COUNT]), buf[:SERIES])
    buf[SERIES + V] = v
    buf[SERIES + COUNT] = float(count)


@jit
def stream_chunk(x, out, buf, layout: int) -> None:
    """A chunk of a k-series stream, as the batch kernel ``layout`` (:data:`ROWS` or :data:`LANES`) runs it.

    (The parallel kernel is called from Python between :func:`load` and
    :func:`store`: Numba's on-disk cache does not reload a function that
    calls a parallel one.)
    """
    k = x.shape[1] if layout == ROWS else x.shape[0]
    v = np.empty(k, out.dtype)
    count = np.empty(k, np.int64)
    load(buf, v, count)
    if layout == ROWS:
        ewa_rows(x, out, v, count, buf[:SERIES])
    else:
        ewa_lanes(x, out, v, count, buf[:SERIES])
    store(buf, v, count)


@jit
def stream_value(out, buf) -> None:
    """out[j] = the current output of series j (what its last update gave)."""
    k = out.shape[0]
    v = np.empty(k, out.dtype)
    count = np.empty(k, np.int64)
    load(buf, v, count)
    emit(out, v, count, buf[:SERIES])


#: As :data:`._common.jit` but holding the GIL: for the per-call one-series entry points,
#: where releasing and re-acquiring the GIL would cost more than the work.
jit_gil = functools.partial(numba.njit, cache=True, error_model="numpy")


@intrinsic
def _f64_pointer(typingctx, address):
    """The integer ``address`` as a float64 pointer (for :func:`numba.carray`)."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.float64)))

    return types.CPointer(types.float64)(address), codegen


@jit_gil
def stream_one_at(x: float, address: int) -> float:
    """:func:`stream_one` on the one-series buffer at memory ``address`` (``ndarray.ctypes.data``).

    The caller keeps that C-contiguous float64 buffer of :data:`ONE_SERIES_SIZE`
    alive; a float and an int cross into compiled code faster than an array.
    """
    return stream_one(x, numba.carray(_f64_pointer(address), (ONE_SERIES_SIZE,)))


@jit_gil
def stream_series_at(x, out, address: int) -> None:
    """:func:`stream_series` on the one-series buffer at memory ``address`` (see :func:`stream_one_at`)."""
    stream_series(x, out, numba.carray(_f64_pointer(address), (ONE_SERIES_SIZE,)))


__all__ = ["fill_params", "SERIES", "FIELDS", "V", "COUNT", "ROWS", "LANES", "buffer_size", "load", "store",
           "stream_one", "stream_series", "stream_chunk", "stream_value", "ONE_SERIES_SIZE", "stream_one_at",
           "stream_series_at"]
