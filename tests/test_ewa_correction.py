"""The bias correction 1 − β^count is built in one place (``_kernels/ewa_correction``); every path
that outputs a corrected value (the one-value stream, one series, the four-lane group, the rows
kernel with equal counts, the counted rows with their table of divisors, the series-by-series
fallback for far-apart counts, ``EWA.value``) must give the same bits for the same state."""

from __future__ import annotations

import numpy as np
import pytest

from streamopt import EWA

COUNTS = [1, 2, 62, 63, 64, 65, 66, 127, 128, 129, 4095, 4096, 4097, 10**6 + 63, 2**40, 2**53 - 2]
BETAS = [0.5, 0.9, 0.999, 1 - 1e-9]


def _series_state(beta: float, dtype: str, v: float, count: int) -> dict:
    return {**EWA(beta, bias_correction=True).state_dict(), "mode": "series", "dtype": dtype, "k": 1,
            "value": [float(v).hex()], "count": [count]}


def _panel_state(beta: float, dtype: str, values, counts) -> dict:
    return {**EWA(beta, bias_correction=True).state_dict(), "mode": "panel", "dtype": dtype, "k": len(counts),
            "value": [float(v).hex() for v in values], "count": list(counts)}


def _bits(a, dtype: str) -> np.ndarray:
    return np.asarray(a, dtype=dtype).reshape(-1).view(np.uint32 if dtype == "float32" else np.uint64)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("beta", BETAS)
def test_every_path_gives_the_same_corrected_bits(beta, dtype):
    scalar = np.dtype(dtype).type
    v, theta = float(scalar(0.3)), scalar(1.7)
    for count in COUNTS:
        prev = count - 1
        want = None
        got = {}
        # one series: the one-value stream (float64 only) and a 1-D chunk
        if dtype == "float64":
            s = EWA.from_state(_series_state(beta, dtype, v, prev))
            got["stream float"] = s.update(float(theta))
            got["EWA.value (series)"] = s.value
        s = EWA.from_state(_series_state(beta, dtype, v, prev))
        got["1-D chunk"] = s.update(np.array([theta], dtype))[0]
        # k series, equal counts: rows (C) share one correction; lanes (F, groups of four) share one count
        for order in ("C", "F"):
            p = EWA.from_state(_panel_state(beta, dtype, [v] * 9, [prev] * 9))
            row = p.update(np.asarray(np.full((1, 9), theta, dtype), order=order))
            got[f"equal counts {order}"] = row[0, 0]
            assert np.array_equal(_bits(row, dtype), _bits(np.full(9, row[0, 0]), dtype))
            got[f"EWA.value (panel {order})"] = p.value[0]
        # k series, unequal counts near each other: the counted rows and their table of divisors
        near = [prev, max(prev - 1, 0), prev + 1, prev, max(prev - 70, 0), prev, prev + 3, prev, prev]
        for order in ("C", "F"):
            p = EWA.from_state(_panel_state(beta, dtype, [v] * 9, near))
            got[f"table {order}"] = p.update(np.asarray(np.full((2, 9), theta, dtype), order=order))[0, 0]
        # counts far apart (beyond the table): series by series
        far = [prev, prev + 2**20 if prev < 2**52 else 0, 0, prev, 5]
        p = EWA.from_state(_panel_state(beta, dtype, [v] * 5, far))
        got["far apart"] = p.update(np.full((1, 5), theta, dtype))[0, 0]
        want = got["1-D chunk"]
        for path, value in got.items():
            assert np.array_equal(_bits(value, dtype), _bits(want, dtype)), (count, path, value, want)
        # and it is the corrected value: V / (1 − β^count) to a few ulp
        vc = beta * v + (1 - beta) * float(theta)
        exact = vc / -np.expm1(count * np.log1p(-(1 - beta)))
        assert abs(float(want) - exact) <= 8 * np.finfo(dtype).eps * abs(exact) + 1e-300, (count, want, exact)


def test_correction_helpers_agree():
    """The kernel helpers themselves: corrected() divides by exactly the entry fill_divisors tables."""
    from streamopt._kernels import ewa_correction as kc

    for alpha in (0.5, 0.1, 1e-3, 1e-9, 1.0):
        table = np.empty(kc.BLOCK)
        kc.fill_table(alpha, table)
        lo = 0
        div = np.empty(20_000)
        kc.fill_divisors(div, lo, alpha, table, True)
        for count in list(range(1, 300)) + [4095, 4096, 19_999]:
            _, a_q, b_q = kc.terms_for(alpha, count, -1, 0.0, 1.0)
            v = 0.37
            assert kc.corrected(v, count, a_q, b_q, table, True) == v / div[count - lo]
            assert kc.corrected(v, count, a_q, b_q, table, False) == v
        assert np.isnan(kc.corrected(0.0, 0, 0.0, 1.0, table, True))
