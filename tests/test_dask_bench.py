"""The benchmark group "dask" (bench/dask_ewm.py) in --quick mode: every row measured, its goal evaluated."""

from __future__ import annotations

import dataclasses
import math
import sys

import pytest
from conftest import ROOT

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")
sys.path.insert(0, str(ROOT / "bench"))

import report  # noqa: E402


def test_dask_group_quick_rows_and_goal():
    import dask_ewm as group

    rows = group.run(quick=True)
    libraries = ["streamopt", "scan-1-worker", "exact-2-workers", "pandas", "streamopt-in-memory"]
    assert [(r.case, r.library) for r in rows] == [(c, lib) for c in ("mean", "mean-keyed") for lib in libraries]
    for r in rows:
        assert r.size == group.ROWS_QUICK and r.seconds > 0 and math.isfinite(r.seconds), r
        assert r.extra["peak_rss_mb"] > 0, r
    assert {r.extra["workers"] for r in rows if "workers" in r.extra} == {1, 2}
    (goal,) = [g for g in report.evaluate_goals(rows) if g.id == "dask-scan-scales"]
    assert goal.status == "not evaluated"  # quick sizes are below the goal's min_size
    big = [dataclasses.replace(r, size=10**7) for r in rows]
    (goal,) = [g for g in report.evaluate_goals(big) if g.id == "dask-scan-scales"]
    assert goal.status in ("met", "not met") and goal.rows == 2
    assert (group.CACHE / f"{group.ROWS_QUICK}-{group.PARTITIONS_QUICK}-keyed" / "_complete").exists()
