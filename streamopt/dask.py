r"""Exponentially weighted statistics of Dask collections: :func:`ewm`, exact across partitions or by a parallel scan.

``streamopt.dask.ewm(obj, ...)`` takes :func:`streamopt.ewm`'s parameters and
a Dask DataFrame, Series or Array, and gives its ``mean``, ``sum``, ``var`` and
``std`` as lazy Dask collections with the input's partitions and divisions
(an Array's chunks).  Building one computes nothing: every check on the data
(times going back, NaT, keys) runs inside the graph and names the partition.

``method="exact"``: partition i starts from the state partition i − 1 ended
with (per column and per key of ``by``: a few numbers each; the kernels of
:mod:`streamopt._kernels.ewm_scan` read every row with the batch kernels' row
functions), so the result equals ``streamopt.ewm`` on the concatenated data
bit for bit, for any partitioning.  The partitions run one after the other.

``method="scan"``: a parallel prefix scan.  Pass 1 reduces every partition
to its summary (its state from scratch, its first observation and the weight
that observation keeps) in parallel; one small task folds the summaries in
order into each partition's incoming state; pass 2 runs every partition from
its incoming state in parallel (reading it again: nothing is held between
the passes).  The critical path is O(n/P + P) for n rows in P partitions, and
the result equals ``exact`` within rounding (1e-12 relative).

Importing this module registers the ``.streamopt`` accessor on Dask
DataFrames and Series (``ddf.streamopt.ewm(...)``); ``import streamopt``
alone does not import Dask.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
from dask.base import tokenize
from dask.graph_manipulation import clone

from . import _checks
from .ewm import EWM, _data, _halflife_ticks, _keys, _times
from ._kernels import ewm as _kewm
from ._kernels import ewm_scan as _kscan

__all__ = ["ewm", "DaskEWM", "DaskAccessor"]

_METHODS = ("exact", "scan")
# state arrays (k lanes, a column per key): name -> (dtype, initial value), as the batch kernels start them
_MEAN = {"value": (np.float64, np.nan), "started": (np.bool_, False), "old_wt": (np.float64, 1.0),
         "nobs": (np.int64, 0), "gap": (np.float64, 0.0)}
_COV = {"started": (np.bool_, False), "wt": (np.float64, 1.0), "s2": (np.float64, 1.0), "den": (np.float64, 0.0),
        "mx": (np.float64, np.nan), "c": (np.float64, 0.0), "nobs": (np.int64, 0), "gap": (np.float64, 0.0)}
# the scan's probes of a partition (:func:`streamopt._kernels.ewm_scan.probe_row`)
_PROBE = {"first_row": (np.int64, -1), "first": (np.float64, np.nan), "acc": (np.float64, 0.0),
          "acc1": (np.float64, 0.0), "ind": _MEAN["value"], "ind_started": _MEAN["started"], "ind_wt": _MEAN["old_wt"],
          "ind_nobs": _MEAN["nobs"], "ind_gap": _MEAN["gap"]}
_SENT = ("first", "acc", "acc1", "ind")  # the probes the fold of the summaries reads


@dataclasses.dataclass(frozen=True)
class _Spec:
    """What every task needs: the parameters as :class:`streamopt.EWM` resolved them, and where the data is."""

    stat: str  # "mean", "sum" or "var"
    biased: bool
    sqrt: bool
    alpha: float
    log_beta: float
    adjust: bool
    hold: bool
    count_missing: bool
    min_periods: int
    halflife: Any  # a time span with times, else None
    times: Any  # None, a column name, _INDEX, or _GIVEN (an Array's: each task is given its block's times)
    by: Any  # None or a column name
    drop: tuple  # columns that are not values
    axis: int
    lanes: int

    @property
    def fields(self) -> dict[str, tuple[Any, Any]]:
        return _COV if self.stat == "var" else _MEAN


_INDEX = "__streamopt_index__"
_GIVEN = "__streamopt_given__"


# ----------------------------------------------------------------- the carried state
class _Carry:
    """Per-key states after some rows: arrays (lanes, keys), the keys (None: one series), last times, rows so far."""

    def __init__(self, spec: _Spec, keys: pd.Index | None, nkeys: int, rows: int = 0) -> None:
        self.keys = keys
        self.rows = rows
        self.arrays = {name: np.full((spec.lanes, nkeys), init, dtype=dtype)
                       for name, (dtype, init) in spec.fields.items()}
        self.last = np.zeros(nkeys, dtype=np.int64)
        self.seen = np.zeros(nkeys, dtype=np.bool_)

    @property
    def nkeys(self) -> int:
        return len(self.last)

    def copy(self) -> "_Carry":
        other = object.__new__(_Carry)
        other.keys, other.rows = self.keys, self.rows
        other.arrays = {name: a.copy() for name, a in self.arrays.items()}
        other.last, other.seen = self.last.copy(), self.seen.copy()
        return other

    def slots(self, spec: _Spec, uniques: Any) -> np.ndarray:
        """The slot of each of ``uniques`` (keys), new keys appended with a fresh state (in place)."""
        if self.keys is None:
            return np.zeros(len(uniques), dtype=np.int64)
        uniques = pd.Index(uniques)
        pos = self.keys.get_indexer(uniques)
        new = np.flatnonzero(pos < 0)
        if new.size:
            pos[new] = self.nkeys + np.arange(new.size)
            self.keys = self.keys.append(uniques[new])
            fresh = _Carry(spec, None, new.size)
            self.arrays = {name: np.concatenate([a, fresh.arrays[name]], axis=1) for name, a in self.arrays.items()}
            self.last = np.concatenate([self.last, fresh.last])
            self.seen = np.concatenate([self.seen, fresh.seen])
        return pos.astype(np.int64)

    def take(self, slots: np.ndarray, keys: Any) -> "_Carry":
        """The states of ``slots`` only, as a carry of the keys ``keys`` (in that order)."""
        other = object.__new__(_Carry)
        other.keys, other.rows = (None if self.keys is None else pd.Index(keys)), self.rows
        other.arrays = {name: a[:, slots] for name, a in self.arrays.items()}
        other.last, other.seen = self.last[slots], self.seen[slots]
        return other


# ----------------------------------------------------------------- one partition's data
@dataclasses.dataclass
class _Part:
    lanes: np.ndarray  # (k, n) float64
    wrap: Any
    codes: np.ndarray  # key number per row (−1: no key)
    uniques: Any  # the keys of the codes
    ticks: np.ndarray | None  # times as int64 ticks of ``unit``
    times: pd.DatetimeIndex | None
    unit: str
    unit_ticks: float  # the halflife in ticks

    @property
    def n(self) -> int:
        return self.lanes.shape[1]


def _where(p: int, i: int, rows: int) -> str:
    """Row i of partition p, ``rows`` rows before it: its position in the whole data and in the partition."""
    return f"position {rows + i} (row {i} of partition {p})"


def _ends(keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(each distinct key, the row of its first occurrence, of its last) among ``keys`` (one per row of ``rows``)."""
    distinct, first = np.unique(keys, return_index=True)
    _, from_end = np.unique(keys[::-1], return_index=True)
    return distinct, rows[first], rows[len(keys) - 1 - from_end]


