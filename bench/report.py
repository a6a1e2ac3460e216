"""Rendering of a benchmark run: ``results.json``, ``report.md``, one PNG plot per group, the goals.

Nothing here measures: every function takes the machine description, the
:class:`~_harness.Result` rows and the groups' status, so a report can be
rebuilt from a ``results.json`` and tested on synthetic rows.

Reading the numbers
-------------------
* A cell is the **best** time per element (per parameter, per value) of several
  repeats, in nanoseconds, then ``±s%``, the spread (median / best − 1).
* ``(r x)`` after a peer's time is peer time / streamopt time: above 1,
  streamopt is faster.
* ``floor`` is the machine's limit for that kernel: bytes it must move ÷ the
  triad bandwidth, or the latency of a serial multiply-add chain (1-D EWA);
  ``vs floor`` is streamopt time / floor (1 = at the limit).
"""

from __future__ import annotations

import fnmatch
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from _harness import Result

#: Groups in the order they run and are reported.
GROUP_ORDER = ("floor", "ewa", "stream", "optim", "train", "startup")

#: What each group's numbers are per.
UNITS = {"ewa": "ns per value", "stream": "ns per value", "optim": "ns per parameter",
         "train": "ns per epoch-example", "floor": "ns per element", "startup": "seconds",
         "service": "ns per observation, example or row (a request's wall time / the observations, examples or "
                    "rows it carries; a p50/p99 row: its latency)"}

BASELINE = "streamopt"
FLOOR = "floor"
#: Header of a script's own ``floor`` rows when the triad floor fills the floor column.
SCRIPT_FLOOR = "floor (script)"

Key = tuple[str, str, int, str]  # (group, case, size, dtype)


# --------------------------------------------------------------------------- rows
def measured(r: Result) -> bool:
    """True when ``r`` holds a time (not a missing peer)."""
    return "missing" not in r.extra and r.seconds == r.seconds and r.seconds > 0


def index(results: Iterable[Result]) -> dict[Key, dict[str, Result]]:
    """Rows keyed by (group, case, size, dtype), each a mapping library -> Result, in first-seen order."""
    rows: dict[Key, dict[str, Result]] = {}
    for r in results:
        rows.setdefault((r.group, r.case, r.size, r.dtype), {})[r.library] = r
    return rows


def floor_ns(by_lib: dict[str, Result]) -> float | None:
    """The floor of one row: the baseline's ``floor_ns_per_element`` (the triad floor the runner
    fills in), else the time of a ``floor`` row the group's script measured itself."""
    base = by_lib.get(BASELINE)
    if base is not None:
        value = base.extra.get("floor_ns_per_element")
        if isinstance(value, (int, float)) and value == value and value > 0:
            return float(value)
    f = by_lib.get(FLOOR)
    if f is not None and measured(f):
        return f.ns_per_element
    return None


def script_floor_is_column(by_lib: dict[str, Result]) -> bool:
    """A script's own ``floor`` row is shown as a column of its own when the triad floor is used."""
    if FLOOR not in by_lib or floor_ns(by_lib) is None:
        return False
    own = by_lib[FLOOR]
    return not measured(own) or not math.isclose(own.ns_per_element, floor_ns(by_lib), rel_tol=1e-6)


#: The speed goals (data: what each covers, its metric and bound, its text).
GOALS_FILE = Path(__file__).with_name("goals.toml")
_GOAL_KEYS = {"id", "text", "group", "case", "not_case", "min_size", "max_size", "baseline", "metric", "peers",
              "at_least", "at_most"}


def load_goals(path: Path = GOALS_FILE) -> list[dict[str, Any]]:
    """The goals of ``path`` (see its header), checked: a typo must not silently drop a goal."""
    with open(path, "rb") as f:
        goals = tomllib.load(f)["goal"]
    for g in goals:
        where = f"{path}: goal {g.get('id')!r}"
        if set(g) - _GOAL_KEYS or not {"id", "text", "group", "case", "metric"} <= set(g):
            raise ValueError(f"{where}: keys {sorted(g)}; allowed {sorted(_GOAL_KEYS)}")
        if g["metric"] not in ("peer", "floor", "seconds") or ("peers" in g) != (g["metric"] == "peer"):
            raise ValueError(f"{where}: metric {g['metric']!r} (peer with peers, floor or seconds)")
        if ("at_least" in g) == ("at_most" in g):
            raise ValueError(f"{where}: give exactly one of at_least and at_most")
    ids = [g["id"] for g in goals]
    if len(set(ids)) < len(ids):
        raise ValueError(f"{path}: goal ids must differ: {ids}")
    return goals


