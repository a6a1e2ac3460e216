"""Data sets: the notes' "moons" and a real daily-temperature series.

Both work from an installed wheel: the temperature CSV ships inside the package
(``streamopt/_data``), and the moons are generated, without scikit-learn.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from ._checks import check_int, check_real

__all__ = ["daily_temperatures", "load_weather", "moons"]

_WEATHER_FILE = "seattle-weather.csv"
_NUMERIC_COLUMNS = ("precipitation", "temp_max", "temp_min", "wind")


def load_weather() -> pd.DataFrame:
    """The whole Seattle daily weather table, 2012-01-01 to 2015-12-31.

    Returns
    -------
    pandas.DataFrame
        1,461 rows indexed by a daily ``DatetimeIndex`` named ``date``, with
        columns ``precipitation`` (mm), ``temp_max`` and ``temp_min`` (°C),
        ``wind`` (m/s) and ``weather`` (a label).

    Notes
    -----
    Source: NOAA NCDC GHCN-Daily (public domain), as distributed by
    vega-datasets (``seattle-weather``).

    Examples
    --------
    >>> from streamopt.datasets import load_weather
    >>> df = load_weather()
    >>> df.shape, list(df.columns)
    ((1461, 5), ['precipitation', 'temp_max', 'temp_min', 'wind', 'weather'])
    """
    with resources.files("streamopt").joinpath("_data", _WEATHER_FILE).open("rb") as fh:
        df = pd.read_csv(fh)
    df["date"] = pd.to_datetime(df["date"], format="%Y/%m/%d")
    df = df.set_index("date")
    df.index.freq = "D"  # one row a day, no gaps (checked: setting a freq validates it)
    return df


def daily_temperatures(column: str = "temp_max", year: int | None = None) -> pd.Series:
    """A daily series from the Seattle weather data, the notes' temperature example.

    Parameters
    ----------
    column : {"temp_max", "temp_min", "precipitation", "wind"}, default "temp_max"
        Which measurement.
    year : int, optional
        Keep only this calendar year (2012 to 2015).

    Returns
    -------
    pandas.Series
        float64 values with a daily ``DatetimeIndex`` (``freq="D"``), named ``column``.

    Examples
    --------
    >>> from streamopt.datasets import daily_temperatures
    >>> s = daily_temperatures(year=2012)
    >>> len(s), s.index[0].date().isoformat(), s.dtype
    (366, '2012-01-01', dtype('float64'))
    """
    if not isinstance(column, str):
        raise TypeError(f"column must be a string, one of {', '.join(_NUMERIC_COLUMNS)}, got {column!r}")
    if column not in _NUMERIC_COLUMNS:
        raise ValueError(f"column must be one of {', '.join(_NUMERIC_COLUMNS)}, got {column!r}")
    series = load_weather()[column].astype(np.float64)
    if year is not None:
        y = check_int("year", year)
        if not 2012 <= y <= 2015:
            raise ValueError(f"year must be between 2012 and 2015 (the data's years), got {year!r}")
        series = series[series.index.year == y]
    return series


def moons(n_samples: int = 300, noise: float = 0.2, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, in the notes' layout (examples are columns).

    Bit-identical to ``sklearn.datasets.make_moons(n_samples, noise=noise,
    random_state=seed)`` (transposed): the points are shuffled with
    ``RandomState(seed)`` and then Gaussian noise is drawn from the same
    generator.  The notes seed NumPy's global RNG with 3 before calling
    ``make_moons``, which draws the same numbers.

    Parameters
    ----------
    n_samples : int, default 300
        Number of points (≥ 2); the outer moon gets ``n_samples // 2``.
    noise : float, default 0.2
        Standard deviation of the Gaussian noise (≥ 0).
    seed : int, default 3
        Seed of the legacy ``numpy.random.RandomState``.

    Returns
    -------
    X : ndarray of shape (2, n_samples), float64
    Y : ndarray of shape (1, n_samples), int64
        Labels 0 (outer moon) and 1 (inner moon).

    Examples
    --------
    >>> from streamopt.datasets import moons
    >>> X, Y = moons()
    >>> X.shape, Y.shape, int(Y.sum())
    ((2, 300), (1, 300), 150)
    """
    n = check_int("n_samples", n_samples, minimum=2)
    sd = check_real("noise", noise)
    if sd < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    seed = check_int("seed", seed, minimum=0)
    if seed >= 2**32:
        raise ValueError(f"seed must be < 2**32 (numpy.random.RandomState), got {seed!r}")
    rng = np.random.RandomState(seed)
    n_out = n // 2
    n_in = n - n_out
    x = np.append(np.cos(np.linspace(0, np.pi, n_out)), 1 - np.cos(np.linspace(0, np.pi, n_in)))
    y = np.append(np.sin(np.linspace(0, np.pi, n_out)), 1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5)
    points = np.vstack([x, y]).T
    labels = np.hstack([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    order = np.arange(n)
    rng.shuffle(order)
    points, labels = points[order], labels[order]
    points = points + rng.normal(scale=sd, size=points.shape)
    return np.ascontiguousarray(points.T), labels.reshape(1, n)