def _read(block: Any, spec: _Spec, p: int, given: Any = None) -> _Part:
    """One partition (a pandas object, or an array block) as lanes, keys and times; errors name the partition."""
    try:
        if isinstance(block, pd.DataFrame):
            values = block.drop(columns=list(spec.drop)) if spec.drop else block
            lanes, wrap, _ = _data(values, 0)
        else:
            lanes, wrap, _ = _data(block, spec.axis)
        n = lanes.shape[1]
        if spec.by is None:
            codes, uniques = np.zeros(n, dtype=np.int64), [None] if n else []
        else:
            codes, _, uniques = _keys(spec.by, n, block)
            uniques = pd.Index(uniques)
        ticks = times = None
        unit, unit_ticks = "ns", 1.0
        if spec.times is not None:
            if spec.times == _GIVEN:
                raw = given
            elif spec.times == _INDEX:
                raw = block.index
            else:
                raw = block[spec.times]
            times, unit = _times(raw, n, None)
            ticks = np.ascontiguousarray(times.asi8)
            unit_ticks = _halflife_ticks(spec.halflife, unit)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{exc} (in partition {p})") from exc
    return _Part(np.ascontiguousarray(lanes), wrap, np.ascontiguousarray(codes, dtype=np.int64), uniques, ticks,
                 times, unit, unit_ticks)


