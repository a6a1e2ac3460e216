r"""Fused optimizers on flat parameter buffers: SGD, Momentum, RMSprop, Adam.

Each optimizer updates every parameter in **one** compiled pass over one
contiguous buffer (a :class:`~streamopt.params.FlatParams` or a float ndarray),
with the notes' formulas; PyTorch's variants (Nesterov, centered RMSprop,
L2 / decoupled weight decay, AMSGrad) follow ``torch.optim``'s definitions.

=========  ==================================================================
rule       update (g = gradient, η = ``lr``, all operations element-wise)
=========  ==================================================================
SGD        W ← W − η·g
Momentum   v ← β·v + (1 − β)·g ("ema") or v ← β·v + g ("sum");  W ← W − η·v
RMSprop    s ← β·s + (1 − β)·g²;  W ← W − η·g / (√s + ε)
Adam       m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²;  t ← t + 1;
           W ← W − η·m̂ / (√v̂ + ε),  m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
=========  ==================================================================

``t`` is the optimizer's step count (``opt.t``).  A step whose gradient holds
a NaN or ±inf raises :class:`NonFiniteGradientError` and changes nothing
(``check_finite=False`` skips that check).

Each optimizer is defined once, by its class's :class:`Rule`: the kernel of its
update (in :mod:`streamopt._kernels.optim`), its hyper-parameters (names,
validation, how the kernel takes them), its state buffers (names, when they
are in use) and so the bytes a step moves per parameter.  The class, the
compiled training loop (:func:`streamopt.train`) and the benchmark
(``bench/optimizers.py``) all read it.

State
-----
``state_dict()`` is plain JSON with exact floats (the project's state
envelope, :mod:`streamopt.state`)::

    {"format": "streamopt.Adam", "version": 2,
     "dtype": "float32", "size": 17, "lr": "0x1.6f0068db8bac7p-11", "t": 30,
     "hyper": {"beta1": "0x1.ccccccccccccdp-1", ..., "amsgrad": false},
     "buffers": {"m": {"dtype": "float32", "shape": [17], "data": "<base64>"}, "v": {...}}}

``lr`` and the real hyper-parameters are ``float.hex`` strings, switches JSON
booleans, ``form`` a string; ``buffers`` holds the buffers in use.
``load_state_dict`` also takes 0.1.0's form (``{"format": 1, "kind": "adam",
..., "buffers": {name: ndarray}}``); ``save`` writes the JSON atomically and
``load`` reads it or a 0.1.0 ``.npz`` file.  A run stopped after k steps and
resumed is bit-identical to one never stopped.

Examples
--------
>>> import numpy as np
>>> from streamopt import Adam
>>> w = np.zeros(3)
>>> opt = Adam(w, lr=0.1)
>>> opt.step(np.array([1.0, -2.0, 0.5]))
>>> w, opt.t
(array([-0.1,  0.1, -0.1]), 1)
>>> state = opt.state_dict()
>>> state["format"], state["version"], state["lr"]
('streamopt.Adam', 2, '0x1.999999999999ap-4')
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import _checks
from . import state as _state
from ._kernels import optim as _k
from .params import FlatParams, flat_gradient

__all__ = ["Optimizer", "SGD", "Momentum", "RMSprop", "Adam", "Rule", "Hyper", "NonFiniteGradientError",
           "PARALLEL_MIN_BYTES", "MAX_T"]

#: A step uses the parallel kernel (every core) when it moves at least this many
#: bytes (:attr:`Optimizer.bytes_per_parameter` × parameters): the break-even of
#: a step taken after the threads have gone idle, as in a training loop
#: (``bench/threads.py``; the ``*-threshold`` cases of ``bench/optimizers.py``
#: time both kernels around it).
PARALLEL_MIN_BYTES = 6 * 1024 * 1024

#: Step counts ``t`` stay below this: the kernels keep t as a float64, exact
#: below 2**53 (and Adam's bias corrections take it as a float).
MAX_T = 2**53

#: Version of the ``state_dict`` / ``save`` format (0.1.0 wrote version 1).
STATE_VERSION = 2
_FIELDS = ("dtype", "size", "lr", "t", "hyper", "buffers")
_V1_FIELDS = ("kind", "dtype", "size", "lr", "hyper", "t", "buffers")


class NonFiniteGradientError(ValueError):
    """A gradient held a NaN or ±inf; the step was not taken (nothing changed).

    Examples
    --------
    >>> import numpy as np
    >>> from streamopt import SGD
    >>> SGD(np.zeros(2), lr=0.1).step(np.array([0.0, np.nan]))
    Traceback (most recent call last):
    ...
    streamopt.optim.NonFiniteGradientError: grads holds nan at index 1; the step was not taken ...
    """


# --------------------------------------------------------------- definitions
def _positive_eps(value: Any, name: str = "eps") -> float:
    """ε of a denominator √v + ε that can be 0/0: a finite real number > 0."""
    eps = _checks.check_real(name, value)
    if not eps > 0.0:
        raise ValueError(f"{name} must be > 0: with {name} = 0 a zero gradient on a zero second moment "
                         f"divides 0 by 0, got {value!r}")
    return eps


@dataclass(frozen=True)
class Hyper:
    """One hyper-parameter of an optimizer (other than ``lr``).

    Parameters
    ----------
    name : str
        Its name, as the class's keyword argument and in ``opt.hyper``.
    kind : {"real", "switch", "choice"}
        A real number (saved as a ``float.hex`` string), a bool (the kernel
        takes 1.0 or 0.0; saved as a JSON boolean) or one of ``choices`` (the
        kernel takes the switch ``value == choices[1]``; saved as the string).
    check : callable, optional
        For a real: ``check(value, where) -> float``, raising on a bad value
        with ``where`` as its name (the order of :mod:`streamopt._checks`).
    choices : tuple of str
        For a choice: the allowed values.
    arg : str
        The kernel argument that takes it (default: ``name``).

    Examples
    --------
    >>> from streamopt.optim import Adam
    >>> [h.name for h in Adam.rule.hyper]
    ['beta1', 'beta2', 'eps', 'weight_decay', 'decoupled', 'amsgrad']
    >>> Adam.rule.hyper[0].parse("beta1", 0.5)
    0.5
    """

    name: str
    kind: str
    check: Callable[[Any, str], float] | None = None
    choices: tuple[str, ...] = ()
    arg: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("real", "switch", "choice") or (self.kind == "real") != (self.check is not None) \
                or (self.kind == "choice") != (len(self.choices) == 2):
            raise ValueError(f"{self.name}: a real needs a check, a choice two choices, a switch neither")

    @property
    def kernel_arg(self) -> str:
        """The name of the kernel argument that takes this hyper-parameter."""
        return self.arg or self.name

    def parse(self, where: str, value: Any) -> Any:
        """``value`` validated (a float, a bool or one of ``choices``); errors call it ``where``."""
        if self.kind == "real":
            return self.check(value, where)
        if self.kind == "switch":
            return _checks.check_bool(where, value)
        if not isinstance(value, str) or value not in self.choices:
            raise ValueError(f"{where} must be {' or '.join(repr(c) for c in self.choices)}, "
                             f"got {_state.excerpt(value)}")
        return value

    def packed(self, value: Any) -> float:
        """What the kernel's settings hold for ``value``: the real itself, or 1.0 / 0.0 for a switch."""
        if self.kind == "choice":
            return 1.0 if value == self.choices[1] else 0.0
        return float(value)

    def to_json(self, value: Any) -> Any:
        """The exact JSON form of ``value`` (a real as its ``float.hex`` string)."""
        return _state.hex_float(value) if self.kind == "real" else value

    def from_json(self, where: str, item: Any) -> Any:
        """The value :meth:`to_json` wrote, validated."""
        if self.kind == "real":
            return self.parse(where, _state.parse_hex_float(where, item))
        if self.kind == "switch":
            return _state.parse_bool(where, item)
        return self.parse(where, item)


