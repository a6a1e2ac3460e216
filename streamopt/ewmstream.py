r"""Keyed, time-aware streaming exponentially weighted statistics: :class:`EWMStream`.

The streaming twin of :func:`streamopt.ewm`: observations arrive in chunks,
each routed by its key to that key's state, and the outputs of the chunks put
end to end equal ``ewm(all values, by=all keys, times=all times)`` bit for bit,
however the data is cut (the same row kernels, :mod:`streamopt._kernels.ewm_stream`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from . import _checks
from .ewm import _TIME_SPANS, _column, _halflife_ticks, _times
from .state import (StateError, array_from_json, array_to_json, envelope, excerpt, hex_float, open_envelope,
                    parse_bool, parse_hex_float, parse_int)
from ._kernels import ewm as _kernel
from ._kernels import ewm_stream as _kstream

__all__ = ["EWMStream"]

_STATS = ("mean", "var", "std")
_KIND = "EWMStream"
_FIELDS = ("alpha", "log_beta", "halflife_ns", "adjust", "ignore_na", "min_periods", "stats", "keys", "arrays")
# name -> (dtype, initial value, the statistic group that owns it: None = every stream)
_ARRAYS = {
    "last_time": ("int64", 0, None), "seen": ("bool", False, None),
    "values": ("float64", np.nan, "mean"), "m_starts": ("bool", False, "mean"), "old_wts": ("float64", 1.0, "mean"),
    "m_nobss": ("int64", 0, "mean"), "m_gaps": ("float64", 0.0, "mean"),
    "v_starts": ("bool", False, "var"), "wts": ("float64", 1.0, "var"), "s2s": ("float64", 1.0, "var"),
    "dens": ("float64", 0.0, "var"), "mxs": ("float64", np.nan, "var"), "cs": ("float64", 0.0, "var"),
    "v_nobss": ("int64", 0, "var"), "v_gaps": ("float64", 0.0, "var"),
}


class EWMStream:
    r"""Exponentially weighted mean, variance and standard deviation of keyed streams, fed in chunks.

    Parameters
    ----------
    com, span, halflife, alpha : float
        Exactly one, as in :func:`streamopt.ewm`: α = 1/(1 + com),
        α = 2/(span + 1), α = 1 − exp(−ln 2/halflife) or α in (0, 1].  Or
        ``halflife`` a time span ("2D", ``pd.Timedelta``, ``np.timedelta64``,
        ``datetime.timedelta``): then every :meth:`update` must give ``times``,
        and observation i weighs 0.5^{(t − t_i)/halflife} at time t.
    adjust, ignore_na, min_periods
        As in :func:`streamopt.ewm` (and pandas' ``ewm``).
    stats : sequence of str
        The statistics :meth:`update` returns, in this order: any of "mean",
        "var", "std" (var and std unbiased, pandas' ``bias=False``).

    Notes
    -----
    Each key's state is the batch kernels' state after its rows so far, so
    for any split of the data into chunks the outputs put together equal
    ``streamopt.ewm(values, ..., by=keys, times=times).mean()`` (``var()``,
    ``std()``) bit for bit.  Times are read in nanoseconds (tz-aware times as
    UTC).  Keys are str or int (one kind per stream, as JSON keeps them);
    without ``keys`` every value goes to the key None.

    A chunk is all or nothing: a time before its key's last time (or any bad
    input) raises before any state changes.

    Examples
    --------
    >>> import numpy as np, streamopt
    >>> s = streamopt.EWMStream(alpha=0.5, stats=("mean", "var"))
    >>> out = s.update(np.array([1.0, 10.0, 3.0]), keys=["a", "b", "a"])
    >>> out["mean"]
    array([ 1.        , 10.        ,  2.33333333])
    >>> s.update(5.0, keys=["b"])["mean"]
    array([6.66666667])
    >>> sorted(s.keys()), len(s), s.get("a")["count"]
    (['a', 'b'], 2, 2)
    """

    def __init__(self, com: Any = None, span: Any = None, halflife: Any = None, alpha: Any = None, *,
                 adjust: Any = True, ignore_na: Any = False, min_periods: Any = 0,
                 stats: Any = ("mean",)) -> None:
        self._adjust = _checks.check_bool("adjust", adjust)
        self._ignore_na = _checks.check_bool("ignore_na", ignore_na)
        mp = 0 if min_periods is None else _checks.check_int("min_periods", min_periods, minimum=0)
        self._min_periods = max(mp, 1)
        self._stats = _check_stats(stats)
        if isinstance(halflife, _TIME_SPANS):
            others = {k: v for k, v in dict(com=com, span=span, alpha=alpha).items() if v is not None}
            if others:
                name = next(iter(others))
                raise ValueError(f"with a time-span halflife give no other decay, got {name}={others[name]!r}")
            self._halflife_ns: float | None = _halflife_ticks(halflife, "ns")
            self._alpha, self._log_beta = 0.5, math.log(0.5)
        else:
            a = _checks.resolve_alpha(com=com, span=span, halflife=halflife, alpha=alpha,
                                      accepted=("com", "span", "halflife", "alpha"))
            self._halflife_ns = None
            self._alpha, self._log_beta = a, (math.log1p(-a) if a < 1.0 else -math.inf)
        self._slot_of: dict[Any, int] = {}
        self._keys: list[Any] = []
        self._arrays = {name: np.full(16, init, dtype=dtype) for name, (dtype, init, group) in _ARRAYS.items()
                        if self._tracks(group)}

    # ------------------------------------------------------------ helpers
    def _tracks(self, group: str | None) -> bool:
        if group is None:
            return True
        if group == "mean":
            return "mean" in self._stats
        return "var" in self._stats or "std" in self._stats

    @property
    def _times(self) -> bool:
        return self._halflife_ns is not None

    def _grow(self, size: int) -> None:
        cap = len(self._arrays["seen"])
        if size <= cap:
            return
        cap = max(size, 2 * cap)
        for name, a in self._arrays.items():
            dtype, init, _ = _ARRAYS[name]
            grown = np.full(cap, init, dtype=dtype)
            grown[:len(a)] = a
            self._arrays[name] = grown

    def _key_kind(self, uniques: np.ndarray) -> list[Any]:
        """The chunk's unique keys as Python str or int, of the stream's one kind; TypeError otherwise."""
        kind = pd.api.types.infer_dtype(uniques, skipna=False)
        if kind == "string":
            keys = [str(k) for k in uniques]
        elif kind == "integer" and not pd.api.types.is_bool_dtype(uniques):
            keys = [int(k) for k in uniques]
        else:
            raise TypeError(f"keys must be all str or all int, got keys {excerpt(list(uniques))} (kind {kind!r})")
        if self._keys:
            have = type(self._keys[0])
            if have is type(None) or have is not type(keys[0]):
                raise TypeError(f"keys must be of one kind for the stream's life ({have.__name__}), "
                                f"got {excerpt(keys[0])}")
        return keys

    def _codes(self, keys: Any, n: int) -> tuple[np.ndarray, list[Any]]:
        """(code per row, the chunk's unique keys) for ``keys``, or for the key None without keys."""
        if keys is None:
            if self._keys and self._keys[0] is not None:
                raise ValueError("keys must be given on every update of a keyed stream, got None")
            return np.zeros(n, dtype=np.int64), ([None] if n else [])
        if self._keys and self._keys[0] is None:
            raise ValueError(f"keys must be None for a stream fed without keys, got {excerpt(keys)}")
        if isinstance(keys, (str, bytes)) or np.ndim(keys) != 1:
            raise ValueError(f"keys must be a 1-D array of str or int keys (one per value), got {excerpt(keys)}")
        if len(keys) != n:
            raise ValueError(f"keys must have one key per value ({n}), got {len(keys)}")
        arr = keys if isinstance(keys, (pd.Series, pd.Index, np.ndarray)) else np.asarray(keys, dtype=object)
        try:
            codes, uniques = pd.factorize(arr, use_na_sentinel=True)
        except TypeError as exc:
            raise TypeError(f"keys must hold str or int keys, got {excerpt(keys)}: {exc}") from exc
        missing = np.flatnonzero(codes < 0)
        if missing.size:
            raise ValueError(f"keys must not hold missing keys (None, NaN), got one at position {missing[0]}")
        if n == 0:
            return np.ascontiguousarray(codes, dtype=np.int64), []
        return np.ascontiguousarray(codes, dtype=np.int64), self._key_kind(np.asarray(uniques, dtype=object))

    def _slots(self, uniques: list[Any]) -> np.ndarray:
        """Each key's state slot, -1 for a key not known yet."""
        return np.array([self._slot_of.get(k, -1) for k in uniques], dtype=np.int64)

    def _add_keys(self, uniques: list[Any], slots: np.ndarray) -> None:
        """Give the keys of slot -1 the next slots (fresh states), in order; fills ``slots``."""
        new = np.flatnonzero(slots < 0)
        if new.size:
            self._grow(len(self._keys) + new.size)
            for c in new:
                slots[c] = len(self._keys)
                self._slot_of[uniques[c]] = len(self._keys)
                self._keys.append(uniques[c])

    def _values(self, values: Any) -> tuple[np.ndarray, Any]:
        """(float64 values, the Series' index or None)."""
        if isinstance(values, pd.Series):
            return np.ascontiguousarray(_column(values.array, values.dtype, "values")), values.index
        if isinstance(values, (pd.DataFrame, str, bytes)) or values is None:
            raise TypeError(f"values must be a number, a 1-D array or a Series, got {excerpt(values)}")
        x = _checks.as_float_array(values, "values")
        if x.ndim == 0:
            x = x.reshape(1)
        if x.ndim != 1:
            raise ValueError(f"values must be a number or 1-D, got shape {x.shape}")
        return np.ascontiguousarray(x, dtype=np.float64), None

    # ------------------------------------------------------------ the stream
    def update(self, values: Any, *, times: Any = None, keys: Any = None) -> Any:
        r"""Feed ``values`` (in order) and return each requested statistic after each value.

        Parameters
        ----------
        values : float, 1-D array-like or Series
            NaN and ±inf are missing (they age the key's past as in ``ewm``).
        times : DatetimeIndex or datetime64 array, optional
            One per value, no NaT, each not before its key's last time; given
            iff the stream's halflife is a time span.
        keys : 1-D array of str or int, optional
            One per value: the series it belongs to.

        Returns
        -------
        dict of str -> ndarray, or DataFrame
            One entry (column) per statistic of ``stats``; a DataFrame on the
            Series' index when ``values`` is a Series.
        """
        x, index = self._values(values)
        n = x.shape[0]
        codes, uniques = self._codes(keys, n)
        slots = self._slots(uniques)
        deltas, ticks = self._deltas(times, n, codes, slots, uniques)
        self._add_keys(uniques, slots)  # validated: from here on nothing can fail
        out_mean = np.empty(n if "mean" in self._stats else 0)
        out_var = np.empty(n if self._tracks("var") else 0)
        a = self._arrays
        empty_f, empty_b, empty_i = np.empty(0), np.empty(0, dtype=np.bool_), np.empty(0, dtype=np.int64)
        m = [a.get(k, e) for k, e in (("values", empty_f), ("m_starts", empty_b), ("old_wts", empty_f),
                                      ("m_nobss", empty_i), ("m_gaps", empty_f))]
        v = [a.get(k, e) for k, e in (("v_starts", empty_b), ("wts", empty_f), ("s2s", empty_f), ("dens", empty_f),
                                      ("mxs", empty_f), ("cs", empty_f), ("v_nobss", empty_i),
                                      ("v_gaps", empty_f))]
        _kstream.stream_chunk(x, deltas, ticks, codes, slots, a["last_time"], a["seen"], self._log_beta, self._alpha, self._adjust, self._times,
                              self._times or not self._ignore_na, self._min_periods,
                              "mean" in self._stats, *m, out_mean, self._tracks("var"), *v, out_var)
        cols = {"mean": out_mean, "var": out_var}
        result = {s: (np.sqrt(out_var) if s == "std" else cols[s]) for s in self._stats}
        if index is not None:
            return pd.DataFrame(result, index=index)
        return result

    def _deltas(self, times: Any, n: int, codes: np.ndarray, slots: np.ndarray,
                uniques: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """(each row's step in decay units (1 without times), the times in ns); checks the times, changes nothing."""
        if not self._times:
            if times is not None:
                raise ValueError("times may be given only with a time-span halflife (such as '2D'), "
                                 f"got times with alpha={self._alpha!r}")
            return np.ones(n), np.empty(0, dtype=np.int64)
        if times is None:
            raise ValueError("times must be given on every update of a stream with a time-span halflife, got None")
        t, _ = _times(times, n, None)
        ticks = t.as_unit("ns").asi8
        # each known key's last time as a row before the chunk: the batch kernel's gaps, from the saved times
        known = np.flatnonzero((slots >= 0))
        known = known[self._arrays["seen"][slots[known]]]
        ext_ticks = np.concatenate([self._arrays["last_time"][slots[known]], ticks])
        ext_codes = np.concatenate([known, codes])
        ext = np.empty(len(ext_ticks))
        i = _kernel.key_gaps(ext_ticks, ext_codes, max(len(uniques), 1), self._halflife_ns, ext)
        if i >= 0:
            pos = i - known.size
            key = uniques[codes[pos]]
            raise ValueError(f"times must be non-decreasing within each key, got {t[pos]} at position {pos} "
                             f"of the chunk, before key {key!r}'s last time "
                             f"{pd.Timestamp(int(ext_ticks[np.flatnonzero(ext_codes[:i] == codes[pos])[-1]]))}")
        return ext[known.size:], ticks

    def get(self, key: Any = None) -> dict[str, Any]:
        """The state of ``key``: {"count", "time", "mean", "var", "std"} (None for a statistic not tracked).

        ``count``: observations so far; ``time``: the last time (a Timestamp) or
        None; the statistics as the last :meth:`update` output for the key.
        """
        if key not in self._slot_of:
            raise KeyError(f"key {key!r} has no state in this stream (keys: {excerpt(self._keys)})")
        s = self._slot_of[key]
        a = self._arrays
        out: dict[str, Any] = {"count": None, "time": None, "mean": None, "var": None, "std": None}
        if self._times and a["seen"][s]:
            out["time"] = pd.Timestamp(int(a["last_time"][s]))
        if "values" in a:
            out["count"] = int(a["m_nobss"][s])
            out["mean"] = float(a["values"][s]) if a["m_nobss"][s] >= self._min_periods else math.nan
        if "cs" in a:
            out["count"] = int(a["v_nobss"][s])
            var = (_kstream.cov_value(a["cs"][s], a["wts"][s], a["s2s"][s], a["dens"][s], False)
                   if a["v_nobss"][s] >= self._min_periods else math.nan)
            out["var"], out["std"] = float(var), math.sqrt(var) if var == var else math.nan
        return out

    def keys(self) -> list[Any]:
        """The keys seen so far, in order of first appearance."""
        return list(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    # ------------------------------------------------------------ per-key state and configuration
    @property
    def state_dtype(self) -> np.dtype:
        """The dtype of one key's state record: a packed, little-endian structured dtype.

        One field per state array the stream keeps, in a fixed order:
        ``last_time`` (int64 ns), ``seen`` (bool), then the mean's state when
        "mean" is tracked and the variance's when "var" or "std" is.  Two
        streams of the same ``stats`` have the same ``state_dtype``.
        """
        return np.dtype([(name, np.dtype(_ARRAYS[name][0]).newbyteorder("<")) for name in self._arrays])

    def key_states(self, keys: Any = None) -> np.ndarray:
        r"""The exact state of ``keys`` (all keys, in order of first appearance, when None): one record per key.

        Parameters
        ----------
        keys : 1-D sequence of str or int, optional
            Keys of this stream (``[None]`` for a stream fed without keys).

        Returns
        -------
        ndarray of dtype :attr:`state_dtype`
            A new array, one record per key in the order asked; its bytes
            (``rows.tobytes()``) read back with ``np.frombuffer(b,
            dtype=stream.state_dtype)`` are the same state.

        Raises
        ------
        KeyError
            Naming the first key this stream has no state for.

        Examples
        --------
        >>> import numpy as np, streamopt
        >>> s = streamopt.EWMStream(alpha=0.5)
        >>> _ = s.update([1.0, 10.0, 3.0], keys=["a", "b", "a"])
        >>> rows = s.key_states(["a"])
        >>> rows["values"], rows["m_nobss"]
        (array([2.33333333]), array([2]))
        >>> t = streamopt.EWMStream(**s.config())
        >>> t.set_key_states(["a"], np.frombuffer(rows.tobytes(), dtype=t.state_dtype))
        >>> t.update(5.0, keys=["a"])["mean"] == s.update(5.0, keys=["a"])["mean"]
        array([ True])
        """
        slots = np.arange(len(self._keys)) if keys is None else self._known_slots(keys)
        rows = np.empty(slots.shape[0], dtype=self.state_dtype)
        for name, a in self._arrays.items():
            rows[name] = a[slots]
        return rows

    def _known_slots(self, keys: Any) -> np.ndarray:
        """The slot of each of ``keys``; KeyError naming the first key without state."""
        if isinstance(keys, (str, bytes)) or np.ndim(keys) != 1:
            raise ValueError(f"keys must be a 1-D sequence of keys (or None for every key), got {excerpt(keys)}")
        slots = np.empty(len(keys), dtype=np.int64)
        for i, key in enumerate(keys):
            slot = self._slot_of.get(_plain_key(key), -1)
            if slot < 0:
                raise KeyError(f"key {key!r} (position {i} of keys) has no state in this stream "
                               f"(keys: {excerpt(self._keys)})")
            slots[i] = slot
        return slots

    def set_key_states(self, keys: Any, rows: Any) -> None:
        r"""Write the state records ``rows`` (as :meth:`key_states` gives them) for ``keys``.

        A key already known gets its state replaced; keys not known yet are
        added, in the order given.  All or nothing: any bad input raises
        before a state changes.

        Parameters
        ----------
        keys : 1-D sequence of str or int, or None
            Distinct keys, one per row, of the stream's one kind as in
            :meth:`update` (None, or ``[None]``, for a stream fed without keys).
        rows : ndarray of dtype :attr:`state_dtype`
            1-D, one record per key (``np.frombuffer(b, dtype=stream.state_dtype)``
            reads saved bytes).

        Examples
        --------
        >>> import streamopt
        >>> s = streamopt.EWMStream(span=3.0, stats=("mean", "var"))
        >>> _ = s.update([1.0, 2.0, 4.0], keys=[7, 8, 7])
        >>> t = streamopt.EWMStream(**s.config())
        >>> t.set_key_states([8, 7], s.key_states([8, 7]))
        >>> t.keys(), t.get(7) == s.get(7)
        ([8, 7], True)
        """
        if not isinstance(rows, np.ndarray) or rows.dtype != self.state_dtype:
            got = f"dtype {rows.dtype}" if isinstance(rows, np.ndarray) else type(rows).__name__
            raise TypeError(f"rows must be an array of the stream's state_dtype {self.state_dtype} "
                            f"(from key_states), got {got}")
        if rows.ndim != 1:
            raise ValueError(f"rows must be 1-D (one record per key), got shape {rows.shape}")
        n = rows.shape[0]
        if keys is not None and (isinstance(keys, (str, bytes)) or np.ndim(keys) != 1):
            raise ValueError(f"keys must be a 1-D sequence of keys (one per row), got {excerpt(keys)}")
        if keys is not None and len(keys) != n:
            raise ValueError(f"keys must have one key per row of rows ({n}), got {len(keys)}")
        if keys is not None and n and all(key is None for key in keys):
            keys = None  # the key None of a stream fed without keys, as keys() gives it
        codes, uniques = self._codes(keys, n)
        if len(uniques) != n:
            repeated = next(i for i, c in enumerate(codes) if c < i)
            raise ValueError(f"keys must be distinct, got {excerpt(uniques[codes[repeated]])} again at position "
                             f"{repeated}")
        for name in ("m_nobss", "v_nobss"):
            if name in self._arrays and n:
                bad = np.flatnonzero(rows[name] < 0)
                if bad.size:
                    raise ValueError(f"rows[{name!r}] must be >= 0 (a count), got {rows[name][bad[0]]} "
                                     f"at position {bad[0]}")
        slots = self._slots(uniques)
        self._add_keys(uniques, slots)  # validated: from here on nothing can fail
        for name, a in self._arrays.items():
            a[slots] = rows[name]

    def config(self) -> dict[str, Any]:
        r"""The stream's parameters in canonical, JSON-ready form: ``EWMStream(**config)`` is the same stream.

        Keys: one decay, ``alpha`` (float: a decay given as com, span or a
        number halflife comes back as the α it resolves to) or ``halflife``
        (a time span, as ``str(pd.Timedelta)``, e.g. "0 days 01:00:00", exact
        to the nanosecond); ``adjust``, ``ignore_na``, ``min_periods`` (0 is
        given back as 1, which means the same) and ``stats``.  Two streams
        that compute the same statistics the same way have equal configs,
        and a stream restored by :meth:`from_state` has its original's.

        Examples
        --------
        >>> import streamopt
        >>> streamopt.EWMStream(halflife="1h", stats=("mean", "std")).config()
        {'halflife': '0 days 01:00:00', 'adjust': True, 'ignore_na': False, 'min_periods': 1, 'stats': ['mean', 'std']}
        >>> streamopt.EWMStream(com=1.0).config() == streamopt.EWMStream(alpha=0.5).config()
        True
        """
        if self._halflife_ns is not None:
            decay: dict[str, Any] = {"halflife": str(pd.Timedelta(int(self._halflife_ns), unit="ns"))}
        else:
            decay = {"alpha": float(self._alpha)}
        return {**decay, "adjust": bool(self._adjust), "ignore_na": bool(self._ignore_na),
                "min_periods": int(self._min_periods), "stats": list(self._stats)}

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The whole stream as JSON-ready data (exact floats), for :meth:`from_state`."""
        k = len(self._keys)
        return envelope(_KIND, 1, {
            "alpha": hex_float(self._alpha), "log_beta": hex_float(self._log_beta),
            "halflife_ns": None if self._halflife_ns is None else hex_float(self._halflife_ns),
            "adjust": self._adjust, "ignore_na": self._ignore_na, "min_periods": self._min_periods,
            "stats": list(self._stats), "keys": list(self._keys),
            "arrays": {name: array_to_json(a[:k]) for name, a in self._arrays.items()},
        })

    @classmethod
    def from_state(cls, state: Any) -> "EWMStream":
        """The stream :meth:`state_dict` saved, continuing bit for bit."""
        _, state = open_envelope(state, _KIND, 1, _FIELDS)
        stream = cls.__new__(cls)
        stream._alpha = parse_hex_float("state['alpha']", state["alpha"], finite=True)
        stream._log_beta = parse_hex_float("state['log_beta']", state["log_beta"])
        hl = state["halflife_ns"]
        stream._halflife_ns = None if hl is None else parse_hex_float("state['halflife_ns']", hl, finite=True)
        stream._adjust = parse_bool("state['adjust']", state["adjust"])
        stream._ignore_na = parse_bool("state['ignore_na']", state["ignore_na"])
        stream._min_periods = parse_int("state['min_periods']", state["min_periods"], minimum=1)
        try:
            stream._stats = _check_stats(state["stats"])
        except (TypeError, ValueError) as exc:
            raise StateError(f"state['stats'] is not valid: {exc}") from exc
        keys = state["keys"]
        if not isinstance(keys, list) or not (
                all(isinstance(key, str) for key in keys) or keys == [None]
                or all(isinstance(key, int) and not isinstance(key, bool) for key in keys)):
            raise StateError(f"state['keys'] must be a list of str or of int keys, got {excerpt(keys)}")
        if len(set(keys)) != len(keys):
            raise StateError(f"state['keys'] must not repeat a key, got {excerpt(keys)}")
        stream._keys = list(keys)
        stream._slot_of = {key: i for i, key in enumerate(keys)}
        arrays = state["arrays"]
        wanted = [name for name, (_, _, group) in _ARRAYS.items() if stream._tracks(group)]
        if not isinstance(arrays, dict) or sorted(arrays) != sorted(wanted):
            raise StateError(f"state['arrays'] must have the arrays {wanted}, got {excerpt(arrays)}")
        stream._arrays = {}
        for name in wanted:
            dtype = _ARRAYS[name][0]
            got = array_from_json(f"state['arrays'][{name!r}]", arrays[name], dtype, (len(keys),))
            stream._arrays[name] = got
        stream._grow(max(len(keys), 16))
        return stream


def _plain_key(key: Any) -> Any:
    """``key`` as the stream keeps it (Python str or int); a key of another kind matches none."""
    if isinstance(key, (bool, np.bool_)):
        return ()
    if isinstance(key, np.integer):
        return int(key)
    if isinstance(key, np.str_):
        return str(key)
    return key if key is None or type(key) in (str, int) else ()


def _check_stats(stats: Any) -> tuple[str, ...]:
    if isinstance(stats, str) or not hasattr(stats, "__iter__"):
        raise TypeError(f"stats must be a sequence of names from {_STATS}, got {stats!r}")
    out = tuple(stats)
    bad = [s for s in out if s not in _STATS]
    if bad or not out or len(set(out)) != len(out):
        raise ValueError(f"stats must be distinct names from {_STATS} (at least one), got {stats!r}")
    return out