def _backwards(spec: _Spec, part: _Part, i: int, prev: Any, key: Any, p: int, rows: int | None) -> ValueError:
    within = "" if spec.by is None else " within each key of by"
    named = "" if spec.by is None else f" (key {key!r})"
    return ValueError(f"times must be non-decreasing{within}, got {part.times[i]} at {_where(p, i, rows)} "
                      f"after {prev}{named}")


def _deltas(spec: _Spec, part: _Part, carry: _Carry, slot: np.ndarray, p: int) -> np.ndarray:
    """Each row's step in decay units from its key's last row (in this partition or before); checks the times."""
    if spec.times is None:
        return np.ones(part.n)
    present = np.unique(slot[slot >= 0])
    known = present[carry.seen[present]]
    ext_ticks = np.concatenate([carry.last[known], part.ticks])
    ext_slots = np.concatenate([known, slot])
    ext = np.empty(len(ext_ticks))
    i = _kewm.key_gaps(ext_ticks, ext_slots, max(carry.nkeys, 1), part.unit_ticks, ext)
    if i >= 0:
        pos = i - known.size
        earlier = np.flatnonzero(slot[:pos] == slot[pos])
        prev = part.times[earlier[-1]] if earlier.size else pd.Timestamp(int(carry.last[slot[pos]]), unit=part.unit)
        raise _backwards(spec, part, pos, prev, part.uniques[part.codes[pos]], p, carry.rows)
    return ext[known.size:]


def _run(spec: _Spec, part: _Part, carry: _Carry, p: int) -> tuple[Any, _Carry]:
    """The statistic of one partition from ``carry``: (the partition's result, the carry after it)."""
    carry = carry.copy()
    slots = carry.slots(spec, part.uniques)
    slot = np.where(part.codes >= 0, slots[np.maximum(part.codes, 0)] if len(slots) else -1, -1).astype(np.int64)
    deltas = _deltas(spec, part, carry, slot, p)
    out = np.empty(part.lanes.shape)
    a = carry.arrays
    if spec.stat == "var":
        _kscan.carry_cov(part.lanes, out, deltas, slot, *a.values(), spec.log_beta, spec.alpha, spec.adjust,
                         spec.count_missing, spec.min_periods, spec.biased)
    else:
        _kscan.carry_mean_sum(part.lanes, out, deltas, slot, *a.values(), spec.log_beta, spec.alpha, spec.adjust,
                              spec.times is not None, spec.count_missing, spec.hold, spec.min_periods,
                              spec.stat == "mean")
    if spec.times is not None and part.n:
        rows = np.flatnonzero(slot >= 0)
        keys, _, last = _ends(slot[rows], rows)
        carry.last[keys], carry.seen[keys] = part.ticks[last], True
    carry.rows += part.n
    if spec.sqrt:
        np.sqrt(out, out=out)
    return part.wrap(out), carry


def _exact_task(block: Any, given: Any, carry: _Carry, spec: _Spec, p: int) -> tuple[Any, _Carry]:
    return _run(spec, _read(block, spec, p, given), carry, p)


