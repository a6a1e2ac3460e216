"""The ``streamopt`` subcommands, one module each, and what they share.

Every module defines ``add_parser(subparsers)``, which registers the command
and sets ``func`` to a ``run(args) -> int``.  Modules import heavy things
(matplotlib, the kernels) inside ``run`` so that ``streamopt --help`` is quick.
A command reports bad input by raising :class:`CLIError`; the entry point
prints it as one line on standard error and exits with status 2.  Commands
write standard output through :func:`emit`, so that a full disk or a closed
standard output is such an error too (a reader that went away, as in
``streamopt smooth ... | head``, is not: that is a quiet exit 0).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The subcommands, in the order ``--help`` lists them.
NAMES = ("smooth", "train", "demo", "bench", "serve", "send")


class CLIError(Exception):
    """Bad input on the command line or in the data: one clear line, exit status 2."""


class OutputError(CLIError):
    """Standard output cannot take the output (closed, disk full, ...)."""


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer >= 1.

    >>> positive_int("12")
    12
    >>> positive_int("0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be a positive integer, got '0'
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def emit(text: str) -> None:
    """Write ``text`` to standard output and flush it.

    Raises
    ------
    OutputError
        When standard output is closed or the write fails (e.g. ENOSPC on a
        full disk).  A :class:`BrokenPipeError` (the reader went away)
        propagates as it is.
    """
    out = sys.stdout
    if out is None:  # started with standard output closed (`>&-`)
        raise OutputError("cannot write output: standard output is closed")
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: the file object was closed
        raise OutputError(f"cannot write output: {getattr(exc, 'strerror', None) or exc}") from None


@contextmanager
def writing_into(flag: str, folder: Path) -> Iterator[Path]:
    """Create ``folder`` (the value of ``flag``) and run the block that writes files into it.

    An :class:`OSError` while creating the folder or inside the block (the
    path is a file, a folder cannot be created, a disk is full) becomes a
    :class:`CLIError` naming the flag and the file.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"{flag} {folder}: cannot create a folder there: {exc.strerror or exc}") from None
    try:
        yield folder
    except BrokenPipeError:
        raise
    except OSError as exc:
        target = exc.filename if exc.filename is not None else folder
        raise CLIError(f"{flag} {folder}: cannot write {target}: {exc.strerror or exc}") from None
