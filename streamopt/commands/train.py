"""``streamopt train``: the notes' experiment, a [2, 5, 2, 1] network on the moons.

Trains with mini-batch gradient descent (gd), Momentum, RMSprop or Adam and
prints "Cost after epoch i: c" every --print-every epochs, then the accuracy on
the training set, as the notes do.  The defaults are the notes' (lr 0.0007,
batches of 64, 10,000 epochs, data and initialisation seed 3, epoch seeds 11,
12, ...): gd and momentum give 0.796667, adam 0.940000.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import CLIError

EPILOG = """\
printed cost (--cost):
  last   the mean cost of the epoch's last mini-batch (the notes' print; default)
  mean   the epoch's average cost per example (the course's later cost_avg)

learning-rate decay (the course's later variant, run there with 5,000 epochs):
  --decay inverse_time   lr = lr0 / (1 + R * epoch)                (R = --decay-rate)
  --decay schedule       lr = lr0 / (1 + R * floor(epoch / N))      (N = --interval, default 1000)
  As in the course, the rate computed after epoch i is used from epoch i+1 on,
  and "learning rate after epoch i" is printed with each cost.

examples:
  streamopt train --optimizer adam
  streamopt train --optimizer gd --lr 0.1 --epochs 5000 --decay schedule --cost mean
  streamopt train --optimizer momentum --plot figures/
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated layer sizes like 5,2, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    return sizes


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="the notes' experiment: train the moons network with gd, momentum or adam",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--optimizer", required=True, choices=("gd", "momentum", "rmsprop", "adam"))
    p.add_argument("--epochs", type=_positive_int, default=10_000, metavar="N",
                   help="number of epochs (default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.0007, help="learning rate (default: %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=64, metavar="B",
                   help="mini-batch size (default: %(default)s)")
    p.add_argument("--beta", type=float, default=0.9, help="momentum / RMSprop decay (default: %(default)s)")
    p.add_argument("--beta1", type=float, default=0.9, help="Adam's first-moment decay (default: %(default)s)")
    p.add_argument("--beta2", type=float, default=0.999, help="Adam's second-moment decay (default: %(default)s)")
    p.add_argument("--eps", type=float, default=1e-8, help="Adam / RMSprop epsilon (default: %(default)s)")
    p.add_argument("--decay", choices=("inverse_time", "schedule"), help="learning-rate decay (see below)")
    p.add_argument("--decay-rate", type=float, default=1.0, metavar="R",
                   help="decay rate R (default: %(default)s)")
    p.add_argument("--interval", type=_positive_int, metavar="N",
                   help="epochs between decays (default: 1 for inverse_time, 1000 for schedule)")
    p.add_argument("--seed", type=int, default=10,
                   help="start seed of the shuffles: epoch i uses seed+1+i (default: %(default)s)")
    p.add_argument("--init-seed", type=int, default=3, help="He initialisation seed (default: %(default)s)")
    p.add_argument("--data-seed", type=int, default=3, help="moons data seed (default: %(default)s)")
    p.add_argument("--samples", type=_positive_int, default=300, help="moons data size (default: %(default)s)")
    p.add_argument("--noise", type=float, default=0.2, help="moons noise (default: %(default)s)")
    p.add_argument("--hidden", type=_hidden, default=(5, 2), metavar="N1,N2,...",
                   help="hidden layer sizes (default: 5,2)")
    p.add_argument("--cost", choices=("last", "mean"), default="last",
                   help="which cost to print (see below; default: %(default)s)")
    p.add_argument("--print-every", type=_positive_int, default=1000, metavar="N",
                   help="print the cost every N epochs (default: %(default)s)")
    p.add_argument("--plot", metavar="DIR", help="write the cost curve and the decision boundary (PNG) into DIR")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bar on a terminal (default: on)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train import TrainingDiverged, notes_experiment

    if args.decay is None and args.interval is not None:
        raise CLIError("--interval needs --decay")
    record_every = 100 if args.print_every % 100 == 0 else args.print_every
    try:
        exp = notes_experiment(
            args.optimizer, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, beta=args.beta,
            beta1=args.beta1, beta2=args.beta2, eps=args.eps, decay=args.decay, decay_rate=args.decay_rate,
            interval=args.interval, seed=args.seed, init_seed=args.init_seed, data_seed=args.data_seed,
            n_samples=args.samples, noise=args.noise, hidden=args.hidden, record_every=record_every,
            progress=args.progress,
        )
    except TrainingDiverged as exc:
        raise CLIError(str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
    h = exp.history
    costs = h.cost if args.cost == "last" else h.epoch_cost
    for epoch, cost in zip(h.epochs, costs):
        if epoch % args.print_every == 0:
            print("Cost after epoch %i: %f" % (epoch, cost))
            if exp.schedule is not None:
                print("learning rate after epoch %i: %f" % (epoch, exp.schedule(int(epoch))))
    print("Accuracy: %f" % h.accuracy)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from ..plot.train import boundary_figure, cost_figure

        out = Path(args.plot)
        out.mkdir(parents=True, exist_ok=True)
        name = args.optimizer
        written = []
        for fname, fig in ((f"train_{name}_cost.png", cost_figure({name: exp}, which=args.cost)),
                           (f"train_{name}_boundary.png", boundary_figure({name: exp}))):
            path = out / fname
            fig.savefig(path, dpi=110)
            written.append(path)
        for path in written:
            print(f"wrote {path}")
    return 0
