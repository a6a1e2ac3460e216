"""The one envelope every saved state uses, and its one reader and writer.

A state is a JSON object::

    {"format": "streamopt.<Kind>", "version": N, ...fields...}

``Kind`` names the class that wrote it (``EWA``, ``Adam``, ``SmoothState``, …)
and ``N`` is a positive integer, raised whenever the fields change; a reader
lists the versions it still understands, so states written by older releases
keep loading.  Floats are exact: a scalar is the string ``float.hex`` writes
(``"0x1.8000000000000p+0"``), an array is its little-endian bytes in base64
with its dtype and shape.  Readers accept only what the writer produces: a
float field refuses ``"1.5"`` (which :meth:`float.fromhex` would read as hex),
a version refuses ``true`` and ``1.0``, and unknown or missing fields are
errors naming the field.

Error messages echo at most :data:`ECHO_CHARS` characters of a bad value, so a
corrupt state with a million-item list gives a one-line error.
"""

from __future__ import annotations

import base64
import json
import math
import os
import tempfile
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "StateError",
    "envelope",
    "open_envelope",
    "hex_float",
    "parse_hex_float",
    "parse_int",
    "parse_bool",
    "array_to_json",
    "array_from_json",
    "excerpt",
    "write_json",
    "read_json",
]

#: Longest excerpt of a bad value that an error message shows.
ECHO_CHARS = 80

_PREFIX = "streamopt."
_ARRAY_DTYPES = ("float32", "float64", "int64", "bool")


class StateError(ValueError):
    """A state does not have the form its reader expects (a ``ValueError``)."""


def excerpt(value: Any, limit: int = ECHO_CHARS) -> str:
    """``repr(value)``, cut to ``limit`` characters (with the full length said) for error messages."""
    if isinstance(value, (list, tuple, dict, str)) and len(value) > limit:
        text = repr(value[:limit] if not isinstance(value, dict) else dict(list(value.items())[:limit]))
    else:
        text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} items)" if isinstance(value, (list, tuple, dict)) else ""
    return f"{text[:limit]}...{size}"


# ------------------------------------------------------------------ envelope
def envelope(kind: str, version: int, fields: dict[str, Any]) -> dict[str, Any]:
    """``{"format": "streamopt.<kind>", "version": version, **fields}`` (a new dict)."""
    return {"format": _PREFIX + kind, "version": version, **fields}


def open_envelope(state: Any, kind: str, versions: Collection[int] | int,
                  fields: dict[int, Iterable[str]] | Iterable[str], *, name: str = "state",
                  legacy: Any = None) -> tuple[int, dict[str, Any]]:
    """Check the envelope of ``state``; returns (version, state).

    Parameters
    ----------
    state : object
        What was read (a dict from JSON).
    kind : str
        The expected kind: ``state["format"]`` must be ``"streamopt." + kind``.
    versions : int or collection of int
        The versions this reader understands.
    fields : iterable of str, or dict version -> iterable of str
        The exact set of other keys each version has (``format`` and
        ``version`` excluded): a missing or an unknown key is an error.
    name : str
        How the error messages call ``state``.
    legacy : callable, optional
        ``legacy(state) -> (version, state) or None``: recognises a state
        written before this envelope (e.g. by 0.1.0) and returns it in the
        current form, or None when it is not such a state.
    """
    if not isinstance(state, dict):
        raise TypeError(f"{name} must be a dict (a saved streamopt.{kind} state), got {type(state).__name__}")
    if legacy is not None and state.get("format") != _PREFIX + kind:
        converted = legacy(state)
        if converted is not None:
            return converted
    wanted = _PREFIX + kind
    if state.get("format") != wanted:
        raise StateError(f"{name}['format'] must be {wanted!r}, got {excerpt(state.get('format'))}")
    allowed = (versions,) if isinstance(versions, int) else tuple(versions)
    version = state.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version not in allowed:
        choices = " or ".join(str(v) for v in allowed)
        raise StateError(f"{name}['version'] must be the integer {choices}, got {excerpt(version)}"
                         + (" (written by a newer streamopt?)" if isinstance(version, int)
                            and not isinstance(version, bool) and version > max(allowed) else ""))
    expected = set(fields[version] if isinstance(fields, dict) else fields) | {"format", "version"}
    missing = [key for key in sorted(expected) if key not in state]
    if missing:
        raise StateError(f"{name} is missing {', '.join(repr(k) for k in missing)}")
    extra = [key for key in state if key not in expected]
    if extra:
        raise StateError(f"{name} has unknown field(s) {', '.join(excerpt(k) for k in extra)} "
                         f"(a streamopt.{kind} state version {version} has {sorted(expected)})")
    return version, state


