"""The project installs and runs as a user gets it: wheel contents, console script, CI entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT, WEATHER, cli


def test_ci_runs_exactly_the_readme_test_command():
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))]
    assert ci == [".ci/install-chromium", "python3 tasks.py test"]  # the browser test's browser, when missing
    assert "python3 tasks.py test" in (ROOT / "README.md").read_text()


def test_module_and_console_script_agree():
    a = cli("--version")
    b = subprocess.run([sys.executable, "-m", "streamopt", "--version"], capture_output=True, text=True, check=True)
    assert a.returncode == 0 and a.stdout == b.stdout and a.stdout.startswith("streamopt ")


def test_installed_wheel_ships_the_data(tmp_path):
    """Build the wheel, install it into a bare folder, and load the data from there (not from the checkout)."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = wheels.glob("streamopt-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read("streamopt/_data/seattle-weather.csv")
        for name in ("index.html", "app.js", "style.css"):  # the dashboard
            assert zf.read(f"streamopt/service/static/{name}") == (ROOT / "streamopt/service/static" / name).read_bytes()
    assert data == WEATHER.read_bytes()
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    code = ("import streamopt, streamopt.datasets as d; s = d.daily_temperatures(); "
            "print(streamopt.__file__); print(len(s), s.name)")
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                         check=True).stdout.splitlines()
    assert Path(out[0]).is_relative_to(target)
    assert out[1] == "1461 temp_max"
