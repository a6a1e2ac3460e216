"""The notes' experiment in pictures: cost curves and decision boundaries on the moons.

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (no global state); save it with ``fig.savefig(path)``.

- :func:`cost_figure`: the recorded cost of each run, every 100 epochs, as the
  notes plot it (GD and Momentum oscillate, Adam falls fast and smooth);
- :func:`boundary_figure`: each trained network's decision regions over the
  moons, on the notes' axes (x in [−1.5, 2.5], y in [−1, 1.5]);
- :func:`demo`: trains the three networks of the notes (compiled loop), writes
  both figures and prints the summary table (``streamopt demo``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ..train import Experiment, notes_experiment

__all__ = ["cost_figure", "boundary_figure", "run_experiments", "summary_table", "demo", "TITLES", "COLORS"]

#: Display names of the notes' optimizers.
TITLES = {"gd": "Gradient descent", "momentum": "Momentum", "rmsprop": "RMSprop", "adam": "Adam"}
#: Colours, as in :mod:`streamopt.plot.optim` (GD blue, Momentum red, RMSprop green, Adam purple).
COLORS = {"gd": "tab:blue", "momentum": "tab:red", "rmsprop": "tab:green", "adam": "tab:purple"}
#: The notes' axes for the decision boundary.
XLIM, YLIM = (-1.5, 2.5), (-1.0, 1.5)


def cost_figure(experiments: Mapping[str, Experiment], which: str = "last") -> Figure:
    """Cost against epoch, one panel per run, on a shared cost axis.

    Parameters
    ----------
    experiments : mapping name → Experiment
        E.g. ``{"gd": notes_experiment("gd"), ...}``.
    which : {"last", "mean"}
        The last mini-batch's cost (what the notes plot) or the epoch average.

    Examples
    --------
    >>> from streamopt.plot.train import cost_figure, run_experiments
    >>> len(cost_figure(run_experiments(("gd", "momentum", "adam"), epochs=300), which="mean").axes)
    3
    """
    if which not in ("last", "mean"):
        raise ValueError(f"which must be 'last' or 'mean', got {which!r}")
    n = len(experiments)
    fig = Figure(figsize=(max(4.2 * n, 6.0), 3.6), layout="constrained")
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    for ax, (name, exp) in zip(axes, experiments.items()):
        h = exp.history
        cost = h.cost if which == "last" else h.epoch_cost
        ax.plot(h.epochs, cost, color=COLORS.get(name, "black"), linewidth=1.2)
        lr = h.lr[0]
        title = TITLES.get(name, name)
        ax.set_title(f"{title}: accuracy {h.accuracy:.4f}", fontsize=10)
        ax.set_xlabel(f"epoch (recorded every {int(h.epochs[1] - h.epochs[0]) if h.epochs.size > 1 else 1})")
        ax.grid(True, alpha=0.3)
        ax.text(0.03, 0.04, f"lr {lr:g}" + (" (decayed)" if exp.schedule is not None else ""),
                transform=ax.transAxes, ha="left", va="bottom", fontsize=8, color="0.3")
    axes[0].set_ylabel("cost (last mini-batch)" if which == "last" else "cost (epoch average)")
    axes[0].set_ylim(bottom=0)
    dims = list(next(iter(experiments.values())).model.layer_dims)
    fig.suptitle(f"Mini-batch training of a {dims} network on the moons", fontsize=11)
    return fig


def boundary_figure(experiments: Mapping[str, Experiment], resolution: int = 400) -> Figure:
    """Each network's decision regions (prediction 1 where σ(·) > 0.5) with the data on top.

    Examples
    --------
    >>> from streamopt.plot.train import boundary_figure, run_experiments
    >>> fig = boundary_figure(run_experiments(("gd", "adam"), epochs=100), resolution=50)
    >>> len(fig.axes)
    2
    """
    n = len(experiments)
    fig = Figure(figsize=(max(4.2 * n, 4.6), 3.4), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    xs = np.linspace(*XLIM, resolution)
    ys = np.linspace(*YLIM, int(resolution * (YLIM[1] - YLIM[0]) / (XLIM[1] - XLIM[0])))
    gx, gy = np.meshgrid(xs, ys)
    grid = np.vstack([gx.ravel(), gy.ravel()])
    regions = ListedColormap(["#f4c7c3", "#c6dbef"])
    points = ListedColormap(["#d62728", "#1f77b4"])
    for ax, (name, exp) in zip(axes, experiments.items()):
        pred = exp.model.predict(grid).reshape(gx.shape)
        ax.contourf(gx, gy, pred, levels=[-0.5, 0.5, 1.5], cmap=regions)
        ax.scatter(exp.X[0], exp.X[1], c=exp.Y[0], cmap=points, s=9, edgecolors="white", linewidths=0.3)
        ax.set_xlim(*XLIM)
        ax.set_ylim(*YLIM)
        ax.set_title(f"Model with {TITLES.get(name, name)} optimization\naccuracy {exp.history.accuracy:.6f}",
                     fontsize=10)
        ax.set_xlabel("$x_1$")
        ax.set_aspect("equal")
    axes[0].set_ylabel("$x_2$")
    return fig


def run_experiments(names: tuple[str, ...] = ("gd", "momentum", "adam"), **kwargs) -> dict[str, Experiment]:
    """:func:`streamopt.train.notes_experiment` for each optimizer name (same keyword arguments).

    Examples
    --------
    >>> from streamopt.plot.train import run_experiments
    >>> runs = run_experiments(("gd", "adam"), epochs=100)
    >>> {name: run.history.steps for name, run in runs.items()}
    {'gd': 500, 'adam': 500}
    """
    return {name: notes_experiment(name, **kwargs) for name in names}


def summary_table(experiments: Mapping[str, Experiment]) -> str:
    """The notes' table, measured: optimizer, accuracy, final cost, training time.

    Examples
    --------
    >>> from streamopt.plot.train import run_experiments, summary_table
    >>> print(summary_table(run_experiments(("adam",))))  # doctest: +ELLIPSIS
    optimizer...accuracy...
    Adam...0.940000...
    """
    rows = [("optimizer", "accuracy", "final cost", "last recorded cost", "time")]
    for name, exp in experiments.items():
        h = exp.history
        rows.append((TITLES.get(name, name), f"{h.accuracy:.6f}", f"{h.final_cost:.6f}",
                     f"{h.cost[-1]:.6f}", f"{h.seconds * 1e3:.0f} ms"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def demo(out_dir: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """Train the notes' three networks, write ``train_costs.png`` and
    ``train_boundaries.png`` into ``out_dir`` and echo the summary table.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from streamopt.plot.train import demo
    >>> [p.name for p in demo(Path(tempfile.mkdtemp()), echo=lambda line: None)]
    ['train_costs.png', 'train_boundaries.png']
    """
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    notes_experiment("gd", epochs=1)  # load (or compile) the kernels, so that the table times training only
    load = time.perf_counter() - t0
    experiments = run_experiments()
    paths = []
    for name, fig in (("train_costs.png", cost_figure(experiments)),
                      ("train_boundaries.png", boundary_figure(experiments))):
        path = out_dir / name
        fig.savefig(path, dpi=110)
        paths.append(path)
    echo("the notes' experiment: [2, 5, 2, 1] network, moons (300 points), lr 0.0007, batches of 64, "
         "10,000 epochs")
    for line in summary_table(experiments).splitlines():
        echo(line)
    echo(f"(kernels loaded in {load:.2f} s; the notes' table: 79.7%, 79.7%, 94%)")
    return paths
