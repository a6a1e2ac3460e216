"""Benchmark group "stream": streaming EWA, time per value.

Cases:

- ``update-1``: one value per call (``EWA.update(float)``, which returns the smoothed value) against
  river's ``stats.EWMean.update`` (which returns nothing) and pandas' ``ewm().online()`` fed a
  one-value Series.
- ``chunk-N`` for N = 10, 10^3, 10^5: one call per chunk of N values.  river has no chunk API, so
  its row is a Python loop of ``update`` over the chunk's values (given as a list of floats);
  pandas ``online().mean(update=chunk)``.

``size`` is the number of values per call; ``ns_per_element`` is therefore the cost per value.

    python bench/stream.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Result, format_table, measure, missing, optional, result, timing_options  # noqa: E402

GROUP = "stream"
BETA = 0.9
ALPHA = 1.0 - BETA


def _bench(n: int, quick: bool) -> list[Result]:
    """``update-1`` (one float per call) when ``n`` is 1, else ``chunk-N``: one call per chunk of ``n`` values."""
    import pandas as pd

    from streamopt import EWA

    kw = timing_options(quick)
    case = "update-1" if n == 1 else f"chunk-{n}"
    x = np.full(1, 0.5) if n == 1 else np.random.default_rng(0).normal(size=n)
    value = 0.5 if n == 1 else x  # one value: the float itself, the scalar path
    s = EWA(BETA, bias_correction=True)
    rows = [result(GROUP, case, "streamopt", n, "float64", measure(lambda: s.update(value), **kw))]
    river = optional("river.stats")
    if river is None:
        rows.append(missing(GROUP, case, "river", n, "float64"))
    else:
        m = river.EWMean(fading_factor=ALPHA)
        values = x.tolist()

        def river_chunk() -> None:  # river has no chunk API: its update, value by value
            update = m.update
            for v in values:
                update(v)

        rows.append(result(GROUP, case, "river", n, "float64",
                           measure((lambda: m.update(0.5)) if n == 1 else river_chunk, **kw)))
    try:  # online() needs numba and may change between pandas versions
        online = pd.Series(np.zeros(2) if n == 1 else x[:2]).ewm(alpha=ALPHA).online()
        online.mean()
    except Exception as exc:
        rows.append(missing(GROUP, case, "pandas-online", n, "float64", why=f"{type(exc).__name__}: {exc}"))
    else:
        chunk = pd.Series(x)
        rows.append(result(GROUP, case, "pandas-online", n, "float64",
                           measure(lambda: online.mean(update=chunk), repeat=3, min_time=0.02)))
    return rows


def run(quick: bool = False) -> list[Result]:
    """Time every case; ``quick`` uses fewer repeats and skips the 10^5 chunk (~10 s)."""
    return [r for n in ([1, 10, 1000] if quick else [1, 10, 1000, 100_000]) for r in _bench(n, quick)]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