@dataclass
class Goal:
    """One goal of the suite, evaluated on the measured rows."""

    id: str
    name: str
    status: str          # "met", "not met", "not evaluated"
    measured: str        # the worst measured value (and where), or why it was not evaluated
    rows: int = 0        # rows the verdict is based on

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "status": self.status, "measured": self.measured,
                "rows": self.rows}


def _where(key: Key) -> str:
    return f"{key[1]} {fmt_size(key[2])} {key[3]}".strip()


def _value(goal: dict[str, Any], by_lib: dict[str, Result]) -> float | None:
    """The goal's metric on one row, or None when the row cannot say."""
    base = by_lib.get(goal.get("baseline", BASELINE))
    if base is None or not measured(base):
        return None
    if goal["metric"] == "seconds":
        return base.seconds
    if goal["metric"] == "floor":
        f = floor_ns(by_lib)
        return None if f is None or base.extra.get("in_cache") else base.ns_per_element / f
    peers = [r.seconds for lib, r in by_lib.items()
             if measured(r) and any(fnmatch.fnmatchcase(lib, p) for p in goal["peers"])]
    return min(peers) / base.seconds if peers else None


def evaluate_goal(goal: dict[str, Any], rows: dict[Key, dict[str, Result]]) -> Goal:
    """Evaluate one goal of :func:`load_goals` on every row it covers; the worst row decides."""
    baseline = goal.get("baseline", BASELINE)

    def covered(key: Key) -> bool:
        return (key[0] == goal["group"] and fnmatch.fnmatchcase(key[1], goal["case"])
                and not fnmatch.fnmatchcase(key[1], goal.get("not_case", "")))

    name, low, high = goal["text"], goal.get("min_size", 0), goal.get("max_size", math.inf)
    if low == "largest":
        sizes = [k[2] for k, v in rows.items() if covered(k) and baseline in v]
        low = max(sizes, default=0)
        name += f" (at the largest size, {fmt_size(low)})" if sizes else " (at the largest size)"
    values = [(v, k) for k, by_lib in rows.items() if covered(k) and low <= k[2] <= high
              and (v := _value(goal, by_lib)) is not None and math.isfinite(v)]
    if not values:
        what = {"peer": " or ".join(goal.get("peers", ())), "floor": "a floor, out of cache", "seconds": "a time"}
        return Goal(goal["id"], name, "not evaluated",
                    f"no {goal['group']} rows '{goal['case']}' with {baseline} and {what[goal['metric']]}")
    at_least = "at_least" in goal
    bound = goal["at_least"] if at_least else goal["at_most"]
    worst, key = min(values) if at_least else max(values)
    best = (max if at_least else min)(values)[0]
    unit = " s" if goal["metric"] == "seconds" else "x"
    text = f"worst {worst:.3g}{unit} ({key[1] if unit == ' s' else _where(key)})"
    if len(values) > 1:
        text += f", best {best:.3g}{unit}, {len(values)} rows"
    text += f"; needs {'≥' if at_least else '≤'} {bound:.3g}{unit}"
    ok = worst >= bound if at_least else worst <= bound
    return Goal(goal["id"], name, "met" if ok else "not met", text, len(values))


def evaluate_goals(results: list[Result], goals: list[dict[str, Any]] | None = None) -> list[Goal]:
    """The speed goals (``bench/goals.toml`` unless ``goals`` is given), each met / not met / not evaluated.

    A goal holds when **every** measured row it covers meets it; the report names the worst row.
    """
    rows = index(results)
    return [evaluate_goal(g, rows) for g in (load_goals() if goals is None else goals)]


# --------------------------------------------------------------------------- text
def fmt_size(size: int) -> str:
    return f"{size:.0e}".replace("e+0", "e").replace("e+", "e") if size >= 10_000 else str(size)


