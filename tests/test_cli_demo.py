"""``streamopt demo`` and the command line's shared output rules, run as the console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "streamopt"


def run(*args: str, shell_suffix: str = "") -> subprocess.CompletedProcess:
    command = " ".join(f"'{a}'" for a in (SCRIPT, *args)) + shell_suffix
    return subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=300)


def one_line(proc: subprocess.CompletedProcess, command: str) -> str:
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    prefix = f"streamopt {command}: error: "
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(prefix), proc.stderr
    return proc.stderr[len(prefix):]


def test_demo_out_that_cannot_be_a_folder_is_one_line(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("keep")
    for out in (a_file, a_file / "sub", Path("/dev/null/demo")):
        proc = run("demo", "--out", str(out))
        line = one_line(proc, "demo")
        assert line.startswith(f"--out {out}: cannot create a folder there: "), line
        assert proc.stdout == ""
    assert a_file.read_text() == "keep"


def test_demo_figure_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "ewa_temperatures.png").mkdir()  # a folder where the first figure should go
    line = one_line(run("demo", "--out", str(tmp_path)), "demo")
    assert line.startswith(f"--out {tmp_path}: cannot write {tmp_path / 'ewa_temperatures.png'}: "), line


@pytest.mark.parametrize("redirect, words", [(">&-", "standard output is closed"),
                                             ("> /dev/full", "No space left on device")])
def test_demo_output_that_cannot_be_written_is_one_line(tmp_path, redirect, words):
    if "/dev/full" in redirect and not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    line = one_line(run("demo", "--out", str(tmp_path), shell_suffix=f" {redirect}"), "demo")
    assert line.startswith("cannot write output: ") and words in line, line
