"""``streamopt bench``: the benchmark suite of the source checkout.

Runs ``bench/run.py`` of the checkout this package was installed from (an
editable install): every group's script, a table per group, and in ``--out``
``results.json``, ``report.md`` and a PNG plot per group.  The same as
``python bench/run.py [--quick] [--only GROUP] [--out DIR] [--compare OLD_JSON]``;
``--compare`` adds streamopt's before/after against an earlier ``results.json``.

Groups: floor (memory bandwidth, serial latency), ewa, stream, ewm, optim,
train, startup, dask, service.  ``--quick`` runs fewer sizes and repeats (about a minute).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from . import CLIError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="run the benchmark suite (source checkout only) and write its report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true",
                   help="fewer sizes and repeats: the whole suite in about a minute")
    p.add_argument("--only", action="append", metavar="GROUP",
                   help="run only this group (repeatable): floor, ewa, stream, ewm, optim, train, startup, dask, service")
    p.add_argument("--out", default="bench-results", metavar="DIR",
                   help="folder for results.json, report.md and the plots (default: %(default)s)")
    p.add_argument("--compare", metavar="OLD_JSON",
                   help="results.json of an earlier run: the report shows streamopt's before/after")
    p.set_defaults(func=run)


def find_bench_dir(package_file: str | Path | None = None) -> Path:
    """The ``bench/`` folder beside the package's source folder.

    Raises
    ------
    CLIError
        When the package was installed without its source tree (a wheel), so
        there is no ``bench/run.py`` next to it.
    """
    if package_file is None:
        import streamopt

        package_file = streamopt.__file__
    bench = Path(package_file).resolve().parents[1] / "bench"
    if not (bench / "run.py").is_file():
        raise CLIError(f"the benchmark suite lives in the source checkout, and {bench / 'run.py'} does not "
                       "exist; clone the repository and run `python3 tasks.py bench` there")
    return bench


def load_runner(bench: Path) -> ModuleType:
    """Import ``bench/run.py`` (with ``bench/`` on ``sys.path``, as when run as a script)."""
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    spec = importlib.util.spec_from_file_location("streamopt_bench_run", bench / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args: argparse.Namespace) -> int:
    runner = load_runner(find_bench_dir())
    unknown = [g for g in args.only or () if g not in runner.GROUPS]
    if unknown:
        raise CLIError(f"--only {unknown[0]!r} is not a group; choose from {', '.join(runner.GROUPS)}")
    if args.compare is not None and not Path(args.compare).is_file():
        raise CLIError(f"--compare {args.compare}: no such results.json")
    command = "streamopt bench" + (" --quick" if args.quick else "") + \
        "".join(f" --only {g}" for g in args.only or ()) + f" --out {args.out}" + \
        (f" --compare {args.compare}" if args.compare else "")
    return runner.run_suite(quick=args.quick, only=args.only, out=args.out, command=command,
                            compare=args.compare)
