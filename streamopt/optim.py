"""Fused optimizers on flat parameter buffers: SGD, Momentum, RMSprop, Adam.

Each optimizer updates every parameter in **one** compiled pass over one
contiguous buffer (a :class:`~streamopt.params.FlatParams` or a float ndarray),
with the notes' formulas; PyTorch's variants (Nesterov, centered RMSprop,
L2 / decoupled weight decay, AMSGrad) follow ``torch.optim``'s definitions.

=========  ==================================================================
rule       update (g = gradient, α = ``lr``, all operations element-wise)
=========  ==================================================================
SGD        W ← W − α·g
Momentum   v ← β·v + (1 − β)·g ("ema") or v ← β·v + g ("sum");  W ← W − α·v
RMSprop    s ← β·s + (1 − β)·g²;  W ← W − α·g / (√s + ε)
Adam       m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²;  t ← t + 1;
           W ← W − α·m̂ / (√v̂ + ε),  m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
=========  ==================================================================

A step whose gradient holds a NaN or ±inf raises :class:`NonFiniteGradientError`
and changes nothing (``check_finite=False`` skips that check).  ``state_dict``
/ ``load_state_dict`` and ``save`` / ``load`` restore an optimizer exactly: a run
stopped after k steps and resumed is bit-identical to one never stopped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import _checks
from ._kernels import optim as _k
from .params import FlatParams, flat_gradient

__all__ = ["Optimizer", "SGD", "Momentum", "RMSprop", "Adam", "NonFiniteGradientError", "PARALLEL_MIN_BYTES"]

#: A step uses the parallel kernels (every core) when it moves at least this
#: many bytes (parameters × arrays read or written × itemsize; e.g. from about
#: 225 000 parameters for Adam in float32, 524 000 for SGD).  In a training loop
#: the worker threads have gone to sleep by the next step (the gradient takes
#: longer than OpenMP spins), and ``bench/threads.py`` measured one Adam step
#: after 10 ms of idling: 2 cores break even at about 2·10⁵ float32 parameters
#: (101 µs serial, 96 µs parallel).  Called back to back (the ``*-threshold``
#: cases of ``bench/optimizers.py``) they would win from about 1.5 MiB.
PARALLEL_MIN_BYTES = 6 * 1024 * 1024

#: Version of the ``state_dict`` / ``save`` format.
STATE_FORMAT = 1


class NonFiniteGradientError(ValueError):
    """A gradient held a NaN or ±inf; the step was not taken (nothing changed)."""


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


class Optimizer:
    """Base class of the fused optimizers (not used directly).

    Parameters
    ----------
    params : FlatParams or ndarray
        The parameters, updated **in place** by :meth:`step`.  An ndarray must
        be float32 or float64, C-contiguous and writeable; its shape is kept.
    lr : float
        Learning rate α > 0; may be changed between steps (``opt.lr = x``).
    check_finite : bool
        Check the gradient for NaN/±inf before each step (default).  The check
        is one extra read of the gradient, inside the same compiled call.

    Attributes
    ----------
    params : FlatParams or ndarray
        What was passed in.
    t : int
        Steps taken so far.

    Notes
    -----
    Internal interface (used by the compiled training loop, not a public API):
    ``kind`` (``"sgd"``, ``"momentum"``, ``"rmsprop"`` or ``"adam"``), ``lr``
    (float, settable), ``hyper`` (dict of the other hyper-parameters),
    ``buffers`` (dict name → 1-D state array of the parameters' dtype, in the
    order of the kernel's arguments; a buffer that a flag switches off is
    zero-length), ``t`` (int) and ``flat`` (the 1-D parameter buffer).  The
    kernels are ``streamopt._kernels.optim.<kind>_step``.
    """

    kind: ClassVar[str] = ""

    def __init__(self, params: Any, lr: float, *, check_finite: bool = True):
        self.params, self.flat = _as_params(params)
        self._lr = _checks.check_lr(lr)
        self._check = _checks.check_bool("check_finite", check_finite)
        self.t = 0
        self._scratch: np.ndarray | None = None
        self._layout = params.layout if isinstance(params, FlatParams) else None
        self._shape = None if isinstance(params, FlatParams) else tuple(params.shape)
        self._parallel = False
        self.buffers: dict[str, np.ndarray] = {}

    # -- hyper-parameters -----------------------------------------------------
    @property
    def lr(self) -> float:
        """Learning rate α (> 0); setting it validates the value."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _checks.check_lr(value)

    @property
    def check_finite(self) -> bool:
        """Refuse gradients holding NaN/±inf (settable; validated)."""
        return self._check

    @check_finite.setter
    def check_finite(self, value: bool) -> None:
        self._check = _checks.check_bool("check_finite", value)

    @property
    def hyper(self) -> dict[str, Any]:
        """The hyper-parameters other than ``lr`` (a new dict)."""
        return {}

    @property
    def dtype(self) -> np.dtype:
        return self.flat.dtype

    def _set_hyper(self, **hyper: Any) -> dict[str, np.ndarray]:
        """Validate and set the hyper-parameters; return the state buffers they call for
        (existing ones kept, new ones zero)."""
        raise NotImplementedError

    def _choose_kernels(self, arrays: int) -> None:
        """Parallel kernels when a step reads or writes ``arrays`` buffers of at least
        :data:`PARALLEL_MIN_BYTES` in all."""
        self._parallel = self.flat.size * arrays * self.flat.dtype.itemsize >= PARALLEL_MIN_BYTES

    def _buffer(self, name: str, active: bool = True) -> np.ndarray:
        """The state buffer ``name``: the existing one if it has the right size, else zeros."""
        n = self.flat.size if active else 0
        old = self.buffers.get(name)
        if old is not None and old.size == n:
            return old
        return np.zeros(n, dtype=self.flat.dtype)

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
        """
        g = self._gradient(grads)
        bad = self._run(g, self._check)
        if bad >= 0:
            raise self._nonfinite_error(g, bad)

    def _run(self, g: np.ndarray, check: bool) -> int:
        raise NotImplementedError

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
        """The optimizer's state: kind, dtype, size, ``lr``, ``hyper``, ``t`` and
        copies of the buffers (the parameters themselves are not included).

        Every entry but ``buffers`` is JSON-serialisable; :meth:`save` writes
        the whole state to one ``.npz`` file.
        """
        return {
            "format": STATE_FORMAT,
            "kind": self.kind,
            "dtype": self.flat.dtype.name,
            "size": int(self.flat.size),
            "lr": self._lr,
            "hyper": self.hyper,
            "t": int(self.t),
            "buffers": {name: buf.copy() for name, buf in self.buffers.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` (of this kind, size and dtype).

        Everything is validated before anything changes: a mismatched state
        raises (TypeError/ValueError naming the field) and leaves the optimizer
        as it was.  Buffers are copied into this optimizer's own arrays.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        missing = [k for k in ("kind", "dtype", "size", "lr", "hyper", "t", "buffers") if k not in state]
        if missing:
            raise ValueError(f"state is missing {missing[0]!r}; expected a dict from state_dict()")
        if state.get("format", STATE_FORMAT) != STATE_FORMAT:
            raise ValueError(f"state format must be {STATE_FORMAT}, got {state.get('format')!r}")
        if state["kind"] != self.kind:
            raise ValueError(f"state['kind'] must be {self.kind!r} for {type(self).__name__}, got {state['kind']!r}")
        if state["size"] != self.flat.size:
            raise ValueError(f"state['size'] must be {self.flat.size} (the parameters' size), got {state['size']!r}")
        if state["dtype"] != self.flat.dtype.name:
            raise TypeError(f"state['dtype'] must be {self.flat.dtype.name!r}, got {state['dtype']!r}")
        lr = _checks.check_lr(state["lr"], "state['lr']")
        t = _checks.check_int("state['t']", state["t"], minimum=0)
        hyper = state["hyper"]
        if not isinstance(hyper, dict) or set(hyper) != set(self.hyper):
            raise ValueError(f"state['hyper'] must have the keys {sorted(self.hyper)}, got {hyper!r}")
        buffers = state["buffers"]
        if not isinstance(buffers, dict):
            raise TypeError(f"state['buffers'] must be a dict of arrays, got {type(buffers).__name__}")
        # validate the hyper-parameters on a scratch copy, so that nothing changes on error
        probe = object.__new__(type(self))
        probe.__dict__.update(self.__dict__)
        probe.buffers = dict(self.buffers)
        wanted = probe._set_hyper(**hyper)
        if set(buffers) != set(wanted):
            raise ValueError(f"state['buffers'] must hold {sorted(wanted)}, got {sorted(buffers)}")
        for name, target in wanted.items():
            buf = buffers[name]
            if not isinstance(buf, np.ndarray):
                raise TypeError(f"state['buffers'][{name!r}] must be an ndarray, got {type(buf).__name__}")
            if buf.dtype != self.flat.dtype:
                raise TypeError(f"state['buffers'][{name!r}] must be {self.flat.dtype.name}, got {buf.dtype}")
            if buf.shape != target.shape:
                raise ValueError(f"state['buffers'][{name!r}] must have shape {target.shape}, got {buf.shape}")
        # commit
        self._set_hyper(**hyper)
        self.buffers = wanted
        for name, target in wanted.items():
            target[...] = buffers[name]
        self._lr = lr
        self.t = t

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`state_dict` to ``path`` (an ``.npz`` file, written at exactly that path).

        Returns the path.  Load it with :meth:`load` on an optimizer of the same
        kind built on parameters of the same size and dtype.
        """
        path = Path(path)
        state = self.state_dict()
        buffers = state.pop("buffers")
        arrays = {f"buffer:{name}": buf for name, buf in buffers.items()}
        with open(path, "wb") as fh:
            np.savez(fh, state=np.array(json.dumps(state)), **arrays)
        return path

    def load(self, path: str | os.PathLike) -> None:
        """Restore the state written by :meth:`save` (validated as :meth:`load_state_dict`)."""
        with np.load(Path(path), allow_pickle=False) as data:
            if "state" not in data.files:
                raise ValueError(f"{os.fspath(path)!r} is not an optimizer state file (no 'state' entry)")
            state = json.loads(str(data["state"]))
            state["buffers"] = {k.split(":", 1)[1]: data[k] for k in data.files if k.startswith("buffer:")}
        self.load_state_dict(state)

    def __repr__(self) -> str:
        hyper = "".join(f", {k}={v!r}" for k, v in self.hyper.items())
        what = repr(self.params) if self._layout is not None else f"ndarray{self._shape} {self.flat.dtype.name}"
        return f"{type(self).__name__}(lr={self._lr!r}{hyper}, t={self.t}, params={what})"


