#!/usr/bin/env python3
"""The project's two commands, each setting up what it needs on first use.

    python3 tasks.py demo [ARGS...]    # the main job: ``streamopt demo`` (figures + experiment table)
    python3 tasks.py test [ARGS...]    # the test suite (pytest; extra ARGS go to pytest)
    python3 tasks.py bench [ARGS...]   # the benchmark suite (``streamopt bench``; installs the peers)

The first run creates ``.venv`` beside this file and installs the project into it
(editable, with the extras the command needs); later runs reuse it and reinstall
only when ``pyproject.toml`` changed.  Only the Python standard library is used here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")

# command -> extras it installs
EXTRAS = {"demo": (), "test": ("test",), "bench": ("test", "bench")}


def _ensure_python() -> None:
    if sys.version_info >= (3, 11):
        return
    for name in ("python3.11", "python3.12", "python3.13"):
        exe = shutil.which(name)
        if exe:
            os.execv(exe, [exe, str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.exit(f"tasks.py: Python >= 3.11 is required (this is {sys.version.split()[0]})")


def _stamp(extras: tuple[str, ...]) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    return f"{digest}:{','.join(sorted(extras))}"


def _ensure_env(extras: tuple[str, ...]) -> None:
    stamp_file = VENV / ".streamopt-installed"
    if not PY.exists():
        print(f"tasks.py: creating {VENV.relative_to(ROOT)} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    have = set(stamp_file.read_text().split("\n")) if stamp_file.exists() else set()
    # an install with more extras also satisfies a command that needs fewer
    digest = _stamp(())[:16]
    for line in have:
        if line.startswith(digest + ":"):
            got = set(filter(None, line.split(":", 1)[1].split(",")))
            if set(extras) <= got:
                return
    spec = "." + (f"[{','.join(extras)}]" if extras else "")
    print(f"tasks.py: installing {spec} into {VENV.relative_to(ROOT)} (first use) ...", flush=True)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", spec], cwd=ROOT, check=True)
    have = {line for line in have if line and not line.startswith(digest + ":")}
    have.add(_stamp(extras))
    stamp_file.write_text("\n".join(sorted(have)) + "\n")


def main(argv: list[str]) -> int:
    _ensure_python()
    if not argv or argv[0] not in EXTRAS:
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    _ensure_env(EXTRAS[cmd])
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if cmd == "test":
        args = [str(PY), "-m", "pytest", *rest]
    else:
        args = [str(BIN / "streamopt"), cmd, *rest]
    return subprocess.run(args, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
