"""Mini-batch training of an :class:`~streamopt.model.MLP`, the notes' way, compiled.

:func:`train` runs the notes' ``model(...)`` loop: every epoch reshuffles the
examples (epoch i with seed s + 1 + i), cuts them into mini-batches and takes
one optimizer step per mini-batch.  For data held in memory the whole epoch
loop (shuffle, batching, forward, backward, fused update) runs in one Numba
kernel with no Python per mini-batch; for any other iterable of batches a
plain Python loop does the same steps with the same kernels.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import check_bool, check_int, check_lr
from ._kernels import mlp as _k
from ._kernels.legacy_rng import STATE_SIZE
from .model import MLP, _Workspace
from .optim import Optimizer
from .pipeline import minibatches

__all__ = ["History", "train", "TrainingDiverged", "Experiment", "notes_experiment"]

class TrainingDiverged(FloatingPointError):
    """A gradient or a recorded cost became NaN or infinite during training.

    Examples
    --------
    >>> from streamopt import MLP, SGD, train
    >>> from streamopt.datasets import moons
    >>> model = MLP([2, 5, 2, 1])
    >>> train(model, moons(), SGD(model.params, lr=1e300), epochs=5, progress=False)
    Traceback (most recent call last):
    ...
    streamopt.train.TrainingDiverged: training diverged at epoch 0: ...
    """


@dataclass
class History:
    """What :func:`train` recorded.

    Attributes
    ----------
    epochs : ndarray of int
        The recorded epochs: 0, r, 2r, … below the number of epochs
        (r = ``record_every``), as the notes record every 100 epochs.
    cost : ndarray
        At each recorded epoch, the mean cost of the epoch's **last**
        mini-batch: what the notes print ("Cost after epoch i: …").
    epoch_cost : ndarray
        At each recorded epoch, the epoch's average cost: the sum of the
        per-example losses over all its mini-batches / m (the course's later
        ``cost_avg``).
    lr : ndarray
        The learning rate used in every epoch (length = number of epochs).
    accuracy : float or None
        Accuracy on the training data after training (None for a one-shot stream).
    final_cost : float or None
        Mean cost on the whole training data after training (None likewise).
    steps : int
        Optimizer steps taken (= mini-batches; Adam's t counts them).
    seconds : float
        Wall time of the training loop.
    compiled : bool
        Whether the compiled path ran.

    Examples
    --------
    >>> from streamopt import MLP, Adam, train
    >>> from streamopt.datasets import moons
    >>> model = MLP([2, 5, 2, 1])
    >>> h = train(model, moons(), Adam(model.params, lr=0.0007), epochs=300, progress=False)
    >>> h.epochs.tolist(), h.steps, h.lr.shape
    ([0, 100, 200], 1500, (300,))
    >>> list(h.to_frame().columns)
    ['cost', 'epoch_cost', 'lr']
    """

    epochs: np.ndarray
    cost: np.ndarray
    epoch_cost: np.ndarray
    lr: np.ndarray
    accuracy: float | None = None
    final_cost: float | None = None
    steps: int = 0
    seconds: float = 0.0
    compiled: bool = False

    def to_frame(self):
        """The recorded costs as a pandas DataFrame indexed by epoch."""
        import pandas as pd

        return pd.DataFrame({"cost": self.cost, "epoch_cost": self.epoch_cost,
                             "lr": self.lr[self.epochs]},
                            index=pd.Index(self.epochs, name="epoch"))


def _learning_rates(optimizer: Optimizer, schedule: Callable[[int], float] | None, n_epochs: int) -> np.ndarray:
    """lr of every epoch: epoch 0 uses ``optimizer.lr``; epoch i + 1 uses ``schedule(i)``."""
    lrs = np.empty(n_epochs, dtype=np.float64)
    if n_epochs == 0:
        return lrs
    lrs[0] = optimizer.lr
    if schedule is None:
        lrs[1:] = optimizer.lr
        return lrs
    for i in range(n_epochs - 1):
        lrs[i + 1] = check_lr(schedule(i), f"schedule({i})")
    return lrs


def _is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _progress_bar(n_epochs: int, enabled: bool):
    if not enabled or not _is_tty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n_epochs, unit="epoch", leave=False, file=sys.stderr)


def _diverged(epoch: int, what: str) -> TrainingDiverged:
    return TrainingDiverged(
        f"training diverged at epoch {epoch}: {what} became NaN or infinite "
        "(try a smaller learning rate); the parameters hold the last finite update"
    )


def train(
    model: MLP,
    data: Any,
    optimizer: Optimizer,
    *,
    epochs: int,
    batch_size: int = 64,
    seed: int = 10,
    schedule: Callable[[int], float] | None = None,
    record_every: int = 100,
    progress: bool = True,
    compiled: bool | None = None,
) -> History:
    r"""Train ``model`` with ``optimizer`` by mini-batches, as the notes' ``model(...)`` does.

    Every epoch i = 0 … epochs − 1: shuffle the m examples with
    ``RandomState(seed + 1 + i).permutation(m)``, cut them into batches of
    ``batch_size`` (the last one smaller) and, for each batch, compute the
    gradient of the mean cost and take one optimizer step.  The notes'
    experiment is ``train(MLP([2, 5, 2, 1]), moons(), Adam(model.params,
    lr=0.0007), epochs=10000)``.

    Parameters
    ----------
    model : MLP
        Trained in place (its ``params`` buffer).
    data : (X, Y) or iterable of batches
        ``(X, Y)`` arrays in the notes' layout, X (n_0, m) and Y (n_L, m) or
        (m,): the compiled path.  Otherwise batches ``(X_b, Y_b)`` in the same
        layout, as ``csv_batches(..., axis=1)`` yields them: a list (or any
        re-iterable) is replayed every epoch, a callable ``f(epoch)`` is asked
        for each epoch's batches, and a one-shot iterator allows one epoch.
    optimizer : Optimizer
        Built on ``model.params`` (e.g. ``Adam(model.params, lr=0.0007)``).
        Its ``lr``, ``t`` and state buffers advance as with ``optimizer.step``.
    epochs : int
        Number of epochs (≥ 1).
    batch_size : int, default 64
        Mini-batch size for in-memory data (≥ 1).
    seed : int, default 10
        The notes' start seed: epoch i shuffles with seed + 1 + i.
    schedule : callable, optional
        Learning-rate schedule, e.g. ``schedules.inverse_time(lr0, 1.0)``.  As
        in the course (``learning_rate = decay(learning_rate0, i, decay_rate)``
        at the end of epoch i), epoch 0 uses ``optimizer.lr`` and epoch i + 1
        uses ``schedule(i)``; after training ``optimizer.lr`` is
        ``schedule(epochs − 1)``.
    record_every : int, default 100
        Record the costs every this many epochs (≥ 1), from epoch 0.
    progress : bool, default True
        A tqdm progress bar over epochs (recorded cost in the postfix), shown
        only when standard error is a terminal.
    compiled : bool, optional
        Force (True) or refuse (False) the compiled path; by default it is
        used for in-memory ``(X, Y)``.  ``compiled=False`` runs the plain
        Python loop over :func:`streamopt.pipeline.epochs` batches, with the
        same results.

    Returns
    -------
    History

    Raises
    ------
    TrainingDiverged
        A gradient (any epoch) or a recorded cost became NaN or infinite.
    ValueError, TypeError
        Bad arguments, shapes, NaN in the data.

    Notes
    -----
    The costs are computed only on recorded epochs (the update does not need
    them); every gradient is checked for NaN/inf before its step.

    Examples
    --------
    >>> from streamopt import MLP, Adam, train
    >>> from streamopt.datasets import moons
    >>> X, Y = moons()
    >>> model = MLP([2, 5, 2, 1])
    >>> opt = Adam(model.params, lr=0.0007)
    >>> history = train(model, (X, Y), opt, epochs=1000, progress=False)
    >>> opt.t, history.compiled, history.accuracy > 0.9  # 5 mini-batches an epoch
    (5000, True, True)
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an MLP, got {type(model).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a streamopt optimizer (SGD, Momentum, RMSprop, Adam), "
                        f"got {type(optimizer).__name__}")
    if optimizer.flat is not model.params.flat:
        raise ValueError("optimizer must be built on model.params (e.g. Adam(model.params, lr=...)), "
                         "it updates another buffer")
    n_epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if seed + n_epochs >= 2**32:
        raise ValueError(f"seed + epochs must be < 2**32, got seed={seed!r}, epochs={n_epochs!r}")
    record_every = check_int("record_every", record_every, minimum=1)
    progress = check_bool("progress", progress)
    if compiled is not None:
        compiled = check_bool("compiled", compiled)
    if schedule is not None and not callable(schedule):
        raise TypeError(f"schedule must be a callable epoch -> learning rate, got {schedule!r}")

    in_memory = isinstance(data, tuple) and len(data) == 2 and all(
        isinstance(a, np.ndarray) or hasattr(a, "__array__") for a in data)
    if not in_memory and compiled:
        raise ValueError("compiled=True needs the data in memory as a tuple (X, Y)")
    lrs = _learning_rates(optimizer, schedule, n_epochs)
    n_rec = -(-n_epochs // record_every)
    rec_last = np.full(n_rec, np.nan)
    rec_mean = np.full(n_rec, np.nan)
    t0 = time.perf_counter()
    if in_memory:
        X = model.check_inputs(data[0], "X")
        Y = model.check_targets(data[1], X.shape[1], "Y")
        if compiled is False:
            def batches(e: int) -> Iterable:
                return minibatches(X, Y, batch_size, seed=seed + 1 + e, axis=1)

            steps = _train_plain(model, batches, optimizer, lrs, record_every, progress, rec_last, rec_mean)
        else:
            steps = _train_compiled(model, X, Y, optimizer, lrs, record_every, batch_size, seed, progress,
                                    rec_last, rec_mean)
        seconds = time.perf_counter() - t0
        accuracy, final_cost = model.accuracy(X, Y), model.cost(X, Y)
    else:
        batches, replayable = _batch_source(data, n_epochs)
        steps = _train_plain(model, batches, optimizer, lrs, record_every, progress, rec_last, rec_mean)
        seconds = time.perf_counter() - t0
        accuracy = final_cost = None
        if replayable:
            accuracy, final_cost = _evaluate(model, batches(n_epochs))
    if schedule is not None:
        optimizer.lr = check_lr(schedule(n_epochs - 1), f"schedule({n_epochs - 1})")
    return History(
        epochs=np.arange(0, n_epochs, record_every),
        cost=rec_last,
        epoch_cost=rec_mean,
        lr=lrs,
        accuracy=accuracy,
        final_cost=final_cost,
        steps=steps,
        seconds=seconds,
        compiled=bool(in_memory and compiled is not False),
    )


# ------------------------------------------------------------------ compiled
def _train_compiled(model, X, Y, opt, lrs, record_every, batch_size, seed, progress, rec_last, rec_mean) -> int:
    m = X.shape[1]
    if m >= 2**32:
        raise ValueError(f"X holds {m} examples; the legacy shuffle takes fewer than 2**32")
    dims = model._layout()[0]
    dtype = model.dtype
    cap = min(batch_size, m)
    ws = _Workspace(dims, cap, dtype, model.params.flat.size)
    work = _k.Workspace(g=ws.g, xb=np.empty(dims[0] * cap, dtype=dtype), yb=np.empty(dims[-1] * cap, dtype=dtype),
                        act=ws.act, a_base=ws.a_base, dz=ws.dz, tmp=ws.tmp,
                        perms=np.empty((4, m), dtype=np.int64), rng_states=np.zeros((4, STATE_SIZE), dtype=np.uint64),
                        tempered=np.zeros(624, dtype=np.uint64))
    data = _k.Data(X, Y, seed, batch_size)
    net = model._net()
    kernel_opt = opt._kernel_args()
    records = _k.Records(record_every, rec_last, rec_mean)
    n_epochs = lrs.size
    bar = _progress_bar(n_epochs, progress)
    # one kernel call for the whole run; with a progress bar, about 100 calls,
    # each ending on a recorded epoch's block so that the postfix shows its cost
    chunk = n_epochs if bar is None else record_every * max(1, -(-n_epochs // (100 * record_every)))
    steps0 = opt.t
    try:
        for e0 in range(0, n_epochs, chunk):
            e1 = min(e0 + chunk, n_epochs)
            bad = _k.train_epochs(data, e0, lrs[e0:e1], net, kernel_opt, work, records)
            if bad >= 0:
                raise _diverged(int(bad), "a gradient or the cost")
            if bar is not None:
                bar.update(e1 - e0)
                r = (e1 - 1) // record_every
                bar.set_postfix(cost=f"{rec_last[r]:.6f}")
    finally:
        if bar is not None:
            bar.close()
    return opt.t - steps0


# --------------------------------------------------------------------- plain
def _batch_source(data: Any, n_epochs: int) -> tuple[Callable[[int], Iterable], bool]:
    """(epoch → batches, whether the source can be replayed)."""
    if callable(data):
        return data, True
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise TypeError(f"data must be (X, Y) arrays, an iterable of (X, Y) batches or a callable "
                        f"epoch -> batches, got {type(data).__name__}")
    if iter(data) is data:  # a one-shot iterator (e.g. a generator)
        if n_epochs > 1:
            raise ValueError(
                f"data is a one-shot iterator, so it can feed 1 epoch, not epochs={n_epochs}; "
                "pass a list of batches or a callable epoch -> batches"
            )
        return (lambda e: data), False
    return (lambda e: data), True


def _check_batch(model: MLP, batch: Any, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(batch, tuple) and len(batch) == 2):
        raise TypeError(f"batch {index} of epoch {epoch} must be a pair (X_batch, Y_batch), got {type(batch).__name__}")
    where = f"batch {index} of epoch {epoch}"
    xb = model.check_inputs(batch[0], f"X in {where}")
    yb = model.check_targets(batch[1], xb.shape[1], f"Y in {where}")
    return xb, yb


def _train_plain(model, batches, opt, lrs, record_every, progress, rec_last, rec_mean) -> int:
    bar = _progress_bar(lrs.size, progress)
    steps = 0
    try:
        for e in range(lrs.size):
            opt.lr = float(lrs[e])
            record = e % record_every == 0
            total, count, last = 0.0, 0, math.nan
            n = -1
            for n, batch in enumerate(batches(e)):
                xb, yb = _check_batch(model, batch, e, n)
                ok, s = model._loss_and_grad(xb, yb, want_cost=record)
                if not ok:
                    raise _diverged(e, "a gradient")
                opt.step(model._ws.g)
                steps += 1
                if record:
                    total += s
                    count += xb.shape[1]
                    last = s / xb.shape[1]
            if n < 0:
                raise ValueError(f"data yielded no batches in epoch {e}")
            if record:
                r = e // record_every
                rec_last[r], rec_mean[r] = last, total / count
                if not (math.isfinite(last) and math.isfinite(total)):
                    raise _diverged(e, "the cost")
                if bar is not None:
                    bar.set_postfix(cost=f"{last:.6f}")
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return steps


def _evaluate(model: MLP, batches: Iterable) -> tuple[float, float]:
    """(accuracy, mean cost) over one pass of batches."""
    right = total = 0.0
    n_out = count = 0
    for n, batch in enumerate(batches):
        xb, yb = _check_batch(model, batch, -1, n)
        right += float(np.sum(model.predict(xb) == yb))
        n_out += yb.size
        total += model.cost(xb, yb) * xb.shape[1]
        count += xb.shape[1]
    return right / n_out, total / count


# ---------------------------------------------------------------- experiment
#: The notes' optimizer names → the optimizer classes' names.
OPTIMIZERS = ("gd", "momentum", "rmsprop", "adam")
#: The course's learning-rate decays: ``inverse_time`` η₀/(1 + rate·epoch) and
#: ``schedule``, the same lowered only every ``interval`` (default 1000) epochs.
DECAYS = ("inverse_time", "schedule")


@dataclass
class Experiment:
    """One run of the notes' experiment: the trained model, its history, the data.

    Examples
    --------
    >>> from streamopt.train import notes_experiment
    >>> run = notes_experiment("gd", epochs=200)
    >>> run.optimizer, run.X.shape, run.history.steps
    ('gd', (2, 300), 1000)
    """

    optimizer: str
    model: MLP
    history: History
    X: np.ndarray
    Y: np.ndarray
    schedule: Callable[[int], float] | None = None


def notes_experiment(
    optimizer: str = "adam",
    *,
    epochs: int = 10_000,
    lr: float = 0.0007,
    batch_size: int = 64,
    beta: float = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    decay: str | None = None,
    decay_rate: float = 1.0,
    interval: int | None = None,
    seed: int = 10,
    init_seed: int = 3,
    data_seed: int = 3,
    n_samples: int = 300,
    noise: float = 0.2,
    hidden: tuple[int, ...] = (5, 2),
    record_every: int = 100,
    progress: bool = False,
    compiled: bool = True,
) -> Experiment:
    """The optimization chapter's experiment: a [2, 5, 2, 1] network on the moons.

    Defaults are the notes': ``moons(300, noise=0.2, seed=3)``, He
    initialisation with seed 3, lr 0.0007, batches of 64, 10,000 epochs,
    epoch seeds 11, 12, …, Momentum β = 0.9, Adam β₁ = 0.9, β₂ = 0.999,
    ε = 1e-8.  They give the notes' accuracies: 0.796667 (``"gd"``),
    0.796667 (``"momentum"``), 0.94 (``"adam"``).

    ``decay="inverse_time"`` (lr0/(1 + decay_rate·epoch)) or ``"schedule"``
    (the same with ⌊epoch/interval⌋, interval 1000 by default) is the course's
    later variant, run there with 5,000 epochs.

    Examples
    --------
    >>> from streamopt.train import notes_experiment
    >>> round(notes_experiment("adam").history.accuracy, 6)
    0.94
    >>> run = notes_experiment("gd", epochs=5000, lr=0.1, decay="schedule")
    >>> run.history.lr[[0, 1000, 1001, 4999]].tolist()  # epoch i + 1 uses schedule(i)
    [0.1, 0.1, 0.05, 0.02]
    """
    from . import schedules
    from .datasets import moons
    from .optim import SGD, Adam, Momentum, RMSprop

    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if decay is not None and decay not in DECAYS:
        raise ValueError(f"decay must be one of {', '.join(DECAYS)} or None, got {decay!r}")
    X, Y = moons(n_samples, noise=noise, seed=data_seed)
    model = MLP([X.shape[0], *hidden, 1], seed=init_seed)
    if optimizer == "gd":
        opt: Optimizer = SGD(model.params, lr)
    elif optimizer == "momentum":
        opt = Momentum(model.params, lr, beta=beta)
    elif optimizer == "rmsprop":
        opt = RMSprop(model.params, lr, beta=beta, eps=eps)
    else:
        opt = Adam(model.params, lr, beta1=beta1, beta2=beta2, eps=eps)
    schedule = None
    if decay is not None:
        default_interval = 1 if decay == "inverse_time" else 1000
        schedule = schedules.inverse_time(lr, decay_rate, interval if interval is not None else default_interval)
    elif interval is not None:
        raise ValueError(f"interval needs a decay, got interval={interval!r} and decay=None")
    history = train(model, (X, Y), opt, epochs=epochs, batch_size=batch_size, seed=seed, schedule=schedule,
                    record_every=record_every, progress=progress, compiled=compiled)
    return Experiment(optimizer, model, history, X, Y, schedule)
