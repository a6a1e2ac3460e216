r"""Keyed, time-aware streaming exponentially weighted statistics: :class:`EWMStream`.

The streaming twin of :func:`streamopt.ewm`: observations arrive in chunks,
each routed by its key to that key's state, and the outputs of the chunks put
end to end equal ``ewm(all values, by=all keys, times=all times)`` bit for bit,
however the data is cut (the same row kernels, :mod:`streamopt._kernels.ewm_stream`).
"""

from __future__ import annotations

import itertools
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
    UTC).  Keys are str or int within int64 (one kind per stream, as JSON
    keeps them); without ``keys`` every value goes to the key None.

    A chunk is all or nothing: a time before its key's last time (or any bad
    input) raises before any state changes.

    The whole stream saves as JSON (:meth:`state_dict`, :meth:`from_state`);
    one key at a time as a fixed-size record of bytes (:meth:`key_states`,
    :meth:`set_key_states`, :attr:`state_dtype`), with :meth:`config` to
    rebuild an empty stream of the same parameters.

    Speed: one hash lookup of each row's key among the known keys (a
    ``pd.Index``), then one kernel call for the chunk; a key's first
    appearance costs a little more (the ``ewm`` group of ``bench/``,
    ``stream-keys-*`` rows).

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
        self._index = _KeyIndex([])
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
    def _keys(self) -> list[Any]:
        """The keys in slot order (first appearance)."""
        return self._index.keys

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

    def _check_kind(self, key: Any) -> None:
        """TypeError unless ``key`` (a Python str or int) is of the kind of the stream's keys."""
        if self._keys:
            have = type(self._keys[0])
            if have is type(None) or have is not type(key):
                raise TypeError(f"keys must be of one kind for the stream's life ({have.__name__}), "
                                f"got {excerpt(key)}")

    def _key_kind(self, uniques: np.ndarray) -> list[Any]:
        """The chunk's unique keys as Python str or int, of the stream's one kind; TypeError otherwise."""
        kind = pd.api.types.infer_dtype(uniques, skipna=False)
        if kind == "string":
            keys = [str(k) for k in uniques]
        elif kind == "integer" and not pd.api.types.is_bool_dtype(uniques):
            keys = [int(k) for k in uniques]
        else:
            raise TypeError(f"keys must be all str or all int, got keys {excerpt(list(uniques))} (kind {kind!r})")
        self._check_kind(keys[0])
        return keys

    def _codes(self, keys: Any, n: int) -> tuple[np.ndarray, list[Any]]:
        """(code per row, the unique keys as Python str or int): the general reading of any form of ``keys``."""
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

    def _key_array(self, keys: Any) -> np.ndarray:
        """``keys`` as an int64 array or an object array of str, checked where a lookup cannot check them.

        The common forms take a short way: integer arrays; object arrays of a
        str stream (a row that matches no key is checked with the new keys by
        :meth:`_rows`); other object arrays and lists by one type inference.
        Any other form goes through :meth:`_codes`.
        """
        if isinstance(keys, (pd.Series, pd.Index)) and isinstance(keys.dtype, np.dtype):
            keys = keys.to_numpy()
        elif isinstance(keys, (list, tuple)):
            keys = np.asarray(keys, dtype=object)
        if isinstance(keys, np.ndarray):
            if keys.dtype.kind in "iu":
                if self._keys:
                    self._check_kind(0)
                return _as_int64(keys)
            if keys.dtype == object:
                if self._keys and type(self._keys[0]) is str:
                    return keys
                kind = pd.api.types.infer_dtype(keys, skipna=False)
                if kind == "string":
                    if self._keys:
                        self._check_kind("")
                    return keys
                if kind == "integer":
                    if self._keys:
                        self._check_kind(0)
                    return _as_int64(keys)
        codes, uniques = self._codes(keys, len(keys))
        if not uniques:
            return np.empty(0, dtype=object)
        table = np.array(uniques, dtype=object)
        return (_as_int64(table) if type(uniques[0]) is int else table)[codes]

    def _rows(self, keys: Any, n: int) -> tuple[np.ndarray, list[Any]]:
        """(each row's state slot, the chunk's new keys): a new key gets the next free slot, in order of first
        appearance, though nothing is added yet.  Checks ``keys`` (one per value, one kind, no missing key)."""
        k0 = len(self._keys)
        if keys is None:
            if k0 and self._keys[0] is not None:
                raise ValueError("keys must be given on every update of a keyed stream, got None")
            return np.zeros(n, dtype=np.int64), ([None] if n and not k0 else [])
        if k0 and self._keys[0] is None:
            raise ValueError(f"keys must be None for a stream fed without keys, got {excerpt(keys)}")
        if isinstance(keys, (str, bytes)) or np.ndim(keys) != 1:
            raise ValueError(f"keys must be a 1-D array of str or int keys (one per value), got {excerpt(keys)}")
        if len(keys) != n:
            raise ValueError(f"keys must have one key per value ({n}), got {len(keys)}")
        arr = self._key_array(keys)
        slots = self._index.lookup(arr)
        miss = np.flatnonzero(slots < 0)
        if not miss.size:
            return slots, []
        codes, uniques = pd.factorize(arr[miss], use_na_sentinel=True)
        if codes.min() < 0:
            raise ValueError(f"keys must not hold missing keys (None, NaN), got one at position "
                             f"{miss[np.flatnonzero(codes < 0)[0]]}")
        new = self._key_kind(np.asarray(uniques, dtype=object))
        slots[miss] = k0 + codes
        return slots, new

    def _add_keys(self, new: list[Any]) -> None:
        """Give ``new`` keys the next slots (fresh states), in order."""
        if new:
            self._grow(len(self._keys) + len(new))
            self._index.add(new)

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
        slots, new = self._rows(keys, n)
        deltas, ticks = self._deltas(times, n, slots, new)
        self._add_keys(new)  # validated: from here on nothing can fail
        out_mean = np.empty(n if "mean" in self._stats else 0)
        out_var = np.empty(n if self._tracks("var") else 0)
        a = self._arrays
        empty_f, empty_b, empty_i = np.empty(0), np.empty(0, dtype=np.bool_), np.empty(0, dtype=np.int64)
        m = [a.get(k, e) for k, e in (("values", empty_f), ("m_starts", empty_b), ("old_wts", empty_f),
                                      ("m_nobss", empty_i), ("m_gaps", empty_f))]
        v = [a.get(k, e) for k, e in (("v_starts", empty_b), ("wts", empty_f), ("s2s", empty_f), ("dens", empty_f),
                                      ("mxs", empty_f), ("cs", empty_f), ("v_nobss", empty_i),
                                      ("v_gaps", empty_f))]
        _kstream.stream_chunk(x, deltas, ticks, slots, a["last_time"], a["seen"], self._log_beta, self._alpha,
                              self._adjust, self._times, self._times or not self._ignore_na, self._min_periods,
                              "mean" in self._stats, *m, out_mean, self._tracks("var"), *v, out_var)
        cols = {"mean": out_mean, "var": out_var}
        result = {s: (np.sqrt(out_var) if s == "std" else cols[s]) for s in self._stats}
        if index is not None:
            return pd.DataFrame(result, index=index)
        return result

    def _deltas(self, times: Any, n: int, slots: np.ndarray, new: list[Any]) -> tuple[np.ndarray, np.ndarray]:
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
        codes, used = pd.factorize(slots)  # the chunk's keys, numbered 0, 1, ... for the batch kernel
        # each known key's last time as a row before the chunk: the batch kernel's gaps, from the saved times
        known = np.flatnonzero(used < len(self._keys))
        known = known[self._arrays["seen"][used[known]]]
        ext_ticks = np.concatenate([self._arrays["last_time"][used[known]], ticks])
        ext_codes = np.concatenate([known, codes])
        ext = np.empty(len(ext_ticks))
        i = _kernel.key_gaps(ext_ticks, ext_codes, max(len(used), 1), self._halflife_ns, ext)
        if i >= 0:
            pos = i - known.size
            slot = int(slots[pos])
            key = self._keys[slot] if slot < len(self._keys) else new[slot - len(self._keys)]
            raise ValueError(f"times must be non-decreasing within each key, got {t[pos]} at position {pos} "
                             f"of the chunk, before key {key!r}'s last time "
                             f"{pd.Timestamp(int(ext_ticks[np.flatnonzero(ext_codes[:i] == codes[pos])[-1]]))}")
        return ext[known.size:], ticks

    def get(self, key: Any = None) -> dict[str, Any]:
        """The state of ``key``: {"count", "time", "mean", "var", "std"} (None for a statistic not tracked).

        ``count``: observations so far; ``time``: the last time (a Timestamp) or
        None; the statistics as the last :meth:`update` output for the key.
        """
        s = int(self._known_slots([key])[0])
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
        plain = [_plain_key(key) for key in keys]
        kind = type(self._keys[0]) if self._keys else None
        slots = np.full(len(plain), -1, dtype=np.int64)
        if kind is type(None):
            slots[[i for i, key in enumerate(plain) if key is None]] = 0
        elif kind is not None:  # the keys of the stream's kind (within int64 for int keys) are looked up
            ours = [i for i, key in enumerate(plain) if type(key) is kind and (kind is str or -2**63 <= key < 2**63)]
            if ours:
                slots[ours] = self._index.lookup(np.array([plain[i] for i in ours],
                                                          dtype=np.int64 if kind is int else object))
        bad = np.flatnonzero(slots < 0)
        if bad.size:
            raise KeyError(f"key {list(keys)[bad[0]]!r} (position {bad[0]} of keys) has no state in this stream "
                           f"(keys: {excerpt(self._keys)})")
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
            if n > 1:
                raise ValueError("keys must be distinct, got None again at position 1")
        slots, new = self._rows(keys, n)
        order = np.argsort(slots, kind="stable")
        again = order[1:][slots[order[1:]] == slots[order[:-1]]]
        if again.size:
            repeated = int(again.min())
            raise ValueError(f"keys must be distinct, got {excerpt(list(keys)[repeated])} again at position "
                             f"{repeated}")
        for name in ("m_nobss", "v_nobss"):
            if name in self._arrays and n:
                bad = np.flatnonzero(rows[name] < 0)
                if bad.size:
                    raise ValueError(f"rows[{name!r}] must be >= 0 (a count), got {rows[name][bad[0]]} "
                                     f"at position {bad[0]}")
        self._add_keys(new)  # validated: from here on nothing can fail
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
        stream._index = _KeyIndex(keys)
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


