"""``streamopt train``: the notes' experiment, a [2, 5, 2, 1] network on the moons.

Trains with mini-batch gradient descent (gd), Momentum, RMSprop or Adam and
prints "Cost after epoch i: c" every --print-every epochs, then the accuracy on
the training set, as the notes do.  The defaults are the notes' (lr 0.0007,
batches of 64, 10,000 epochs, data and initialisation seed 3, epoch seeds 11,
12, ...): gd and momentum give 0.796667, adam 0.940000.
"""

from __future__ import annotations

import argparse
import bisect
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import CLIError, emit, positive_int, writing_into

#: The hyper-parameter flags each optimizer reads; any other one is an error naming the optimizer.
OPTIMIZER_FLAGS = {"gd": (), "momentum": ("beta",), "rmsprop": ("beta", "eps"), "adam": ("beta1", "beta2", "eps")}
#: The flags that apply only with --decay.
DECAY_FLAGS = ("decay_rate", "interval")
#: Epochs between decays when --interval is not given (the course's two variants).
DEFAULT_INTERVAL = {"inverse_time": 1, "schedule": 1000}

_APPLY = "\n".join(
    f"  {', '.join('--' + f for f in flags):<25}  with --optimizer "
    + " or ".join(o for o, names in OPTIMIZER_FLAGS.items() if set(flags) <= set(names))
    for flags in (("beta",), ("beta1", "beta2"), ("eps",)))

EPILOG = f"""\
printed cost (--cost):
  last   the mean cost of the epoch's last mini-batch (the notes' print; default)
  mean   the epoch's average cost per example (the course's later cost_avg)

learning-rate decay (the course's later variant, run there with 5,000 epochs):
  --decay inverse_time   lr = lr0 / (1 + R * epoch)                (R = --decay-rate)
  --decay schedule       lr = lr0 / (1 + R * floor(epoch / N))      (N = --interval, default {DEFAULT_INTERVAL['schedule']})
  As in the course, the rate computed after epoch i is used from epoch i+1 on,
  and "learning rate after epoch i" is printed with each cost.

flags that apply (any other combination is an error):
{_APPLY}
  --decay-rate, --interval   with --decay

exit status:
  0 success; 2 bad arguments (one line on standard error naming the flag),
  a diverged run, output or figures that cannot be written (--plot: after
  the results are printed).

examples:
  streamopt train --optimizer adam
  streamopt train --optimizer gd --lr 0.1 --epochs 5000 --decay schedule --cost mean
  streamopt train --optimizer momentum --plot figures/
"""


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated layer sizes like 5,2, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    return sizes


def _defaults() -> dict[str, Any]:
    """``notes_experiment``'s keyword defaults: the values of the flags not given."""
    from ..train import notes_experiment

    return {name: p.default for name, p in inspect.signature(notes_experiment).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = _defaults()
    p = sub.add_parser(
        "train",
        help="the notes' experiment: train the moons network with gd, momentum or adam",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--optimizer", required=True, choices=tuple(OPTIMIZER_FLAGS))
    p.add_argument("--epochs", type=positive_int, default=d["epochs"], metavar="N",
                   help="number of epochs (default: %(default)s)")
    p.add_argument("--lr", type=float, default=d["lr"], help="learning rate (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=d["batch_size"], metavar="B",
                   help="mini-batch size (default: %(default)s)")
    # None: not given, so that a flag the optimizer does not read can be refused
    p.add_argument("--beta", type=float, help=f"momentum / RMSprop decay (default: {d['beta']})")
    p.add_argument("--beta1", type=float, help=f"Adam's first-moment decay (default: {d['beta1']})")
    p.add_argument("--beta2", type=float, help=f"Adam's second-moment decay (default: {d['beta2']})")
    p.add_argument("--eps", type=float, help=f"Adam / RMSprop epsilon (default: {d['eps']})")
    p.add_argument("--decay", choices=tuple(DEFAULT_INTERVAL), help="learning-rate decay (see below)")
    p.add_argument("--decay-rate", type=float, metavar="R", help=f"decay rate R (default: {d['decay_rate']})")
    p.add_argument("--interval", type=positive_int, metavar="N",
                   help="epochs between decays (default: "
                        + ", ".join(f"{n} for {k}" for k, n in DEFAULT_INTERVAL.items()) + ")")
    p.add_argument("--seed", type=int, default=d["seed"],
                   help="start seed of the shuffles: epoch i uses seed+1+i (default: %(default)s)")
    p.add_argument("--init-seed", type=int, default=d["init_seed"],
                   help="He initialisation seed (default: %(default)s)")
    p.add_argument("--data-seed", type=int, default=d["data_seed"], help="moons data seed (default: %(default)s)")
    p.add_argument("--samples", type=positive_int, default=d["n_samples"], help="moons data size (default: %(default)s)")
    p.add_argument("--noise", type=float, default=d["noise"], help="moons noise (default: %(default)s)")
    p.add_argument("--hidden", type=_hidden, default=d["hidden"], metavar="N1,N2,...",
                   help="hidden layer sizes (default: " + ",".join(map(str, d["hidden"])) + ")")
    p.add_argument("--cost", choices=("last", "mean"), default="last",
                   help="which cost to print (see below; default: %(default)s)")
    p.add_argument("--print-every", type=positive_int, default=1000, metavar="N",
                   help="print the cost every N epochs (default: %(default)s)")
    p.add_argument("--plot", metavar="DIR", help="write the cost curve and the decision boundary (PNG) into DIR")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bar on a terminal (default: on)")
    p.set_defaults(func=run)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _named(flags: dict[str, str], call: Callable[[], Any]) -> Any:
    """``call()``, its ValueError / TypeError a :class:`CLIError` that says flags, not parameter names.

    ``flags`` maps the library's parameter names (as its messages spell them,
    ``"<name> must be ..."``) to the flags that set them.
    """
    try:
        return call()
    except (ValueError, TypeError) as exc:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, flags)) + r")\b")
        raise CLIError(pattern.sub(lambda m: flags[m.group(1)], str(exc))) from None