def _beta(value: Any, name: str) -> float:
    return _checks.check_beta(name, value)


@dataclass(frozen=True)
class Rule:
    """The one definition of an optimizer, read by its class, the training loop and the benchmark.

    Parameters
    ----------
    name : str
        The class's name, also the kind of its saved state (``"streamopt.<name>"``).
    code : int
        The rule's code in :func:`streamopt._kernels.optim.step`.
    kernel : callable
        The serial kernel of the update, with the math in its docstring.
    hyper : tuple of Hyper
        The hyper-parameters other than ``lr``, in the order of the kernel's arguments.
    buffers : tuple of (str, str or None)
        The state buffers in the order of the kernel's arguments: (name, the
        switch that puts it in use, or None when always in use); a switched
        buffer comes after every buffer always in use.
    legacy_kind : str
        The ``"kind"`` of 0.1.0's state format.

    Notes
    -----
    A step reads W and g, writes W, and reads and writes each buffer in use:
    it moves (3 + 2·k)·itemsize bytes per parameter for k buffers in use
    (counted as STREAM counts, no write-allocate): :meth:`streams`.

    Examples
    --------
    >>> from streamopt import Adam
    >>> Adam.rule.in_use({"amsgrad": True}), Adam.rule.streams({"amsgrad": False})
    (('m', 'v', 'vmax'), 7)
    """

    name: str
    code: int
    kernel: Callable[..., None]
    hyper: tuple[Hyper, ...]
    buffers: tuple[tuple[str, str | None], ...]
    legacy_kind: str

    def in_use(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        """The names of the buffers in use under the hyper-parameters ``values``."""
        return tuple(name for name, switch in self.buffers if switch is None or values[switch])

    def streams(self, values: Mapping[str, Any]) -> int:
        """Arrays a step reads or writes per parameter, each counted once per read and per write."""
        return 3 + 2 * len(self.in_use(values))

    def parse(self, values: Any, where: str | None = None,
              read: Callable[[Hyper, str, Any], Any] = Hyper.parse) -> dict[str, Any]:
        """Every hyper-parameter of ``values`` (exactly this rule's names) read by ``read(hyper, name,
        item)`` and validated; errors call them ``where[name]`` (just ``name`` without ``where``)."""
        names = [h.name for h in self.hyper]
        if not isinstance(values, Mapping) or set(values) != set(names):
            raise ValueError(f"{where or 'hyper'} must have the keys {sorted(names)}, got {_state.excerpt(values)}")
        return {h.name: read(h, h.name if where is None else f"{where}[{h.name!r}]", values[h.name])
                for h in self.hyper}

    def pack(self, values: Mapping[str, Any]) -> list[float]:
        """The validated ``values`` as the kernel's settings hold them, from ``settings[HYPER]`` on."""
        return [h.packed(values[h.name]) for h in self.hyper]


def _as_params(params: Any) -> tuple[Any, np.ndarray]:
    """(params, flat 1-D view) for a FlatParams or a writeable contiguous float ndarray."""
    if isinstance(params, FlatParams):
        return params, params.flat
    if not isinstance(params, np.ndarray):
        raise TypeError(
            f"params must be a FlatParams or a float32/float64 ndarray, got {type(params).__name__}"
        )
    if params.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"params must be float32 or float64 (it is updated in place), got dtype {params.dtype}; "
            "convert it first or use FlatParams"
        )
    if not params.flags.c_contiguous:
        raise ValueError("params must be C-contiguous (it is updated in place), got a non-contiguous array")
    if not params.flags.writeable:
        raise ValueError("params must be writeable (it is updated in place), got a read-only array")
    if params.size == 0:
        raise ValueError(f"params must hold at least one value, got shape {params.shape}")
    return params, params.reshape(-1)


