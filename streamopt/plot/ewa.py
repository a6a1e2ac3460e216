"""The notes' figures on exponentially weighted averages.

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (no global figure state: nothing to close, safe in servers and
threads); save it with ``fig.savefig(path)`` or show it in a notebook.

- :func:`temperature_figure`: daily temperatures and their EWA for several β
  (the notes' red β = 0.9, green β = 0.98 and yellow β = 0.5 curves);
- :func:`bias_correction_figure`: V_t against V_t / (1 − β^t) at β = 0.98
  (the notes' purple and green curves);
- :func:`horizon_figure`: the weights β^k against 1/e, crossing near
  k = 1/(1 − β);
- :func:`demo`: writes the three as PNG files (``streamopt demo``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from .._checks import check_beta, check_int
from ..datasets import daily_temperatures
from ..ewa import ewa, horizon

__all__ = ["temperature_figure", "bias_correction_figure", "horizon_figure", "demo"]

#: The notes' colours: red β = 0.9, green β = 0.98, yellow β = 0.5; purple for the uncorrected curve.
COLORS = {0.9: "tab:red", 0.98: "tab:green", 0.5: "gold"}
PURPLE = "tab:purple"
DATA_COLOR = "tab:blue"

_UNITS = {"temp_max": "°C", "temp_min": "°C", "precipitation": "mm", "wind": "m/s"}
_NAMES = {
    "temp_max": "daily maximum temperature",
    "temp_min": "daily minimum temperature",
    "precipitation": "daily precipitation",
    "wind": "daily mean wind speed",
}


def _default_series(series: pd.Series | None) -> pd.Series:
    """``series``, checked, or the default: Seattle's daily maximum temperature in 2012."""
    if series is None:
        return daily_temperatures("temp_max", year=2012)
    if not isinstance(series, pd.Series):
        raise TypeError(f"series must be a pandas Series, got {type(series).__name__}")
    return series


def _date_axis(ax, series: pd.Series) -> None:
    """Concise date ticks, the series' name and unit on the y axis."""
    if isinstance(series.index, pd.DatetimeIndex):
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_xlabel("date")
    else:
        ax.set_xlabel(series.index.name or "t")
    name = str(series.name) if series.name is not None else "value"
    unit = _UNITS.get(name)
    ax.set_ylabel(f"{_NAMES.get(name, name)} ({unit})" if unit else _NAMES.get(name, name))
    ax.grid(True, alpha=0.3)


def _title(series: pd.Series) -> str:
    name = _NAMES.get(str(series.name), str(series.name))
    where = f"Seattle {name}" if str(series.name) in _NAMES else name
    if isinstance(series.index, pd.DatetimeIndex) and len(series):
        first, last = series.index[0], series.index[-1]
        span = str(first.year) if first.year == last.year else f"{first.year}–{last.year}"
        return f"{where}, {span}"
    return where


