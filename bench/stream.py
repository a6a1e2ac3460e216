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
from _harness import Result, format_table, measure, missing, optional, result  # noqa: E402

GROUP = "stream"
BETA = 0.9
ALPHA = 1.0 - BETA


def _timing_kwargs(quick: bool) -> dict:
    return {"repeat": 3, "min_time": 0.02} if quick else {"repeat": 5, "min_time": 0.1}


def _pandas_online(first_chunk):
    """A pandas online EWM object, or the reason it cannot be made."""
    import pandas as pd

    try:
        online = pd.Series(first_chunk).ewm(alpha=ALPHA).online()
        online.mean()
        return online, None
    except Exception as exc:  # online() needs numba and may change between pandas versions
        return None, f"{type(exc).__name__}: {exc}"


def _bench_update_one(quick: bool) -> list[Result]:
    import pandas as pd

    from streamopt import EWA

    kw = _timing_kwargs(quick)
    rows = []
    s = EWA(BETA, bias_correction=True)
    s.update(0.0)
    rows.append(result(GROUP, "update-1", "streamopt", 1, "float64", measure(lambda: s.update(0.5), **kw)))
    river = optional("river")
    if river is None:
        rows.append(missing(GROUP, "update-1", "river", 1, "float64"))
    else:
        from river import stats

        m = stats.EWMean(fading_factor=ALPHA)
        rows.append(result(GROUP, "update-1", "river", 1, "float64", measure(lambda: m.update(0.5), **kw)))
    online, why = _pandas_online([0.0, 0.0])
    if online is None:
        rows.append(missing(GROUP, "update-1", "pandas-online", 1, "float64", why=why))
    else:
        one = pd.Series([0.5])
        rows.append(result(GROUP, "update-1", "pandas-online", 1, "float64",
                           measure(lambda: online.mean(update=one), repeat=3, min_time=0.02)))
    return rows


def _bench_chunk(n: int, quick: bool) -> list[Result]:
    import pandas as pd

    from streamopt import EWA

    kw = _timing_kwargs(quick)
    case = f"chunk-{n}"
    x = np.random.default_rng(0).normal(size=n)
    rows = []
    s = EWA(BETA, bias_correction=True)
    rows.append(result(GROUP, case, "streamopt", n, "float64", measure(lambda: s.update(x), **kw)))
    river = optional("river")
    if river is None:
        rows.append(missing(GROUP, case, "river", n, "float64"))
    else:
        from river import stats

        m = stats.EWMean(fading_factor=ALPHA)
        values = x.tolist()

        def river_chunk() -> None:
            update = m.update
            for v in values:
                update(v)

        rows.append(result(GROUP, case, "river", n, "float64", measure(river_chunk, **kw)))
    online, why = _pandas_online(x[:2])
    if online is None:
        rows.append(missing(GROUP, case, "pandas-online", n, "float64", why=why))
    else:
        chunk = pd.Series(x)
        rows.append(result(GROUP, case, "pandas-online", n, "float64",
                           measure(lambda: online.mean(update=chunk), repeat=3, min_time=0.02)))
    return rows


def run(quick: bool = False) -> list[Result]:
    """Time every case; ``quick`` uses fewer repeats and skips the 10^5 chunk (~10 s)."""
    results = _bench_update_one(quick)
    for n in ([10, 1000] if quick else [10, 1000, 100_000]):
        results += _bench_chunk(n, quick)
    return results


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