def _start(spec: _Spec) -> _Carry:
    return _Carry(spec, None if spec.by is None else pd.Index([]), 1 if spec.by is None else 0)


# ----------------------------------------------------------------- the scan
@dataclasses.dataclass
class _Summary:
    n: int
    uniques: Any
    arrays: dict[str, np.ndarray]  # the partition's state from scratch, and the probes
    present: np.ndarray  # per key: has a row here
    first_tick: np.ndarray
    first_row: np.ndarray
    last_tick: np.ndarray
    unit: str
    unit_ticks: float
    bad: int  # the first row whose time goes back within the partition, −1: none
    bad_message: tuple


def _summary_task(block: Any, given: Any, spec: _Spec, p: int) -> _Summary:
    part = _read(block, spec, p, given)
    nk = len(part.uniques) if spec.by is not None else 1
    codes = part.codes
    deltas = np.ones(part.n)
    bad, message = -1, ()
    first_tick = last_tick = np.zeros(nk, dtype=np.int64)  # per key: its first and last row's time
    first_row = np.zeros(nk, dtype=np.int64)
    rows = np.flatnonzero(codes >= 0)
    present = np.zeros(nk, dtype=np.bool_)
    present[codes[rows]] = True
    if spec.times is not None:
        bad = _kewm.key_gaps(part.ticks, codes, max(nk, 1), part.unit_ticks, deltas)
        if bad >= 0:
            prev = part.times[np.flatnonzero(codes[:bad] == codes[bad])[-1]]
            message = (part.times[bad], prev, part.uniques[codes[bad]])
        keys, first, last = _ends(codes[rows], rows)
        first_tick, last_tick = np.zeros(nk, dtype=np.int64), np.zeros(nk, dtype=np.int64)
        first_row[keys], first_tick[keys], last_tick[keys] = first, part.ticks[first], part.ticks[last]
    k = part.lanes.shape[0]
    arrays = {name: np.full((k, nk), init, dtype=dtype) for name, (dtype, init) in {**spec.fields, **_PROBE}.items()}
    if spec.stat == "var":
        _kscan.summary_cov(part.lanes, deltas, codes, *arrays.values(), spec.log_beta, spec.alpha, spec.adjust,
                           spec.count_missing)
    else:
        _kscan.summary_mean_sum(part.lanes, deltas, codes, *arrays.values(), spec.log_beta, spec.alpha,
                                spec.adjust, spec.times is not None, spec.count_missing, spec.hold,
                                spec.stat == "mean")
    kept = {name: a for name, a in arrays.items() if name in spec.fields or name in _SENT}  # what the fold reads
    return _Summary(part.n, part.uniques, kept, present, first_tick, first_row, last_tick, part.unit,
                    part.unit_ticks, bad, message)


