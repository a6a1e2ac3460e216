"""The last observations of a stream, in memory, for the dashboard's charts.

A :class:`Recent` window holds the stream's last :data:`WINDOW` committed
observations (all keys together, in applied order) with the statistics the
batch returned for them.  It is not persisted: after a restart it starts
empty (the keys' statistics themselves are in the database).  Reading it
filters by key, so a key seen rarely in a busy stream has few points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Recent", "WINDOW"]

#: Observations a stream's window keeps.
WINDOW = 10_000


class Recent:
    """A ring of the last ``capacity`` observations: key, time (ns or none), index, value, mean, std.

    ``index`` is the observation's number in the stream (0, 1, ...).  The
    arrays grow with the stream up to ``capacity``, so a quiet stream costs
    little memory.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace as Batch
    >>> r = Recent(capacity=3)
    >>> b = Batch(keys=np.array(["a", "b", "a"], dtype=object), values=np.array([1.0, 2.0, 3.0]), times=None)
    >>> r.add(b, 0, {"mean": np.array([1.0, 2.0, 2.0])})
    >>> r.add(b, 3, {"mean": np.array([5.0, 6.0, 7.0])})
    >>> r.get("a")  # the last 3 observations: numbers 3, 4 and 5
    {'time': None, 'index': [3, 5], 'value': [1.0, 3.0], 'mean': [5.0, 7.0], 'std': None}
    """

    def __init__(self, capacity: int = WINDOW) -> None:
        self.capacity = capacity
        self.size = 0
        self.next = 0  # where the next observation goes (the oldest once full)
        self.keys = np.empty(0, dtype=object)
        self.cols: dict[str, np.ndarray] = {}
        self.times = False

    def _grow(self, n: int) -> None:
        new = min(self.capacity, max(2 * len(self.keys), n, 64))
        order = self._order()
        keys = np.empty(new, dtype=object)
        keys[:self.size] = self.keys[order]
        self.keys = keys
        for name, col in self.cols.items():
            grown = np.full(new, np.nan) if col.dtype.kind == "f" else np.zeros(new, dtype=col.dtype)
            grown[:self.size] = col[order]
            self.cols[name] = grown
        self.next = self.size

    def _order(self) -> np.ndarray:
        """Positions of the held observations, oldest first."""
        if self.size < len(self.keys):
            return np.arange(self.size)
        return (np.arange(self.size) + self.next) % len(self.keys)

    def add(self, batch: Any, first: int, stats: dict[str, np.ndarray]) -> None:
        """Append a committed batch (``keys``, ``values``, ``times``), its first observation's
        number in the stream and the statistics the stream returned for it."""
        n = len(batch.values)
        if n == 0:
            return
        columns = {"index": np.arange(first, first + n, dtype=np.int64), "value": batch.values,
                   "mean": stats.get("mean"), "std": stats.get("std")}
        if batch.times is not None:
            columns["time"] = batch.times.view(np.int64)
            self.times = True
        columns = {k: v for k, v in columns.items() if v is not None}
        if set(columns) != set(self.cols):  # the first batch (or times, mean or std appear)
            for name, col in columns.items():
                if name not in self.cols:
                    self.cols[name] = np.full(len(self.keys), np.nan) if col.dtype.kind == "f" else \
                        np.zeros(len(self.keys), dtype=col.dtype)
        if len(self.keys) < self.capacity and self.size + n > len(self.keys):
            self._grow(self.size + n)
        cap = len(self.keys)
        if n >= cap:  # only the last cap observations stay
            keys, columns, n = batch.keys[-cap:], {k: v[-cap:] for k, v in columns.items()}, cap
        else:
            keys = batch.keys
        at = (self.next + np.arange(n)) % cap
        self.keys[at] = keys
        for name, col in columns.items():
            self.cols[name][at] = col
        self.next = (self.next + n) % cap
        self.size = min(self.size + n, cap)

    def get(self, key: Any, limit: int | None = None) -> dict[str, Any]:
        """The key's observations in the window, oldest first (the last ``limit`` of them):
        ``{"time": [ns] or None, "index", "value", "mean", "std"}`` (NaN as None)."""
        order = self._order()
        pick = order[self.keys[order] == key] if self.size else order
        if limit is not None:
            pick = pick[-limit:]

        def column(name: str) -> list[Any] | None:
            col = self.cols.get(name)
            if col is None:
                return None
            values = col[pick]
            if values.dtype.kind != "f":
                return values.tolist()
            return [None if v != v else v for v in values.tolist()]

        return {"time": column("time") if self.times else None, "index": column("index"),
                "value": column("value"), "mean": column("mean"), "std": column("std")}
