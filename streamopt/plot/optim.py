"""The notes' figures on optimizers, learning-rate decay and the shape of the cost surface.

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (no global state); save it with ``fig.savefig(path)``.

- :func:`schedules_figure`: the four learning-rate schedules of
  :mod:`streamopt.schedules`, per epoch, and the course's decay every 1000 epochs;
- :func:`paths_figure`: GD, Momentum, RMSprop and Adam on an elongated bowl
  (GD zig-zags across the narrow direction, Momentum damps it), every path
  computed with the package's own optimizers (:func:`optimizer_paths`);
- :func:`saddle_plateau_figure`: a saddle point and a plateau, with the
  slow gradient-descent path across each;
- :func:`demo`: writes the three as PNG files (``streamopt demo``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.figure import Figure

from .. import schedules
from ..optim import SGD, Adam, Momentum, Optimizer, RMSprop

__all__ = [
    "schedules_figure",
    "bowl",
    "optimizer_paths",
    "paths_figure",
    "descent_path",
    "saddle_plateau_figure",
    "demo",
]

#: Colours of the optimizers, the same in every figure.
COLORS = {"GD": "tab:blue", "Momentum": "tab:red", "RMSprop": "tab:green", "Adam": "tab:purple"}

#: The elongated bowl f(w, b) = ½(a·w² + c·b²): gentle along w (horizontal), steep along b.
BOWL_CURVATURE = (1.0, 50.0)
BOWL_START = (-4.5, 1.0)


# ----------------------------------------------------------------- schedules
def schedules_figure(lr0: float = 0.1, epochs: int = 100, course_epochs: int = 5000) -> Figure:
    """Learning rate against epoch for every schedule in :mod:`streamopt.schedules`.

    Left: the notes' per-epoch forms from ``lr0`` — 1/(1 + 0.1·epoch)·η₀,
    0.95^epoch·η₀, 1/√epoch·η₀ and a staircase.  Right: the course's
    ``inverse_time(lr0, 1, interval=1000)`` (the rate drops every 1000 epochs)
    against the same decay applied every epoch.

    Examples
    --------
    >>> from streamopt.plot.optim import schedules_figure
    >>> fig = schedules_figure(lr0=0.1, epochs=50, course_epochs=3000)
    >>> len(fig.axes)
    2
    """
    per_epoch = {
        "inverse_time(decay_rate=0.1)": schedules.inverse_time(lr0, 0.1),
        "exponential(base=0.95)": schedules.exponential(lr0, 0.95),
        "inverse_sqrt(k=1)": schedules.inverse_sqrt(lr0, 1.0),
        "piecewise([20, 50, 80])": schedules.piecewise([20, 50, 80], [lr0, lr0 / 2, lr0 / 5, lr0 / 10]),
    }
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    n = np.arange(epochs + 1)
    for (label, s), color in zip(per_epoch.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        left.plot(n, [s(int(k)) for k in n], label=label, color=color,
                  drawstyle="steps-post" if label.startswith("piecewise") else "default")
    left.set_xlabel("epoch")
    left.set_ylabel("learning rate η")
    left.set_title(f"per-epoch decay from η₀ = {lr0:g}")
    left.set_ylim(0, lr0 * 1.05)
    left.legend(frameon=False)
    left.grid(alpha=0.3)

    course = schedules.inverse_time(lr0, 1.0, interval=1000)
    smooth = schedules.inverse_time(lr0, 1.0)
    m = np.arange(course_epochs + 1)
    right.plot(m, [course(int(k)) for k in m], color="tab:blue", drawstyle="steps-post",
               label="inverse_time(decay_rate=1, interval=1000)")
    right.plot(m[1:], [smooth(int(k)) for k in m[1:]], color="tab:gray", linestyle="--",
               label="inverse_time(decay_rate=1), every epoch")
    right.set_yscale("log")
    right.set_xlabel("epoch")
    right.set_ylabel("learning rate η (log scale)")
    right.set_title("the course's scheduled decay: a step every 1000 epochs")
    right.legend(frameon=False, loc="center right")
    right.grid(alpha=0.3)
    return fig


# ------------------------------------------------------------ optimizer paths
def bowl(w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """f(w, b) = ½(a·w² + c·b²) with (a, c) = :data:`BOWL_CURVATURE` (element-wise).

    Examples
    --------
    >>> import numpy as np
    >>> from streamopt.plot.optim import bowl
    >>> bowl(np.array([2.0]), np.array([0.1]))
    array([2.25])
    """
    a, c = BOWL_CURVATURE
    return 0.5 * (a * w * w + c * b * b)


def _run(opt: Optimizer, point: np.ndarray, grad: Callable[[np.ndarray], np.ndarray], steps: int) -> np.ndarray:
    path = [point.copy()]
    for _ in range(steps):
        opt.step(grad(point))
        path.append(point.copy())
    return np.array(path)


def optimizer_paths(steps: int = 60, start: tuple[float, float] = BOWL_START) -> dict[str, np.ndarray]:
    """The paths of GD, Momentum, RMSprop and Adam on :func:`bowl` from ``start``.

    Each is computed with the package's optimizer on a 2-element parameter
    array: GD and Momentum (the notes' form, β = 0.9) share η = 0.038, for
    which GD's step across the steep direction overshoots (factor
    1 − η·c = −0.9 per step: the zig-zag) while it creeps along the gentle
    one (factor 1 − η·a = 0.962); RMSprop (β = 0.9) and Adam use η = 0.1.  Returns name → array of shape
    (steps + 1, 2).

    Examples
    --------
    >>> from streamopt.plot.optim import optimizer_paths
    >>> paths = optimizer_paths(steps=10)
    >>> list(paths), paths["Adam"].shape
    (['GD', 'Momentum', 'RMSprop', 'Adam'], (11, 2))
    >>> paths["GD"][1].round(4).tolist()  # (1 − 0.038·1, 1 − 0.038·50) · start
    [-4.329, -0.9]
    """
    curv = np.array(BOWL_CURVATURE)

    def grad(p: np.ndarray) -> np.ndarray:
        return curv * p

    makers = {
        "GD": lambda p: SGD(p, 0.038),
        "Momentum": lambda p: Momentum(p, 0.038, beta=0.9),
        "RMSprop": lambda p: RMSprop(p, 0.1, beta=0.9),
        "Adam": lambda p: Adam(p, 0.1),
    }
    out = {}
    for name, make in makers.items():
        point = np.array(start, dtype=np.float64)
        out[name] = _run(make(point), point, grad, steps)
    return out


def paths_figure(steps: int = 60) -> Figure:
    """The four optimizers' paths over the contours of the elongated bowl, one panel each.

    Examples
    --------
    >>> from streamopt.plot.optim import paths_figure
    >>> len(paths_figure(steps=20).axes)
    4
    """
    paths = optimizer_paths(steps)
    w = np.linspace(-5.0, 1.5, 300)
    b = np.linspace(-1.6, 1.6, 200)
    W, B = np.meshgrid(w, b)
    Z = bowl(W, B)
    levels = np.geomspace(0.02, Z.max(), 14)
    fig = Figure(figsize=(11, 6.2), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True, sharey=True)
    for ax, (name, path) in zip(axes.ravel(), paths.items()):
        ax.contour(W, B, Z, levels=levels, colors="0.75", linewidths=0.7)
        ax.plot(path[:, 0], path[:, 1], "-o", color=COLORS[name], markersize=3, linewidth=1.2)
        ax.plot(*path[0], "s", color="black", markersize=5)
        ax.plot(0, 0, "*", color="black", markersize=10)
        dist = float(np.hypot(*path[-1]))
        ax.set_title(f"{name}: {len(path) - 1} steps, distance to minimum {dist:.3f}")
        ax.set_xlim(w[0], w[-1])
        ax.set_ylim(b[0], b[-1])
    for ax in axes[1]:
        ax.set_xlabel("W (gentle direction)")
    for ax in axes[:, 0]:
        ax.set_ylabel("b (steep direction)")
    a, c = BOWL_CURVATURE
    fig.suptitle(f"f(W, b) = ½({a:g}·W² + {c:g}·b²): GD zig-zags across the steep direction, "
                 "Momentum smooths it, RMSprop and Adam rescale each direction")
    return fig


# ---------------------------------------------------------- saddle, plateau
def _saddle(x, y):
    return x * x - y * y


def _saddle_grad(p):
    return np.array([2.0 * p[0], -2.0 * p[1]])


def _plateau(x, y):
    return 1.0 - np.exp(-0.5 * (x * x + y * y))


def _plateau_grad(p):
    return p * np.exp(-0.5 * float(p @ p))


def descent_path(surface: str, steps: int | None = None, lr: float | None = None) -> np.ndarray:
    """Gradient descent (the package's :class:`~streamopt.SGD`) on the saddle or the plateau.

    ``"saddle"``: f = x² − y² from (1.5, 0.001), η = 0.05: the path runs to the
    saddle point along x, lingers where the gradient vanishes, and leaves
    along y only as the tiny y offset grows.  ``"plateau"``:
    f = 1 − exp(−(x² + y²)/2) from (3.2, 1.6), η = 1: the gradient on the flat
    rim is about 0.01, so many steps pass before the descent into the well.
    ``steps`` defaults to 75 (saddle) and 70 (plateau).  Returns an array of
    shape (steps + 1, 2).

    Examples
    --------
    >>> from streamopt.plot.optim import descent_path
    >>> path = descent_path("saddle", steps=3)
    >>> path.shape, path[1].tolist()  # x shrinks by 1 − 2·0.05, y grows by 1 + 2·0.05
    ((4, 2), [1.35, 0.0011])
    """
    if surface == "saddle":
        start, grad, rate, n = (1.5, 1e-3), _saddle_grad, 0.05, 75
    elif surface == "plateau":
        start, grad, rate, n = (3.2, 1.6), _plateau_grad, 1.0, 70
    else:
        raise ValueError(f"surface must be 'saddle' or 'plateau', got {surface!r}")
    rate = rate if lr is None else lr
    steps = n if steps is None else steps
    point = np.array(start)
    return _run(SGD(point, rate), point, grad, steps)


def saddle_plateau_figure(steps: int | None = None) -> Figure:
    """3-D views of a saddle point and of a plateau, with gradient descent's path on each
    (``steps``: see :func:`descent_path`).

    Examples
    --------
    >>> from streamopt.plot.optim import saddle_plateau_figure
    >>> len(saddle_plateau_figure(steps=10).axes)
    2
    """
    fig = Figure(figsize=(12, 5.4), layout="constrained")
    specs = [
        ("saddle", _saddle, np.linspace(-2, 2, 60), "saddle point f = x² − y²: zero gradient, not a minimum"),
        ("plateau", _plateau, np.linspace(-4, 4, 80), "plateau f = 1 − exp(−(x² + y²)/2): tiny gradient"),
    ]
    for i, (surface, f, grid, title) in enumerate(specs):
        ax = fig.add_subplot(1, 2, i + 1, projection="3d")
        X, Y = np.meshgrid(grid, grid)
        Z = f(X, Y)
        ax.plot_surface(X, Y, Z, cmap="viridis", alpha=0.55, linewidth=0, antialiased=True, rcount=60, ccount=60)
        path = descent_path(surface, steps)
        keep = (np.abs(path) <= grid[-1]).all(axis=1)
        path = path[keep]
        z = f(path[:, 0], path[:, 1])
        ax.plot(path[:, 0], path[:, 1], z, "-o", color="tab:red", markersize=2.5, linewidth=1.2,
                zorder=10, label=f"gradient descent, {len(path) - 1} steps")
        ax.plot([path[0, 0]], [path[0, 1]], [z[0]], "s", color="black", markersize=5, zorder=11)
        if surface == "saddle":
            ax.plot([0], [0], [0], "*", color="white", markeredgecolor="black", markersize=12, zorder=11)
            moved = np.hypot(*np.diff(path, axis=0).T)
            slow = int(np.sum(moved < 0.01))
            ax.set_title(f"{title}\n{slow} of {len(moved)} steps move less than 0.01 near the saddle",
                         fontsize=10)
        else:
            flat = int(np.sum(z > 0.95))
            ax.set_title(f"{title}\n{flat} of {len(z) - 1} steps spent on the plateau (f > 0.95)", fontsize=10)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_zlabel("f")
        ax.view_init(elev=30, azim=30 if surface == "saddle" else -60)
        ax.legend(loc="upper left", frameon=False, fontsize=9)
    return fig


# -------------------------------------------------------------------- demo
def demo(out_dir: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """Write the three optimizer figures as PNG files into ``out_dir``; return their paths.

    ``echo`` receives a one-line summary of the optimizer paths.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from streamopt.plot.optim import demo
    >>> paths = demo(Path(tempfile.mkdtemp()), echo=lambda line: None)
    >>> [p.suffix for p in paths]
    ['.png', '.png', '.png']
    """
    out_dir = Path(out_dir)
    figures = {
        "optim_schedules.png": schedules_figure(),
        "optim_paths.png": paths_figure(),
        "optim_saddle_plateau.png": saddle_plateau_figure(),
    }
    paths = []
    for name, fig in figures.items():
        path = out_dir / name
        fig.savefig(path, dpi=110)
        paths.append(path)
    dist = ", ".join(f"{k} {np.hypot(*v[-1]):.3f}" for k, v in optimizer_paths().items())
    a, c = BOWL_CURVATURE
    echo(f"optimizers on f(W, b) = ½({a:g}·W² + {c:g}·b²) from {BOWL_START}, 60 steps; "
         f"distance to the minimum: {dist}")
    return paths