def _combine_task(summaries: list[_Summary], spec: _Spec) -> list[_Carry]:
    """Each partition's incoming state (its keys only), folding the summaries in order; the cross-partition checks."""
    state = _start(spec)
    incoming = []
    names = list(spec.fields)
    for p, sm in enumerate(summaries):
        if sm.bad >= 0:
            t, prev, key = sm.bad_message
            within = "" if spec.by is None else " within each key of by"
            named = "" if spec.by is None else f" (key {key!r})"
            raise ValueError(f"times must be non-decreasing{within}, got {t} at {_where(p, sm.bad, state.rows)} "
                             f"after {prev}{named}")
        slots = state.slots(spec, sm.uniques) if spec.by is not None else np.zeros(1, dtype=np.int64)
        mine = state.take(slots, sm.uniques)
        incoming.append(mine)
        lead = np.zeros(len(slots))
        if spec.times is not None:
            on = sm.present & mine.seen
            back = np.flatnonzero(on & (sm.first_tick < mine.last))
            if back.size:
                s = back[np.argmin(sm.first_row[back])]
                unit = sm.unit
                raise ValueError(
                    f"times must be non-decreasing{'' if spec.by is None else ' within each key of by'}, got "
                    f"{pd.Timestamp(int(sm.first_tick[s]), unit=unit)} at {_where(p, int(sm.first_row[s]), state.rows)}"
                    f" after {pd.Timestamp(int(mine.last[s]), unit=unit)} (from partition {p - 1} or before)"
                    + ("" if spec.by is None else f" (key {sm.uniques[s]!r})"))
            lead[on] = (sm.first_tick[on] - mine.last[on]).astype(np.float64) / sm.unit_ticks
        out = {name: a.copy() for name, a in mine.arrays.items()}
        f = sm.arrays
        probes = (f["first"], f["acc"], f["acc1"], f["ind"])
        if spec.stat == "var":
            _kscan.combine_cov(*out.values(), lead, *(f[name] for name in names), *probes, spec.log_beta,
                               spec.alpha, spec.adjust, spec.count_missing)
        else:
            _kscan.combine_mean_sum(*out.values(), lead, *(f[name] for name in names), *probes, spec.log_beta,
                                    spec.alpha, spec.adjust, spec.times is not None, spec.count_missing, spec.hold,
                                    spec.stat == "mean")
        for name, a in out.items():
            state.arrays[name][:, slots] = a
        if spec.times is not None:
            state.last[slots[sm.present]] = sm.last_tick[sm.present]
            state.seen[slots[sm.present]] = True
        state.rows += sm.n
    return incoming


def _fixup_task(block: Any, given: Any, incoming: _Carry, spec: _Spec, p: int) -> Any:
    return _run(spec, _read(block, spec, p, given), incoming, p)[0]


# ----------------------------------------------------------------- the graph
def _sample_times(times: Any) -> Any:
    """Two times of ``times``' dtype (the first one twice) for checking the parameters on a sample."""
    values = np.asarray(times)
    return values[:1].repeat(2) if values.size else values