def _check_flags_apply(args: argparse.Namespace) -> None:
    """A hyper-parameter flag the optimizer or the (absent) decay does not read is an error."""
    for name in ("beta", "beta1", "beta2", "eps"):
        if getattr(args, name) is not None and name not in OPTIMIZER_FLAGS[args.optimizer]:
            users = [o for o, names in OPTIMIZER_FLAGS.items() if name in names]
            raise CLIError(f"{_flag(name)} applies to --optimizer {' or '.join(users)}, not {args.optimizer}")
    if args.decay is None:
        for name in DECAY_FLAGS:
            if getattr(args, name) is not None:
                raise CLIError(f"{_flag(name)} needs --decay ({' or '.join(DEFAULT_INTERVAL)})")


def _check_values(args: argparse.Namespace, params: dict[str, Any]) -> None:
    """Check the flags the library checks in several places (seeds) or not at all (data, decay range).

    Each error names the flag; the rules are the library's: the data and the
    network are built as the experiment builds them.
    """
    import numpy as np

    from .. import schedules
    from ..datasets import moons
    from ..model import MLP

    X, _ = _named({"n_samples": "--samples", "noise": "--noise", "seed": "--data-seed"},
                  lambda: moons(params["n_samples"], noise=params["noise"], seed=params["data_seed"]))
    if not np.isfinite(X).all():
        raise CLIError(f"--noise {args.noise!r} is too large: the moons data (points + noise * N(0, 1)) "
                       "overflow float64")
    _named({"seed": "--init-seed"}, lambda: MLP([X.shape[0], *params["hidden"], 1], seed=params["init_seed"]))
    if args.decay is not None:
        rate, interval = params["decay_rate"], params["interval"]
        schedule = _named({"lr0": "--lr", "decay_rate": "--decay-rate", "interval": "--interval"},
                          lambda: schedules.inverse_time(params["lr"], rate, interval))
        # epoch i + 1 trains with schedule(i); the rate falls with i, so the last one is the smallest
        epochs = range(args.epochs - 1)
        if epochs and not schedule(epochs[-1]) > 0:
            first = bisect.bisect_left(epochs, True, key=lambda i: not schedule(i) > 0)
            raise CLIError(f"--decay-rate {rate!r} is too large: the learning rate --lr / (1 + R * floor(epoch / "
                           f"{interval})) underflows to {schedule(first)!r} after epoch {first}")


def run(args: argparse.Namespace) -> int:
    from ..train import TrainingDiverged, notes_experiment

    _check_flags_apply(args)
    params = {**_defaults(), "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
              "seed": args.seed, "init_seed": args.init_seed, "data_seed": args.data_seed,
              "n_samples": args.samples, "noise": args.noise, "hidden": args.hidden, "decay": args.decay}
    for name in (*OPTIMIZER_FLAGS["rmsprop"], *OPTIMIZER_FLAGS["adam"], "decay_rate"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    if args.decay is not None:
        params["interval"] = args.interval if args.interval is not None else DEFAULT_INTERVAL[args.decay]
    params["record_every"] = 100 if args.print_every % 100 == 0 else args.print_every
    params["progress"] = args.progress
    flags = {name: _flag(name) for name in ("lr", "beta", "beta1", "beta2", "eps", "decay_rate", "interval",
                                             "epochs", "batch_size", "seed", "noise")}
    flags.update(lr0="--lr", n_samples="--samples")
    try:
        _check_values(args, params)
        exp = _named(flags, lambda: notes_experiment(args.optimizer, **params))
    except TrainingDiverged as exc:
        raise CLIError(str(exc)) from None
    except MemoryError as exc:
        raise CLIError(f"not enough memory for this run ({exc}); --epochs, --samples and --hidden set its size") \
            from None
    h = exp.history
    costs = h.cost if args.cost == "last" else h.epoch_cost
    lines = []
    for epoch, cost in zip(h.epochs, costs):
        if epoch % args.print_every == 0:
            lines.append("Cost after epoch %i: %f" % (epoch, cost))
            if exp.schedule is not None:
                lines.append("learning rate after epoch %i: %f" % (epoch, exp.schedule(int(epoch))))
    lines.append("Accuracy: %f" % h.accuracy)
    emit("".join(line + "\n" for line in lines))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from ..plot.train import boundary_figure, cost_figure

        name = args.optimizer
        with writing_into("--plot", Path(args.plot)) as out:
            for fname, fig in ((f"train_{name}_cost.png", cost_figure({name: exp}, which=args.cost)),
                               (f"train_{name}_boundary.png", boundary_figure({name: exp}))):
                fig.savefig(out / fname, dpi=110)
                emit(f"wrote {out / fname}\n")
    return 0
