"""The notes' fully connected network: ReLU hidden layers, a sigmoid output, He initialisation.

Examples are columns, as in the notes: X has shape (n_0, m) and Y (n_L, m).
The parameters W1, b1, W2, b2, … live in one :class:`~streamopt.params.FlatParams`
buffer, ``model.params``, which an optimizer updates in place::

    model = MLP([2, 5, 2, 1])
    opt = Adam(model.params, lr=0.0007)

Forward and backward passes are the Numba kernels of
:mod:`streamopt._kernels.mlp`, shared with the compiled training loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import as_float_array, check_int
from ._kernels import mlp as _k
from .params import FlatParams
from .state import StateError, array_from_json, array_to_json, envelope, excerpt, open_envelope

_KIND = "MLP"
_VERSION = 1
_FIELDS = ("layer_dims", "dtype", "params")

__all__ = ["MLP"]


class _Workspace:
    """Scratch buffers for batches of up to ``capacity`` examples (see the kernels' layout)."""

    def __init__(self, dims: np.ndarray, capacity: int, dtype: np.dtype, n_params: int) -> None:
        self.capacity = capacity
        widths = dims[1:]
        self.a_base = np.zeros(dims.size, dtype=np.int64)
        self.a_base[1:] = np.concatenate([[0], np.cumsum(widths)[:-1]]) * capacity
        self.act = np.empty(int(widths.sum()) * capacity, dtype=dtype)
        self.dz = np.empty(2 * int(widths.max()) * capacity, dtype=dtype)
        self.tmp = np.empty(max(int(dims[-1]), 1) * capacity, dtype=dtype)
        self.g = np.zeros(n_params, dtype=dtype)


class MLP:
    r"""A fully connected network with ReLU hidden layers and a sigmoid output.

    For l = 1..L: Z_l = W_l·A_{l−1} + b_l, A_l = ReLU(Z_l) for l < L, and
    A_L = σ(Z_L) = 1 / (1 + e^{−Z_L}), with A_0 = X (examples as columns).

    Parameters
    ----------
    layer_dims : sequence of int
        [n_0, n_1, …, n_L]: the input size, the hidden layers' widths and the
        output size (each ≥ 1, at least two entries).  The notes use [2, 5, 2, 1].
    seed : int, default 3
        He initialisation exactly as the notes: a legacy generator
        ``RandomState(seed)`` seeded once, then for l = 1..L in order
        W_l = randn(n_l, n_{l−1})·√(2 / n_{l−1}) and b_l = 0 (shape (n_l, 1)).
    dtype : {float64, float32}, default float64
        dtype of the parameters; inputs are converted to it.

    Attributes
    ----------
    params : FlatParams
        W1, b1, W2, b2, … as views of one contiguous buffer.
    layer_dims : tuple of int

    Examples
    --------
    >>> from streamopt import MLP
    >>> model = MLP([2, 5, 2, 1])
    >>> model.params.names
    ('W1', 'b1', 'W2', 'b2', 'W3', 'b3')
    """

    def __init__(self, layer_dims: Sequence[int], seed: int = 3, dtype: Any = np.float64) -> None:
        if isinstance(layer_dims, (str, bytes)) or not isinstance(layer_dims, Sequence | np.ndarray):
            raise TypeError(f"layer_dims must be a sequence of layer sizes, got {layer_dims!r}")
        dims = tuple(check_int(f"layer_dims[{i}]", n, minimum=1) for i, n in enumerate(layer_dims))
        if len(dims) < 2:
            raise ValueError(f"layer_dims must hold at least an input and an output size, got {list(layer_dims)!r}")
        seed = check_int("seed", seed, minimum=0)
        if seed >= 2**32:
            raise ValueError(f"seed must be < 2**32, got {seed!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise TypeError(f"dtype must be float64 or float32, got {dtype}")
        rng = np.random.RandomState(seed)
        arrays: dict[str, np.ndarray] = {}
        for l in range(1, len(dims)):
            arrays[f"W{l}"] = (rng.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])).astype(dtype)
            arrays[f"b{l}"] = np.zeros((dims[l], 1), dtype=dtype)
        self._params = FlatParams(arrays)
        self._dims = dims
        self._dims_arr = np.asarray(dims, dtype=np.int64)
        self._dtype = dtype
        layout = self._params.layout
        self._w_off = np.zeros(len(dims), dtype=np.int64)
        self._b_off = np.zeros(len(dims), dtype=np.int64)
        for l in range(1, len(dims)):
            self._w_off[l] = layout.offsets[layout.index[f"W{l}"]]
            self._b_off[l] = layout.offsets[layout.index[f"b{l}"]]
        self._ws: _Workspace | None = None

    # ------------------------------------------------------------- properties
    @property
    def params(self) -> FlatParams:
        """The parameters W1, b1, …, WL, bL (views of one flat buffer)."""
        return self._params

    @property
    def layer_dims(self) -> tuple[int, ...]:
        """[n_0, …, n_L] as a tuple."""
        return self._dims

    @property
    def n_layers(self) -> int:
        """L, the number of weight layers."""
        return len(self._dims) - 1

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def __repr__(self) -> str:
        return f"MLP(layer_dims={list(self._dims)}, dtype={self._dtype.name}, n_params={self._params.flat.size})"

    # --------------------------------------------------------------- plumbing
    def _workspace(self, capacity: int) -> _Workspace:
        if self._ws is None or self._ws.capacity < capacity:
            self._ws = _Workspace(self._dims_arr, capacity, self._dtype, self._params.flat.size)
        return self._ws

    def _layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(dims, w_off, b_off): the layer sizes and where W_l and b_l start in ``params.flat``."""
        return self._dims_arr, self._w_off, self._b_off

    def _net(self) -> _k.Net:
        """The model as the compiled training loop takes it (its own arrays)."""
        return _k.Net(self._params.flat, self._dims_arr, self._w_off, self._b_off)

    def check_inputs(self, X: Any, name: str = "X") -> np.ndarray:
        """``X`` as a C-contiguous (n_0, m) array of the model's dtype (a copy
        when converted; never written).  Raises on a bad shape or NaN/inf."""
        arr = as_float_array(X, name)
        n0 = self._dims[0]
        if arr.ndim == 1 and n0 == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[0] != n0:
            raise ValueError(
                f"{name} must have shape ({n0}, m) (examples as columns), got shape {arr.shape}"
            )
        if arr.shape[1] == 0:
            raise ValueError(f"{name} holds no examples (shape {arr.shape})")
        arr = np.ascontiguousarray(arr, dtype=self._dtype)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} holds NaN or infinite values; the network cannot take them")
        return arr

    def check_targets(self, Y: Any, m: int, name: str = "Y") -> np.ndarray:
        """``Y`` as a C-contiguous (n_L, m) array of the model's dtype, values in [0, 1]."""
        arr = as_float_array(Y, name)
        nL = self._dims[-1]
        if arr.ndim == 1 and nL == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape != (nL, m):
            raise ValueError(f"{name} must have shape ({nL}, {m}) to match X, got shape {arr.shape}")
        arr = np.ascontiguousarray(arr, dtype=self._dtype)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} holds NaN or infinite values; the network cannot take them")
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"{name} must hold labels in [0, 1], got values from {arr.min()!r} to {arr.max()!r}")
        return arr

    def _loss_and_grad(self, X: np.ndarray, Y: np.ndarray, want_cost: bool) -> tuple[bool, float]:
        """Gradient of the mean cost over the batch (X, Y checked, contiguous) into the
        workspace's ``g``; returns (all gradients finite, Σ of per-example losses or NaN)."""
        m = X.shape[1]
        ws = self._workspace(m)
        dims, w_off, b_off = self._layout()
        flat = self._params.flat
        x1, y1 = X.reshape(-1), Y.reshape(-1)
        _k.forward(x1, m, flat, dims, w_off, b_off, ws.a_base, ws.act)
        total = _k.cost_sum(y1, m, dims, ws.a_base, ws.act, ws.tmp) if want_cost else float("nan")
        ok = _k.backward(x1, y1, m, flat, dims, w_off, b_off, ws.a_base, ws.act, ws.dz, ws.g)
        return bool(ok), float(total)

    # ---------------------------------------------------------------- the API
    def _run_forward(self, x: np.ndarray) -> _Workspace:
        """Forward pass of checked inputs; the activations are in the returned workspace."""
        m = x.shape[1]
        # large inputs (e.g. a plotting grid) get their own buffers, not a cached giant one
        ws = _Workspace(self._dims_arr, m, self._dtype, 0) if m > 4096 else self._workspace(m)
        dims, w_off, b_off = self._layout()
        _k.forward(x.reshape(-1), m, self._params.flat, dims, w_off, b_off, ws.a_base, ws.act)
        return ws

    def forward(self, X: Any) -> np.ndarray:
        """The output probabilities A_L, shape (n_L, m).

        Parameters
        ----------
        X : array-like of shape (n_0, m)
            Inputs, examples as columns.
        """
        x = self.check_inputs(X)
        m = x.shape[1]
        ws = self._run_forward(x)
        base = int(ws.a_base[-1])
        return ws.act[base:base + self._dims[-1] * m].reshape(self._dims[-1], m).copy()

    def cost(self, X: Any, Y: Any) -> float:
        r"""Mean cross-entropy over the m examples:
        J = −(1/m)·Σ_j Σ_i [y_ij·log a_ij + (1 − y_ij)·log(1 − a_ij)]."""
        x = self.check_inputs(X)
        y = self.check_targets(Y, x.shape[1])
        m = x.shape[1]
        ws = self._run_forward(x)
        return float(_k.cost_sum(y.reshape(-1), m, self._dims_arr, ws.a_base, ws.act, ws.tmp)) / m

    def gradients(self, X: Any, Y: Any) -> tuple[float, FlatParams]:
        r"""The mean cross-entropy of the batch and its gradient: the notes' backward pass.

        The gradient is that of the **mean** (dZ_L = (A_L − Y)/m), then
        dW_l = dZ_l·A_{l−1}ᵀ, db_l = Σ_j dZ_l[:, j] and
        dZ_{l−1} = (W_lᵀ·dZ_l) ⊙ [A_{l−1} > 0].  Training one mini-batch at a
        time is ``loss, g = model.gradients(Xb, Yb); opt.step(g)``, the same
        arithmetic as :func:`streamopt.train`'s steps.

        Parameters
        ----------
        X : array-like of shape (n_0, m)
            Inputs, examples as columns.
        Y : array-like of shape (n_L, m)
            Labels in [0, 1].

        Returns
        -------
        loss : float
            J before the step (the cost at the current parameters).
        grads : FlatParams
            dW1, db1, … keyed like ``params`` (a new buffer).

        Raises
        ------
        FloatingPointError
            A gradient entry is NaN or infinite.

        Examples
        --------
        >>> import numpy as np
        >>> from streamopt import MLP, Adam
        >>> model = MLP([2, 3, 1], seed=1)
        >>> opt = Adam(model.params, lr=0.01)
        >>> X, Y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, 1.0]])
        >>> loss, g = model.gradients(X, Y)
        >>> opt.step(g)
        >>> model.cost(X, Y) < loss
        True
        """
        x = self.check_inputs(X)
        y = self.check_targets(Y, x.shape[1])
        ok, total = self._loss_and_grad(x, y, want_cost=True)
        if not ok:
            raise FloatingPointError("the gradient holds NaN or infinite values (the parameters may have diverged)")
        grads = self._params.zeros_like()
        grads.flat[:] = self._ws.g
        return total / x.shape[1], grads

    def loss_and_grad(self, X: Any, Y: Any) -> tuple[float, FlatParams]:
        """The same as :meth:`gradients` (the name 0.1.0 used)."""
        return self.gradients(X, Y)

    def predict_proba(self, X: Any) -> np.ndarray:
        """The output probabilities A_L = σ(Z_L), shape (n_L, m): the same as :meth:`forward`."""
        return self.forward(X)

    def predict(self, X: Any) -> np.ndarray:
        """1 where the output probability is > 0.5, else 0; int64 of shape (n_L, m)."""
        return (self.forward(X) > 0.5).astype(np.int64)

    def accuracy(self, X: Any, Y: Any) -> float:
        """The fraction of outputs where :meth:`predict` equals the label (labels 0/1)."""
        x = self.check_inputs(X)
        y = self.check_targets(Y, x.shape[1])
        return float(np.mean(self.predict(x) == y))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The model as JSON-ready data: the layer sizes, the dtype and the exact parameters.

        ``{"format": "streamopt.MLP", "version": 1, "layer_dims", "dtype",
        "params"}``, ``params`` the flat buffer (W1, b1, W2, … in order) as
        base64 of its bytes, so :meth:`from_state` gives the same bits.

        Examples
        --------
        >>> import json
        >>> from streamopt import MLP
        >>> model = MLP([2, 5, 2, 1])
        >>> again = MLP.from_state(json.loads(json.dumps(model.state_dict())))
        >>> bool((again.params.flat == model.params.flat).all()), again.layer_dims
        (True, (2, 5, 2, 1))
        """
        return envelope(_KIND, _VERSION, {"layer_dims": list(self._dims), "dtype": self._dtype.name,
                                          "params": array_to_json(self._params.flat)})

    @classmethod
    def from_state(cls, state: Any) -> "MLP":
        """The model :meth:`state_dict` saved (a :class:`~streamopt.state.StateError` names what is wrong)."""
        _, state = open_envelope(state, _KIND, _VERSION, _FIELDS)
        dims = state["layer_dims"]
        if (not isinstance(dims, list) or len(dims) < 2
                or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in dims)):
            raise StateError(f"state['layer_dims'] must be a list of at least two sizes >= 1, got {excerpt(dims)}")
        if state["dtype"] not in ("float64", "float32"):
            raise StateError(f"state['dtype'] must be 'float64' or 'float32', got {excerpt(state['dtype'])}")
        model = cls(dims, dtype=state["dtype"])
        flat = array_from_json("state['params']", state["params"], state["dtype"], (model._params.flat.size,))
        model._params.flat[:] = flat
        return model
