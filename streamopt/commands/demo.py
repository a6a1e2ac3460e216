"""``streamopt demo``: the README's main job.

Writes the notes' figures as PNG files (EWA on daily temperatures, learning-rate
schedules and optimizer paths, the moons experiment) and prints the path of each
file it wrote, then the experiment's summary table.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from . import CLIError, emit, positive_int, writing_into

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
    live = p.add_argument_group("the service live (--serve)")
    live.add_argument("--serve", action="store_true",
                      help="instead of the figures: start `streamopt serve`, print the dashboard's URL, replay the "
                           "Seattle temperatures into a stream and train the moons model through the service, "
                           "then serve until Ctrl-C")
    live.add_argument("--port", type=int, default=8000, help="the server's port (default: %(default)s; 0: a free one)")
    live.add_argument("--db", default=None, metavar="PATH",
                      help="the server's database (default: a temporary one, removed at the end)")
    live.add_argument("--epochs", type=positive_int, default=200,
                      help="epochs of the moons model, 5 steps each (default: %(default)s)")
    live.add_argument("--pace", type=float, default=0.02, metavar="SECONDS",
                      help="pause after each learn step, to watch it live (default: %(default)s)")
    live.add_argument("--exit", action="store_true", help="stop the server once the replay is done")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.serve:
        from ..service.demo import run as serve_demo

        if not 0 <= args.port <= 65535:
            raise CLIError(f"--port must be in [0, 65535], got {args.port}")
        if not args.pace >= 0:
            raise CLIError(f"--pace must be >= 0 seconds, got {args.pace}")
        try:
            return serve_demo(lambda line: emit(line + "\n"), db=args.db, port=args.port, epochs=args.epochs,
                              pace=args.pace, stay=not args.exit)
        except RuntimeError as exc:
            raise CLIError(str(exc)) from None
    import matplotlib

    matplotlib.use("Agg")
    with writing_into("--out", Path(args.out)) as out:
        for name in SECTIONS:
            module = importlib.import_module(f"streamopt.plot.{name}")
            for path in module.demo(out, echo=lambda line: emit(line + "\n")):
                emit(f"wrote {path}\n")
    return 0
