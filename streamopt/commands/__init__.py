"""The ``streamopt`` subcommands, one module each.

Every module defines ``add_parser(subparsers)``, which registers the command
and sets ``func`` to a ``run(args) -> int``.  Modules import heavy things
(matplotlib, the kernels) inside ``run`` so that ``streamopt --help`` is quick.
A command reports bad input by raising :class:`CLIError`; the entry point
prints it as one line on standard error and exits with status 2.
"""

from __future__ import annotations

#: The subcommands, in the order ``--help`` lists them.
NAMES = ("smooth", "train", "demo", "bench")


class CLIError(Exception):
    """Bad input on the command line or in the data: one clear line, exit status 2."""
