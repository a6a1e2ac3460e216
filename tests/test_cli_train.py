"""``streamopt train``, run as the installed console script in a new process."""

from __future__ import annotations

import argparse
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import cli, cli_shell, one_line
from streamopt.train import notes_experiment


def test_default_gd_run_prints_the_notes_output():
    proc = cli("train", "--optimizer", "gd")
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
    proc = cli("train", "--optimizer", "adam", "--cost", "mean", "--epochs", "2000", "--plot", str(tmp_path / "fig"))
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
    proc = cli("train", "--optimizer", "gd", "--lr", "0.1", "--epochs", "2001", "--decay", "schedule",
               "--decay-rate", "1")
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
    proc = cli("train", *args, "--epochs", "10") if "--epochs" not in args else cli("train", *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    for w in words:
        assert w in last


def run_all(cases: list[tuple[str, ...]]) -> list[subprocess.CompletedProcess]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda args: cli("train", *args), cases))


FLAG_ERRORS = [
    # (arguments after --optimizer, the start of the one error line)
    ("gd --init-seed -1", "--init-seed must be >= 0, got -1"),
    ("gd --init-seed 4294967296", "--init-seed must be < 2**32"),
    ("gd --data-seed -1", "--data-seed must be >= 0, got -1"),
    ("gd --data-seed 4294967296", "--data-seed must be < 2**32"),
    ("gd --seed -1", "--seed must be >= 0, got -1"),
    ("gd --seed 4294967295", "--seed + --epochs must be < 2**32"),
    ("gd --lr nan", "--lr must be finite"),
    ("gd --lr 0", "--lr must be > 0"),
    ("gd --lr inf", "--lr must be finite"),
    ("gd --lr abc", "argument --lr: invalid float value"),
    ("gd --noise -1", "--noise must be >= 0"),
    ("gd --noise nan", "--noise must be finite"),
    ("gd --noise 1e308", "--noise 1e+308 is too large: the moons data"),
    ("gd --samples 1", "--samples must be >= 2"),
    ("gd --samples 0", "argument --samples: must be a positive integer"),
    ("gd --batch-size 0", "argument --batch-size: must be a positive integer"),
    ("gd --print-every 0", "argument --print-every: must be a positive integer"),
    ("gd --hidden 0", "argument --hidden: layer sizes must be >= 1"),
    ("gd --decay schedule --interval 0", "argument --interval: must be a positive integer"),
    ("gd --decay inverse_time --decay-rate 1e308", "--decay-rate 1e+308 is too large"),
    ("gd --decay schedule --decay-rate -1", "--decay-rate must be >= 0"),
    ("gd --decay schedule --decay-rate inf", "--decay-rate must be finite"),
    ("momentum --beta 1", "--beta must be in [0, 1), got 1.0"),
    ("rmsprop --beta -0.5", "--beta must be in [0, 1)"),
    ("rmsprop --eps -1", "--eps must be"),
    ("adam --beta1 1.5", "--beta1 must be in [0, 1), got 1.5"),
    ("adam --beta2 1", "--beta2 must be in [0, 1)"),
    ("adam --eps nan", "--eps must be finite"),
    # a flag the optimizer or the (absent) decay does not read
    ("gd --beta 0.5", "--beta applies to --optimizer momentum or rmsprop, not gd"),
    ("adam --beta 0.5", "--beta applies to --optimizer momentum or rmsprop, not adam"),
    ("gd --beta1 0.5", "--beta1 applies to --optimizer adam, not gd"),
    ("momentum --beta2 0.5", "--beta2 applies to --optimizer adam, not momentum"),
    ("gd --eps 1e-3", "--eps applies to --optimizer rmsprop or adam, not gd"),
    ("momentum --eps 1e-3", "--eps applies to --optimizer rmsprop or adam, not momentum"),
    ("rmsprop --beta1 0.5", "--beta1 applies to --optimizer adam, not rmsprop"),
    ("gd --decay-rate 2", "--decay-rate needs --decay"),
    ("gd --samples 100000000000", "not enough memory for this run"),  # 373 GiB of points
    ("gd --interval 5", "--interval needs --decay"),
]


