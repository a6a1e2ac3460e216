"""Optimizer figures: built from the package's own optimizers, and the behaviour they show."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from streamopt import schedules  # noqa: E402
from streamopt.plot import optim as plots  # noqa: E402


def sign_changes(x: np.ndarray) -> int:
    return int(np.sum(np.diff(np.sign(x)) != 0))


def test_optimizer_paths_show_the_notes_behaviour():
    paths = plots.optimizer_paths()
    assert set(paths) == {"GD", "Momentum", "RMSprop", "Adam"}
    for path in paths.values():
        assert path.shape == (61, 2) and np.all(path[0] == plots.BOWL_START)
    gd, mom = paths["GD"][:, 1], paths["Momentum"][:, 1]
    # GD crosses the steep direction's axis at every step; Momentum a few times only
    assert sign_changes(gd) == 60
    assert sign_changes(mom) <= 10
    # the distance travelled across b: GD's zig-zag covers several times Momentum's
    assert np.abs(np.diff(gd)).sum() > 3 * np.abs(np.diff(mom)).sum()
    # every method heads for the minimum
    for path in paths.values():
        assert np.hypot(*path[-1]) < 0.5 * np.hypot(*path[0])


def test_paths_are_the_optimizers_steps():
    # GD's path is the closed form (1 − η·curvature)^k · start
    a, c = plots.BOWL_CURVATURE
    k = np.arange(61)[:, None]
    expected = np.array(plots.BOWL_START) * (1 - 0.038 * np.array([a, c])) ** k
    np.testing.assert_allclose(plots.optimizer_paths()["GD"], expected, rtol=1e-12, atol=1e-15)


def test_descent_paths_linger_on_saddle_and_plateau():
    saddle = plots.descent_path("saddle")
    speed = np.hypot(*np.diff(saddle, axis=0).T)
    assert speed.min() < 0.05 * speed[0]  # slows down near the saddle point ...
    assert abs(saddle[-1, 1]) > 0.5      # ... and finally leaves along y
    plateau = plots.descent_path("plateau")
    f = 1 - np.exp(-0.5 * (plateau**2).sum(axis=1))
    assert np.sum(f > 0.95) > 30 and f[-1] < 0.05
    with pytest.raises(ValueError, match="surface must be 'saddle' or 'plateau', got 'bowl'"):
        plots.descent_path("bowl")


def test_figures_have_their_panels():
    fig = plots.schedules_figure()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    left = fig.axes[0]
    assert len(left.lines) == 4
    inv = schedules.inverse_time(0.1, 0.1)
    np.testing.assert_allclose(left.lines[0].get_ydata()[:5], [inv(n) for n in range(5)])
    assert len(plots.paths_figure().axes) == 4
    assert len(plots.saddle_plateau_figure().axes) == 2


def test_demo_writes_pngs(tmp_path):
    lines = []
    paths = plots.demo(tmp_path, echo=lines.append)
    assert [p.name for p in paths] == ["optim_schedules.png", "optim_paths.png", "optim_saddle_plateau.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    assert len(lines) == 1 and "GD" in lines[0] and "Adam" in lines[0]
