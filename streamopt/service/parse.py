"""Request bodies of the statistics service, checked and converted: stream configurations and batches.

Every function raises :class:`ApiError` (status 400 unless said otherwise)
with a message naming the field and, for an array, the index; nothing here
changes any state.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ApiError", "Batch", "MAX_KEY_BYTES", "parse_config", "parse_json_batch", "parse_csv_batch",
           "check_name", "key_from_text"]

#: The longest key, in UTF-8 bytes.
MAX_KEY_BYTES = 256
#: The longest producer name, in UTF-8 bytes.
MAX_PRODUCER_BYTES = 256
#: A stream name: what fits in a URL path segment unescaped.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")

_INT64 = (-2**63, 2**63 - 1)
_CONFIG_FIELDS = ("halflife", "com", "span", "alpha", "adjust", "ignore_na", "min_periods", "stats", "times")
_BATCH_FIELDS = ("producer", "seq", "keys", "values", "times")


class ApiError(Exception):
    """A request the service refuses: the HTTP status and a message for ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Batch:
    """A checked batch: the arrays :meth:`streamopt.EWMStream.update` takes, and the exactly-once id."""

    producer: str | None
    seq: int | None
    keys: np.ndarray  # object array of str or int
    values: np.ndarray  # float64, NaN = missing
    times: np.ndarray | None  # datetime64[ns] (UTC)

    def __len__(self) -> int:
        return self.values.shape[0]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _type(value: Any) -> str:
    return {type(None): "null", bool: "a boolean", str: "a string", int: "an integer", float: "a number",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def _got(value: Any) -> str:
    """How an error message shows a bad value: its JSON type and an excerpt."""
    return "null" if value is None else f"{_type(value)} {_show(value)}"


def check_name(name: str) -> str:
    """A stream name: 1 to 128 of ``A-Z a-z 0-9 . _ ~ -``, starting with a letter or digit."""
    if NAME.fullmatch(name) is None:
        raise ApiError(400, f"stream name must be 1 to 128 characters from A-Z, a-z, 0-9, '.', '_', '~', '-' "
                            f"(starting with a letter or digit), got {_show(name)}")
    return name


# ------------------------------------------------------------------ configuration
def parse_config(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(``EWMStream`` keyword arguments, whether observations carry times) from a PUT body.

    >>> parse_config({"halflife": "1h", "stats": ["mean", "std"]})
    ({'halflife': '1h', 'stats': ['mean', 'std']}, True)
    >>> parse_config({"alpha": 0.5, "times": True})
    Traceback (most recent call last):
    streamopt.service.parse.ApiError: times: true needs a time-span halflife (such as "1h"), got {'alpha': 0.5}
    """
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object (the stream's configuration), got {_type(body)}")
    unknown = [k for k in body if k not in _CONFIG_FIELDS]
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field (fields: {', '.join(_CONFIG_FIELDS)})")
    params: dict[str, Any] = {}
    for name in ("halflife", "com", "span", "alpha"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, str) if name == "halflife" else (int, float)):
            what = "a number or a time span such as \"1h\"" if name == "halflife" else "a number"
            raise ApiError(400, f"{name}: must be {what}, got {_got(value)}")
        params[name] = value
    for name in ("adjust", "ignore_na"):
        if name in body:
            if not isinstance(body[name], bool):
                raise ApiError(400, f"{name}: must be true or false, got {_got(body[name])}")
            params[name] = body[name]
    if "min_periods" in body:
        mp = body["min_periods"]
        if isinstance(mp, bool) or not isinstance(mp, int) or not 0 <= mp <= _INT64[1]:
            raise ApiError(400, f"min_periods: must be an integer >= 0, got {_got(mp)}")
        params["min_periods"] = mp
    if "stats" in body:
        stats = body["stats"]
        if not isinstance(stats, list) or not all(isinstance(s, str) for s in stats):
            raise ApiError(400, f"stats: must be an array of names (\"mean\", \"var\", \"std\"), got {_show(stats)}")
        params["stats"] = stats
    span_halflife = isinstance(params.get("halflife"), str)
    times = body.get("times", span_halflife)
    if not isinstance(times, bool):
        raise ApiError(400, f"times: must be true or false, got {_got(times)}")
    if times and not span_halflife:
        decay = {k: v for k, v in params.items() if k in ("halflife", "com", "span", "alpha")}
        raise ApiError(400, f"times: true needs a time-span halflife (such as \"1h\"), got {decay}")
    if span_halflife and not times:
        raise ApiError(400, f"times: a time-span halflife ({params['halflife']!r}) needs times on every "
                            "observation (times: true)")
    return params, times


# ------------------------------------------------------------------ batches
def _check_keys(keys: Any, field: str = "keys") -> np.ndarray:
    if not isinstance(keys, list):
        raise ApiError(400, f"{field}: must be an array of keys (strings or integers), got {_type(keys)}")
    kinds = set(map(type, keys))
    if kinds - {str, int}:
        i = next(i for i, k in enumerate(keys) if type(k) not in (str, int))
        raise ApiError(400, f"{field}[{i}]: a key must be a string or an integer, got {_got(keys[i])}")
    if str in kinds and int in kinds:
        first = type(keys[0])
        i = next(i for i, k in enumerate(keys) if type(k) is not first)
        raise ApiError(400, f"{field}[{i}]: keys must be all strings or all integers, got {_show(keys[i])} "
                            f"after {_show(keys[0])}")
    if str in kinds and keys and max(map(len, keys)) > MAX_KEY_BYTES // 4:  # 4 bytes per character at most
        for i, k in enumerate(keys):
            if len(k.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
                raise ApiError(400, f"{field}[{i}]: a key must be at most {MAX_KEY_BYTES} bytes (UTF-8), got "
                                    f"{len(k.encode('utf-8', 'surrogatepass'))} bytes: {_show(k)}")
    if int in kinds and keys and (min(keys) < _INT64[0] or max(keys) > _INT64[1]):
        i = next(i for i, k in enumerate(keys) if not _INT64[0] <= k <= _INT64[1])
        raise ApiError(400, f"{field}[{i}]: an integer key must fit in 64 bits, got {keys[i]}")
    out = np.empty(len(keys), dtype=object)
    out[:] = keys
    return out


def _check_values(values: Any, n: int) -> np.ndarray:
    if not isinstance(values, list):
        raise ApiError(400, f"values: must be an array of numbers (null = missing), got {_type(values)}")
    if len(values) != n:
        raise ApiError(400, f"values: must have one value per key ({n}), got {len(values)}")
    if set(map(type, values)) - {float, int, type(None)}:
        i = next(i for i, v in enumerate(values) if type(v) not in (float, int, type(None)))
        raise ApiError(400, f"values[{i}]: must be a number or null, got {_got(values[i])}")
    try:
        out = np.array(values, dtype=np.float64)  # null -> NaN
    except OverflowError:
        out = np.array([math.inf] * n)
    bad = np.flatnonzero(np.isinf(out))  # an integer beyond the float64 range
    if bad.size:
        raise ApiError(400, f"values[{bad[0]}]: must be finite, got {_show(values[bad[0]])}")
    return out


def _check_times(times: Any, n: int, field: str = "times") -> np.ndarray:
    if not isinstance(times, list):
        raise ApiError(400, f"{field}: must be an array of times (ISO-8601 strings or integer nanoseconds "
                            f"since the epoch), got {_type(times)}")
    if len(times) != n:
        raise ApiError(400, f"{field}: must have one time per value ({n}), got {len(times)}")
    out = np.empty(n, dtype=np.int64)
    strings = []
    for i, t in enumerate(times):
        if type(t) is int:
            if not _INT64[0] < t <= _INT64[1]:
                raise ApiError(400, f"{field}[{i}]: integer nanoseconds must fit in 64 bits, got {t}")
            out[i] = t
        elif type(t) is str:
            strings.append(i)
        else:
            raise ApiError(400, f"{field}[{i}]: must be an ISO-8601 string or integer nanoseconds, got "
                                f"{_got(t)}")
    if strings:
        texts = [times[i] for i in strings]
        try:
            parsed = pd.to_datetime(texts, utc=True, format="ISO8601").as_unit("ns")
        except (ValueError, OverflowError, TypeError):
            parsed = None
        if parsed is None or parsed.isna().any():  # find the bad one, parsing one at a time
            for i in strings:
                try:
                    one = pd.to_datetime([times[i]], utc=True, format="ISO8601").as_unit("ns")
                except (ValueError, OverflowError, TypeError) as exc:
                    raise ApiError(400, f"{field}[{i}]: not an ISO-8601 time: {_show(times[i])} ({exc})") from None
                if one.isna().any():
                    raise ApiError(400, f"{field}[{i}]: not a time: {_show(times[i])}")
                out[i] = one.asi8[0]
        else:
            out[strings] = parsed.asi8
    return out.view("datetime64[ns]")


def _check_id(producer: Any, seq: Any) -> tuple[str | None, int | None]:
    if producer is None and seq is None:
        return None, None
    if producer is None or seq is None:
        raise ApiError(400, f"{'producer' if producer is None else 'seq'}: producer and seq go together "
                            "(give both for exactly-once delivery, or neither)")
    if not isinstance(producer, str) or not producer \
            or len(producer.encode("utf-8", "surrogatepass")) > MAX_PRODUCER_BYTES:
        raise ApiError(400, f"producer: must be a non-empty string of at most {MAX_PRODUCER_BYTES} bytes, got "
                            f"{_got(producer)}")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= _INT64[1]:
        raise ApiError(400, f"seq: must be an integer in [0, 2**63 - 1], got {_got(seq)}")
    return producer, seq


def parse_json_batch(body: Any) -> Batch:
    """A batch from a JSON body ``{"producer", "seq", "keys", "values", "times"}`` (columnar).

    >>> b = parse_json_batch({"keys": ["a", "b"], "values": [1.5, None], "times": [0, "1970-01-01T00:00:01Z"]})
    >>> b.values.tolist(), b.times.astype("int64").tolist()
    ([1.5, nan], [0, 1000000000])
    """
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object {{\"keys\", \"values\", ...}}, got {_type(body)}")
    unknown = [k for k in body if k not in _BATCH_FIELDS]
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field (fields: {', '.join(_BATCH_FIELDS)})")
    for name in ("keys", "values"):
        if name not in body:
            raise ApiError(400, f"{name}: required")
    producer, seq = _check_id(body.get("producer"), body.get("seq"))
    keys = _check_keys(body["keys"])
    values = _check_values(body["values"], len(keys))
    times = None if body.get("times") is None else _check_times(body["times"], len(keys))
    return Batch(producer, seq, keys, values, times)


def parse_csv_batch(text: bytes, producer: str | None, seq: str | None) -> Batch:
    """A batch from CSV with the header ``key,value`` or ``key,time,value`` (any order); keys are strings.

    An empty value (or NA, NaN, null, ...) is a missing observation; a time is
    ISO-8601 or integer nanoseconds.  ``producer`` and ``seq`` come from the query.

    >>> b = parse_csv_batch(b"key,time,value\\na,2024-01-01,1.5\\nb,0,\\n", "p", "3")
    >>> b.keys.tolist(), b.values.tolist(), b.seq
    (['a', 'b'], [1.5, nan], 3)
    """
    from ..commands.smooth import parse_value

    if seq is not None:
        if not re.fullmatch(r"[0-9]{1,19}", seq):
            raise ApiError(400, f"seq: must be an integer in [0, 2**63 - 1], got {_show(seq)}")
        seq_int: int | None = int(seq)
    else:
        seq_int = None
    producer, seq_int = _check_id(producer, seq_int)
    try:
        decoded = text.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the CSV body is not UTF-8 (byte {exc.start})") from None
    try:
        rows = list(csv.reader(io.StringIO(decoded, newline=""), strict=True))
    except csv.Error as exc:
        raise ApiError(400, f"the CSV body is malformed: {exc}") from None
    if not rows:
        raise ApiError(400, "the CSV body is empty (a header key,value or key,time,value is expected)")
    header = [h.strip() for h in rows[0]]
    if sorted(header) not in (["key", "value"], ["key", "time", "value"]):
        raise ApiError(400, f"the CSV header must be key,value or key,time,value, got {','.join(header)[:80]}")
    col = {h: i for i, h in enumerate(header)}
    data = [r for r in rows[1:] if r]
    for line, r in enumerate(data, start=2):
        if len(r) != len(header):
            raise ApiError(400, f"CSV row {line - 2} (line {line}): {len(r)} fields, the header has {len(header)}")
    keys = _check_keys([r[col["key"]] for r in data], "key")
    values = np.empty(len(data))
    for i, r in enumerate(data):
        try:
            values[i] = parse_value(r[col["value"]])
        except ValueError as exc:
            raise ApiError(400, f"value[{i}]: {exc}: {_show(r[col['value']])}") from None
        if math.isinf(values[i]):
            raise ApiError(400, f"value[{i}]: must be finite, got {_show(r[col['value']])}")
    times = None
    if "time" in col:
        raw = [r[col["time"]].strip() for r in data]
        times = _check_times([int(t) if re.fullmatch(r"-?[0-9]{1,19}", t) else t for t in raw], len(data), "time")
    return Batch(producer, seq_int, keys, values, times)


def key_from_text(text: str, ints: bool) -> Any:
    """A key from a URL (a path segment or ``?after=``): an integer for a stream of integer keys."""
    if ints:
        if re.fullmatch(r"-?[0-9]{1,19}", text) and _INT64[0] <= int(text) <= _INT64[1]:
            return int(text)
        return None
    return text
