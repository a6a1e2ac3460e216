"""The shipped data sets: the Seattle daily weather series and the notes' moons."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, WEATHER
from streamopt.datasets import daily_temperatures, load_weather, moons

COLUMNS = ("temp_max", "temp_min", "precipitation", "wind")


def raw_rows() -> list[dict[str, str]]:
    """The data file read with the csv module: an oracle independent of pandas."""
    with WEATHER.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------ daily temperatures
def test_package_data_is_the_documented_file():
    shipped = resources.files("streamopt").joinpath("_data", "seattle-weather.csv")
    assert shipped.is_file()
    assert shipped.read_bytes() == WEATHER.read_bytes()
    provenance = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert "seattle-weather.csv" in provenance and "NOAA" in provenance


def test_daily_temperatures_is_a_daily_series_without_gaps():
    s = daily_temperatures()
    assert isinstance(s, pd.Series) and s.name == "temp_max" and s.dtype == np.float64
    assert len(s) == 1461
    assert isinstance(s.index, pd.DatetimeIndex)
    assert s.index[0] == pd.Timestamp("2012-01-01") and s.index[-1] == pd.Timestamp("2015-12-31")
    steps = np.diff(s.index.values)
    assert (steps == np.timedelta64(1, "D")).all()
    assert not s.isna().any()
    assert s.index.freqstr == "D"


@pytest.mark.parametrize("column", COLUMNS)
def test_values_equal_the_file(column):
    rows = raw_rows()
    s = daily_temperatures(column)
    assert s.name == column
    expected = np.array([float(r[column]) for r in rows])
    dates = pd.to_datetime([r["date"].replace("/", "-") for r in rows])
    np.testing.assert_array_equal(s.to_numpy(), expected)
    assert (s.index == dates).all()


def test_default_column_is_temp_max():
    pd.testing.assert_series_equal(daily_temperatures(), daily_temperatures("temp_max"))


@pytest.mark.parametrize("year, days", [(2012, 366), (2013, 365), (2014, 365), (2015, 365)])
def test_year_filter(year, days):
    full = daily_temperatures("temp_min")
    s = daily_temperatures("temp_min", year=year)
    assert len(s) == days
    assert (s.index.year == year).all()
    assert s.index[0] == pd.Timestamp(f"{year}-01-01") and s.index[-1] == pd.Timestamp(f"{year}-12-31")
    pd.testing.assert_series_equal(s, full[str(year)])
    assert daily_temperatures("temp_min", year=np.int64(year)).equals(s)


def test_load_weather_table():
    df = load_weather()
    assert df.shape == (1461, 5)
    assert list(df.columns) == ["precipitation", "temp_max", "temp_min", "wind", "weather"]
    assert df.index.name == "date"
    assert set(df["weather"]) <= {"drizzle", "rain", "sun", "snow", "fog"}


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(column="weather"), ValueError, "'weather'"),
        (dict(column="TEMP_MAX"), ValueError, "'TEMP_MAX'"),
        (dict(column=3), TypeError, "column must be a string"),
        (dict(column=None), TypeError, "got None"),
        (dict(year=2011), ValueError, "2011"),
        (dict(year=2016), ValueError, "2016"),
        (dict(year=2012.0), TypeError, "2012.0"),
        (dict(year="2012"), TypeError, "'2012'"),
        (dict(year=True), TypeError, "True"),
    ],
)
def test_daily_temperatures_bad_arguments(kwargs, error, fragment):
    name = next(iter(kwargs))
    with pytest.raises(error) as info:
        daily_temperatures(**kwargs)
    message = str(info.value)
    assert name in message and fragment in message


# ------------------------------------------------------------------------ moons
@pytest.mark.parametrize(
    "n_samples, noise, seed",
    [(300, 0.2, 3), (2, 0.0, 0), (3, 0.1, 1), (7, 1.5, 12345), (1000, 0.05, 2**32 - 1), (301, 0.3, 42)],
)
def test_moons_bit_identical_to_sklearn(n_samples, noise, seed):
    datasets = pytest.importorskip("sklearn.datasets")
    X, Y = moons(n_samples, noise=noise, seed=seed)
    Xs, ys = datasets.make_moons(n_samples, noise=noise, random_state=seed)
    assert X.shape == (2, n_samples) and Y.shape == (1, n_samples)
    assert X.dtype == np.float64 and Y.dtype == np.int64
    assert X.flags.c_contiguous
    assert X.tobytes() == np.ascontiguousarray(Xs.T).tobytes()
    np.testing.assert_array_equal(Y[0], ys)
    assert (Y == 0).sum() == n_samples // 2


def test_moons_default_is_the_notes_global_seed_call():
    """The notes call ``np.random.seed(3); make_moons(n_samples=300, noise=.2)``."""
    datasets = pytest.importorskip("sklearn.datasets")
    saved = np.random.get_state()
    try:
        np.random.seed(3)
        Xs, ys = datasets.make_moons(n_samples=300, noise=0.2)
    finally:
        np.random.set_state(saved)
    X, Y = moons()
    assert X.tobytes() == np.ascontiguousarray(Xs.T).tobytes()
    np.testing.assert_array_equal(Y[0], ys)


def test_moons_is_deterministic_and_seed_dependent():
    a, _ = moons(50, seed=1)
    b, _ = moons(50, seed=1)
    c, _ = moons(50, seed=2)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(n_samples=1), ValueError, "1"),
        (dict(n_samples=-5), ValueError, "-5"),
        (dict(n_samples=2.5), TypeError, "2.5"),
        (dict(n_samples=True), TypeError, "True"),
        (dict(n_samples="300"), TypeError, "'300'"),
        (dict(noise=-0.1), ValueError, "-0.1"),
        (dict(noise=float("nan")), ValueError, "nan"),
        (dict(noise=float("inf")), ValueError, "inf"),
        (dict(noise="0.2"), TypeError, "'0.2'"),
        (dict(seed=-1), ValueError, "-1"),
        (dict(seed=1.5), TypeError, "1.5"),
        (dict(seed=None), TypeError, "None"),
        (dict(seed=2**32), ValueError, "4294967296"),
    ],
)
def test_moons_bad_arguments(kwargs, error, fragment):
    name = next(iter(kwargs))
    with pytest.raises(error) as info:
        moons(**kwargs)
    message = str(info.value)
    assert name in message and fragment in message
