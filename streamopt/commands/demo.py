"""``streamopt demo``: the README's main job.

Writes the notes' figures as PNG files (EWA on daily temperatures, learning-rate
schedules and optimizer paths, the moons experiment) and prints the path of each
file it wrote, then the experiment's summary table.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from . import emit, writing_into

#: The topics, in order; each is a module of ``streamopt.plot`` with a
#: ``demo(out_dir: Path, echo) -> list[Path]``.
SECTIONS = ("ewa", "optim", "train")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="write the notes' figures (PNG) and print the experiment's table",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="demo-output", metavar="DIR",
                   help="folder for the PNG files (created if missing; default: %(default)s); a path that "
                        "cannot be written is an error (exit status 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    with writing_into("--out", Path(args.out)) as out:
        for name in SECTIONS:
            module = importlib.import_module(f"streamopt.plot.{name}")
            for path in module.demo(out, echo=lambda line: emit(line + "\n")):
                emit(f"wrote {path}\n")
    return 0