class SGD(Optimizer):
    r"""Gradient descent: :math:`W \leftarrow W - \alpha\,dW`.

    Parameters
    ----------
    params : FlatParams or ndarray
        Updated in place (see :class:`Optimizer`).
    lr : float
        Learning rate α > 0.
    check_finite : bool
        Refuse a gradient holding NaN/±inf (default True).

    Notes
    -----
    Internal: ``kind = "sgd"``, ``hyper = {}``, ``buffers = {}`` (see
    :class:`Optimizer`).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, 2.0])
    >>> SGD(w, lr=0.1).step(np.array([1.0, 1.0]))
    >>> w
    array([0.9, 1.9])
    """

    kind = "sgd"

    def __init__(self, params: Any, lr: float, *, check_finite: bool = True):
        super().__init__(params, lr, check_finite=check_finite)
        self.buffers = self._set_hyper()

    def _set_hyper(self) -> dict[str, np.ndarray]:
        self._choose_kernels(3)  # read W, g; write W
        return {}

    def _run(self, g: np.ndarray, check: bool) -> int:
        kernel = _k.sgd_apply_parallel if self._parallel else _k.sgd_apply
        bad = kernel(self.flat, g, self._lr, check)
        if bad < 0:
            self.t += 1
        return bad


class Momentum(Optimizer):
    r"""Gradient descent with momentum.

    ``form="ema"`` (the notes; default):

    .. math:: v \leftarrow \beta v + (1-\beta)\,dW, \qquad W \leftarrow W - \alpha v

    ``form="sum"`` (the notes' other form; PyTorch's ``SGD(momentum=β)``):

    .. math:: v \leftarrow \beta v + dW, \qquad W \leftarrow W - \alpha v

    with v = 0 initially.  The sum form is the ema form with α/(1 − β) in
    place of α.  ``nesterov=True`` steps along u + β·v instead of v, where
    u = (1 − β)·dW or dW is the form's gradient term (PyTorch's Nesterov
    momentum, exactly so for the sum form).

    Parameters
    ----------
    params : FlatParams or ndarray
        Updated in place (see :class:`Optimizer`).
    lr : float
        Learning rate α > 0.
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

    Internal: ``kind = "momentum"``, ``hyper = {"beta", "form", "nesterov"}``,
    ``buffers = {"v": velocity}`` (see :class:`Optimizer`).
    """

    kind = "momentum"

    def __init__(self, params: Any, lr: float, beta: float = 0.9, form: str = "ema", nesterov: bool = False,
                 *, check_finite: bool = True):
        super().__init__(params, lr, check_finite=check_finite)
        self.buffers = self._set_hyper(beta=beta, form=form, nesterov=nesterov)

    def _set_hyper(self, beta: float, form: str, nesterov: bool) -> dict[str, np.ndarray]:
        beta = _checks.check_beta("beta", beta)
        if not isinstance(form, str) or form not in ("ema", "sum"):
            raise ValueError(f"form must be 'ema' or 'sum', got {form!r}")
        self.beta, self.form = beta, form
        self.nesterov = _checks.check_bool("nesterov", nesterov)
        self._choose_kernels(5)  # read W, g, v; write W, v
        return {"v": self._buffer("v")}

    @property
    def hyper(self) -> dict[str, Any]:
        return {"beta": self.beta, "form": self.form, "nesterov": self.nesterov}

    def _run(self, g: np.ndarray, check: bool) -> int:
        kernel = _k.momentum_apply_parallel if self._parallel else _k.momentum_apply
        bad = kernel(self.flat, g, self.buffers["v"], self._lr, self.beta, self.form == "sum",
                     self.nesterov, check)
        if bad < 0:
            self.t += 1
        return bad