def _check_t(value: Any, name: str = "t") -> int:
    t = _checks.check_int(name, value, minimum=0)
    if t >= MAX_T:
        raise ValueError(f"{name} must be < 2**53 (the range where the step count is exact as a float), "
                         f"got {value!r}")
    return t


@dataclass
class _Loaded:
    """A state decoded and validated, ready to be committed."""

    lr: float
    t: int
    hyper: dict[str, Any]
    buffers: dict[str, np.ndarray]


class Optimizer:
    """Base class of the fused optimizers (not used directly).

    Parameters
    ----------
    params : FlatParams or ndarray
        The parameters, updated **in place** by :meth:`step`.  An ndarray must
        be float32 or float64, C-contiguous and writeable; its shape is kept.
    lr : float
        Learning rate η > 0; may be changed between steps (``opt.lr = x``).
    check_finite : bool
        Check the gradient for NaN/±inf before each step (default).  The check
        is one extra read of the gradient, inside the same compiled call.
    **hyper
        The hyper-parameters of the subclass's :class:`Rule`.

    Attributes
    ----------
    params : FlatParams or ndarray
        What was passed in.
    t : int
        Steps taken so far (settable, an integer in [0, 2**53)).
    hyper : dict
        The hyper-parameters other than ``lr`` (a new dict; each is also a
        read-only attribute, e.g. ``opt.beta1``).
    buffers : dict
        The state buffers in use (live arrays).
    flat : ndarray
        The parameters as one 1-D array (a view): what a step updates.
    rule : Rule
        The optimizer's definition (class attribute).

    Notes
    -----
    The kernels see an optimizer as two arrays (:mod:`streamopt._kernels.optim`):
    ``state``, the k × n buffers in use, and ``settings`` (float64: the rule's
    code, the finite check, the parallel switch, ``lr``, ``t`` and the packed
    hyper-parameters).  ``lr``, ``t`` and ``check_finite`` read and write
    ``settings``; the compiled training loop takes both arrays through the
    internal :meth:`_kernel_args`, writes each epoch's ``lr`` and counts its
    steps there, so ``opt.lr`` and ``opt.t`` follow it.

    Examples
    --------
    >>> import numpy as np
    >>> from streamopt import Momentum
    >>> w = np.ones(4, dtype=np.float32)
    >>> opt = Momentum(w, lr=0.5, beta=0.5)
    >>> opt.step(np.ones(4, dtype=np.float32))
    >>> w, opt.hyper, list(opt.buffers), opt.bytes_per_parameter
    (array([0.75, 0.75, 0.75, 0.75], dtype=float32), {'beta': 0.5, 'form': 'ema', 'nesterov': False}, ['v'], 20)
    """

    rule: ClassVar[Rule]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for h in cls.rule.hyper:  # each hyper-parameter as a read-only attribute
            setattr(cls, h.name, property(lambda self, _n=h.name: self._hyper[_n],
                                          doc=f"The hyper-parameter {h.name} (read-only)."))

    def __init__(self, params: Any, lr: float, *, check_finite: bool = True, **hyper: Any):
        if not hasattr(type(self), "rule"):
            raise TypeError("Optimizer is the base class: use SGD, Momentum, RMSprop or Adam")
        self.params, self.flat = _as_params(params)
        lr = _checks.check_lr(lr)
        check_finite = _checks.check_bool("check_finite", check_finite)
        self._scratch: np.ndarray | None = None
        self._layout = params.layout if isinstance(params, FlatParams) else None
        self._shape = None if isinstance(params, FlatParams) else tuple(params.shape)
        self._settings = np.zeros(_k.HYPER + len(self.rule.hyper), dtype=np.float64)
        self._settings[[_k.KIND, _k.CHECK, _k.LR]] = self.rule.code, check_finite, lr
        self._state = np.zeros((0, self.flat.size), dtype=self.flat.dtype)
        self._configure(self.rule.parse(hyper))

    def _configure(self, hyper: dict[str, Any]) -> None:
        """Take validated hyper-parameters: pack them into the settings, size the state (k × n for
        k buffers in use; zeros when k changes), choose the serial or parallel kernel.  Cannot fail."""
        self._hyper = hyper
        k = len(self.rule.in_use(hyper))
        if self._state.shape[0] != k:
            self._state = np.zeros((k, self.flat.size), dtype=self.flat.dtype)
        self._settings[_k.HYPER:] = self.rule.pack(hyper)
        self._settings[_k.PARALLEL] = self.flat.size * self.bytes_per_parameter >= PARALLEL_MIN_BYTES

    # -- hyper-parameters -----------------------------------------------------
    @property
    def lr(self) -> float:
        """Learning rate η (> 0); setting it validates the value."""
        return float(self._settings[_k.LR])

    @lr.setter
    def lr(self, value: float) -> None:
        self._settings[_k.LR] = _checks.check_lr(value)

    @property
    def t(self) -> int:
        """The step count: steps taken so far (settable; an integer in [0, 2**53))."""
        return int(self._settings[_k.T])

    @t.setter
    def t(self, value: int) -> None:
        self._settings[_k.T] = _check_t(value)

    @property
    def check_finite(self) -> bool:
        """Refuse gradients holding NaN/±inf (settable; validated)."""
        return bool(self._settings[_k.CHECK])

    @check_finite.setter
    def check_finite(self, value: bool) -> None:
        self._settings[_k.CHECK] = _checks.check_bool("check_finite", value)

    @property
    def hyper(self) -> dict[str, Any]:
        """The hyper-parameters other than ``lr`` (a new dict)."""
        return dict(self._hyper)

    @property
    def dtype(self) -> np.dtype:
        """The parameters' dtype (float32 or float64), also that of the state buffers."""
        return self.flat.dtype

    @property
    def buffers(self) -> dict[str, np.ndarray]:
        """The state buffers in use: name → the optimizer's own 1-D array (a new dict; the arrays
        are live, writing into them changes the state)."""
        return dict(zip(self.rule.in_use(self._hyper), self._state))

    @property
    def bytes_per_parameter(self) -> int:
        """Bytes one step reads and writes per parameter, counted as STREAM counts (no write-allocate):
        W and g read, W written, each state buffer read and written; the finite check's extra read of g
        is not counted."""
        return self.rule.streams(self._hyper) * self.flat.dtype.itemsize

    @property
    def parallel(self) -> bool:
        """Whether steps use the parallel kernel (from :data:`PARALLEL_MIN_BYTES` moved per step)."""
        return bool(self._settings[_k.PARALLEL])

    def _kernel_args(self) -> _k.OptimizerArgs:
        """The optimizer as the compiled training loop takes it: its own state and settings arrays,
        which the loop updates in place (buffers, learning rate, step count)."""
        return _k.OptimizerArgs(self._state, self._settings)

    # -- stepping -------------------------------------------------------------
    def _gradient(self, grads: Any) -> np.ndarray:
        """The gradient as a flat array of the parameters' dtype (no copy when it already is one)."""
        layout = self._layout
        if layout is not None:
            if type(grads) is FlatParams and grads._layout is layout:
                return grads._flat
            return self.params.gather(grads, self._scratch_buffer())
        return flat_gradient(grads, self.flat.size, self.flat.dtype, self._scratch_buffer(), "grads",
                             self._shape)

    def _scratch_buffer(self) -> np.ndarray:
        if self._scratch is None:
            self._scratch = np.empty_like(self.flat)
        return self._scratch

    def step(self, grads: Any) -> None:
        """Apply one update in place, in one fused pass over the buffer.

        Parameters
        ----------
        grads : FlatParams, ndarray or mapping
            A ``FlatParams`` of the same layout (fastest), an array of
            ``params.size`` values (or of the parameters' shape), or a mapping
            with the same names and shapes.  Other float dtypes are converted.

        Raises
        ------
        NonFiniteGradientError
            When ``check_finite`` is on and ``grads`` holds a NaN or ±inf:
            the message names the parameter and index; parameters, state
            buffers and ``t`` are left untouched.

        Examples
        --------
        >>> import numpy as np
        >>> from streamopt import SGD
        >>> w = np.array([1.0, 2.0])
        >>> SGD(w, lr=0.5).step(np.array([1.0, -1.0]))
        >>> w
        array([0.5, 2.5])
        """
        g = self._gradient(grads)
        bad = (_k.apply_parallel if self._settings[_k.PARALLEL] else _k.apply)(
            self.flat, g, self._state, self._settings)
        if bad >= 0:
            raise self._nonfinite_error(g, bad)

    def _nonfinite_error(self, g: np.ndarray, index: int) -> NonFiniteGradientError:
        value = g[index].item()
        if self._layout is not None:
            name, local = self._layout.locate(index)
            where = f"grads[{name!r}] holds {value} at index {local} (flat index {index})"
        elif self._shape is not None and len(self._shape) > 1:
            local = tuple(int(i) for i in np.unravel_index(index, self._shape))
            where = f"grads holds {value} at index {local} (flat index {index})"
        else:
            where = f"grads holds {value} at index {index}"
        return NonFiniteGradientError(
            f"{where}; the step was not taken (parameters, optimizer state and t={self.t} unchanged)"
        )

    # -- state ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as plain JSON with exact floats (the parameters are not included).

        ``{"format": "streamopt.<Kind>", "version": 2, "dtype", "size", "lr",
        "t", "hyper", "buffers"}``: ``lr`` and the real hyper-parameters as
        ``float.hex`` strings, the buffers in use as
        :func:`streamopt.state.array_to_json` objects (copies).

        Examples
        --------
        >>> import json
        >>> import numpy as np
        >>> from streamopt import RMSprop
        >>> opt = RMSprop(np.zeros(2), lr=0.5)
        >>> state = opt.state_dict()
        >>> sorted(state), state["hyper"]["centered"], list(state["buffers"])
        (['buffers', 'dtype', 'format', 'hyper', 'lr', 'size', 't', 'version'], False, ['s'])
        >>> RMSprop(np.zeros(2), lr=1.0).load_state_dict(json.loads(json.dumps(state)))
        """
        hyper = {h.name: h.to_json(self._hyper[h.name]) for h in self.rule.hyper}
        return _state.envelope(self.rule.name, STATE_VERSION, {
            "dtype": self.flat.dtype.name,
            "size": int(self.flat.size),
            "lr": _state.hex_float(self.lr),
            "t": self.t,
            "hyper": hyper,
            "buffers": {name: _state.array_to_json(buf) for name, buf in self.buffers.items()},
        })

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` (of this kind, size and dtype), or 0.1.0's form.

        Everything is validated before anything changes: a mismatched state
        raises (TypeError/ValueError naming the field) and leaves the optimizer
        as it was.  Buffers are copied into this optimizer's own arrays.

        Examples
        --------
        >>> import numpy as np
        >>> from streamopt import Adam
        >>> a = Adam(np.zeros(2), lr=0.1)
        >>> a.step(np.ones(2))
        >>> b = Adam(np.zeros(2), lr=1.0)
        >>> b.load_state_dict(a.state_dict())
        >>> b.t, b.lr
        (1, 0.1)
        """
        version, state = _state.open_envelope(state, self.rule.name, STATE_VERSION, _FIELDS,
                                               legacy=self._legacy)
        loaded = self._decode_v1(state) if version == 1 else self._decode(state)
        # commit: nothing below can fail
        self._configure(loaded.hyper)
        for row, name in zip(self._state, self.rule.in_use(loaded.hyper)):
            row[...] = loaded.buffers[name]
        self._settings[_k.LR] = loaded.lr
        self._settings[_k.T] = loaded.t

    def _legacy(self, state: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """0.1.0's state (``"format": 1`` or none, with a ``"kind"``) as version 1."""
        fmt = state.get("format", 1)
        if "kind" in state and type(fmt) is int and fmt == 1:
            return 1, state
        return None

    def _check_shape_fields(self, state: dict[str, Any]) -> None:
        """The state's ``dtype`` and ``size`` are the parameters'."""
        if state["dtype"] != self.flat.dtype.name:
            raise TypeError(f"state['dtype'] must be {self.flat.dtype.name!r}, got {_state.excerpt(state['dtype'])}")
        size = state["size"]
        if type(size) is not int or size != self.flat.size:
            raise ValueError(f"state['size'] must be {self.flat.size} (the parameters' size), "
                             f"got {_state.excerpt(size)}")

    def _decode(self, state: dict[str, Any]) -> _Loaded:
        """Version 2 (:meth:`state_dict`'s JSON), validated."""
        self._check_shape_fields(state)
        lr = _checks.check_lr(_state.parse_hex_float("state['lr']", state["lr"], finite=True), "state['lr']")
        t = _check_t(_state.parse_int("state['t']", state["t"], minimum=0), "state['t']")
        hyper = self.rule.parse(state["hyper"], "state['hyper']", Hyper.from_json)
        in_use = self.rule.in_use(hyper)
        items = state["buffers"]
        if not isinstance(items, dict) or set(items) != set(in_use):
            got = sorted(map(str, items)) if isinstance(items, dict) else _state.excerpt(items)
            raise ValueError(f"state['buffers'] must hold {sorted(in_use)}, got {got}")
        buffers = {name: _state.array_from_json(f"state['buffers'][{name!r}]", items[name], self.flat.dtype.name,
                                                (self.flat.size,))
                   for name in in_use}
        return _Loaded(lr, t, hyper, buffers)

    def _decode_v1(self, state: dict[str, Any]) -> _Loaded:
        """0.1.0's form: floats as numbers, buffers as ndarrays (inactive ones zero-length), validated."""
        missing = [k for k in _V1_FIELDS if k not in state]
        if missing:
            raise ValueError(f"state is missing {missing[0]!r}; expected a dict from state_dict()")
        if state["kind"] != self.rule.legacy_kind:
            raise ValueError(f"state['kind'] must be {self.rule.legacy_kind!r} for {self.rule.name}, "
                             f"got {_state.excerpt(state['kind'])}")
        self._check_shape_fields(state)
        lr = _checks.check_lr(state["lr"], "state['lr']")
        t = _check_t(state["t"], "state['t']")
        hyper = self.rule.parse(state["hyper"], "state['hyper']")
        buffers = state["buffers"]
        if not isinstance(buffers, dict):
            raise TypeError(f"state['buffers'] must be a dict of arrays, got {type(buffers).__name__}")
        names = [name for name, _ in self.rule.buffers]
        if set(buffers) != set(names):
            raise ValueError(f"state['buffers'] must hold {sorted(names)}, got {sorted(map(str, buffers))}")
        in_use = self.rule.in_use(hyper)
        out = {}
        for name in names:
            buf = buffers[name]
            where = f"state['buffers'][{name!r}]"
            if not isinstance(buf, np.ndarray):
                raise TypeError(f"{where} must be an ndarray, got {type(buf).__name__}")
            if buf.dtype != self.flat.dtype:
                raise TypeError(f"{where} must be {self.flat.dtype.name}, got {buf.dtype}")
            shape = (self.flat.size if name in in_use else 0,)
            if buf.shape != shape:
                raise ValueError(f"{where} must have shape {shape}, got {buf.shape}")
            if name in in_use:
                out[name] = buf
        return _Loaded(lr, t, hyper, out)

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`state_dict` as JSON to ``path`` (atomically: the file holds the old or the new state).

        Returns the path.  Load it with :meth:`load` on an optimizer of the same
        kind built on parameters of the same size and dtype.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from streamopt import Adam
        >>> opt = Adam(np.zeros(3), lr=0.1)
        >>> opt.step(np.ones(3))
        >>> path = os.path.join(tempfile.mkdtemp(), "adam.json")
        >>> _ = opt.save(path)
        >>> other = Adam(np.zeros(3), lr=1.0)
        >>> other.load(path)
        >>> other.t
        1
        """
        return _state.write_json(path, self.state_dict())

    def load(self, path: str | os.PathLike) -> None:
        """Restore the state written by :meth:`save`, or a 0.1.0 ``.npz`` state file.

        Validated as :meth:`load_state_dict`; a file that is neither is a
        :class:`streamopt.state.StateError` naming it.  See :meth:`save` for
        an example.
        """
        path = Path(path)
        with open(path, "rb") as fh:
            zipped = fh.read(4) == b"PK\x03\x04"
        state = _read_npz_v1(path) if zipped else None
        if state is None:
            try:
                state = _state.read_json(path)
            except _state.StateError:
                state = None
        if state is None:
            raise _state.StateError(f"{os.fspath(path)!r} is not a streamopt optimizer state file "
                                    "(neither the JSON that save() writes nor a 0.1.0 .npz)")
        self.load_state_dict(state)

    def __repr__(self) -> str:
        hyper = "".join(f", {k}={v!r}" for k, v in self._hyper.items())
        what = repr(self.params) if self._layout is not None else f"ndarray{self._shape} {self.flat.dtype.name}"
        return f"{type(self).__name__}(lr={self.lr!r}{hyper}, t={self.t}, params={what})"


def _read_npz_v1(path: Path) -> dict[str, Any] | None:
    """The state of a 0.1.0 ``.npz`` file (``state`` = JSON, ``buffer:<name>`` arrays), or None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "state" not in data.files:
                return None
            state = json.loads(str(data["state"]))
            if not isinstance(state, dict):
                return None
            state["buffers"] = {k.split(":", 1)[1]: data[k] for k in data.files if k.startswith("buffer:")}
            return state
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # damaged, pickled, not JSON
        return None


class SGD(Optimizer):
    r"""Gradient descent: :math:`W \leftarrow W - \eta\,dW`.

    Parameters
    ----------
    params : FlatParams or ndarray
        Updated in place (see :class:`Optimizer`).
    lr : float
        Learning rate η > 0.
    check_finite : bool
        Refuse a gradient holding NaN/±inf (default True).

    Notes
    -----
    No hyper-parameters besides ``lr``, no state buffers; the kernel is
    :func:`streamopt._kernels.optim.sgd`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, 2.0])
    >>> SGD(w, lr=0.1).step(np.array([1.0, 1.0]))
    >>> w
    array([0.9, 1.9])
    """

    rule = Rule("SGD", _k.SGD, _k.sgd, hyper=(), buffers=(), legacy_kind="sgd")

    def __init__(self, params: Any, lr: float, *, check_finite: bool = True):
        super().__init__(params, lr, check_finite=check_finite)


class Momentum(Optimizer):
    r"""Gradient descent with momentum.

    ``form="ema"`` (the notes; default):

    .. math:: v \leftarrow \beta v + (1-\beta)\,dW, \qquad W \leftarrow W - \eta v

    ``form="sum"`` (the notes' other form; PyTorch's ``SGD(momentum=β)``):

    .. math:: v \leftarrow \beta v + dW, \qquad W \leftarrow W - \eta v

    with v = 0 initially.  The sum form is the ema form with η/(1 − β) in
    place of η.  ``nesterov=True`` steps along u + β·v instead of v, where
    u = (1 − β)·dW or dW is the form's gradient term (PyTorch's Nesterov
    momentum, exactly so for the sum form).

    Parameters
    ----------
    params : FlatParams or ndarray
        Updated in place (see :class:`Optimizer`).
    lr : float
        Learning rate η > 0.
    beta : float
        Momentum β in [0, 1); β = 0 is plain gradient descent.
    form : {"ema", "sum"}
        Which velocity update (above).
    nesterov : bool
        Nesterov momentum.
    check_finite : bool
        Refuse a gradient holding NaN/±inf (default True).

    Notes
    -----
    PyTorch's ``SGD(momentum=β, dampening=d)`` computes v ← β·v + (1 − d)·dW
    from the second step on, but **initialises** v to dW on the first step
    (no (1 − d) factor).  So ``form="sum"`` equals PyTorch with d = 0 at
    every step, while PyTorch with d = β differs from ``form="ema"`` in that
    first step (its v₁ is dW, the notes' is (1 − β)·dW) and everything after.

    State buffer: ``v`` (the velocity); the kernel is
    :func:`streamopt._kernels.optim.momentum`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.zeros(2)
    >>> opt = Momentum(w, lr=1.0, beta=0.5, form="sum")
    >>> for _ in range(2):
    ...     opt.step(np.ones(2))
    >>> w
    array([-2.5, -2.5])
    """

    rule = Rule("Momentum", _k.MOMENTUM, _k.momentum,
                hyper=(Hyper("beta", "real", _beta), Hyper("form", "choice", choices=("ema", "sum"), arg="sum_form"),
                       Hyper("nesterov", "switch")),
                buffers=(("v", None),), legacy_kind="momentum")

    def __init__(self, params: Any, lr: float, beta: float = 0.9, form: str = "ema", nesterov: bool = False,
                 *, check_finite: bool = True):
        super().__init__(params, lr, check_finite=check_finite, beta=beta, form=form, nesterov=nesterov)


class RMSprop(Optimizer):
    r"""RMSprop, with ε outside the square root as in the notes:

    .. math:: s \leftarrow \beta s + (1-\beta)\,dW^2, \qquad
              W \leftarrow W - \eta\,\frac{dW}{\sqrt{s} + \varepsilon}

    ``centered=True`` (PyTorch's centered RMSprop) also tracks the mean
    gradient ḡ ← β·ḡ + (1 − β)·dW and divides by √(s − ḡ²) + ε, an estimate of
    the gradient's standard deviation.  s − ḡ² ≥ 0 in exact arithmetic; it is
    clamped at 0 so that rounding never yields a NaN (PyTorch does not clamp;
    the two agree wherever PyTorch's result is a number).

    Parameters
    ----------
    params : FlatParams or ndarray
        Updated in place (see :class:`Optimizer`).
    lr : float
        Learning rate η > 0.
    beta : float
        Decay β in [0, 1) of the squared-gradient average (PyTorch's ``alpha``).
    eps : float
        ε > 0 added to the denominator (with ε = 0 a zero gradient where s is
        0 would divide 0 by 0).
    centered : bool
        Centered variant (above).
    check_finite : bool
        Refuse a gradient holding NaN/±inf (default True).

    Notes
    -----
    State buffers: ``s`` (the mean square) and ``gavg`` (the mean gradient,
    in use when ``centered``); the kernel is :func:`streamopt._kernels.optim.rmsprop`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.zeros(2)
    >>> RMSprop(w, lr=0.1, beta=0.0, eps=1e-8).step(np.array([3.0, -4.0]))
    >>> w.round(6)
    array([-0.1,  0.1])
    """

    rule = Rule("RMSprop", _k.RMSPROP, _k.rmsprop,
                hyper=(Hyper("beta", "real", _beta), Hyper("eps", "real", _positive_eps), Hyper("centered", "switch")),
                buffers=(("s", None), ("gavg", "centered")), legacy_kind="rmsprop")

    def __init__(self, params: Any, lr: float, beta: float = 0.9, eps: float = 1e-8, centered: bool = False,
                 *, check_finite: bool = True):
        super().__init__(params, lr, check_finite=check_finite, beta=beta, eps=eps, centered=centered)


class Adam(Optimizer):
    r"""Adam (the notes' form), with PyTorch's weight decay and AMSGrad variants.

    At step t = 1, 2, … (``opt.t`` counts the steps taken):

    .. math::
        m &\leftarrow \beta_1 m + (1-\beta_1)\,dW, \qquad
        v \leftarrow \beta_2 v + (1-\beta_2)\,dW^2, \\
        \hat m &= \frac{m}{1-\beta_1^t}, \qquad \hat v = \frac{v}{1-\beta_2^t}, \qquad
        W \leftarrow W - \eta\,\frac{\hat m}{\sqrt{\hat v} + \varepsilon}.

    (The notes call m and v V_dW and S_dW.)  1 − βᵗ is computed as
    −expm1(t·log1p(−(1 − β))), exact even for β = 1 − 1e−12 at t = 1e9, where
    ``1 - beta**t`` loses every digit.

    Variants, as in ``torch.optim``:

    * ``weight_decay=λ`` (L2, ``torch.optim.Adam``): dW ← dW + λ·W before the update.
    * ``decoupled=True`` (AdamW, ``torch.optim.AdamW``): W ← (1 − η·λ)·W instead,
      the gradient is left alone.
    * ``amsgrad=True``: v_max ← max(v_max, v) and v_max replaces v in the step.

    Parameters
    ----------
    params : FlatParams or ndarray
        Updated in place (see :class:`Optimizer`).
    lr : float
        Learning rate η > 0.
    beta1, beta2 : float
        Decays β₁, β₂ in [0, 1) of the first and second moments.
    eps : float
        ε > 0 added to the denominator (with ε = 0 a zero gradient on a zero
        second moment would divide 0 by 0).
    weight_decay : float
        λ ≥ 0.
    decoupled : bool
        Decoupled weight decay (AdamW).
    amsgrad : bool
        AMSGrad.
    check_finite : bool
        Refuse a gradient holding NaN/±inf (default True).

    Notes
    -----
    State buffers: ``m`` (first moment), ``v`` (second moment) and ``vmax``
    (running max of v, in use with ``amsgrad``); the kernel is
    :func:`streamopt._kernels.optim.adam`, given the bias corrections of
    :func:`streamopt._kernels.optim.bias_corrections` (built once per step).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.zeros(2)
    >>> opt = Adam(w, lr=0.01)
    >>> opt.step(np.array([0.5, -2.0]))
    >>> w, opt.t
    (array([-0.01,  0.01]), 1)
    """

    rule = Rule("Adam", _k.ADAM, _k.adam,
                hyper=(Hyper("beta1", "real", _beta), Hyper("beta2", "real", _beta),
                       Hyper("eps", "real", _positive_eps),
                       Hyper("weight_decay", "real", _checks.check_eps), Hyper("decoupled", "switch"),
                       Hyper("amsgrad", "switch")),
                buffers=(("m", None), ("v", None), ("vmax", "amsgrad")), legacy_kind="adam")

    def __init__(self, params: Any, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled: bool = False, amsgrad: bool = False,
                 *, check_finite: bool = True):
        super().__init__(params, lr, check_finite=check_finite, beta1=beta1, beta2=beta2, eps=eps,
                         weight_decay=weight_decay, decoupled=decoupled, amsgrad=amsgrad)