def fmt_value(x: float) -> str:
    return f"{x:.3g}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(r: Result | None, base: Result | None, unit_seconds: bool) -> str:
    if r is None:
        return ""
    if not measured(r):
        return "missing" if "missing" in r.extra else "n/a"
    # start-up rows (with a first-call time) are in seconds whatever their group
    seconds = unit_seconds or "first_call_seconds" in r.extra
    text = f"{r.seconds:.3g} s" if seconds else fmt_value(r.ns_per_element)
    if r.extra.get("repeats") == 1:
        text += " (1 run)"
    elif r.spread == r.spread:
        text += f" ±{r.spread * 100:.0f}%"
    if base is not None and r is not base and measured(base):
        text += f" ({r.seconds / base.seconds:.2g}x)"
    return text


def markdown_table(results: list[Result], group: str) -> str:
    """The Markdown table of one group: a row per (case, size, dtype), a column per library,
    then the floor and streamopt / floor where a floor applies."""
    rows = {k: v for k, v in index(results).items() if k[0] == group}
    libs: list[str] = []
    for by_lib in rows.values():
        for lib in by_lib:
            if (lib != FLOOR or script_floor_is_column(by_lib)) and lib not in libs:
                libs.append(lib)
    if BASELINE in libs:
        libs.insert(0, libs.pop(libs.index(BASELINE)))
    has_floor = any(floor_ns(v) is not None for v in rows.values())
    header = ["case", "size", "dtype", *map(_label, libs)]
    header += ["floor", "vs floor"] if has_floor else []
    lines = [_row(header), "|" + "---|" * len(header)]
    seconds = group == "startup"
    for (_, case, size, dtype), by_lib in rows.items():
        base = by_lib.get(BASELINE)
        cells = [case, fmt_size(size), dtype or "–"]
        cells += [_cell(by_lib.get(lib), base, seconds) for lib in libs]
        if has_floor:
            f = floor_ns(by_lib)
            cells.append("" if f is None else fmt_value(f))
            if f is None or base is None or not measured(base):
                cells.append("")
            else:
                in_cache = " (in cache)" if base.extra.get("in_cache") else ""
                cells.append(f"{base.ns_per_element / f:.3g}x{in_cache}")
        lines.append(_row(cells))
    return "\n".join(lines)


def group_table(results: list[Result], group: str) -> str:
    """:func:`markdown_table`, then why each missing peer was not measured (the report's and the scripts' text)."""
    notes = sorted({f"- {r.library} at {r.case}: {r.extra['missing']}" for r in results
                    if r.group == group and "missing" in r.extra})
    return "\n".join([markdown_table(results, group), *(["", "Not measured:", "", *notes] if notes else [])])


def machine_limits(results: list[Result]) -> list[str]:
    """Lines describing the measured floor (bandwidth and chain latency), if the floor group ran."""
    out = []
    for r in results:
        if r.group != "floor" or not measured(r):
            continue
        if r.case.startswith("triad"):
            out.append(f"- memory bandwidth, {r.extra.get('threads', '?')} thread(s): "
                       f"{r.extra.get('gb_per_s', float('nan')):.1f} GB/s (triad, ±{r.spread * 100:.0f}%)")
        elif r.case == "chain":
            out.append(f"- serial fused multiply-add chain ({r.dtype}): {r.ns_per_element:.3g} ns per element")
        elif r.case == "chain-unfused":
            out.append(f"- serial multiply-then-add chain ({r.dtype}): {r.ns_per_element:.3g} ns per element")
    return out


def before_after_table(before: list[Result], after: list[Result], group: str) -> str | None:
    """streamopt's rows (every ``streamopt*`` library; every row of ``startup``) of an earlier run against this one:
    before, after and the speed-up before / after; None when no row is in both runs."""
    old = {(r.case, r.size, r.dtype, r.library): r for r in before
           if r.group == group and (r.library.startswith(BASELINE) or group == "startup") and measured(r)}
    lines = ["| case | size | dtype | library | before | after | speed-up |", "|---|---|---|---|---|---|---|"]
    for r in after:
        if r.group != group or not measured(r):
            continue
        b = old.get((r.case, r.size, r.dtype, r.library))
        if b is None:
            continue
        if group == "startup":
            cells = [f"{b.seconds:.3g} s", f"{r.seconds:.3g} s"]
        else:
            cells = [fmt_value(b.ns_per_element), fmt_value(r.ns_per_element)]
        lines.append(f"| {r.case} | {fmt_size(r.size)} | {r.dtype or '–'} | {r.library} | "
                     f"{cells[0]} | {cells[1]} | {b.seconds / r.seconds:.2f}x |")
    return "\n".join(lines) if len(lines) > 2 else None


