"""Online training in the service: models that take one optimizer step per posted mini-batch.

A model is a :class:`streamopt.MLP` with one of the fused optimizers (and
optionally a learning-rate schedule of :mod:`streamopt.schedules`).  Learning
goes through the engine's one writer and group commit, as the streams'
batches do (:mod:`streamopt.service.engine`): a learn batch is applied in
arrival order (prequential evaluation first, then ``loss, g =
net.gradients(X, Y); opt.step(g)``), the model's whole state is written in
the group's transaction, and the answer leaves after the commit.

What a commit writes for a model (:mod:`streamopt.service.store`):

- ``models.state``: the parameters (:meth:`streamopt.MLP.state_dict`), the
  optimizer's :meth:`~streamopt.optim.Optimizer.state_dict` and the EWA of
  loss and accuracy (:meth:`streamopt.EWA.state_dict`), all exact, as JSON;
- ``model_producers``: each producer's last seq (exactly once);
- ``model_steps``: one row per step (producer, seq, batch size, loss and
  accuracy before the step, their EWAs): the applied order, the answers to
  duplicates, and the points the dashboard draws.

Every function here raises :class:`~streamopt.service.parse.ApiError` for a
request it refuses, before anything changes.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from .._checks import check_lr
from .parse import ApiError, _check_id, _show, _type

__all__ = ["LearnBatch", "Model", "Models", "parse_model_config", "parse_learn", "parse_predict", "max_rows",
           "MAX_PARAMETERS", "MAX_ACTIVATIONS", "POINTS", "EWA_BETA"]

#: The most parameters a model may have (its whole state is written at every commit).
MAX_PARAMETERS = 1_000_000
#: The most layers (``len(layers)``).
MAX_LAYERS = 64
#: Steps whose points (loss, accuracy and their EWAs) ``GET /v1/models/{name}`` returns.
POINTS = 1_000
#: β of the EWA (bias-corrected) of the loss and the prequential accuracy.
EWA_BETA = 0.98
#: A batch's activations (examples × the layers' widths after the input) are at most this many floats.
MAX_ACTIVATIONS = 2**24

_CONFIG_FIELDS = ("layers", "seed", "optimizer", "schedule")
_LEARN_FIELDS = ("producer", "seq", "X", "y")


def _optimizers() -> dict[str, Any]:
    from ..optim import SGD, Adam, Momentum, RMSprop

    return {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam}


def _schedules() -> dict[str, Any]:
    from .. import schedules

    return {"inverse_time": schedules.inverse_time, "exponential": schedules.exponential,
            "inverse_sqrt": schedules.inverse_sqrt, "piecewise": schedules.piecewise}


# ------------------------------------------------------------------ configuration
def _options(body: Any, field: str, kinds: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
    """(name, class, keyword arguments) of ``{"name": ..., **options}``."""
    if not isinstance(body, dict):
        raise ApiError(400, f"{field}: must be an object {{\"name\": ..., ...}}, got {_type(body)} {_show(body)}")
    name = body.get("name")
    if name not in kinds:
        raise ApiError(400, f"{field}.name: must be one of {', '.join(kinds)}, got {_show(name)}")
    return name, kinds[name], {k: v for k, v in body.items() if k != "name"}


def _build(field: str, name: str, factory: Any, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """``factory(*args, **options)``, its refusal as a 400 naming the field."""
    import inspect

    known = [p.name for p in inspect.signature(factory).parameters.values()
             if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "params"]
    unknown = [k for k in options if k not in known]
    if unknown:
        raise ApiError(400, f"{field}.{unknown[0]}: not an option of {name} (options: {', '.join(known)})")
    for k, v in options.items():
        if not isinstance(v, (int, float, str, bool, list)) or isinstance(v, float) and not math.isfinite(v):
            raise ApiError(400, f"{field}.{k}: must be a number, a boolean, a string or an array, got "
                                f"{_type(v)} {_show(v)}")
    try:
        return factory(*args, **options)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"{field}: {exc}") from None


def parse_model_config(body: Any) -> dict[str, Any]:
    """The canonical configuration of a ``PUT /v1/models/{name}`` body (every default filled in).

    Two bodies describe the same model exactly when their canonical
    configurations are equal (what 200 "same" and 409 "other" compare).

    >>> c = parse_model_config({"layers": [2, 5, 2, 1], "optimizer": {"name": "adam", "lr": 0.0007}})
    >>> c["seed"], c["optimizer"], c["schedule"]
    (3, {'name': 'adam', 'lr': 0.0007, 'beta1': 0.9, 'beta2': 0.999, 'eps': 1e-08, 'weight_decay': 0.0, \
'decoupled': False, 'amsgrad': False}, None)
    >>> parse_model_config({"layers": [2, 1], "optimizer": {"name": "sgd", "lr": 0.1},
    ...                     "schedule": {"name": "inverse_time", "lr0": 0.1, "decay_rate": 1.0}})["schedule"]
    {'name': 'inverse_time', 'lr0': 0.1, 'decay_rate': 1.0, 'interval': 1}
    >>> parse_model_config({"layers": [2, 1], "optimizer": {"name": "adam", "lr": 0.1, "beta1": 2}})
    Traceback (most recent call last):
    streamopt.service.parse.ApiError: optimizer: beta1 must be in [0, 1), got 2
    """
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object (the model's configuration), got {_type(body)}")
    unknown = [k for k in body if k not in _CONFIG_FIELDS]
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field (fields: {', '.join(_CONFIG_FIELDS)})")
    layers = body.get("layers")
    if not isinstance(layers, list) or not 2 <= len(layers) <= MAX_LAYERS:
        raise ApiError(400, f"layers: must be an array of 2 to {MAX_LAYERS} layer sizes (input, hidden..., "
                            f"output), got {_show(layers)}")
    for i, n in enumerate(layers):
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PARAMETERS:
            raise ApiError(400, f"layers[{i}]: must be an integer in [1, {MAX_PARAMETERS}], got {_type(n)} {_show(n)}")
    n_params = sum((layers[i - 1] + 1) * layers[i] for i in range(1, len(layers)))
    if n_params > MAX_PARAMETERS:
        raise ApiError(400, f"layers: {layers} has {n_params} parameters, over the limit of {MAX_PARAMETERS}")
    seed = body.get("seed", 3)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ApiError(400, f"seed: must be an integer in [0, 2**32), got {_type(seed)} {_show(seed)}")
    if "optimizer" not in body:
        raise ApiError(400, "optimizer: required, e.g. {\"name\": \"adam\", \"lr\": 0.0007}")
    name, cls, options = _options(body["optimizer"], "optimizer", _optimizers())
    if "lr" not in options:
        raise ApiError(400, "optimizer.lr: required (the learning rate)")
    opt = _build("optimizer", name, cls, (np.zeros(1),), options)
    schedule = None
    if body.get("schedule") is not None:
        sname, scls, soptions = _options(body["schedule"], "schedule", _schedules())
        s = _build("schedule", sname, scls, (), soptions)
        schedule = {"name": sname, **{k: list(v) if isinstance(v, tuple) else v for k, v in s._args().items()}}
    return {"layers": list(layers), "seed": seed, "optimizer": {"name": name, "lr": opt.lr, **opt.hyper},
            "schedule": schedule}


# ------------------------------------------------------------------ batches
def max_rows(layers: list[int]) -> int:
    """The most examples a learn or predict request may hold for a network of ``layers``
    (its activations stay within :data:`MAX_ACTIVATIONS` floats).

    >>> max_rows([2, 5, 2, 1])
    2097152
    """
    return MAX_ACTIVATIONS // sum(layers[1:])


def _rows(value: Any, field: str, layers: list[int]) -> None:
    """Refuse more rows than :func:`max_rows` (before any conversion)."""
    if isinstance(value, list) and len(value) > max_rows(layers):
        raise ApiError(413, f"{field}: {len(value)} rows, over the limit of {max_rows(layers)} for this model's "
                            f"layers {layers} (send smaller batches)")


def _matrix(value: Any, field: str, width: int, labels: bool = False) -> np.ndarray:
    """A (width, m) float64 array (examples as columns) from m rows of ``width`` numbers.

    With ``width == 1`` a flat array of m numbers is also taken.  ``labels``:
    every value must be 0 or 1.
    """
    what = "labels (0 or 1)" if labels else "numbers"
    if not isinstance(value, list) or not value:
        raise ApiError(400, f"{field}: must be a non-empty array of rows (one per example), got {_show(value)}")
    flat = width == 1 and type(value[0]) is not list  # one number per example
    if flat:
        cells = value
    elif set(map(type, value)) == {list}:
        cells = list(itertools.chain.from_iterable(value))
    else:
        i = next(i for i, r in enumerate(value) if type(r) is not list)
        raise ApiError(400, f"{field}[{i}]: must be an array of {width} {what}, got {_type(value[i])} "
                            f"{_show(value[i])}")
    if set(map(type, cells)) - {int, float}:
        for i, row in enumerate([[r] for r in value] if flat else value):
            for j, v in enumerate(row):
                if type(v) not in (int, float):
                    where = f"{field}[{i}]" if flat else f"{field}[{i}][{j}]"
                    raise ApiError(400, f"{where}: must be a number, got {_type(v)} {_show(v)}")
    if not flat and len(cells) != width * len(value):
        i = next(i for i, r in enumerate(value) if len(r) != width)
        raise ApiError(400, f"{field}[{i}]: must hold {width} {what} (the model's "
                            f"{'output' if labels else 'input'} size), got {len(value[i])}")
    try:
        arr = np.array(cells, dtype=np.float64)
    except OverflowError:  # an integer beyond the float64 range
        arr = np.array([v if abs(v) < 2**1024 else math.inf for v in cells], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(arr) if not labels else (arr != 0) & (arr != 1))
    if bad.size:
        i, j = divmod(int(bad[0]), width)
        where = f"{field}[{i}]" if flat else f"{field}[{i}][{j}]"
        raise ApiError(400, f"{where}: must be {'0 or 1' if labels else 'finite'}, got {_show(cells[bad[0]])}")
    return np.ascontiguousarray(arr.reshape(len(value), width).T)


@dataclass
class LearnBatch:
    """A checked learn batch: inputs and labels with examples as columns, and the exactly-once id."""

    producer: str | None
    seq: int | None
    X: np.ndarray  # (n_0, m) float64
    Y: np.ndarray  # (n_L, m) float64 of 0.0 and 1.0

    def __len__(self) -> int:
        return self.X.shape[1]


def parse_learn(body: Any, layers: list[int]) -> LearnBatch:
    """A learn batch ``{"producer", "seq", "X": [[...], ...], "y": [...]}`` (rows are examples).

    >>> b = parse_learn({"X": [[0.5, 1.0], [2.0, -1.0]], "y": [1, 0]}, [2, 5, 1])
    >>> b.X.tolist(), b.Y.tolist()
    ([[0.5, 2.0], [1.0, -1.0]], [[1.0, 0.0]])
    >>> parse_learn({"X": [[0.5, 1.0]], "y": [2]}, [2, 5, 1])
    Traceback (most recent call last):
    streamopt.service.parse.ApiError: y[0]: must be 0 or 1, got 2
    """
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object {{\"X\", \"y\", ...}}, got {_type(body)}")
    unknown = [k for k in body if k not in _LEARN_FIELDS]
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field (fields: {', '.join(_LEARN_FIELDS)})")
    for name in ("X", "y"):
        if name not in body:
            raise ApiError(400, f"{name}: required")
    producer, seq = _check_id(body.get("producer"), body.get("seq"))
    _rows(body["X"], "X", layers)
    X = _matrix(body["X"], "X", layers[0])
    Y = _matrix(body["y"], "y", layers[-1], labels=True)
    if Y.shape[1] != X.shape[1]:
        raise ApiError(400, f"y: must have one label per row of X ({X.shape[1]}), got {Y.shape[1]}")
    return LearnBatch(producer, seq, X, Y)


def parse_predict(body: Any, layers: list[int]) -> np.ndarray:
    """The inputs of ``{"X": [[...], ...]}`` as a (n_0, m) array (examples as columns)."""
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object {{\"X\": [[...], ...]}}, got {_type(body)}")
    unknown = [k for k in body if k != "X"]
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown field (fields: X)")
    if "X" not in body:
        raise ApiError(400, "X: required")
    _rows(body["X"], "X", layers)
    return _matrix(body["X"], "X", layers[0])


# ------------------------------------------------------------------ a model in memory
@dataclass(eq=False)  # compared and hashed by identity (a key of the group's undo)
class Model:
    """One model: the network, its optimizer (and schedule), the EWA of loss and accuracy, the bookkeeping.

    ``saved`` is the state as last committed (what a failed commit restores).
    """

    name: str
    config: dict[str, Any]
    net: Any  # streamopt.MLP
    opt: Any  # a streamopt optimizer on net.params
    schedule: Any  # a streamopt.schedules.Schedule or None
    ewa: Any  # streamopt.EWA of [loss, accuracy], bias-corrected
    saved: dict[str, Any]
    step: int = 0
    producers: dict[str, int] = field(default_factory=dict)
    points: deque = field(default_factory=lambda: deque(maxlen=POINTS))  # (step, loss, acc, loss_ewa, acc_ewa)

    @classmethod
    def new(cls, name: str, config: dict[str, Any]) -> "Model":
        """A fresh model: He initialisation with the config's seed, a fresh optimizer, no steps."""
        from .. import EWA, MLP

        net = MLP(config["layers"], seed=config["seed"])
        o = config["optimizer"]
        opt = _optimizers()[o["name"]](net.params, **{k: v for k, v in o.items() if k != "name"})
        s = config["schedule"]
        schedule = None if s is None else _schedules()[s["name"]](**{k: v for k, v in s.items() if k != "name"})
        model = cls(name, config, net, opt, schedule, EWA(EWA_BETA, bias_correction=True), {})
        model.saved = model.state()
        return model

    def state(self) -> dict[str, Any]:
        """The exact state: parameters, optimizer, EWA (JSON-ready)."""
        return {"model": self.net.state_dict(), "optimizer": self.opt.state_dict(), "ewa": self.ewa.state_dict()}

    def restore(self, state: dict[str, Any]) -> None:
        """Take ``state`` (from :meth:`state`); :class:`~streamopt.state.StateError` if it does not fit."""
        from .. import EWA, MLP
        from ..state import StateError

        net = MLP.from_state(state["model"])
        if list(net.layer_dims) != self.config["layers"]:
            raise StateError(f"model {self.name!r}: saved layers {list(net.layer_dims)} are not the "
                             f"configuration's {self.config['layers']}")
        ewa = EWA.from_state(state["ewa"])
        self.opt.load_state_dict(state["optimizer"])
        self.net.params.flat[:] = net.params.flat
        self.ewa = ewa
        self.saved = state

    def info(self, points: bool = True) -> dict[str, Any]:
        """What ``GET /v1/models/{name}`` answers."""
        last = self.points[-1] if self.points else None
        out: dict[str, Any] = {"name": self.name, "config": self.config, "step": self.step,
                               "producers": len(self.producers),
                               "loss": None if last is None else last[3],
                               "accuracy": None if last is None else last[4]}
        if points:
            columns = list(zip(*self.points)) or [()] * 5
            out["points"] = {k: list(c) for k, c in zip(("step", "loss", "accuracy", "loss_ewa", "accuracy_ewa"),
                                                        columns)}
        return out

    def predict(self, X: np.ndarray) -> dict[str, Any]:
        """``{"probability", "label"}`` for the columns of ``X`` (one value per example, or a row per
        example for a network of several outputs)."""
        if X.shape[0] != self.config["layers"][0]:
            raise ApiError(400, f"X: rows must hold {self.config['layers'][0]} numbers")
        p = self.net.predict_proba(X)
        label = (p > 0.5).astype(np.int64)  # MLP.predict's rule, on the same probabilities
        if p.shape[0] == 1:
            return {"probability": p[0], "label": label[0]}
        return {"probability": np.ascontiguousarray(p.T), "label": np.ascontiguousarray(label.T)}


