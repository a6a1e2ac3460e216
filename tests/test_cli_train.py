"""``streamopt train``, run as the installed console script in a new process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streamopt.train import notes_experiment

SCRIPT = Path(sys.executable).parent / "streamopt"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), "train", *args], capture_output=True, text=True, timeout=120)


def test_default_gd_run_prints_the_notes_output():
    proc = run("--optimizer", "gd")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Cost after epoch 0: 0.690736"  # the number
    assert lines[-1] == "Accuracy: 0.796667"  # the notes' 79.7%
    assert [line.split(":")[0] for line in lines[:-1]] == [f"Cost after epoch {i}" for i in range(0, 10_000, 1000)]
    # the command prints what the API computes
    h = notes_experiment("gd").history
    assert lines[:-1] == ["Cost after epoch %i: %f" % (e, c) for e, c in zip(h.epochs[::10], h.cost[::10])]
    assert proc.stderr == ""  # no progress bar when not on a terminal


def test_adam_epoch_average_and_plots(tmp_path):
    proc = run("--optimizer", "adam", "--cost", "mean", "--epochs", "2000", "--plot", str(tmp_path / "fig"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    h = notes_experiment("adam", epochs=2000).history
    assert lines[0] == "Cost after epoch 0: %f" % h.epoch_cost[0]
    assert "Accuracy: %f" % h.accuracy in lines
    for name in ("train_adam_cost.png", "train_adam_boundary.png"):
        path = tmp_path / "fig" / name
        assert f"wrote {path}" in lines
        assert path.read_bytes()[:4] == b"\x89PNG"


def test_decay_prints_the_course_rates():
    proc = run("--optimizer", "gd", "--lr", "0.1", "--epochs", "2001", "--decay", "schedule", "--decay-rate", "1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # after epoch i the course sets lr = lr0 / (1 + rate * floor(i / 1000))
    assert "learning rate after epoch 0: 0.100000" in lines
    assert "learning rate after epoch 1000: 0.050000" in lines
    assert "learning rate after epoch 2000: 0.033333" in lines
    assert lines[-1].startswith("Accuracy: ")


@pytest.mark.parametrize(
    "args, words",
    [
        (["--optimizer", "gd", "--lr", "-1"], ["lr", "-1"]),
        (["--optimizer", "adam", "--beta1", "1.5"], ["beta1", "1.5"]),
        (["--optimizer", "gd", "--interval", "5"], ["--interval", "--decay"]),
        (["--optimizer", "gd", "--epochs", "0"], ["--epochs", "0"]),
        (["--optimizer", "sgd"], ["--optimizer", "sgd"]),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, words):
    proc = run(*args, "--epochs", "10") if "--epochs" not in args else run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    for w in words:
        assert w in last