class DaskEWM:
    """Exponentially weighted statistics of a Dask collection, made by :func:`ewm`: lazy, partition by partition.

    Every method returns a Dask collection of the input's type with its
    partitions and divisions (a DataFrame without the ``times``/``by``
    columns; an Array with its chunks), in float64.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd, streamopt, streamopt.dask
    >>> s = pd.Series([1.0, 2.0, None, 4.0, 5.0], name="x")
    >>> lazy = streamopt.dask.ewm(dd.from_pandas(s, npartitions=2), alpha=0.5).mean()
    >>> lazy.compute().equals(streamopt.ewm(s, alpha=0.5).mean())
    True
    """

    def __init__(self, obj: Any, com: Any = None, span: Any = None, halflife: Any = None, alpha: Any = None, *,
                 min_periods: Any = 0, adjust: Any = True, ignore_na: Any = False, times: Any = None,
                 by: Any = None, axis: Any = 0, method: Any = "exact") -> None:
        if not isinstance(method, str) or method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        if not isinstance(obj, (dd.DataFrame, dd.Series, da.Array)):
            raise TypeError(f"obj must be a Dask DataFrame, Series or Array, got {type(obj).__name__} "
                            "(streamopt.ewm takes in-memory data)")
        self._obj, self._method = obj, method
        where: Any = None
        drop: list[str] = []
        if isinstance(obj, da.Array):
            if by is not None:
                raise TypeError(f"by must be None for a Dask Array (keys need a DataFrame column), got {by!r}")
            if obj.ndim not in (1, 2):
                raise ValueError(f"obj must be 1-D or 2-D, got {obj.ndim}-D input of shape {obj.shape}")
            sample: Any = np.zeros((2,) * obj.ndim)
            sample_times = None if times is None else _sample_times(times)
            # the parameters, checked as streamopt.ewm checks them, on a sample
            probe = EWM(sample, com, span, halflife, alpha, min_periods=min_periods, adjust=adjust,
                        ignore_na=ignore_na, times=sample_times, axis=axis)
            self._axis = _checks.check_int("axis", axis) % obj.ndim
            self._given = None if times is None else self._array_times(times)
            where = None if times is None else _GIVEN
        else:
            meta = obj._meta_nonempty
            if isinstance(meta, pd.DataFrame):  # an object column's sample is text: its values are checked in the graph
                meta = meta.assign(**{c: 0.0 for c, t in meta.dtypes.items() if t == object and c not in (times, by)})
            elif meta.dtype == object:
                meta = pd.Series(0.0, index=meta.index, name=meta.name)
            sample_times = times
            if isinstance(times, dd.Index):
                sample_times, where = meta.index, _INDEX
            elif isinstance(times, str):
                where = times
            elif times is not None:
                raise TypeError(f"times must be a column name or the collection's index (ddf.index) for a Dask "
                                f"DataFrame or Series, got {type(times).__name__}")
            if by is not None and not (isinstance(by, str) and isinstance(obj, dd.DataFrame)):
                raise TypeError(f"by must be the name of a column of the Dask DataFrame, got {by!r}")
            probe = EWM(meta, com, span, halflife, alpha, min_periods=min_periods, adjust=adjust,
                        ignore_na=ignore_na, times=sample_times, by=by, axis=axis)
            if isinstance(obj, dd.DataFrame):
                drop = [c for c in (times, by) if isinstance(c, str) and c in obj.columns]
            self._axis, self._given = 0, None
        self._probe = probe
        self._base = dict(alpha=probe._alpha, log_beta=probe._log_beta, adjust=probe._adjust, hold=probe._ignore_na,
                          count_missing=probe._count_missing, min_periods=probe._min_periods,
                          halflife=halflife if times is not None else None, times=where, by=by,
                          drop=tuple(dict.fromkeys(drop)), axis=self._axis)

    def _array_times(self, times: Any) -> tuple:
        """The times of a Dask Array cut as its chunks along the smoothed axis (checked inside the graph)."""
        if isinstance(times, (da.Array, dd.Series, dd.Index)):
            raise TypeError("times must be an in-memory datetime array for a Dask Array, got a Dask collection")
        values = np.asarray(times)
        n = self._obj.shape[self._axis]
        if values.ndim != 1 or len(values) != n:
            raise ValueError(f"times must have one entry per row ({n}), got shape {values.shape}")
        edges = np.cumsum((0,) + self._obj.chunks[self._axis])
        return tuple(values[a:b] for a, b in zip(edges[:-1], edges[1:]))

    # ------------------------------------------------------------ statistics
    def mean(self) -> Any:
        r"""The EW mean Σ w_i x_i / Σ w_i, as :meth:`streamopt.EWM.mean` (lazy).

        Examples
        --------
        >>> import numpy as np, dask.array as da, streamopt, streamopt.dask
        >>> x = da.from_array(np.array([1.0, 2.0, 3.0, 4.0]), chunks=2)
        >>> streamopt.dask.ewm(x, alpha=0.5).mean().compute()
        array([1.        , 1.66666667, 2.42857143, 3.26666667])
        """
        self._probe._numeric("mean", False)  # a frame with text columns: refused as ewm refuses it
        return self._build("mean", False, False)

    def sum(self) -> Any:
        """The EW sum Σ w_i x_i, as :meth:`streamopt.EWM.sum` (adjust=True only; lazy)."""
        if not self._base["adjust"]:
            raise NotImplementedError("sum is defined for adjust=True only (as in pandas), got adjust=False")
        self._probe._numeric("sum", False)  # a frame with text columns: refused as ewm refuses it
        return self._build("sum", False, False)

    def var(self, bias: Any = False) -> Any:
        """The EW variance, as :meth:`streamopt.EWM.var` (lazy)."""
        self._probe._numeric("var", False)  # a frame with text columns: refused as ewm refuses it
        return self._build("var", _check_bias(bias), False)

    def std(self, bias: Any = False) -> Any:
        """The EW standard deviation √var, as :meth:`streamopt.EWM.std` (lazy)."""
        self._probe._numeric("std", False)  # a frame with text columns: refused as ewm refuses it
        return self._build("var", _check_bias(bias), True)

    # ------------------------------------------------------------ the graph
    def _blocks(self, seed: str | None = None) -> tuple[list[list[Any]], int]:
        """The input's blocks as chains along the smoothed axis: [chain][position], and the lanes of one block.

        ``seed``: the blocks of a copy of the input's graph (new keys: its tasks run again).
        """
        obj = self._obj
        if isinstance(obj, da.Array):
            grid = (obj if seed is None else clone(obj, seed=seed)).to_delayed()
            if obj.ndim == 1:
                return [list(grid)], 1
            chains = grid.T if self._axis == 0 else grid
            return [list(row) for row in chains], 0
        parts = obj.to_delayed()
        if seed is not None:
            cloned = clone(*parts, seed=seed) if parts else []
            parts = [cloned] if len(parts) == 1 else list(cloned)  # clone returns one object for one argument
        if isinstance(obj, dd.Series):
            return [list(parts)], 1
        return [list(parts)], len(obj.columns) - len(self._base["drop"])

    def _build(self, stat: str, biased: bool, sqrt: bool) -> Any:
        obj = self._obj
        chains, lanes = self._blocks()
        token = tokenize(obj, self._method, stat, biased, sqrt, self._base)
        name = f"streamopt-ewm-{stat}{'-std' if sqrt else ''}-{self._method}-{token}"
        # the scan's pass 1 reads a copy of the input: nothing is held in memory for pass 2
        firsts = self._blocks(seed=name)[0] if self._method == "scan" else chains
        results = []
        for c, (chain, first) in enumerate(zip(chains, firsts)):
            k = lanes or (obj.chunks[1 - self._axis][c] if obj.ndim == 2 else 1)
            spec = _Spec(stat=stat, biased=biased, sqrt=sqrt, lanes=k, **self._base)
            given = self._given or [None] * len(chain)  # an Array's times, cut as its chunks
            results.append(self._exact(chain, given, spec, f"{name}-{c}") if self._method == "exact"
                           else self._scan(chain, first, given, spec, f"{name}-{c}"))
        if isinstance(obj, da.Array):
            return self._assemble_array(results)
        meta = obj._meta
        if isinstance(meta, pd.DataFrame) and self._base["drop"]:
            meta = meta.drop(columns=list(self._base["drop"]))
        meta = meta.astype(np.float64)
        divisions = obj.divisions if obj.known_divisions else None
        return dd.from_delayed(results[0], meta=meta, divisions=divisions, verify_meta=False)

    @staticmethod
    def _exact(chain: list[Any], given: list[Any], spec: _Spec, name: str) -> list[Any]:
        task = dask.delayed(_exact_task, nout=2, pure=True)
        carry: Any = dask.delayed(_start, pure=True)(spec, dask_key_name=f"{name}-start")
        outs = []
        for p, block in enumerate(chain):
            out, carry = task(block, given[p], carry, spec, p, dask_key_name=f"{name}-part-{p}")
            outs.append(out)
        return outs

    @staticmethod
    def _scan(chain: list[Any], first: list[Any], given: list[Any], spec: _Spec, name: str) -> list[Any]:
        summaries = [dask.delayed(_summary_task, pure=True)(block, given[p], spec, p,
                                                            dask_key_name=f"{name}-summary-{p}")
                     for p, block in enumerate(first)]
        incoming = dask.delayed(_combine_task, pure=True)(summaries, spec, dask_key_name=f"{name}-combine")
        return [dask.delayed(_fixup_task, pure=True)(block, given[p], incoming[p], spec, p,
                                                     dask_key_name=f"{name}-part-{p}")
                for p, block in enumerate(chain)]

    def _assemble_array(self, results: list[list[Any]]) -> Any:
        obj = self._obj
        if obj.ndim == 1:
            return da.concatenate([da.from_delayed(r, shape=(n,), dtype=np.float64)
                                   for r, n in zip(results[0], obj.chunks[0])]) if results[0] else \
                da.zeros(obj.shape, chunks=obj.chunks)
        rows = []
        for c, chain in enumerate(results):
            other = obj.chunks[1 - self._axis][c]
            shapes = [(n, other) if self._axis == 0 else (other, n) for n in obj.chunks[self._axis]]
            rows.append([da.from_delayed(r, shape=s, dtype=np.float64) for r, s in zip(chain, shapes)])
        grid = [list(col) for col in zip(*rows)] if self._axis == 0 else rows
        return da.block(grid)