def test_every_bad_flag_is_one_line_naming_the_flag():
    procs = run_all([("--epochs", "10", "--optimizer", *args.split()) for args, _ in FLAG_ERRORS])
    failures = []
    for (args, start), proc in zip(FLAG_ERRORS, procs):
        try:
            line = one_line(proc, "train")
            assert line.startswith(start) or start in line, line
            assert proc.stdout == ""
        except AssertionError as exc:
            failures.append(f"{args}: {exc}")
    assert not failures, "\n".join(failures)


def test_the_flags_that_apply_are_the_optimizers_parameters():
    """OPTIMIZER_FLAGS lists, for each optimizer, exactly its constructor's hyper-parameters among the flags."""
    import inspect

    from streamopt import SGD, Adam, Momentum, RMSprop
    from streamopt.commands.train import OPTIMIZER_FLAGS

    flags = {"beta", "beta1", "beta2", "eps"}
    for name, cls in {"gd": SGD, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam}.items():
        assert set(OPTIMIZER_FLAGS[name]) == flags & set(inspect.signature(cls).parameters), name


def test_decay_flags_and_defaults_are_the_experiment_s():
    """The defaults --help shows are notes_experiment's; --decay without --interval uses the course's."""
    import inspect

    from streamopt.commands.train import DEFAULT_INTERVAL

    from streamopt.cli import build_parser

    (train,) = [a.choices["train"] for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {a.option_strings[0]: a.help for a in train._actions if a.option_strings}
    params = inspect.signature(notes_experiment).parameters
    for flag, name in [("--beta", "beta"), ("--beta1", "beta1"), ("--beta2", "beta2"), ("--eps", "eps"),
                       ("--decay-rate", "decay_rate"), ("--lr", "lr"), ("--epochs", "epochs"), ("--seed", "seed"),
                       ("--init-seed", "init_seed"), ("--data-seed", "data_seed"), ("--samples", "n_samples"),
                       ("--noise", "noise"), ("--batch-size", "batch_size")]:
        shown = helps[flag].replace("%(default)s", str(train.get_default(flag[2:].replace("-", "_"))))
        assert shown.endswith(f"(default: {params[name].default})"), (flag, shown)
    for decay, interval in DEFAULT_INTERVAL.items():
        assert notes_experiment("gd", epochs=1, decay=decay).schedule.interval == interval


def test_eps_zero_is_refused_naming_the_flag():
    """eps = 0 makes 0/0 possible: the optimizer refuses it, and the command names --eps."""
    from streamopt import Adam

    try:
        Adam(np.zeros(1), lr=0.1, eps=0.0)
    except ValueError:
        pass
    else:
        pytest.skip("this optimizer still accepts eps = 0")
    for proc in run_all([("--optimizer", o, "--eps", "0", "--epochs", "10") for o in ("adam", "rmsprop")]):
        line = one_line(proc, "train")
        assert line.startswith("--eps ") and "diverged" not in line, line


def test_plot_into_a_path_that_cannot_be_written_prints_the_results_then_one_line(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    blocked = tmp_path / "blocked"
    (blocked / "train_gd_cost.png").mkdir(parents=True)  # a folder where the figure should go
    cases = [(a_file, "cannot create a folder there"), (a_file / "sub", "cannot create a folder there"),
             (blocked, f"cannot write {blocked / 'train_gd_cost.png'}")]
    procs = run_all([("--optimizer", "gd", "--epochs", "10", "--plot", str(path)) for path, _ in cases])
    expected = notes_experiment("gd", epochs=10).history
    for (path, words), proc in zip(cases, procs):
        line = one_line(proc, "train")
        assert line.startswith(f"--plot {path}: ") and words in line, line
        assert proc.stdout == "Cost after epoch 0: %f\nAccuracy: %f\n" % (expected.cost[0], expected.accuracy)


def test_output_that_cannot_be_written_is_one_line():
    for redirect, words in [("> /dev/full", "No space left on device"), (">&-", "standard output is closed")]:
        if redirect.endswith("/dev/full") and not Path("/dev/full").exists():
            continue
        proc = cli_shell("train", "--optimizer", "gd", "--epochs", "10", redirect=redirect)
        assert words in one_line(proc, "train") and "cannot write output" in proc.stderr
