"""Every code block of README.md either runs here or is marked as shown only, and the benchmark
figures it quotes are the committed report's.

Fences:

- ```python: run in order, in one namespace, in a fresh folder; a ``print(...)`` with a comment on its
  line prints what the comment says first (whitespace aside; ``...`` stands for any text), then
  the comment may go on with prose after ``:`` or a space;
- ```bash: each block run with ``bash -e -o pipefail`` in a fresh folder holding ``data/``, with the
  environment's ``bin/`` (``streamopt``, ``python``) first on PATH.  Comment lines right after a
  command are that command's standard output, line for line (``# `` removed); other comments are
  prose;
- ```console (every command after a ``$ `` prompt: installs, the test suite itself, minutes-long
  benchmarks) and ```text (output shown; the commands behind it are tested elsewhere): not run.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import subprocess

import pytest
from conftest import BIN, ROOT

README = ROOT / "README.md"
#: The committed report that README's "Latest results" quotes (the first report linked after that heading).
REPORT = ROOT / re.search(r"\(((bench/results/[^)]+)/report\.md)\)",
                          README.read_text(encoding="utf-8").split("### Latest results", 1)[1]).group(1)
RUN, SHOWN = ("python", "bash"), ("console", "text")


def blocks(language: str | None = None) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order; only ``language``'s when given."""
    found = re.findall(r"^```(\S*)\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)
    return [(lang, body) for lang, body in found if language in (None, lang)]


def test_every_block_runs_or_is_marked_as_shown():
    langs = [lang for lang, _ in blocks()]
    assert set(langs) <= set(RUN + SHOWN), langs
    assert langs.count("python") >= 4 and langs.count("bash") >= 2
    for lang, body in blocks("console"):
        assert all(line.startswith("$ ") for line in body.splitlines() if line.strip()), body


def _printed_to(block: str) -> tuple[ast.Module, dict[int, str], dict[int, list[str]]]:
    """The block with every ``print(...)`` recording its output by line, the comments of the
    print lines (line -> text), and the dict the outputs go to."""
    lines = block.splitlines()
    expected = {}
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("print(") and "  # " in line:
            expected[number] = line.split("  # ", 1)[1]
    printed: dict[int, list[str]] = {}

    class Recorder(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.Call:
            self.generic_visit(node)
            if isinstance(node.func, ast.Name) and node.func.id == "print":
                node.args.insert(0, ast.Constant(node.lineno))
                node.func = ast.Name("__readme_print__", ast.Load())
            return node

    tree = ast.fix_missing_locations(Recorder().visit(ast.parse(block)))
    return tree, expected, printed


def shows(output: str, comment: str) -> bool:
    """Whether ``comment`` starts with ``output`` (whitespace runs as one space, ``...`` any text),
    followed by nothing, ``:`` or a space and prose."""
    out, text = " ".join(output.split()), " ".join(comment.split())
    if re.fullmatch(".*?".join(re.escape(part) for part in text.split("...")), out):
        return True
    return text.startswith(out + ":") or text.startswith(out + " ")


def test_shows_matches_output_then_prose():
    assert shows("[1.  2.5]", "[1.  2.5]")
    assert shows("True", "True: bit for bit") and shows("1000 True", "1000 True")
    assert shows("a (b c)", "a (...)")
    assert not shows("0.9636241116594315", "0.9636241116594314")
    assert not shows("True", "False: no")
    assert not shows("[1, 2]", "three numbers")


def test_python_blocks_run(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for i, (_, block) in enumerate(blocks("python")):
        tree, expected, printed = _printed_to(block)

        def record(line: int, *args, **kwargs) -> None:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                print(*args, **kwargs)
            printed.setdefault(line, []).append(buffer.getvalue())
            print(buffer.getvalue(), end="")

        namespace["__readme_print__"] = record
        try:
            exec(compile(tree, f"README.md python block {i + 1}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"README python block {i + 1} failed: {type(exc).__name__}: {exc}\n{block}")
        for line, comment in expected.items():
            output = "".join(printed.get(line, []))
            assert shows(output, comment), (
                f"README python block {i + 1}, line {line}: printed {output!r}, the comment says {comment!r}")


def bash_steps(block: str) -> list[tuple[str, list[str] | None]]:
    """The block as (script, expected stdout lines or None): a command followed by comment lines
    is a step of its own whose output they are; the lines before it are run as one step."""
    steps, pending = [], []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.startswith("#"):
            continue
        expected = []
        while i < len(lines) and lines[i].startswith("#"):
            expected.append(lines[i].removeprefix("#").removeprefix(" "))
            i += 1
        if expected:
            steps += [("\n".join(pending), None)] if pending else []
            steps.append((line, expected))
            pending = []
        else:
            pending.append(line)
    return steps + ([("\n".join(pending), None)] if pending else [])


def test_bash_steps_split_commands_from_their_output():
    block = "# prose\na > f\nb\n# out 1\n#\nc\n"
    assert bash_steps(block) == [("a > f", None), ("b", ["out 1", ""]), ("c", None)]


@pytest.mark.parametrize("number", range(len(blocks("bash"))), ids=lambda n: f"bash-block-{n + 1}")
def test_bash_block_runs(number, tmp_path):
    (tmp_path / "data").symlink_to(ROOT / "data")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    for script, expected in bash_steps(blocks("bash")[number][1]):
        proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{script}\nexit status {proc.returncode}: {proc.stderr}"
        if expected is not None:
            assert proc.stdout.splitlines() == expected, script


# --------------------------------------------------------------------------- latest results
def table(text: str) -> list[list[str]]:
    """The cells of the first Markdown table in ``text``, its header first (the rule line left out)."""
    lines = re.search(r"^\|.*?(?=^[^|])", text + "\n.", flags=re.S | re.M).group(0).splitlines()
    return [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in lines[:1] + lines[2:]]


def readme_table(after: str) -> list[list[str]]:
    """The rows of the first table after the text ``after`` in README.md."""
    return table(README.read_text(encoding="utf-8").split(after, 1)[1])[1:]


def report_rows(group: str) -> dict[tuple[str, ...], dict[str, str]]:
    """(case, size, dtype) -> library -> cell, from the group's table in the committed report."""
    header, *rows = table(REPORT.read_text(encoding="utf-8").split(f"\n## {group}\n", 1)[1])
    return {tuple(r[:3]): dict(zip(header[3:], r[3:])) for r in rows}


def test_latest_results_are_the_committed_reports():
    report = REPORT.read_text(encoding="utf-8")
    produced_by = re.search(r"^Produced by (`[^`]+`)", report, flags=re.M).group(1)
    assert produced_by in README.read_text(encoding="utf-8").replace("\n", " ")
    rows = readme_table("### Latest results")
    assert len(rows) >= 8
    for group, case, size, dtype, ours, peer in rows:
        cells = report_rows(group)[case, size, dtype]
        library, cell = peer.split(" ", 1)
        assert (ours, cell) == (cells["streamopt"], cells[library]), (group, case, size, dtype)
    _, *goals = table(report.split("\n## Goals\n", 1)[1])
    readme_goals = readme_table("in that run")
    assert [g[:2] for g in goals] == readme_goals  # every goal, in the report's order