class RMSprop(Optimizer):
    r"""RMSprop, with ε outside the square root as in the notes:

    .. math:: s \leftarrow \beta s + (1-\beta)\,dW^2, \qquad
              W \leftarrow W - \alpha\,\frac{dW}{\sqrt{s} + \varepsilon}

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
        Learning rate α > 0.
    beta : float
        Decay β in [0, 1) of the squared-gradient average (PyTorch's ``alpha``).
    eps : float
        ε ≥ 0 added to the denominator.
    centered : bool
        Centered variant (above).
    check_finite : bool
        Refuse a gradient holding NaN/±inf (default True).

    Notes
    -----
    Internal: ``kind = "rmsprop"``, ``hyper = {"beta", "eps", "centered"}``,
    ``buffers = {"s": mean square, "gavg": mean gradient (zero-length unless
    centered)}`` (see :class:`Optimizer`).
    """

    kind = "rmsprop"

    def __init__(self, params: Any, lr: float, beta: float = 0.9, eps: float = 1e-8, centered: bool = False,
                 *, check_finite: bool = True):
        super().__init__(params, lr, check_finite=check_finite)
        self.buffers = self._set_hyper(beta=beta, eps=eps, centered=centered)

    def _set_hyper(self, beta: float, eps: float, centered: bool) -> dict[str, np.ndarray]:
        self.beta = _checks.check_beta("beta", beta)
        self.eps = _checks.check_eps(eps)
        self.centered = _checks.check_bool("centered", centered)
        self._choose_kernels(7 if self.centered else 5)
        return {"s": self._buffer("s"), "gavg": self._buffer("gavg", self.centered)}

    @property
    def hyper(self) -> dict[str, Any]:
        return {"beta": self.beta, "eps": self.eps, "centered": self.centered}

    def _run(self, g: np.ndarray, check: bool) -> int:
        kernel = _k.rmsprop_apply_parallel if self._parallel else _k.rmsprop_apply
        b = self.buffers
        bad = kernel(self.flat, g, b["s"], b["gavg"], self._lr, self.beta, self.eps, self.centered, check)
        if bad < 0:
            self.t += 1
        return bad


