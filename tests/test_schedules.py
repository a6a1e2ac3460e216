"""Learning-rate schedules: the notes' formulas, validation, repr."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamopt import Adam, schedules

epochs = st.integers(0, 10**6)
rates = st.floats(1e-6, 10.0)


@settings(max_examples=40, deadline=None)
@given(epochs, rates, st.floats(0.0, 5.0), st.integers(1, 2000))
def test_inverse_time(n, lr0, decay, interval):
    s = schedules.inverse_time(lr0, decay, interval=interval)
    assert s(n) == pytest.approx(lr0 / (1 + decay * math.floor(n / interval)), rel=1e-15)


def test_inverse_time_interval_one_is_the_notes_formula_and_1000_is_a_staircase():
    notes = schedules.inverse_time(0.2, decay_rate=1.0)
    assert [notes(n) for n in range(4)] == [0.2 / (1 + 1.0 * n) for n in range(4)]
    course = schedules.inverse_time(0.1, decay_rate=1.0, interval=1000)
    values = [course(n) for n in range(3000)]
    assert set(values[:1000]) == {0.1} and set(values[1000:2000]) == {0.05}
    assert set(values[2000:]) == {0.1 / 3}


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 5000), rates, st.floats(0.5, 1.0), st.integers(1, 100))
def test_exponential(n, lr0, base, interval):
    s = schedules.exponential(lr0, base, interval)
    assert s(n) == pytest.approx(lr0 * base ** (n // interval), rel=1e-12)


def test_exponential_default_is_the_notes_095():
    s = schedules.exponential(1.0)
    assert s(0) == 1.0 and s(2) == pytest.approx(0.95**2, rel=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 10**9), rates, st.floats(0.01, 100.0))
def test_inverse_sqrt(n, lr0, k):
    assert schedules.inverse_sqrt(lr0, k)(n) == pytest.approx(k * lr0 / math.sqrt(n), rel=1e-14)


def test_inverse_sqrt_at_zero_equals_one():
    s = schedules.inverse_sqrt(0.3, k=2.0)
    assert s(0) == s(1) == pytest.approx(0.6)


def test_piecewise_staircase():
    s = schedules.piecewise([10, 20], [0.1, 0.01, 0.001])
    expected = [0.1] * 10 + [0.01] * 10 + [0.001] * 5
    assert [s(n) for n in range(25)] == expected
    assert s(10**9) == 0.001


def test_piecewise_takes_arrays():
    # any 1-D array-like of numbers: NumPy arrays (int or float values), a pandas Series, a tuple
    import pandas as pd

    expected = schedules.piecewise([10, 20], [0.1, 0.01, 0.001])
    for bounds, values in [(np.array([10, 20]), np.array([0.1, 0.01, 0.001])),
                           (np.array([10, 20], dtype=np.int32), np.array([0.1, 0.01, 0.001], dtype=np.float64)),
                           (pd.Series([10, 20]), (0.1, 0.01, 0.001)),
                           ((10, 20), pd.Series([0.1, 0.01, 0.001]))]:
        s = schedules.piecewise(bounds, values)
        assert [s(n) for n in (0, 9, 10, 19, 20)] == [expected(n) for n in (0, 9, 10, 19, 20)]
        assert all(type(b) is int for b in s.boundaries) and all(type(v) is float for v in s.values)
    assert schedules.piecewise(np.array([10, 20]), np.array([0.1, 0.01, 0.001])) == expected
    assert schedules.piecewise([1], np.array([0.5, 0.25], dtype=np.float32)).values == (0.5, 0.25)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: schedules.inverse_time(0.0, 1.0), ValueError, "lr0 must be > 0, got 0.0"),
        (lambda: schedules.inverse_time(0.1, -1.0), ValueError, "decay_rate must be >= 0, got -1.0"),
        (lambda: schedules.inverse_time(0.1, 1.0, interval=0), ValueError, "interval must be >= 1, got 0"),
        (lambda: schedules.inverse_time(0.1, 1.0, interval=2.5), TypeError, "interval must be an integer"),
        (lambda: schedules.inverse_time(float("nan"), 1.0), ValueError, "lr0 must be finite"),
        (lambda: schedules.exponential(0.1, base=1.5), ValueError, r"base must be in \(0, 1\], got 1.5"),
        (lambda: schedules.exponential(0.1, base=0.0), ValueError, r"base must be in \(0, 1\]"),
        (lambda: schedules.inverse_sqrt(0.1, k=0), ValueError, "k must be > 0, got 0"),
        (lambda: schedules.piecewise([10, 5], [1.0, 0.5, 0.1]), ValueError, "strictly increasing"),
        (lambda: schedules.piecewise([10], [1.0]), ValueError, "values must hold len"),
        (lambda: schedules.piecewise([0], [1.0, 0.5]), ValueError, r"boundaries\[0\] must be >= 1"),
        (lambda: schedules.piecewise([10], [1.0, -0.5]), ValueError, r"values\[1\] must be > 0"),
        (lambda: schedules.piecewise(10, [1.0, 0.5]), TypeError, "boundaries must be a sequence"),
        (lambda: schedules.piecewise([10], "ab"), TypeError, "values must be a sequence"),
        (lambda: schedules.piecewise(np.array([[10]]), [1.0, 0.5]), ValueError,
         r"boundaries must be 1-D, got an array of shape \(1, 1\)"),
        (lambda: schedules.piecewise(np.array([10.5]), [1.0, 0.5]), TypeError,
         r"boundaries\[0\] must be an integer, got 10.5"),
        (lambda: schedules.piecewise(np.array([10]), np.array([1.0, np.nan])), ValueError,
         r"values\[1\] must be finite"),
        (lambda: schedules.piecewise(np.array([True]), [1.0, 0.5]), TypeError, r"boundaries\[0\] must be an integer"),
        (lambda: schedules.piecewise(np.int64(10), [1.0, 0.5]), ValueError, "boundaries must be 1-D"),
        (lambda: schedules.piecewise({10: 1}, [1.0, 0.5]), TypeError, "boundaries must be a sequence"),
    ],
)
def test_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("n, exc", [(-1, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)])
def test_bad_epoch(n, exc):
    with pytest.raises(exc, match="n must be"):
        schedules.inverse_time(0.1, 1.0)(n)


def test_repr_round_trips_and_objects_are_immutable():
    for s in (schedules.inverse_time(0.1, 1.0, interval=1000), schedules.exponential(0.5, 0.9),
              schedules.inverse_sqrt(0.1, 2.0), schedules.piecewise([3], [0.1, 0.01])):
        assert eval(repr(s), vars(schedules)) == s
        assert hash(s) == hash(eval(repr(s), vars(schedules)))
        with pytest.raises(AttributeError):
            s.lr0 = 1.0


def test_numpy_integer_epochs_and_driving_an_optimizer():
    s = schedules.exponential(0.1, 0.5)
    w = np.zeros(1)
    opt = Adam(w, s(0))
    for epoch in np.arange(4):
        opt.lr = s(epoch)
        assert opt.lr == 0.1 * 0.5 ** int(epoch)
        opt.step(np.ones(1))
    assert opt.t == 4
