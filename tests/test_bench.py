"""The benchmark suite's machinery: timing harness, tables, report, goals, runner, command.

Nothing here times the library (speed is measured by ``bench/``, not by
tests): the report is built from small synthetic results whose ratios are
known, so every verdict below follows from the numbers written here.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys

import numpy as np
import pytest
from conftest import ROOT, cli

BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

from _harness import Result, format_table, measure, missing  # noqa: E402

import report  # noqa: E402


def _runner():
    spec = importlib.util.spec_from_file_location("bench_run_under_test", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(group, case, library, size, seconds, dtype="float64", spread=0.05, **extra) -> Result:
    return Result(group, case, library, size, dtype, seconds, spread, dict(extra))


# --------------------------------------------------------------------------- harness
def test_measure_counts_calls_and_orders_best_median():
    calls = []
    setups = []
    timing = measure(lambda: calls.append(1), repeat=4, min_time=0.002, setup=lambda: setups.append(1))
    assert timing.repeats == 4 and timing.number >= 1
    assert 0 < timing.best <= timing.median
    assert timing.spread == pytest.approx(timing.median / timing.best - 1)
    # one warm-up call, then at least `repeat` timed repeats of `number` calls each
    assert len(calls) >= 1 + timing.repeats * timing.number
    assert len(setups) >= 1 + timing.repeats


def test_format_table_reports_missing_peers_and_ratios():
    rows = [row("ewa", "1d", "streamopt", 1000, 1e-6), row("ewa", "1d", "pandas", 1000, 4e-6),
            missing("ewa", "1d", "polars", 1000, "float64")]
    header, rule, line, *notes = format_table(rows).splitlines()
    assert header == "| case | size | dtype | streamopt | pandas | polars |"
    assert line == "| 1d | 1000 | float64 | 1 ±5% | 4 ±5% (4x) | missing |"
    assert notes == ["", "Not measured:", "", "- polars at 1d: not installed"]


# --------------------------------------------------------------------------- report
def synthetic() -> list[Result]:
    """A run whose goals have known outcomes (see test_report_*)."""
    rows = []
    for size in (1_000, 100_000):
        rows += [row("ewa", "1d", "streamopt", size, size * 2e-9, bytes_per_element=16, floor="chain",
                     floor_ns_per_element=1.0),
                 row("ewa", "1d", "numbagg", size, size * 4e-9),       # 2x: 1-D goal (1.5x) met
                 missing("ewa", "1d", "polars", size, "float64")]
    rows += [row("ewa", "2d-C", "streamopt", 10_000_000, 0.01, floor_ns_per_element=0.8),  # 1 ns: 1.25x floor
             row("ewa", "2d-C", "numbagg", 10_000_000, 0.025)]                             # 2.5x: met
    rows += [row("optim", "adam", "streamopt", 10, 1e-6), row("optim", "adam", "torch-fused", 10, 5e-6),
             row("optim", "adam", "torch-foreach", 10, 2e-5),   # fastest torch 5x at 10: the 10x goal is not met
             row("optim", "adam", "streamopt", 10_000_000, 0.01, floor_ns_per_element=0.9),  # 1.11x floor: met
             row("optim", "adam", "torch-fused", 10_000_000, 0.02),
             # without the finite check: slower than torch at 10 (0.5x), 1.33x the floor at 1e7
             row("optim", "adam", "streamopt-nocheck", 10, 1e-5),
             row("optim", "adam", "streamopt-nocheck", 10_000_000, 0.012)]
    rows += [row("train", "experiment", "streamopt", 300, 1.0, dtype=""),
             row("train", "experiment", "numpy", 300, 50.0, dtype=""),   # 50x: met
             row("train", "experiment", "torch", 300, 10.0, dtype="")]   # 10x: not met (20x)
    rows += [row("startup", "import", "warm", 1, 0.3, dtype=""),
             row("startup", "ewa", "warm", 1, 0.5, dtype=""), row("startup", "train", "warm", 1, 2.5, dtype=""),
             row("startup", "ewa", "cold", 1, 4.0, dtype="")]
    rows += [row("floor", "triad-1t", "numba", 10_000_000, 0.005, gb_per_s=48.0, threads=1)]
    return rows


def test_goals_follow_the_measured_ratios():
    goals = {g.name.split(" (")[0]: g for g in report.evaluate_goals(synthetic())}
    assert goals["EWA 2-D ≥ 2x numbagg"].status == "met"
    assert goals["EWA 2-D ≥ 2x numbagg"].measured.startswith("worst 2.5x")
    assert goals["EWA 2-D ≤ 1.3x the bandwidth floor"].status == "met"
    assert goals["EWA 2-D ≤ 1.3x the bandwidth floor"].measured.startswith("worst 1.25x")
    assert goals["EWA 1-D ≥ 1.5x numbagg"].status == "met"
    assert goals["every optimizer faster than torch's fastest CPU path at every size"].status == "met"
    ten = goals["every optimizer ≥ 10x torch's fastest path at ≤ 1e4 parameters"]
    assert ten.status == "not met" and ten.measured.startswith("worst 5x (adam 10 float64)")
    assert goals["every optimizer ≤ 1.2x the bandwidth floor at 1e7 parameters"].status == "met"
    # the same goals judged on the unchecked step (its own rows, not the checked ones)
    nocheck = goals["every optimizer faster than torch's fastest CPU path at every size, with check_finite=False"]
    assert nocheck.status == "not met" and nocheck.measured.startswith("worst 0.5x (adam 10")
    nocheck_floor = goals["every optimizer ≤ 1.2x the bandwidth floor at 1e7 parameters, with check_finite=False"]
    assert nocheck_floor.status == "not met" and nocheck_floor.measured.startswith("worst 1.33x")
    assert goals["experiment ≥ 40x the NumPy form"].status == "met"
    assert goals["experiment ≥ 20x PyTorch"].status == "not met"
    startup = goals["warm-cache import + first call ≤ 2 s"]
    assert startup.status == "not met" and "2.5 s (train)" in startup.measured
    # a row whose data fit in the cache does not count against the memory floor
    cached = [r for r in synthetic() if r.group == "ewa"]
    for r in cached:
        if r.library == "streamopt" and r.case == "2d-C":
            r.extra["in_cache"] = True
    floor_goal = [g for g in report.evaluate_goals(cached) if g.name.startswith("EWA 2-D ≤ 1.3x")]
    assert floor_goal[0].status == "not evaluated"
    # a goal without rows says so instead of passing
    empty = report.evaluate_goals([row("ewa", "1d", "streamopt", 10, 1e-6)])
    assert {g.status for g in empty} == {"not evaluated"}


def test_report_files(tmp_path):
    machine = {"cpu": "test cpu", "cores": 2, "versions": {"numpy": "1", "torch": "missing"}}
    groups = {"floor": {"status": "ok", "seconds": 1.0}, "ewa": {"status": "ok", "seconds": 2.0},
              "stream": {"status": "missing", "detail": "bench/stream.py not found"},
              "optim": {"status": "ok"}, "train": {"status": "ok"}, "startup": {"status": "ok"}}
    written = report.write_report(tmp_path, machine, synthetic(), groups, quick=True, command="test")

    data = json.loads((tmp_path / "results.json").read_text())
    assert data["schema"] == 1 and data["quick"] is True
    assert data["machine"]["cpu"] == "test cpu" and data["machine"]["versions"]["torch"] == "missing"
    assert data["groups"]["stream"]["status"] == "missing"
    assert len(data["results"]) == len(synthetic())
    for r in data["results"]:
        assert {"group", "case", "library", "size", "dtype", "seconds", "spread", "extra",
                "ns_per_element"} <= set(r)
    gone = [r for r in data["results"] if "missing" in r["extra"]]
    assert gone and all(r["seconds"] is None for r in gone)  # NaN written as null: strict JSON
    assert {g["status"] for g in data["goals"]} <= {"met", "not met", "not evaluated"}
    _, back, _ = report.load_results(tmp_path / "results.json")
    assert [(r.group, r.case, r.library, r.size) for r in back] == \
        [(r.group, r.case, r.library, r.size) for r in synthetic()]

    md = (tmp_path / "report.md").read_text()
    assert md.index("## Machine") < md.index("## floor") < md.index("## ewa") < md.index("## Goals")
    for group in ("floor", "ewa", "optim", "train", "startup"):
        assert f"## {group}" in md and f"![{group}]({group}.png)" in md
    assert "**missing**: bench/stream.py not found" in md
    assert "| case | size | dtype | streamopt | numbagg | polars | floor | vs floor |" in md
    assert "| 2d-C | 1e7 | float64 | 1 ±5% | 2.5 ±5% (2.5x) |  | 0.8 | 1.25x |" in md
    assert "| experiment ≥ 20x PyTorch | not met | worst 10x" in md
    assert "memory bandwidth, 1 thread(s): 48.0 GB/s" in md
    assert "machine was busy" not in md  # no load average given
    busy = report.markdown({"cores": 2, "load average at start (1, 5, 15 min)": "1.50, 1.0, 1.0"}, [], {}, [])
    assert "machine was busy** (1-minute load average up to 1.50 on 2 cores, 1.50 of it other work)" in busy
    # at the end, one unit of load is the suite's own process
    own = report.markdown({"cores": 2, "load average at end (1, 5, 15 min)": "1.10, 1.0, 1.0"}, [], {}, [])
    assert "machine was busy" not in own
    other = report.markdown({"cores": 2, "load average at end (1, 5, 15 min)": "2.30, 1.0, 1.0"}, [], {}, [])
    assert "1-minute load average up to 2.30 on 2 cores, 1.30 of it other work" in other

    for group in ("floor", "ewa", "optim", "train", "startup"):
        png = tmp_path / f"{group}.png"
        assert written[f"plot:{group}"] == png
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "stream.png").exists()


# --------------------------------------------------------------------------- runner
FAKE_OK = '''
from _harness import Result
def run(quick=False):
    assert quick is True
    return [Result("ewa", "2d-C", "streamopt", 1000, "float64", 1e-6, 0.0, {"bytes_per_element": 16}),
            Result("ewa", "1d", "streamopt", 1000, "float32", 1e-6, 0.0, {"bytes_per_element": 8, "floor": "chain"}),
            Result("ewa", "1d-big", "streamopt", 10**9, "float32", 1.0, 0.0,
                   {"bytes_per_element": 8, "floor": "chain"}),
            Result("stream", "chunk-10", "streamopt", 10, "float64", 1e-6, 0.0, {})]
'''
FAKE_FAIL = '''
def run(quick=False):
    raise RuntimeError("kernel exploded")
'''


def test_runner_reports_missing_and_failed_groups_and_fills_floors(tmp_path, monkeypatch):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "fake_group_ok.py").write_text(FAKE_OK)
    (scripts / "fake_group_fail.py").write_text(FAKE_FAIL)
    monkeypatch.syspath_prepend(str(scripts))
    floor = pytest.importorskip("floor")
    # a known bandwidth (bytes/s) and chain latency (ns) instead of measuring them
    monkeypatch.setattr(floor, "_BANDWIDTH", {1: 1e10, floor.all_threads(): 2e10})
    monkeypatch.setattr(floor, "_CHAIN", {"float32": 0.5, "float64": 0.6})
    monkeypatch.setattr(floor, "remeasure_bandwidth", lambda quick=False: False)  # the second triad: no better
    runner = _runner()
    monkeypatch.setattr(runner, "GROUPS", {"ewa": "fake_group_ok", "stream": "no_such_group_script",
                                           "train": "fake_group_fail"})  # fake_group_ok also gives a stream row
    lines: list[str] = []
    status = runner.run_suite(quick=True, out=tmp_path / "out", echo=lines.append)
    assert status == 1
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {k: v["status"] for k, v in data["groups"].items()} == \
        {"ewa": "ok", "stream": "missing", "train": "failed"}
    assert "kernel exploded" in data["groups"]["train"]["detail"]
    extra = {r["case"]: r["extra"] for r in data["results"]}
    assert extra["2d-C"]["floor_ns_per_element"] == pytest.approx(16 / 2e10 * 1e9)   # all cores
    # a serial chain: its latency, and out of cache the one-core bandwidth when slower (8 B / 1e10 B/s)
    assert extra["1d-big"]["floor_ns_per_element"] == pytest.approx(0.8)
    assert extra["chunk-10"]["bytes_per_element"] == 16                  # EWA's default: read x, write out
    assert extra["chunk-10"]["floor_ns_per_element"] == pytest.approx(0.6)
    assert "in_cache" not in extra["1d"]
    if floor.last_level_cache_bytes() is not None:  # 1000 x 16 bytes fit in any last-level cache
        assert extra["1d"]["floor_ns_per_element"] == pytest.approx(0.5)
        assert extra["2d-C"]["in_cache"] is True
    text = "\n".join(lines)
    assert "cpu:" in text and "versions:" in text and "== goals ==" in text


def test_bench_command_needs_the_source_tree(tmp_path):
    from streamopt.commands import CLIError
    from streamopt.commands import bench as command

    fake = tmp_path / "site-packages" / "streamopt" / "__init__.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("")
    with pytest.raises(CLIError, match="source checkout"):
        command.find_bench_dir(fake)
    assert command.find_bench_dir() == BENCH
    args = argparse.Namespace(quick=True, only=["nope"], out=str(tmp_path))
    with pytest.raises(CLIError, match="'nope' is not a group"):
        command.run(args)


def test_report_before_after():
    after = synthetic()
    slower = {"streamopt": 2.0, "warm": 3.0}
    before = [Result(r.group, r.case, r.library, r.size, r.dtype, r.seconds * slower.get(r.library, 1.0),
                     r.spread, dict(r.extra)) for r in after]
    md = report.markdown({"versions": {}}, after, {}, report.evaluate_goals(after), before=before,
                         before_label="old")
    assert "| 2d-C | 1e7 | float64 | streamopt | 2 | 1 | 2.00x |" in md
    assert "| train | 1 | – | warm | 7.5 s | 2.5 s | 3.00x |" in md       # start-up: every row
    assert "| 1d | 1000 | float64 | numbagg |" not in md                  # peers are not compared
    # the goals table gets the earlier verdicts
    assert "| goal | status | measured | before (old) |" in md
    assert ("| experiment ≥ 40x the NumPy form | met | worst 50x (experiment 300); needs ≥ 40x "
            "| not met: worst 25x") in md


def test_bench_command_bad_input_is_one_line_exit_2(tmp_path):
    proc = cli("bench", "--quick", "--compare", tmp_path / "none.json", "--out", tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"streamopt bench: error: --compare {tmp_path / 'none.json'}: no such results.json"]
    assert not (tmp_path / "results.json").exists()


def test_startup_rows_from_child_reports():
    import startup

    samples = {"ewa": [({"import": 0.30, "call": 0.20}, 1.0), ({"import": 0.25, "call": 0.10}, 0.9)],
               "SGD.step": [({"failed": "TypeError: boom"}, 0.5)]}
    rows = {r.case: r for r in startup._rows("warm", [0.30, 0.25, None], samples)}
    assert rows["import"].seconds == 0.25 and rows["import"].extra["repeats"] == 2
    ewa = rows["ewa"]
    assert ewa.library == "warm" and ewa.seconds == pytest.approx(0.35)      # best import + first call
    assert ewa.extra["first_call_seconds"] == 0.10 and ewa.extra["process_seconds"] == 0.9
    assert ewa.spread == pytest.approx(0.50 / 0.35 - 1)
    assert rows["SGD.step"].extra["missing"] == "failed: TypeError: boom"
    text = format_table(list(rows.values()))
    assert "| ewa | 1 | – | 0.35 s ±43% |" in text and "- warm at SGD.step: failed: TypeError: boom" in text


def test_floor_never_slower_than_one_core(monkeypatch):
    floor = pytest.importorskip("floor")
    n = floor.all_threads()
    # a busy machine measured the threaded triad slower than one core: the floor keeps one core's
    monkeypatch.setattr(floor, "_BANDWIDTH", {1: 3e10, n: 2e10} if n > 1 else {1: 3e10})
    assert floor.floor_ns_per_element(24.0, n) == pytest.approx(24.0 / 3e10 * 1e9)
    assert floor.floor_ns_per_element(24.0, 1) == pytest.approx(0.8)


def test_floors_recomputed_from_the_better_second_triad(monkeypatch):
    floor = pytest.importorskip("floor")
    from _harness import Timing

    run = _runner()
    n = floor.TRIAD_ELEMENTS
    # the first triad was disturbed (1 s per call with 2 threads); the second one takes 0.5 s
    monkeypatch.setattr(floor, "_BANDWIDTH", {1: 24.0 * n / 2.0, 2: 24.0 * n / 1.0})
    monkeypatch.setattr(floor, "_BANDWIDTH_TIMING", {1: (Timing(2.0, 2.0, 3, 1), n), 2: (Timing(1.0, 1.0, 3, 1), n)})
    monkeypatch.setattr(floor, "all_threads", lambda: 2)
    monkeypatch.setattr(floor, "_measure_triad",
                        lambda threads, size, repeat: Timing(0.5 if threads == 2 else 3.0, 0.6, 3, 1))
    rows = [row("floor", "triad-2t", "numba", n, 1.0, threads=2, bytes_per_element=24.0),
            row("floor", "triad-1t", "numba", n, 2.0, threads=1, bytes_per_element=24.0),
            row("optim", "sgd", "streamopt", 10**7, 0.01, bytes_per_element=12, floor_ns_per_element=0.5),
            row("optim", "sgd", "floor", 10**7, 0.005, bytes_per_element=12),
            row("optim", "sgd", "torch-fused", 10**7, 0.01, threads=2)]
    assert run.set_floors(rows, quick=False) is None
    assert rows[0].seconds == 0.5 and rows[0].extra["gb_per_s"] == pytest.approx(24.0 * n / 0.5 / 1e9)
    assert rows[1].seconds == 2.0                        # the slower second one-core triad is not kept
    ns = 12 / (24.0 * n / 0.5) * 1e9                     # 12 bytes at the second triad's bandwidth
    assert rows[2].extra["floor_ns_per_element"] == pytest.approx(ns)
    assert rows[3].seconds == pytest.approx(ns * 1e-9 * 10**7)
    assert rows[4].seconds == 0.01 and "floor_ns_per_element" not in rows[4].extra


def test_goals_file_is_checked(tmp_path):
    goals = report.load_goals()
    assert len({g["id"] for g in goals}) == len(goals) == len(report.evaluate_goals([]))
    bad = tmp_path / "goals.toml"
    for body, message in [
        ('[[goal]]\nid = "a"\ntext = "t"\ngroup = "ewa"\ncase = "*"\nmetric = "floor"\nat_leats = 1.0\n', "keys"),
        ('[[goal]]\nid = "a"\ntext = "t"\ngroup = "ewa"\ncase = "*"\nmetric = "peer"\nat_least = 1.0\n', "metric"),
        ('[[goal]]\nid = "a"\ntext = "t"\ngroup = "ewa"\ncase = "*"\nmetric = "floor"\n', "exactly one"),
    ]:
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(ValueError, match=f"goal 'a'.*{message}"):
            report.load_goals(bad)
    bad.write_text(2 * '[[goal]]\nid = "a"\ntext = "t"\ngroup = "ewa"\ncase = "*"\nmetric = "floor"\nat_most = 1\n')
    with pytest.raises(ValueError, match="ids must differ"):
        report.load_goals(bad)


# --------------------------------------------------------------------------- the ewm group
EWM_CASES = ("mean-times", "mean-times-noadjust", "var", "std", "cov", "corr", "mean-1d-bound", "grouped",
             "stream-keys-int", "stream-keys-str")


def test_ewm_group_quick_rows_goals_and_report(tmp_path):
    import ewm as group

    rows = group.run(quick=True)
    by_key = report.index(rows)
    assert [k[1] for k in by_key] == list(EWM_CASES)
    for (_, case, size, dtype), libs in by_key.items():
        want_size = group.STREAM_CHUNK_QUICK if case.startswith("stream-keys") else group.SIZE_QUICK
        assert size == want_size and dtype == "float64", case
        assert report.measured(libs["streamopt"]), case
        if case == "mean-1d-bound":
            assert report.measured(libs["streamopt-ewm"]) and report.measured(libs["floor"])
            continue
        if case.startswith("stream-keys"):
            assert set(libs) == {"streamopt", "river"}  # river measured, or missing with the reason
            assert libs["streamopt"].extra["keys"] == group.STREAM_KEYS_QUICK
            assert libs["streamopt"].extra["observations_per_second"] == pytest.approx(
                size / libs["streamopt"].seconds)
            continue
        assert report.measured(libs["pandas"]), case
        if case == "grouped":
            assert set(libs) == {"streamopt", "pandas"}
            assert libs["streamopt"].extra["keys"] == group.SIZE_QUICK // group.ROWS_PER_KEY
            continue
        assert "polars" in libs, case  # measured, or missing with the reason
    for (_, case, _, _), libs in by_key.items():
        for lib, r in libs.items():
            if lib not in ("streamopt", "streamopt-ewm", "floor", "numba-loop-new-array") and report.measured(r):
                assert 0 <= r.extra["agreement"] <= group.RTOL, (case, lib)
    polars_why = {k[1]: v["polars"].extra.get("missing") for k, v in by_key.items() if "polars" in v}
    have_polars = importlib.util.find_spec("polars") is not None  # a bench peer, not a test dependency
    if have_polars:
        assert "adjust=False" in polars_why["mean-times"] and "covariance" in polars_why["cov"]
    else:
        assert set(polars_why.values()) == {"not installed"}
    goals = {g.id: g for g in report.evaluate_goals(rows) if g.id.startswith("ewm-")}
    # the quick rows are smaller than the sizes these goals name
    not_yet = {"ewm-grouped-vs-pandas", "ewm-stream-keys-rate"}
    if not have_polars:
        not_yet.add("ewm-mean-times-vs-polars")
    assert not_yet < set(goals)
    for gid, g in goals.items():
        assert (g.status == "not evaluated") == (gid in not_yet), (gid, g.measured)
    # at the goals' sizes the same rows evaluate them
    full = {"grouped": group.SIZE, "stream-keys-int": group.STREAM_CHUNK, "stream-keys-str": group.STREAM_CHUNK}
    scaled = [dataclasses.replace(r, size=full[r.case]) for r in rows if r.case in full]
    if importlib.util.find_spec("river") is None:
        scaled = [r for r in scaled if r.library != "river"]
    goals = {g.id: g for g in report.evaluate_goals(scaled)}
    assert goals["ewm-grouped-vs-pandas"].status in ("met", "not met")
    assert goals["ewm-stream-keys-rate"].status in ("met", "not met") and goals["ewm-stream-keys-rate"].rows == 2
    written = report.write_report(tmp_path, {"versions": {}}, rows, {"ewm": {"status": "ok"}}, quick=True,
                                  command="test")
    assert "## ewm" in (tmp_path / "report.md").read_text()
    assert written["plot:ewm"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ewm_group_river_rows_compare_the_same_statistic():
    river = pytest.importorskip("river.stats")
    import streamopt

    # river's EWMean: the first value, then a step of fading_factor towards each value: ewm's adjust=False mean
    x = [1.0, 3.0, -2.0, 5.0]
    m = river.EWMean(fading_factor=0.3)
    got = []
    for v in x:
        m.update(v)
        got.append(m.get())
    want = streamopt.EWMStream(alpha=0.3, adjust=False).update(x)["mean"]
    assert np.allclose(got, want, rtol=1e-14, atol=0) and not np.allclose(
        got, streamopt.EWMStream(alpha=0.3).update(x)["mean"], rtol=1e-3)


def test_ewm_group_refuses_a_peer_that_computes_something_else():
    import ewm as group

    want = np.array([np.nan, 1.0, -2.0, 1e-3])
    assert group.check_agreement("c", "peer", want * (1 + 1e-12), want) == pytest.approx(1e-12, rel=1e-3)
    with pytest.raises(AssertionError, match="c: peer gives .* at position 2"):
        group.check_agreement("c", "peer", want + np.array([0, 0, 1e-8, 0]), want)
    with pytest.raises(AssertionError, match="NaN at position 3"):
        group.check_agreement("c", "peer", np.array([np.nan, 1.0, -2.0, np.nan]), want)
    with pytest.raises(AssertionError, match="shape"):
        group.check_agreement("c", "peer", want[:2], want)


# --------------------------------------------------------------------------- the service group
SERVICE_GOALS = {"service-batch-rate", "service-batch-vs-river", "service-request-rate", "service-request-p99",
                 "service-learn-rate-1", "service-learn-rate-16", "service-predict-rate"}


def test_service_rows_take_the_best_round_and_say_what_was_measured():
    import service as group

    rounds = [{"wall": 2.0, "requests": 100, "applied": 1_000_000, "client_cpu": 1.5, "server_cpu": 1.8,
               "latencies": []},
              {"wall": 1.0, "requests": 100, "applied": 1_000_000, "client_cpu": 1.0, "server_cpu": 0.9,
               "latencies": []},
              {"wall": 1.5, "requests": 100, "applied": 1_000_000, "client_cpu": 1.2, "server_cpu": 1.1,
               "latencies": []}]
    r = group._row("batch-10000x4", "streamopt", 10_000, rounds, "observations", durability="full")
    assert (r.group, r.case, r.library, r.size) == ("service", "batch-10000x4", "streamopt", 10_000)
    assert r.seconds == 0.01 and r.spread == pytest.approx(0.5)  # best 1 s / 100 batches; median 1.5 s
    assert r.extra["observations_per_second"] == 1e6 and r.extra["server_cpu_seconds"] == 0.9
    assert r.extra["client_cpu_seconds"] == 1.0 and r.extra["repeats"] == 3
    goals = {g.id: g for g in report.evaluate_goals([r, row("service", "batch-10000x4", "river", 10_000, 0.02)])}
    assert goals["service-batch-rate"].status == "met"          # 1e6 observations/s: exactly the goal
    assert goals["service-batch-vs-river"].measured.startswith("worst 2x")


def test_service_group_quick_against_a_real_server(tmp_path):
    pytest.importorskip("streamopt.service")  # the service extra (httpx, starlette, uvicorn, ...)
    import service as group

    rows = group.run(quick=True)
    by_key = report.index(rows)
    cases = [k[1] for k in by_key]
    assert cases[:4] == ["batch-10000x4", "request-1x64", "request-1x64-p50", "request-1x64-p99"]
    assert cases[4:] == ["learn-64x1", "learn-64x16", "predict-10000"]  # bench/service_models.py
    for (_, case, size, _), libs in by_key.items():
        r = libs["streamopt"]
        assert report.measured(r), case
        if case.startswith(("batch", "request", "learn")):
            assert r.extra["durability"] == "full", case
        assert size == {"batch": 10_000, "request": 1, "learn": 64, "predict": 10_000}[case.split("-")[0]]
    batch = by_key[("service", "batch-10000x4", 10_000, "float64")]["streamopt"]
    rounds, batches, _ = group.QUICK
    assert batch.extra["requests"] == rounds * batches * group.PRODUCERS
    assert batch.extra["server_cpu_seconds"] > 0 and batch.extra["client_cpu_seconds"] > 0
    assert "river" in by_key[("service", "batch-10000x4", 10_000, "float64")]  # measured, or missing with why
    goals = {g.id: g for g in report.evaluate_goals(rows) if g.id in SERVICE_GOALS}
    assert set(goals) == SERVICE_GOALS
    have_river = importlib.util.find_spec("river") is not None
    for gid, g in goals.items():
        assert (g.status == "not evaluated") == (gid == "service-batch-vs-river" and not have_river), g
    report.write_report(tmp_path, {"versions": {}}, rows, {"service": {"status": "ok"}}, quick=True, command="test")
    assert "## service" in (tmp_path / "report.md").read_text()