class Adam(Optimizer):
    r"""Adam (the notes' form), with PyTorch's weight decay and AMSGrad variants.

    At step t = 1, 2, … (``opt.t`` counts the steps taken):

    .. math::
        m &\leftarrow \beta_1 m + (1-\beta_1)\,dW, \qquad
        v \leftarrow \beta_2 v + (1-\beta_2)\,dW^2, \\
        \hat m &= \frac{m}{1-\beta_1^t}, \qquad \hat v = \frac{v}{1-\beta_2^t}, \qquad
        W \leftarrow W - \alpha\,\frac{\hat m}{\sqrt{\hat v} + \varepsilon}.

    (The notes call m and v V_dW and S_dW.)  1 − βᵗ is computed as
    −expm1(t·log1p(−(1 − β))), exact even for β = 1 − 1e−12 at t = 1e9, where
    ``1 - beta**t`` loses every digit.

    Variants, as in ``torch.optim``:

    * ``weight_decay=λ`` (L2, ``torch.optim.Adam``): dW ← dW + λ·W before the update.
    * ``decoupled=True`` (AdamW, ``torch.optim.AdamW``): W ← (1 − α·λ)·W instead,
      the gradient is left alone.
    * ``amsgrad=True``: v_max ← max(v_max, v) and v_max replaces v in the step.

    Parameters
    ----------
    params : FlatParams or ndarray
        Updated in place (see :class:`Optimizer`).
    lr : float
        Learning rate α > 0.
    beta1, beta2 : float
        Decays β₁, β₂ in [0, 1) of the first and second moments.
    eps : float
        ε ≥ 0 added to the denominator.
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
    Internal: ``kind = "adam"``, ``hyper = {"beta1", "beta2", "eps",
    "weight_decay", "decoupled", "amsgrad"}``, ``buffers = {"m": first moment,
    "v": second moment, "vmax": running max of v (zero-length unless
    amsgrad)}``; the kernel takes c1 = 1 − β₁ᵗ and c2 = 1 − β₂ᵗ for the step
    being taken, t = ``opt.t + 1`` (see :class:`Optimizer`).
    """

    kind = "adam"

    def __init__(self, params: Any, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled: bool = False, amsgrad: bool = False,
                 *, check_finite: bool = True):
        super().__init__(params, lr, check_finite=check_finite)
        self.buffers = self._set_hyper(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                                       decoupled=decoupled, amsgrad=amsgrad)

    def _set_hyper(self, beta1: float, beta2: float, eps: float, weight_decay: float, decoupled: bool,
                   amsgrad: bool) -> dict[str, np.ndarray]:
        self.beta1 = _checks.check_beta("beta1", beta1)
        self.beta2 = _checks.check_beta("beta2", beta2)
        self.eps = _checks.check_eps(eps)
        self.weight_decay = _checks.check_eps(weight_decay, "weight_decay")
        self.decoupled = _checks.check_bool("decoupled", decoupled)
        self.amsgrad = _checks.check_bool("amsgrad", amsgrad)
        self._choose_kernels(9 if self.amsgrad else 7)
        return {"m": self._buffer("m"), "v": self._buffer("v"), "vmax": self._buffer("vmax", self.amsgrad)}

    @property
    def hyper(self) -> dict[str, Any]:
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps, "weight_decay": self.weight_decay,
                "decoupled": self.decoupled, "amsgrad": self.amsgrad}

    def _run(self, g: np.ndarray, check: bool) -> int:
        kernel = _k.adam_apply_parallel if self._parallel else _k.adam_apply
        b = self.buffers
        bad = kernel(self.flat, g, b["m"], b["v"], b["vmax"], self._lr, self.beta1, self.beta2, self.eps,
                     self.t + 1, self.weight_decay, self.decoupled, self.amsgrad, check)
        if bad < 0:
            self.t += 1
        return bad
