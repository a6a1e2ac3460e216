"""``FlatParams``: a model's named parameter arrays held in one contiguous buffer.

A fused optimizer updates every parameter in one pass over one buffer.
:class:`FlatParams` copies a mapping of named arrays (``{"W1": ..., "b1": ...}``)
into such a buffer and hands out views with the original shapes, so code that
works with ``params["W1"]`` keeps working while the optimizer sees ``params.flat``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ._checks import as_float_array, float_dtype

__all__ = ["FlatParams"]


class _Layout:
    """Names, shapes and offsets of the arrays inside one flat buffer (immutable, shared)."""

    __slots__ = ("names", "shapes", "offsets", "sizes", "dtype", "size", "index")

    def __init__(self, names: tuple[str, ...], shapes: tuple[tuple[int, ...], ...], dtype: np.dtype):
        self.names = names
        self.shapes = shapes
        self.sizes = tuple(int(np.prod(s, dtype=np.int64)) for s in shapes)
        offsets = [0]
        for size in self.sizes:
            offsets.append(offsets[-1] + size)
        self.offsets = tuple(offsets)
        self.size = offsets[-1]
        self.dtype = np.dtype(dtype)
        self.index = {name: i for i, name in enumerate(names)}

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, _Layout):
            return NotImplemented
        return self.names == other.names and self.shapes == other.shapes and self.dtype == other.dtype

    def __hash__(self) -> int:
        return hash((self.names, self.shapes, self.dtype.str))

    def locate(self, flat_index: int) -> tuple[str, tuple[int, ...]]:
        """The name and the index within that array of flat position ``flat_index``."""
        k = bisect.bisect_right(self.offsets, flat_index) - 1
        while self.sizes[k] == 0:  # zero-size arrays share their offset with the next one
            k += 1
        local = flat_index - self.offsets[k]
        return self.names[k], tuple(int(i) for i in np.unravel_index(local, self.shapes[k]))


def _check_name(name: Any, seen: set[str]) -> str:
    if not isinstance(name, str):
        raise TypeError(f"parameter names must be strings, got {name!r} of type {type(name).__name__}")
    if not name or name != name.strip():
        raise ValueError(f"parameter names must be non-empty without surrounding spaces, got {name!r}")
    if name in seen:
        raise ValueError(f"parameter names must be unique, got {name!r} twice")
    seen.add(name)
    return name


class FlatParams(Mapping):
    """Named parameter arrays stored in one contiguous 1-D buffer.

    Parameters
    ----------
    arrays : mapping of str to array-like, or iterable of (name, array) pairs
        The parameters, e.g. ``{"W1": W1, "b1": b1}``.  They are **copied** into
        the buffer in the given order; the inputs are never modified.
    dtype : {None, "float32", "float64"}
        The buffer's dtype.  By default float32 when every array computes in
        float32 (float32 or float16 input), float64 otherwise (float64, integer
        or bool input).

    Attributes
    ----------
    flat : ndarray
        The 1-D buffer holding every parameter; ``p[name]`` are views into it.
    names : tuple of str
        The names, in buffer order.
    shapes : tuple of tuple of int
        The arrays' shapes, in buffer order.
    size : int
        The total number of scalar parameters (``flat.size``).
    dtype : numpy.dtype
        float32 or float64.

    Notes
    -----
    ``FlatParams`` is a read-only :class:`~collections.abc.Mapping` from names
    to views: ``len(p)`` is the number of arrays and ``p.size`` the number of
    scalars.  Views write through (``p["W1"][0, 0] = 1.0`` changes
    ``p.flat``); assigning ``p["W1"] = x`` copies ``x`` into the view (same
    shape required).  Writing into ``p.flat`` is how the optimizers update
    every array at once.

    Examples
    --------
    >>> import numpy as np
    >>> p = FlatParams({"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))})
    >>> p.flat.shape, p["W1"].shape
    ((8,), (2, 3))
    """

    __slots__ = ("_layout", "_flat", "_views")

    def __init__(self, arrays: Mapping[str, Any] | Iterable[tuple[str, Any]], dtype: Any = None):
        if isinstance(arrays, FlatParams):
            pairs = [(name, arrays[name]) for name in arrays.names]
        elif isinstance(arrays, Mapping):
            pairs = list(arrays.items())
        elif isinstance(arrays, (str, bytes, np.ndarray)) or not isinstance(arrays, Iterable):
            raise TypeError(
                f"arrays must be a mapping of names to arrays, got {type(arrays).__name__}"
            )
        else:
            pairs = []
            for item in arrays:
                if not (isinstance(item, tuple) and len(item) == 2):
                    raise TypeError(f"arrays must hold (name, array) pairs, got {item!r}")
                pairs.append(item)
        if not pairs:
            raise ValueError("arrays must hold at least one array, got an empty mapping")
        seen: set[str] = set()
        names, converted = [], []
        for name, value in pairs:
            names.append(_check_name(name, seen))
            converted.append(as_float_array(value, name=f"arrays[{name!r}]"))
        if dtype is None:
            buffer_dtype = (np.dtype(np.float32) if all(a.dtype == np.float32 for a in converted)
                            else np.dtype(np.float64))
        else:
            try:
                buffer_dtype = np.dtype(dtype)
            except TypeError as exc:
                raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
            if buffer_dtype not in (np.float32, np.float64):
                raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
        layout = _Layout(tuple(names), tuple(tuple(int(d) for d in a.shape) for a in converted),
                         buffer_dtype)
        if layout.size == 0:
            raise ValueError("arrays must hold at least one value, got only empty arrays")
        self._init(layout, np.empty(layout.size, dtype=buffer_dtype))
        for name, a in zip(names, converted):
            self._views[name][...] = a

    # -- construction helpers -------------------------------------------------
    def _init(self, layout: _Layout, flat: np.ndarray) -> None:
        self._layout = layout
        self._flat = flat
        self._views = {
            name: flat[start:start + size].reshape(shape)
            for name, start, size, shape in zip(layout.names, layout.offsets, layout.sizes, layout.shapes)
        }

    @classmethod
    def _from_layout(cls, layout: _Layout, flat: np.ndarray) -> FlatParams:
        out = cls.__new__(cls)
        out._init(layout, flat)
        return out

    def zeros_like(self) -> FlatParams:
        """A new ``FlatParams`` of the same layout (names, shapes, dtype) holding zeros.

        Handy for gradients: fill ``g["W1"][...] = dW1`` and pass ``g`` to
        ``opt.step``; a same-layout ``FlatParams`` is the fastest gradient form.
        """
        return FlatParams._from_layout(self._layout, np.zeros(self._layout.size, dtype=self._layout.dtype))

    def copy(self) -> FlatParams:
        """A new ``FlatParams`` of the same layout holding a copy of the values."""
        return FlatParams._from_layout(self._layout, self._flat.copy())

    def to_dict(self) -> dict[str, np.ndarray]:
        """The parameters as a dict of name → **copies** with the original shapes."""
        return {name: view.copy() for name, view in self._views.items()}

    # -- attributes -----------------------------------------------------------
    @property
    def flat(self) -> np.ndarray:
        """The contiguous 1-D buffer (writing into it writes every parameter)."""
        return self._flat

    @property
    def names(self) -> tuple[str, ...]:
        return self._layout.names

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        return self._layout.shapes

    @property
    def size(self) -> int:
        """Number of scalar parameters."""
        return self._layout.size

    @property
    def dtype(self) -> np.dtype:
        return self._layout.dtype

    @property
    def layout(self) -> _Layout:
        """The (immutable, shareable) description of names, shapes, offsets and dtype."""
        return self._layout

    # -- Mapping --------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._views[name]
        except (KeyError, TypeError):
            raise KeyError(f"no parameter named {name!r}; names are {list(self._layout.names)}") from None

    def __setitem__(self, name: str, value: Any) -> None:
        view = self[name]
        arr = np.asarray(value)
        float_dtype(arr.dtype, name=f"params[{name!r}]")
        if arr.shape != view.shape:
            raise ValueError(f"params[{name!r}] has shape {view.shape}, got a value of shape {arr.shape}")
        view[...] = arr

    def __iter__(self) -> Iterator[str]:
        return iter(self._layout.names)

    def __len__(self) -> int:
        """Number of named arrays (``size`` is the number of scalars)."""
        return len(self._layout.names)

    def __contains__(self, name: object) -> bool:
        return name in self._views

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}{s}" for n, s in zip(self._layout.names, self._layout.shapes))
        return (f"FlatParams({len(self)} arrays, {self.size} {self.dtype.name} parameters: {parts})")

    __hash__ = None  # mutable contents

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlatParams):
            return NotImplemented
        return self._layout == other._layout and bool(np.array_equal(self._flat, other._flat))

    # -- gradients ------------------------------------------------------------
    def gather(self, grads: Any, out: np.ndarray, name: str = "grads") -> np.ndarray:
        """Validate gradients of this layout and return them as one flat array.

        ``grads`` may be a ``FlatParams`` with the same names and shapes (its
        buffer is returned as is when the dtype matches, else converted into
        ``out``), a 1-D array of ``size`` values (returned as is when it
        is contiguous and of this dtype, else converted into ``out``), or a
        mapping with the same names and shapes (copied into ``out``).  Errors
        name the first mismatch.
        """
        layout = self._layout
        if isinstance(grads, FlatParams):
            other = grads._layout
            if other.names != layout.names or other.shapes != layout.shapes:
                _describe_mismatch(layout, other, name)
            if other.dtype == layout.dtype:
                return grads._flat
            out[...] = grads._flat  # same names and shapes, other dtype: converted
            return out
        if isinstance(grads, Mapping):
            missing = [n for n in layout.names if n not in grads]
            if missing:
                raise ValueError(f"{name} has no array named {missing[0]!r}; expected names {list(layout.names)}")
            extra = [n for n in grads if n not in layout.index]
            if extra:
                raise ValueError(f"{name} has an unexpected array {extra[0]!r}; expected names {list(layout.names)}")
            for n, start, size, shape in zip(layout.names, layout.offsets, layout.sizes, layout.shapes):
                a = as_float_array(grads[n], name=f"{name}[{n!r}]")
                if a.shape != shape:
                    raise ValueError(f"{name}[{n!r}] must have shape {shape}, got shape {a.shape}")
                out[start:start + size].reshape(shape)[...] = a
            return out
        return flat_gradient(grads, layout.size, layout.dtype, out, name)


def _describe_mismatch(expected: _Layout, got: _Layout, name: str) -> None:
    for i, (n, s) in enumerate(zip(expected.names, expected.shapes)):
        if i >= len(got.names):
            raise ValueError(f"{name} has no array named {n!r}")
        if got.names[i] != n:
            raise ValueError(f"{name} holds {got.names[i]!r} where {n!r} was expected (position {i})")
        if got.shapes[i] != s:
            raise ValueError(f"{name}[{n!r}] must have shape {s}, got shape {got.shapes[i]}")
    raise ValueError(f"{name} has an unexpected array {got.names[len(expected.names)]!r}")


def flat_gradient(grads: Any, size: int, dtype: np.dtype, out: np.ndarray, name: str = "grads",
                  shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Gradients as a flat array of ``size`` values in ``dtype``.

    ``grads`` must have shape ``(size,)`` or ``shape`` (the parameters' own
    shape, when given).  A contiguous array of the right dtype is returned as
    is (a view when reshaped); anything else is converted into ``out``.
    """
    if (type(grads) is np.ndarray and grads.dtype == dtype and grads.shape == (size,)
            and grads.flags.c_contiguous):
        return grads  # the fast path: nothing to convert
    arr = grads if isinstance(grads, np.ndarray) else as_float_array(grads, name=name)
    float_dtype(arr.dtype, name)
    if arr.shape != (size,) and (shape is None or arr.shape != shape):
        expected = f"({size},)" if shape is None or shape == (size,) else f"{shape} or ({size},)"
        raise ValueError(f"{name} must have shape {expected}, got shape {arr.shape}")
    if arr.dtype == dtype and arr.flags.c_contiguous:
        return arr.reshape(-1)
    out[...] = arr.reshape(-1)
    return out
