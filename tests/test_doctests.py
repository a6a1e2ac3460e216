"""Every docstring example of the package runs: doctest on every module of ``streamopt``.

Modules are found by walking the package (a new module is tested without listing it here);
one that cannot be imported for its examples is named in :data:`SKIP` with the reason.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil
import types

import pytest

import streamopt

#: module -> why its examples are not run
SKIP = {"streamopt.__main__": "importing it runs the command line (it has no examples)"}

MODULES = ["streamopt", *sorted(m.name for m in pkgutil.walk_packages(streamopt.__path__, "streamopt."))]
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def test_every_module_is_found():
    assert {"streamopt.ewa", "streamopt.optim", "streamopt.state", "streamopt.commands.smooth"} <= set(MODULES)
    assert set(SKIP) <= set(MODULES)


def run_examples(module, name: str) -> tuple[int, int, str]:
    """(examples, failures, doctest's report) of ``module``'s docstrings, numpy's repr in mind."""
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out = io.StringIO()
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=out.write)
    return runner.tries, runner.failures, out.getvalue()


def test_a_wrong_example_fails():
    module = types.ModuleType("fake", "Doc.\n\n>>> import numpy as np\n>>> np.arange(3.0)\narray([0., 1.,   2.])\n"
                                      ">>> 1 + 1\n3\n")
    tries, failures, report = run_examples(module, "fake")
    assert (tries, failures) == (3, 1) and "Expected:\n    3\nGot:\n    2" in report


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    if name in SKIP:
        pytest.skip(SKIP[name])
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    _, failures, report = run_examples(importlib.import_module(name), name)
    assert failures == 0, f"{failures} failing example(s) in {name}:\n{report}"