# ------------------------------------------------------------------- scalars
def hex_float(value: float) -> str:
    """The exact text of a float: ``float.hex`` (``"nan"``, ``"inf"``, ``"-inf"`` for the non-finite)."""
    return float(value).hex()


def parse_hex_float(where: str, item: Any, *, finite: bool = False) -> float:
    """The float written by :func:`hex_float`; anything else (``"1.5"``, ``" 0x1p0"``, 1.5) is an error.

    ``finite=True`` also refuses NaN and ±inf.
    """
    if isinstance(item, str) and len(item) <= 32:
        try:
            value = float.fromhex(item)
        except (ValueError, OverflowError):
            value = None
        if value is not None and value.hex() == item and not (finite and not math.isfinite(value)):
            return value
    rule = "a finite" if finite else "a"
    raise StateError(f"{where} must be {rule} hex float string as float.hex() writes it "
                     f"(e.g. '0x1.8000000000000p+0'), got {excerpt(item)}")


def parse_int(where: str, item: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """A JSON integer (``true`` and ``1.0`` refused) in [minimum, maximum]."""
    if isinstance(item, bool) or not isinstance(item, int) \
            or (minimum is not None and item < minimum) or (maximum is not None and item > maximum):
        lo = "" if minimum is None else f" >= {minimum}"
        hi = "" if maximum is None else f"{' and' if lo else ''} <= {maximum}"
        raise StateError(f"{where} must be an integer{lo}{hi}, got {excerpt(item)}")
    return item


def parse_bool(where: str, item: Any) -> bool:
    """A JSON ``true`` or ``false``."""
    if not isinstance(item, bool):
        raise StateError(f"{where} must be true or false, got {excerpt(item)}")
    return item


# -------------------------------------------------------------------- arrays
def array_to_json(a: np.ndarray) -> dict[str, Any]:
    """An exact JSON form of ``a``: ``{"dtype", "shape", "data"}``, data = little-endian bytes in base64."""
    a = np.asarray(a)
    if a.dtype.name not in _ARRAY_DTYPES:
        raise TypeError(f"array_to_json takes {', '.join(_ARRAY_DTYPES)} arrays, got dtype {a.dtype}")
    raw = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
    return {"dtype": a.dtype.name, "shape": list(a.shape), "data": base64.b64encode(raw).decode("ascii")}


def array_from_json(where: str, item: Any, dtype: str | None = None,
                    shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The array :func:`array_to_json` wrote (a new, writeable, native-order array).

    ``dtype`` and ``shape``, when given, are required of it.
    """
    if not isinstance(item, dict) or set(item) != {"dtype", "shape", "data"}:
        raise StateError(f"{where} must be an array object {{'dtype', 'shape', 'data'}}, got {excerpt(item)}")
    kind = item["dtype"]
    if kind not in _ARRAY_DTYPES or (dtype is not None and kind != dtype):
        rule = repr(dtype) if dtype is not None else "one of " + ", ".join(_ARRAY_DTYPES)
        raise StateError(f"{where}['dtype'] must be {rule}, got {excerpt(kind)}")
    dims = item["shape"]
    if not isinstance(dims, list) or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in dims):
        raise StateError(f"{where}['shape'] must be a list of integers >= 0, got {excerpt(dims)}")
    if shape is not None and tuple(dims) != tuple(shape):
        raise StateError(f"{where}['shape'] must be {list(shape)}, got {excerpt(dims)}")
    data = item["data"]
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else None
    except ValueError:
        raw = None
    itemsize = np.dtype(kind).itemsize
    if raw is None or len(raw) != math.prod(dims) * itemsize:
        raise StateError(f"{where}['data'] must be base64 of {math.prod(dims)} {kind} values, got {excerpt(data)}")
    return np.frombuffer(raw, dtype=np.dtype(kind).newbyteorder("<")).astype(kind).reshape(dims)


# ---------------------------------------------------------------------- files
def write_json(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` as JSON to ``path`` atomically: a temporary file in the same folder, fsync, rename.

    After a crash at any moment the file holds either the old state or the new
    one, complete.  Returns the path; OSError propagates.
    """
    path = Path(path)
    text = json.dumps(state, indent=1, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


def read_json(path: str | os.PathLike) -> Any:
    """The JSON value in ``path``; a file that is not UTF-8 JSON is a :class:`StateError` naming it.

    OSError (missing, unreadable) propagates.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise StateError(f"{os.fspath(path)!r} is not a streamopt state (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise StateError(f"{os.fspath(path)!r} is not a streamopt state (not JSON: {exc})") from None