def temperature_figure(
    series: pd.Series | None = None,
    betas: Sequence[float] = (0.9, 0.98, 0.5),
    *,
    bias_correction: bool = True,
) -> Figure:
    """Daily values (dots) and their exponentially weighted averages, one curve per β.

    Each curve is V_t = β·V_{t−1} + (1 − β)·θ_t with V_0 = 0, divided by
    1 − β^t when ``bias_correction`` (the default, as the notes' idealised
    curves).  A larger β averages over more days, about 1/(1 − β), so its curve
    is smoother and lags to the right.

    Parameters
    ----------
    series : pandas.Series, optional
        The data, indexed by date; default: Seattle's daily maximum
        temperature in 2012 (:func:`streamopt.datasets.daily_temperatures`).
    betas : sequence of float, default (0.9, 0.98, 0.5)
        The decay rates; the notes draw β = 0.9 in red, 0.98 in green and 0.5
        in yellow.
    bias_correction : bool, default True
        Divide by 1 − β^t.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: a line of markers labelled with the series' name, then one
        line per β labelled ``"β = <beta> (≈ <1/(1−β)> days)"``, in order.
    """
    series = _default_series(series)
    fig = Figure(figsize=(10, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(series.index, series.to_numpy(), ".", color=DATA_COLOR, ms=4, alpha=0.5,
            label=f"{series.name}: daily values")
    for beta in betas:
        smoothed = ewa(series.to_numpy(), beta, bias_correction=bias_correction)
        ax.plot(series.index, smoothed, color=COLORS.get(beta), lw=2,
                label=f"β = {beta:g} (≈ {horizon(beta):.3g} days)")
    _date_axis(ax, series)
    corrected = "bias-corrected " if bias_correction else ""
    ax.set_title(f"{_title(series)}: {corrected}exponentially weighted averages "
                 "$V_t = \\beta V_{t-1} + (1-\\beta)\\,\\theta_t$")
    ax.legend(loc="best", framealpha=0.9)
    return fig


def bias_correction_figure(series: pd.Series | None = None, beta: float = 0.98) -> Figure:
    """The EWA with and without bias correction: V_t (purple) and V_t / (1 − β^t) (green).

    With V_0 = 0 the first averages are too small: V_t = (1 − β^t)·(a weighted
    mean), so dividing by 1 − β^t fixes the start and changes almost nothing
    once β^t ≈ 0 (after a few multiples of 1/(1 − β) steps).

    Parameters
    ----------
    series : pandas.Series, optional
        The data, indexed by date; default: Seattle's daily maximum
        temperature in 2012.
    beta : float, default 0.98
        The decay rate.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with three lines, in order: the data (markers), the
        uncorrected V_t (label ``"V_t, β = <beta>"``) and the corrected
        V_t / (1 − β^t) (label ``"V_t / (1 − β^t), β = <beta>"``).
    """
    series = _default_series(series)
    values = series.to_numpy()
    fig = Figure(figsize=(10, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(series.index, values, ".", color=DATA_COLOR, ms=4, alpha=0.5, label=f"{series.name}: daily values")
    ax.plot(series.index, ewa(values, beta), color=PURPLE, lw=2,
            label=f"$V_t$, β = {beta:g} (starts at $V_0 = 0$)")
    ax.plot(series.index, ewa(values, beta, bias_correction=True), color=COLORS.get(beta, "tab:green"),
            lw=2, label=f"$V_t / (1 - β^t)$, β = {beta:g} (bias-corrected)")
    _date_axis(ax, series)
    ax.set_title(f"{_title(series)}: bias correction at β = {beta:g}")
    ax.legend(loc="best", framealpha=0.9)
    return fig


def horizon_figure(betas: Sequence[float] = (0.9, 0.98), k_max: int | None = None) -> Figure:
    """The weight β^k of the value k steps back, against 1/e: the EWA's horizon 1/(1 − β).

    V_t = (1 − β)·Σ_k β^k·θ_{t−k}: the weight of θ_{t−k} relative to θ_t is
    β^k.  It falls to about 1/e at k = 1/(1 − β), since (1 − 1/N)^N → 1/e, and
    slightly below: β^(1/(1−β)) < 1/e.

    Parameters
    ----------
    betas : sequence of float, default (0.9, 0.98)
        The decay rates (the notes' 10-day and 50-day averages).
    k_max : int, optional
        Last k drawn; default three horizons of the largest β.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: per β a curve of β^k for k = 0..k_max (label
        ``"β = <beta>"``), then the horizontal line 1/e (label ``"1/e ≈ 0.3679"``), and
        per β a dotted vertical line at k = 1/(1 − β) with a marker at
        (1/(1 − β), β^(1/(1−β))).
    """
    betas = [check_beta("betas", b) for b in betas]
    if not betas:
        raise ValueError("betas must hold at least one decay rate, got an empty sequence")
    if k_max is None:
        k_max = int(math.ceil(3 * max(horizon(b) for b in betas)))
    k_max = check_int("k_max", k_max, minimum=1)
    k = np.arange(k_max + 1)
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.add_subplot()
    for beta in betas:
        ax.plot(k, np.power(beta, k), color=COLORS.get(beta), lw=2, label=f"β = {beta:g}")
    ax.axhline(1 / math.e, color="black", ls="--", lw=1, label=f"1/e ≈ {1 / math.e:.4f}")
    for beta in betas:
        n = horizon(beta)
        color = COLORS.get(beta)
        ax.axvline(n, color=color, ls=":", lw=1.5)
        ax.plot([n], [beta**n], "o", color=color, ms=6)
        ax.annotate(f"1/(1−β) = {n:.4g} days\nβ^{n:.4g} = {beta**n:.4f}", (n, beta**n),
                    xytext=(8, 12), textcoords="offset points", color=color, fontsize=9)
    ax.set_xlim(0, k_max)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("k: days back from today")
    ax.set_ylabel("relative weight $\\beta^k$ of $\\theta_{t-k}$")
    ax.set_title("How far an EWA looks back: $\\beta^k$ falls to 1/e at about $k = 1/(1-\\beta)$")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", framealpha=0.9)
    return fig


def demo(out_dir: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """Write the three EWA figures as PNG files into ``out_dir``; return their paths.

    ``echo`` receives a one-line summary of what the figures show.
    """
    out_dir = Path(out_dir)
    series = daily_temperatures("temp_max", year=2012)
    figures = {
        "ewa_temperatures.png": temperature_figure(series),
        "ewa_bias_correction.png": bias_correction_figure(series),
        "ewa_horizon.png": horizon_figure(),
    }
    paths = []
    for name, fig in figures.items():
        path = out_dir / name
        fig.savefig(path, dpi=110)
        paths.append(path)
    lag = ", ".join(f"β={b:g}: β^{horizon(b):g} = {b ** horizon(b):.4f}" for b in (0.9, 0.98))
    echo(f"EWA: Seattle daily maximum temperature 2012 ({len(series)} days) smoothed with "
         f"β = 0.9, 0.98, 0.5 (about 10, 50, 2 days); horizon: {lag} < 1/e = {1 / math.e:.4f}")
    return paths