def markdown(machine: dict[str, Any], results: list[Result], groups: dict[str, dict[str, Any]],
             goals: list[Goal], *, quick: bool = False, command: str = "streamopt bench",
             before: list[Result] | None = None, before_label: str = "an earlier run") -> str:
    """The whole report: machine, then a section per group, then the goals.

    With ``before`` (the results of an earlier run, e.g. before a kernel
    change), each group also gets a before/after table of streamopt's rows
    and the goals table a column with the earlier verdicts.
    """
    lines = ["# streamopt benchmark report", "",
             f"Produced by `{command}`" + (" (`--quick`: fewer sizes and repeats)" if quick else "") + ".", "",
             "## Machine", "", "| | |", "|---|---|"]
    for key, value in machine.items():
        if key == "versions":
            continue
        lines.append(f"| {key} | {value} |")
    for name, version in machine.get("versions", {}).items():
        lines.append(f"| {name} | {version} |")
    busy = _busy(machine)
    if busy:
        lines += ["", busy]
    limits = machine_limits(results)
    if limits:
        lines += ["", "Measured limits:", "", *limits]
    lines += ["", "How to read: a cell is the best time of several repeats ±spread (median / best − 1); "
              "`(r x)` is the peer's time / streamopt's time (above 1: streamopt is faster); `floor` is "
              "the machine's limit for the kernel and `vs floor` streamopt's time / floor; '(in cache)': the data "
              "fit in the last-level cache, so the memory floor does not bound that row (and no goal uses it)."]
    for group in _ordered(groups, results):
        info = groups.get(group, {"status": "ok"})
        lines += ["", f"## {group}", ""]
        status = info.get("status", "ok")
        if status != "ok":
            lines.append(f"**{status}**: {info.get('detail', '')}")
            lines.append("")
        if any(r.group == group for r in results):
            lines += [f"Unit: {UNITS.get(group, 'ns per element')}."
                      + (f" Ran in {info['seconds']:.0f} s." if "seconds" in info else ""), "",
                      group_table(results, group)]
            if before is not None:
                table = before_after_table(before, results, group)
                if table:
                    lines += ["", f"Before ({before_label}) and after (this run), streamopt's rows, "
                              "speed-up = before / after:", "", table]
            if info.get("plot"):
                lines += ["", f"![{group}]({info['plot']})"]
    lines += ["", "## Goals", "",
              "Each goal is checked on every measured row it covers and judged by the worst one. Ratios are "
              "the peer's time / streamopt's (above 1: streamopt is faster), or streamopt's time / the floor; "
              "a goal without rows is 'not evaluated', never met.", ""]
    earlier = None if before is None else {g.id: g for g in evaluate_goals(before)}
    columns = ["goal", "status", "measured", *([] if earlier is None else [f"before ({before_label})"])]
    lines += [_row(columns), "|" + "---|" * len(columns)]
    for g in goals:
        b = None if earlier is None else earlier.get(g.id)
        extra = [] if earlier is None else ["" if b is None else f"{b.status}: {b.measured}"]
        lines.append(_row([g.name, g.status, g.measured, *extra]))
    return "\n".join(lines) + "\n"


def _busy(machine: dict[str, Any]) -> str | None:
    """A warning when other work loaded the machine during the run (load average ≥ half the cores).

    At the end, the suite's own process has been running for the whole last
    minute: one unit of the 1-minute load average is its own, not other work.
    """
    cores = machine.get("cores available") or machine.get("cores")
    loads, others = [], []
    for key, own in (("load average at start (1, 5, 15 min)", 0.0), ("load average at end (1, 5, 15 min)", 1.0)):
        try:
            load = float(str(machine.get(key, "")).split(",")[0])
        except ValueError:
            continue
        loads.append(load)
        others.append(load - own)
    if not cores or not loads or max(others) < 0.5 * float(cores):
        return None
    return (f"**Warning: the machine was busy** (1-minute load average up to {max(loads):.2f} on {cores} cores, "
            f"{max(others):.2f} of it other work). "
            "Threaded kernels wait for a free core at every parallel region, so multi-threaded rows (and the "
            "all-core bandwidth) can be many times too slow; rerun on a quiet machine before trusting them.")


