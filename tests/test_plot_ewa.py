"""The EWA figures: what they draw is the library's EWA of the data, and demo writes PNGs."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (only to check that no pyplot figure is left open)

import streamopt  # noqa: E402
from streamopt.datasets import daily_temperatures  # noqa: E402
from streamopt.plot import ewa as plot_ewa  # noqa: E402


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def lines_by_label(fig: Figure) -> dict[str, matplotlib.lines.Line2D]:
    (ax,) = fig.axes
    return {line.get_label(): line for line in ax.get_lines()}


def only(lines: dict, prefix: str):
    found = [line for label, line in lines.items() if label.startswith(prefix)]
    assert len(found) == 1, (prefix, list(lines))
    return found[0]


def test_temperature_figure_draws_the_ewa_of_the_series():
    series = daily_temperatures("temp_max", year=2012)
    fig = plot_ewa.temperature_figure()
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 4
    data = lines[0]
    np.testing.assert_array_equal(data.get_ydata(), series.to_numpy())
    assert data.get_linestyle() == "None"  # markers only
    x = series.to_numpy()
    hues = {}
    for line, beta in zip(lines[1:], (0.9, 0.98, 0.5)):
        assert line.get_label().startswith(f"β = {beta:g} ")
        np.testing.assert_array_equal(line.get_ydata(), streamopt.ewa(x, beta, bias_correction=True))
        assert (pd.DatetimeIndex(line.get_xdata()) == series.index).all()
        hues[beta] = to_rgb(line.get_color())
    r, g, b = hues[0.9]
    assert r > 0.6 and g < 0.4 and b < 0.4  # red
    r, g, b = hues[0.98]
    assert g > r and g > b  # green
    r, g, b = hues[0.5]
    assert r > 0.8 and g > 0.6 and b < 0.3  # yellow
    assert "°C" in ax.get_ylabel() and ax.get_xlabel() and ax.get_title()
    assert len(ax.get_legend().get_texts()) == 4


def test_temperature_figure_with_other_data_and_no_correction():
    series = pd.Series(np.sin(np.arange(200) / 10.0) + 5.0, name="signal")
    fig = plot_ewa.temperature_figure(series, betas=(0.8,), bias_correction=False)
    line = only(lines_by_label(fig), "β = 0.8")
    np.testing.assert_array_equal(line.get_ydata(), streamopt.ewa(series.to_numpy(), 0.8))
    np.testing.assert_array_equal(line.get_xdata(), np.arange(200))


def test_bias_correction_figure():
    series = daily_temperatures("temp_max", year=2012)
    x = series.to_numpy()
    fig = plot_ewa.bias_correction_figure()
    (ax,) = fig.axes
    data, raw, corrected = ax.get_lines()
    np.testing.assert_array_equal(data.get_ydata(), x)
    np.testing.assert_array_equal(raw.get_ydata(), streamopt.ewa(x, 0.98))
    np.testing.assert_array_equal(corrected.get_ydata(), streamopt.ewa(x, 0.98, bias_correction=True))
    assert "0.98" in raw.get_label() and "0.98" in corrected.get_label()
    # the notes' picture: V starts near 0 (V_1 = 0.02 θ_1), the corrected curve at θ_1
    assert raw.get_ydata()[0] == pytest.approx(0.02 * x[0], rel=1e-12)
    assert corrected.get_ydata()[0] == pytest.approx(x[0], rel=1e-12)
    assert to_rgb(raw.get_color()) != to_rgb(corrected.get_color())
    assert ax.get_title() and "°C" in ax.get_ylabel() and ax.get_legend() is not None


def test_horizon_figure_weights_and_1_over_e():
    fig = plot_ewa.horizon_figure(betas=(0.9, 0.98))
    (ax,) = fig.axes
    lines = lines_by_label(fig)
    for beta in (0.9, 0.98):
        curve = lines[f"β = {beta:g}"]
        k = np.asarray(curve.get_xdata())
        assert k[0] == 0 and k[-1] >= 1 / (1 - beta)
        np.testing.assert_allclose(curve.get_ydata(), [beta ** int(j) for j in k], rtol=1e-13)
    one_over_e = only(lines, "1/e")
    assert set(np.asarray(one_over_e.get_ydata(), dtype=float)) == {1 / math.e}
    # vertical lines at the horizons 1/(1 - β), and the points there lie just below 1/e
    verticals = sorted(float(line.get_xdata()[0]) for line in ax.get_lines() if line.get_linestyle() == ":")
    assert verticals == pytest.approx([10.0, 50.0])
    points = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(points) == 2
    for point in points:
        (n,), (y,) = point.get_xdata(), point.get_ydata()
        beta = 1 - 1 / n
        assert y == pytest.approx(beta**n) and y < 1 / math.e
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_demo_writes_pngs(tmp_path):
    echoed: list[str] = []
    paths = plot_ewa.demo(tmp_path, echo=echoed.append)
    assert len(paths) == 3 and len(set(paths)) == 3
    for path in paths:
        assert path.parent == tmp_path and path.suffix == ".png"
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert len(echoed) == 1 and "0.98" in echoed[0]


@pytest.mark.parametrize(
    "call, error, fragments",
    [
        (lambda: plot_ewa.temperature_figure([1.0, 2.0]), TypeError, ["series", "list"]),
        (lambda: plot_ewa.temperature_figure(betas=(1.5,)), ValueError, ["beta", "1.5"]),
        (lambda: plot_ewa.bias_correction_figure(beta=-0.1), ValueError, ["beta", "-0.1"]),
        (lambda: plot_ewa.bias_correction_figure(np.zeros(3)), TypeError, ["series", "ndarray"]),
        (lambda: plot_ewa.horizon_figure(betas=(1.0,)), ValueError, ["betas", "1.0"]),
        (lambda: plot_ewa.horizon_figure(betas=()), ValueError, ["betas"]),
        (lambda: plot_ewa.horizon_figure(k_max=0), ValueError, ["k_max", "0"]),
        (lambda: plot_ewa.horizon_figure(k_max=2.5), TypeError, ["k_max", "2.5"]),
    ],
)
def test_bad_arguments_name_the_parameter(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    assert all(f in str(info.value) for f in fragments), str(info.value)
