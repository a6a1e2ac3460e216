"""Helpers shared by the test files: paths, the command-line runner, tolerances, data makers.

pytest puts this folder on ``sys.path`` (its default ``prepend`` import mode, tests/ being no
package), so a test file imports them as ``from conftest import cli, close, random_data``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
#: The shipped data set (the same file as ``streamopt/_data/``).
WEATHER = ROOT / "data" / "seattle-weather.csv"
#: The environment's ``bin/``: the console script and the interpreter running the tests.
BIN = Path(sys.executable).parent
SCRIPT = BIN / "streamopt"

#: With the environment variable CI set (as CI runs ``.ci/run``), every run draws the same examples
#: (seeded from each test's name), so whether a change lands never depends on the draw; elsewhere
#: each run explores new examples (and replays the failures it found before).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: Hypothesis settings of the property tests: enough examples to find a bad case, no deadline
#: (the first example of a kernel may compile or load it).
SETTINGS = settings(max_examples=30, deadline=None)

#: Relative tolerance of a float64 / float32 result against an oracle computed another way.
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}


def _decoded(argv: list[str], input: str | bytes | None, cwd: Path | None,
             timeout: float) -> subprocess.CompletedProcess:
    """Run ``argv``, its standard input and outputs UTF-8 text (no newline translation)."""
    if isinstance(input, str):
        input = input.encode("utf-8")
    res = subprocess.run(argv, input=input, capture_output=True, timeout=timeout, cwd=cwd)
    return subprocess.CompletedProcess(res.args, res.returncode, res.stdout.decode("utf-8"),
                                       res.stderr.decode("utf-8"))


def cli(*args: object, input: str | bytes | None = None, cwd: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``streamopt ARGS`` (the installed console script) in a new process; text is UTF-8 both ways.

    >>> cli("--version").stdout.startswith("streamopt ")
    True
    """
    return _decoded([str(SCRIPT), *map(str, args)], input, cwd, timeout)


def cli_shell(*args: object, redirect: str, input: str | bytes | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``streamopt ARGS REDIRECT`` through ``/bin/sh``: ``redirect`` closes or diverts a standard stream.

    >>> res = cli_shell("--version", redirect="> /dev/null")
    >>> res.returncode, res.stdout
    (0, '')
    """
    command = " ".join(shlex.quote(str(a)) for a in (SCRIPT, *args))
    return _decoded(["/bin/sh", "-c", f"{command} {redirect}"], input, None, timeout)


def one_line(res: subprocess.CompletedProcess, command: str, *fragments: str) -> str:
    """Assert that ``streamopt COMMAND`` failed with exit status 2 and one line on standard error,
    no traceback, holding every fragment; return that line after ``streamopt COMMAND: error: ``.

    >>> one_line(subprocess.CompletedProcess([], 2, "", "streamopt x: error: --y 0: bad\\n"), "x", "--y")
    '--y 0: bad'
    """
    err, prefix = res.stderr, f"streamopt {command}: error: "
    assert res.returncode == 2 and err.startswith(prefix) and err.count("\n") == 1 and err.endswith("\n"), \
        (res.returncode, err)
    assert "Traceback" not in err and all(f in err for f in fragments), err
    return err[len(prefix):-1]


def close(got, want, rtol: float = 1e-12, scale: float | None = None, atol: float = 0.0) -> None:
    """Assert ``|got − want| ≤ rtol·(|want| + scale) + atol`` elementwise, with NaNs in the same places.

    ``scale`` (default: the largest finite ``|want|``) keeps values near zero, whose relative
    error is meaningless, to the accuracy of the largest ones.

    >>> close([1.0, float("nan"), 1e-20], [1.0 + 1e-13, float("nan"), 0.0])
    """
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    if scale is None:
        finite = want[np.isfinite(want)]
        scale = float(np.abs(finite).max()) if finite.size else 0.0
    ok = np.isnan(want) | (got == want) | (np.abs(got - want) <= rtol * (np.abs(want) + scale) + atol)
    assert ok.all(), (got[~ok][:5], want[~ok][:5])


def random_data(seed: int | np.random.Generator, shape, nan_fraction: float = 0.0, *, offset: float = 0.0,
                scale: float | None = 1.0) -> np.ndarray:
    """``offset + scale·N(0, 1)`` float64 values of ``shape``, each NaN with probability ``nan_fraction``.

    ``scale=None`` draws it (after the values) as a random power of ten from 1e-3 to 1e3, so
    one test sees small and large magnitudes.  ``seed`` may be a Generator to draw from.

    >>> x = random_data(0, (100, 3), 0.5)
    >>> x.shape, 20 < int(np.isnan(x).sum()) < 280
    ((100, 3), True)
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    x = x * (10.0 ** rng.integers(-3, 4) if scale is None else scale) + offset
    x[rng.random(shape) < nan_fraction] = np.nan
    return x
