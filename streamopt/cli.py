"""The ``streamopt`` command line (also ``python -m streamopt``)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .commands import NAMES, CLIError, OutputError, emit


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2).

    Subcommand parsers are made by ``add_subparsers`` with the parent's class,
    so every subcommand inherits this.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = _Parser(
        prog="streamopt",
        description="Online statistics and fast training loops: EWA smoothing, "
        "the notes' optimizer experiment, figures and benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"streamopt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in NAMES:
        importlib.import_module(f"streamopt.commands.{name}").add_parser(sub)
    return parser


def _discard_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's last flush cannot fail."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # None, or not a real file (captured in tests)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if sys.stdout is None:  # started with `>&-`: fail before doing any work
            raise OutputError("cannot write output: standard output is closed")
        status = int(args.func(args) or 0)
        emit("")  # flush what print() buffered: a full disk is an error, not a silent loss
        return status
    except CLIError as exc:
        if isinstance(exc, OutputError):
            _discard_stdout()
        if sys.stderr is not None:
            print(f"streamopt {args.command}: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except BrokenPipeError:
        # the reader went away (e.g. `streamopt smooth ... | head`): not an error
        _discard_stdout()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