def _ordered(groups: dict[str, Any], results: list[Result]) -> list[str]:
    names = list(groups) + [r.group for r in results]
    seen = list(dict.fromkeys(names))
    return sorted(seen, key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else len(GROUP_ORDER), g))


# --------------------------------------------------------------------------- json
def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null; tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    try:  # numpy scalars
        return _clean(value.item())
    except AttributeError:
        return str(value)


def results_json(machine: dict[str, Any], results: list[Result], groups: dict[str, dict[str, Any]],
                 goals: list[Goal], *, quick: bool = False, command: str = "streamopt bench") -> dict[str, Any]:
    """The content of ``results.json`` (schema 1): machine, groups' status, every result, goals."""
    return _clean({"schema": 1, "command": command, "quick": quick, "machine": machine, "groups": groups,
                   "results": [r.as_dict() for r in results], "goals": [g.as_dict() for g in goals]})


# --------------------------------------------------------------------------- plots
def plot_group(results: list[Result], group: str, path: Path) -> Path | None:
    """One PNG per group: per (case, dtype) a log-log panel of time per element against size,
    a line per library, the floor dashed.  ``startup`` is a bar chart of seconds.  Returns the
    path, or None when the group has no measured row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if r.group == group and measured(r)]
    if group == "startup":
        return _plot_startup(rows, path, plt) if rows else None
    rows = [r for r in rows if "first_call_seconds" not in r.extra]  # start-up rows: seconds, not per element
    if not rows:
        return None
    panels: dict[tuple[str, str], list[Result]] = {}
    for r in rows:
        panels.setdefault((r.case, r.dtype), []).append(r)
    floors = {k: floor_ns(v) for k, v in index(results).items() if k[0] == group}
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(7.0, 4.2 * ncols), 3.4 * nrows + 0.6), squeeze=False)
    by_key = index(results)
    libs = list(dict.fromkeys(r.library for r in rows if r.library != FLOOR
                              or script_floor_is_column(by_key[(r.group, r.case, r.size, r.dtype)])))
    colors = {lib: f"C{i % 10}" for i, lib in enumerate(libs)}
    for ax, ((case, dtype), panel) in zip(axes.flat, panels.items()):
        fl = sorted((k[2], v) for k, v in floors.items() if k[1] == case and k[3] == dtype and v is not None)
        if len({r.size for r in panel}) == 1:  # one size: bars per library
            _bars(ax, panel, libs, colors, fl[0][1] if fl else None)
            ax.set_title(f"{case} {dtype} (size {fmt_size(panel[0].size)})".strip(), fontsize=9)
            ax.set_xlabel(UNITS.get(group, "ns per element"), fontsize=8)
            continue
        for lib in libs:
            pts = sorted((r.size, r.ns_per_element) for r in panel if r.library == lib)
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=3, color=colors[lib], label=_label(lib),
                        lw=2.2 if lib == BASELINE else 1.2)
        if fl:
            ax.plot(*zip(*fl), ls="--", color="black", lw=1, marker="_", label="floor")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{case} {dtype}".strip(), fontsize=9)
        ax.set_xlabel("size", fontsize=8)
        ax.set_ylabel(UNITS.get(group, "ns per element"), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", alpha=0.25)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(8, len(handles)),
               fontsize=8, frameon=False)
    fig.suptitle(f"{group}: time per element against size (log-log, lower is faster)", fontsize=10)
    fig.tight_layout(rect=(0, 0.09 if len(handles) > 8 else 0.06, 1, 0.95))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _label(lib: str) -> str:
    return SCRIPT_FLOOR if lib == FLOOR else lib


def _bars(ax, panel: list[Result], libs: list[str], colors: dict[str, str], floor: float | None) -> None:
    """A panel with a single size: one horizontal bar per library (log scale), the floor dashed."""
    from matplotlib.ticker import NullFormatter

    bars = [(lib, r.ns_per_element) for lib in libs for r in panel if r.library == lib]
    ys = range(len(bars))
    ax.barh(list(ys), [v for _, v in bars], color=[colors[lib] for lib, _ in bars])
    for lib, _ in bars:  # legend entries shared with the line panels
        ax.plot([], [], color=colors[lib], label=_label(lib))
    ax.set_yticks(list(ys), [_label(lib) for lib, _ in bars], fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # log-axis minor labels collide on short ranges
    if floor is not None:
        ax.axvline(floor, ls="--", color="black", lw=1, label="floor")
    ax.tick_params(labelsize=7)
    ax.grid(True, which="both", axis="x", alpha=0.25)


def _plot_startup(rows: list[Result], path: Path, plt) -> Path:
    cases = list(dict.fromkeys(r.case for r in rows))
    libs = list(dict.fromkeys(r.library for r in rows))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(cases) + 1.5))
    height = 0.8 / max(len(libs), 1)
    for j, lib in enumerate(libs):
        by_case = {r.case: r.seconds for r in rows if r.library == lib}
        ys = [i + j * height for i, c in enumerate(cases) if c in by_case]
        ax.barh(ys, [by_case[c] for c in cases if c in by_case], height=height, label=f"{lib} cache")
    for goal in load_goals():
        if goal["group"] == "startup" and goal["metric"] == "seconds":
            ax.axvline(goal["at_most"], ls="--", color="black", lw=1, label=f"goal: {goal['at_most']:g} s")
    ax.set_yticks([i + height * (len(libs) - 1) / 2 for i in range(len(cases))], cases, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (import + first call; 'import' alone)")
    ax.legend(fontsize=8)
    ax.set_title("startup: a new process", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- all
def write_report(out: Path, machine: dict[str, Any], results: list[Result], groups: dict[str, dict[str, Any]],
                 *, quick: bool = False, command: str = "streamopt bench",
                 before: Path | None = None) -> dict[str, Path]:
    """Write ``results.json``, ``report.md`` and ``<group>.png`` into ``out``; returns what was written.

    ``before``: the ``results.json`` of an earlier run, compared with this one in the report.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    groups = {name: dict(info) for name, info in groups.items()}
    for group in _ordered(groups, results):
        try:
            path = plot_group(results, group, out / f"{group}.png")
        except Exception as exc:  # a plot must not lose the numbers
            groups.setdefault(group, {"status": "ok"})["plot_error"] = f"{type(exc).__name__}: {exc}"
            continue
        if path is not None:
            groups.setdefault(group, {"status": "ok"})["plot"] = path.name
            written[f"plot:{group}"] = path
    goals = evaluate_goals(results)
    data = results_json(machine, results, groups, goals, quick=quick, command=command)
    (out / "results.json").write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    written["json"] = out / "results.json"
    earlier = None if before is None else load_results(before)[1]
    text = markdown(machine, results, groups, goals, quick=quick, command=command, before=earlier,
                    before_label=None if before is None else f"`{before}`")
    (out / "report.md").write_text(text, encoding="utf-8")
    written["markdown"] = out / "report.md"
    return written


def load_results(path: Path) -> tuple[dict[str, Any], list[Result], dict[str, dict[str, Any]]]:
    """Read a ``results.json`` back: (machine, results, groups), e.g. to re-render a report."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    results = []
    for d in data["results"]:
        d = dict(d)
        d.pop("ns_per_element", None)
        for k in ("seconds", "spread"):
            if d[k] is None:
                d[k] = float("nan")
        results.append(Result(**d))
    return data["machine"], results, data["groups"]


def main(argv: list[str] | None = None) -> int:
    """Re-render a report from a ``results.json`` (and optionally compare it with an earlier one)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python bench/report.py", description=main.__doc__)
    parser.add_argument("results", type=Path, help="results.json of a run")
    parser.add_argument("--compare", type=Path, metavar="OLD_JSON", help="results.json of an earlier run")
    parser.add_argument("--out", type=Path, help="folder to write into (default: the results' folder)")
    args = parser.parse_args(argv)
    data = json.loads(args.results.read_text(encoding="utf-8"))
    machine, results, groups = load_results(args.results)
    written = write_report(args.out or args.results.parent, machine, results, groups, quick=data.get("quick", False),
                           command=data.get("command", "streamopt bench"), before=args.compare)
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