@dataclass
class _Undo:
    """A model's bookkeeping before the group touched it (its state is ``Model.saved``)."""

    step: int
    producers: dict[str, int]
    points: int = 0  # points the group appended
    evicted: list[tuple] = field(default_factory=list)  # the oldest points those pushed out
    producers_touched: dict[str, None] = field(default_factory=dict)
    state: dict[str, Any] | None = None  # the state this group commits


class Models:
    """The models in memory, and their part of the writer's group commits (called by the engine)."""

    def __init__(self) -> None:
        self.models: dict[str, Model] = {}
        self.steps = 0  # learn steps applied (committed)
        self.duplicates = 0

    def get(self, name: str) -> Model:
        try:
            return self.models[name]
        except KeyError:
            raise ApiError(404, f"no model {name!r}") from None

    def load(self, records: list[tuple[str, str, int, str, dict[str, int], list[tuple]]]) -> None:
        """Rebuild every model from the database rows (:meth:`Store.load_models`)."""
        from ..state import StateError
        from .store import StoreError

        models = {}
        for name, config, step, state, producers, points in records:
            try:
                model = Model.new(name, orjson.loads(config))
                model.restore(orjson.loads(state))
            except (StateError, ApiError, TypeError, ValueError, KeyError) as exc:
                raise StoreError(f"model {name!r} cannot be loaded: {exc}") from None
            model.step, model.producers = step, dict(producers)
            model.points.extend(points)
            models[name] = model
        self.models = models

    # ------------------------------------------------------------ the writer's part
    def learn(self, name: str, batch: LearnBatch, undo: dict[Model, _Undo], writes: Any) -> tuple[int, Any, int | None]:
        """Apply one learn batch in memory and add its rows to ``writes``: (status, body, lookup index).

        An :class:`ApiError` changes nothing.  A duplicate (seq at or below the
        producer's last) is not applied: its step is looked up in the commit.
        """
        model = self.get(name)
        b = batch
        if b.producer is not None and b.seq <= model.producers.get(b.producer, -1):
            writes.model_lookups.append((name, b.producer, b.seq))
            return 200, {"step": None, "duplicate": True}, len(writes.model_lookups) - 1
        layers = model.config["layers"]
        if b.X.shape[0] != layers[0] or b.Y.shape[0] != layers[-1]:  # the model was replaced meanwhile
            raise ApiError(400, f"X, y: rows must hold {layers[0]} inputs and {layers[-1]} labels")
        if model.step + 1 >= 2**53:
            raise ApiError(422, f"model {name!r} has taken {model.step} steps, the most it can count")
        if model.schedule is not None:
            try:
                lr = check_lr(model.schedule(model.step), f"schedule({model.step})")
            except (ValueError, OverflowError) as exc:
                raise ApiError(422, f"schedule: no learning rate for step {model.step + 1} ({exc}); "
                                    "nothing was applied") from None
        p = model.net.predict_proba(b.X)
        accuracy = float(np.mean((p > 0.5) == b.Y))  # MLP.accuracy's rule, before the step
        try:
            loss, grads = model.net.gradients(b.X, b.Y)
        except FloatingPointError as exc:
            raise ApiError(422, f"{exc}; nothing was applied") from None
        if not math.isfinite(loss):  # as train() refuses a cost that became infinite
            raise ApiError(422, f"the batch's loss is {loss} (the parameters may have diverged); nothing was applied")
        u = undo.get(model)
        if u is None:
            u = undo[model] = _Undo(model.step, dict(model.producers))
        if model.schedule is not None:
            model.opt.lr = lr
        model.opt.step(grads)  # the gradient was checked finite: this cannot fail
        smooth = model.ewa.update(np.array([[loss, accuracy]]))[0]
        model.step += 1
        point = (model.step, loss, accuracy, float(smooth[0]), float(smooth[1]))
        if len(model.points) == POINTS:
            u.evicted.append(model.points[0])
        model.points.append(point)
        u.points += 1
        if b.producer is not None:
            model.producers[b.producer] = b.seq
            u.producers_touched[b.producer] = None
        writes.model_steps.append((name, model.step, b.producer, b.seq, len(b), *point[1:]))
        return 200, {"step": model.step, "loss": loss, "accuracy_before": accuracy, "duplicate": False}, None

    @staticmethod
    def write(undo: dict[Model, _Undo], writes: Any) -> None:
        """Add each touched model's state and producers to ``writes`` (after the group's batches)."""
        for model, u in undo.items():
            u.state = model.state()
            writes.models.append((model.step, orjson.dumps(u.state).decode(), model.name))
            writes.model_producers.extend((model.name, p, model.producers[p]) for p in u.producers_touched)

    def committed(self, undo: dict[Model, _Undo], applied: int) -> None:
        """The group is durable: its states become the ones a later failure restores."""
        for model, u in undo.items():
            assert u.state is not None
            model.saved = u.state
        self.steps += applied

    @staticmethod
    def rollback(undo: dict[Model, _Undo]) -> None:
        """Give every model the group touched its state from before the group."""
        for model, u in undo.items():
            model.restore(model.saved)
            model.step, model.producers = u.step, u.producers
            for _ in range(u.points):
                model.points.pop()
            model.points.extendleft(reversed(u.evicted))
