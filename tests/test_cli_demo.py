"""``streamopt demo`` and the command line's shared output rules, run as the console script."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import cli, cli_shell, one_line

#: The demo imports matplotlib and draws a figure before its first output: more time than a quick command.
TIMEOUT = 300


def test_demo_out_that_cannot_be_a_folder_is_one_line(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("keep")
    for out in (a_file, a_file / "sub", Path("/dev/null/demo")):
        proc = cli("demo", "--out", out, timeout=TIMEOUT)
        line = one_line(proc, "demo")
        assert line.startswith(f"--out {out}: cannot create a folder there: "), line
        assert proc.stdout == ""
    assert a_file.read_text() == "keep"


def test_demo_figure_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "ewa_temperatures.png").mkdir()  # a folder where the first figure should go
    line = one_line(cli("demo", "--out", tmp_path, timeout=TIMEOUT), "demo")
    assert line.startswith(f"--out {tmp_path}: cannot write {tmp_path / 'ewa_temperatures.png'}: "), line


@pytest.mark.parametrize("redirect, words", [(">&-", "standard output is closed"),
                                             ("> /dev/full", "No space left on device")])
def test_demo_output_that_cannot_be_written_is_one_line(tmp_path, redirect, words):
    if "/dev/full" in redirect and not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    line = one_line(cli_shell("demo", "--out", tmp_path, redirect=redirect, timeout=TIMEOUT), "demo")
    assert line.startswith("cannot write output: ") and words in line, line