def _check_bias(bias: Any) -> bool:
    return _checks.check_bool("bias", bias)


def ewm(obj: Any, com: Any = None, span: Any = None, halflife: Any = None, alpha: Any = None, *,
        min_periods: Any = 0, adjust: Any = True, ignore_na: Any = False, times: Any = None, by: Any = None,
        axis: Any = 0, method: str = "exact") -> DaskEWM:
    r"""Exponentially weighted statistics of a Dask DataFrame, Series or Array, with :func:`streamopt.ewm`'s parameters.

    Parameters
    ----------
    obj : dask DataFrame, Series or Array
        1-D, or 2-D with the series along ``axis`` (a DataFrame: down its
        rows, one series per column).  Partitions (chunks along ``axis``) are
        read in order; their divisions may be unknown.
    com, span, halflife, alpha, min_periods, adjust, ignore_na
        As in :func:`streamopt.ewm`.
    times : str, ``obj.index`` or datetime array, optional
        A column name, the collection's index, or (an Array) an in-memory
        datetime array with one time per row along ``axis``.
    by : str, optional
        A column of keys: each key's rows are their own series, carried
        across partitions (a key may appear in any partitions).
    axis : int
        The time axis of a 2-D Array.
    method : {"exact", "scan"}
        "exact": each partition from its predecessor's state, bit for bit
        ``streamopt.ewm`` on the concatenated data; "scan": a parallel
        prefix scan, equal to "exact" within 1e-12 relative.

    Returns
    -------
    DaskEWM
        With ``mean``, ``sum``, ``var`` and ``std``, each a lazy collection.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd, streamopt, streamopt.dask
    >>> df = pd.DataFrame({"v": [1.0, 10.0, 3.0, 20.0, 5.0], "k": ["a", "b", "a", "b", "a"]})
    >>> ddf = dd.from_pandas(df, npartitions=2)
    >>> streamopt.dask.ewm(ddf, alpha=0.5, by="k", method="scan").mean().compute().round(6)
               v
    0   1.000000
    1  10.000000
    2   2.333333
    3  16.666667
    4   3.857143
    """
    return DaskEWM(obj, com, span, halflife, alpha, min_periods=min_periods, adjust=adjust, ignore_na=ignore_na,
                   times=times, by=by, axis=axis, method=method)


class DaskAccessor:
    """``ddf.streamopt.ewm(...)`` on Dask DataFrames and Series: :func:`streamopt.dask.ewm` on the collection.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd, streamopt.dask
    >>> s = dd.from_pandas(pd.Series([1.0, 3.0], name="x"), npartitions=1)
    >>> s.streamopt.ewm(alpha=0.5).mean().compute().tolist()
    [1.0, 2.3333333333333335]
    """

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def ewm(self, com: Any = None, span: Any = None, halflife: Any = None, alpha: Any = None,
            **kwargs: Any) -> DaskEWM:
        """See :func:`streamopt.dask.ewm` (same parameters)."""
        return ewm(self._obj, com, span, halflife, alpha, **kwargs)


dd.extensions.register_dataframe_accessor("streamopt")(DaskAccessor)
dd.extensions.register_series_accessor("streamopt")(DaskAccessor)