class _KeyIndex:
    """The stream's keys in slot order and the slot of a key, looked up for a whole array at once.

    A hashed ``pd.Index`` of the keys as of the last rebuild, and a dict of
    the keys added since (inserting into an Index would rehash it all).
    Rows that miss the Index are looked up in the dict.  The Index is rebuilt
    with every key when those lookups add up to the number of keys (a
    rebuild costs no more than the lookups it saves) or when the dict holds
    more keys than the Index (so the Index at least doubles: rebuilds cost
    O(1) per key added); the key set of a settled stream is one Index, one
    probe per row.  The ``ewm`` group of
    ``bench/`` measures :meth:`EWMStream.update` over many keys.
    """

    def __init__(self, keys: list[Any]) -> None:
        self.keys = list(keys)
        self._rebuild()

    def _rebuild(self) -> None:
        kind = np.int64 if self.keys and type(self.keys[0]) is int else object
        self._base = pd.Index(np.array(self.keys, dtype=kind), dtype=kind, copy=False)
        self._recent: dict[Any, int] = {}
        self._probes = 0

    def lookup(self, arr: np.ndarray) -> np.ndarray:
        """The slot of each of ``arr`` (int64 or object array of keys); -1 where none."""
        if len(self._recent) > len(self._base):  # more recent keys than indexed ones: the Index at least doubles
            self._rebuild()
        slots = self._base_slots(arr)
        if self._recent:
            miss = np.flatnonzero(slots < 0)
            if miss.size:
                slots[miss] = np.fromiter(map(self._recent.get, arr[miss].tolist(), itertools.repeat(-1)),
                                          dtype=np.int64, count=miss.size)
                self._probes += miss.size
                if self._probes >= len(self.keys):
                    self._rebuild()
        return slots

    def _base_slots(self, arr: np.ndarray) -> np.ndarray:
        """The slot of each of ``arr`` in the Index (-1 where none), int64."""
        engine = _engine_of(self._base)
        if arr.dtype == self._base.dtype and engine is not None:
            # the Index's hash table itself: Index.get_indexer first infers the type of every target
            # row, as much again for str keys (the ``ewm`` group of ``bench/``, EWMStream rows)
            return np.asarray(engine.get_indexer(arr), dtype=np.int64)
        # an Index of the array's dtype: a bare object array would be read as strings and converted
        return np.asarray(self._base.get_indexer(pd.Index(arr, dtype=arr.dtype, copy=False)), dtype=np.int64)

    def add(self, new: list[Any]) -> None:
        """Append ``new`` keys (not known yet, distinct) as the next slots."""
        self._recent.update(zip(new, range(len(self.keys), len(self.keys) + len(new))))
        self.keys.extend(new)


def _engine_of(index: pd.Index) -> Any:
    """The hash table of ``index`` (pandas' ``Index._engine``, not public: None where this pandas has none)."""
    engine = getattr(index, "_engine", None)
    return engine if hasattr(engine, "get_indexer") else None


def _as_int64(keys: np.ndarray) -> np.ndarray:
    """Integer keys (an integer or object array) as int64; ValueError naming the first key outside int64."""
    try:
        if keys.dtype.kind == "u" and keys.size and keys.max() > np.iinfo(np.int64).max:
            raise OverflowError
        return np.ascontiguousarray(keys.astype(np.int64))
    except OverflowError:
        big = next(k for k in keys.tolist() if not -2**63 <= k < 2**63)
        raise ValueError(f"keys must be int keys within int64, got {big}") from None


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
