"""``streamopt smooth``: the real console script, run in subprocesses.

The oracle for the smoothed column is :func:`streamopt.ewa` on the column's
values (and pandas' ``ewm`` for one independent check); the other columns
must come back as the input's text, byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import streamopt
from conftest import SCRIPT, WEATHER, cli, cli_shell, one_line

#: The command as an argument list, for the tests that drive the process themselves (Popen, raw bytes).
COMMAND = [str(SCRIPT), "smooth"]
BASE = ("--column", "temp_max", "--beta", "0.9", "--bias-correction")


def smooth(*args, **kw) -> subprocess.CompletedProcess:
    """Run ``streamopt smooth ARGS``; text is UTF-8 both ways."""
    return cli("smooth", *args, **kw)


def ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0 and res.stderr == "", res.stderr
    return res.stdout


def weather_text() -> str:
    return WEATHER.read_text(encoding="utf-8")


def column_values(text: str, column: str) -> np.ndarray:
    """A column parsed with the csv module and float(); empty fields are NaN."""
    rows = list(csv.DictReader(io.StringIO(text)))
    return np.array([float(r[column]) if r[column].strip() else math.nan for r in rows])


def ewa_column(out: str, name: str) -> np.ndarray:
    """The added column of an output, checking that each value is written in its shortest form."""
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][-1] == name
    values = []
    for row in rows[1:]:
        if row[-1] == "":
            values.append(math.nan)
        else:
            values.append(float(row[-1]))
            assert row[-1] == repr(values[-1])
    return np.array(values)


@pytest.fixture(scope="module")
def one_run() -> str:
    """The weather file smoothed in one uninterrupted run (BASE parameters)."""
    return ok(smooth(WEATHER, *BASE))


# ------------------------------------------------------------------ basic runs
def test_file_run_equals_ewa_and_keeps_the_other_columns(one_run):
    text = weather_text()
    in_lines, out_lines = text.splitlines(), one_run.splitlines()
    assert len(out_lines) == len(in_lines) == 1462
    assert out_lines[0] == in_lines[0] + ",temp_max_ewa"
    for a, b in zip(in_lines[1:], out_lines[1:]):
        assert b.rpartition(",")[0] == a
    got = ewa_column(one_run, "temp_max_ewa")
    x = column_values(text, "temp_max")
    np.testing.assert_array_equal(got, streamopt.ewa(x, 0.9, bias_correction=True))
    # independent oracle: pandas (bias-corrected EWA = ewm(adjust=True))
    expected = pd.Series(x).ewm(alpha=0.1, adjust=True, ignore_na=True).mean().to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # pandas reads the output back to the same floats
    back = pd.read_csv(io.StringIO(one_run))
    np.testing.assert_array_equal(back["temp_max_ewa"].to_numpy(), got)


def test_decay_options_equal_ewa():
    options = [("--span", "19", dict(span=19.0)), ("--halflife", "6.5", dict(halflife=6.5))]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda o: smooth(WEATHER, "--column", "wind", o[0], o[1]), options))
    x = column_values(weather_text(), "wind")
    for (option, _, kwargs), res in zip(options, results):
        np.testing.assert_array_equal(ewa_column(ok(res), "wind_ewa"), streamopt.ewa(x, **kwargs), err_msg=option)


def test_stdin_and_chunk_sizes_give_identical_output(one_run):
    text = weather_text()
    runs = [(), ("-", "--chunksize", "1"), ("-", "--chunksize", "7")]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda extra: smooth(*extra, *BASE, input=text), runs))
    for extra, res in zip(runs, results):
        assert ok(res) == one_run, extra


MESSY = (
    'id,note,x\n'
    '1,"starts, with a comma",\n'          # missing before the first observation
    '2,plain,NaN\n'
    '3,"say ""hi""",2\n'
    '\n'                                     # a blank line is no record
    '4,"two\nlines",1e1\n'
    '5,ünïcode, -3.5 \n'
    '6,,NA\n'
    '7,x,4\n'
    '8,y,\n'
    '9,z,0.1'                                # no final newline
)


@pytest.mark.parametrize("skipna", [True, False])
def test_missing_values_quotes_and_blank_lines(skipna):
    flag = "--skipna" if skipna else "--no-skipna"
    out = ok(smooth("-", "--column", "x", "--alpha", "0.3", flag, "--chunksize", "2", input=MESSY))
    records = list(csv.reader(io.StringIO(MESSY)))
    records = [r for r in records if r]
    out_records = list(csv.reader(io.StringIO(out)))
    assert len(out_records) == len(records) == 10
    for a, b in zip(records, out_records):
        assert b[:-1] == a  # other columns (and the column itself) unchanged
    assert '"two\nlines"' in out and '"say ""hi"""' in out and "ünïcode" in out
    x = np.array([float(r[2]) if r[2].strip() not in ("", "NA") else math.nan for r in records[1:]])
    expected = streamopt.ewa(x, alpha=0.3, skipna=skipna)
    np.testing.assert_array_equal(ewa_column(out, "x_ewa"), expected)
    assert math.isnan(expected[0]) and out.splitlines()[1].endswith(",")  # missing is written as empty


def test_header_only_input_is_fine():
    assert ok(smooth("-", "--column", "x", "--beta", "0.5", input="x,y\n")) == "x,y,x_ewa\n"


def test_python_dash_m_is_the_same_cli():
    text = "t,v\n1,2\n2,4\n3,8\n"
    module = subprocess.run([sys.executable, "-m", "streamopt", "smooth", "--column", "v", "--beta", "0.5"],
                            input=text, capture_output=True, text=True, timeout=120)
    assert module.returncode == 0 and module.stderr == ""
    v = streamopt.ewa([2.0, 4.0, 8.0], 0.5)
    assert module.stdout == "t,v,v_ewa\n" + "".join(f"{i + 1},{2 ** (i + 1)},{float(v[i])!r}\n" for i in range(3))


def test_help_documents_resume_and_exit_status(capsys):
    from streamopt.cli import main

    with pytest.raises(SystemExit) as info:
        main(["smooth", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for fragment in ("--state", "writes no header", "exit status", "--chunksize", "--no-skipna"):
        assert fragment in text


# ------------------------------------------------------------------ streaming
def _wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def stop(proc: subprocess.Popen) -> None:
    """SIGKILL, reap, and close the pipes."""
    proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stderr):
        with suppress(OSError):
            pipe.close()


def _state_rows(path: Path) -> int | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["rows"]
    except FileNotFoundError:
        return None


def test_two_run_resume_equals_one_run(tmp_path, one_run):
    lines = weather_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    state = tmp_path / "state.json"
    parts = [rows[:0], rows[:700], rows[700:]]  # a header-only run first, then two halves
    outputs = []
    for i, part in enumerate(parts):
        if i == 1:  # what a run killed in the middle of a save leaves behind: removed by the next run
            (tmp_path / ".state.json.k1ll3d.tmp").write_text('{"format": "streamopt sm')
        src = tmp_path / f"part{i}.csv"
        src.write_text(header + "".join(part), encoding="utf-8")
        outputs.append(ok(smooth(src, *BASE, "--state", state, "--chunksize", "64")))
        assert _state_rows(state) == sum(map(len, parts[: i + 1]))
    assert outputs[0] == one_run.splitlines(keepends=True)[0]  # header only
    assert not outputs[1].startswith("date") and not outputs[2].startswith("date")
    assert "".join(outputs) == one_run
    # no temporary file is left behind
    assert sorted(f.name for f in tmp_path.iterdir()) == ["part0.csv", "part1.csv", "part2.csv", "state.json"]


def test_output_is_flushed_per_chunk_while_the_pipe_stays_open(tmp_path, one_run):
    """A producer that writes slowly and never closes the pipe; then SIGKILL and resume."""
    lines = weather_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    state, out_path = tmp_path / "s.json", tmp_path / "out.csv"
    with out_path.open("wb") as out:
        proc = subprocess.Popen([*COMMAND, *BASE, "--state", str(state), "--chunksize", "10"],
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE)
        try:
            proc.stdin.write((header + "".join(rows[:25])).encode())
            proc.stdin.flush()
            _wait_for(lambda: _state_rows(state) == 20)
            expected = one_run.splitlines(keepends=True)
            assert out_path.read_text(encoding="utf-8") == "".join(expected[:21])
            proc.stdin.write("".join(rows[25:28]).encode())  # 8 rows pending: less than a chunk
            proc.stdin.flush()
            time.sleep(0.3)
            assert proc.poll() is None
        finally:
            stop(proc)
    assert _state_rows(state) == 20
    assert out_path.read_text(encoding="utf-8") == "".join(expected[:21])
    rest = ok(smooth("-", *BASE, "--state", state, "--chunksize", "400", input=header + "".join(rows[20:])))
    assert out_path.read_text(encoding="utf-8") + rest == one_run


@pytest.mark.parametrize("seed", [0, 1])
def test_kill_at_a_random_moment_then_resume(tmp_path, one_run, seed):
    """SIGKILL anywhere (mid-write, mid-save): the state is valid and the output complete up to it."""
    rng = random.Random(seed)
    lines = weather_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    expected = one_run.splitlines(keepends=True)
    state, out_path = tmp_path / "s.json", tmp_path / "out.csv"
    chunk = rng.choice(["1", "3"])
    with out_path.open("wb") as out:
        proc = subprocess.Popen([*COMMAND, *BASE, "--state", str(state), "--chunksize", chunk],
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE)
        try:
            proc.stdin.write(header.encode())
            proc.stdin.flush()
            _wait_for(state.exists)  # started: the header is out
            for i in range(0, len(rows), 50):  # the rest, fast, and the pipe stays open
                proc.stdin.write("".join(rows[i:i + 50]).encode())
            proc.stdin.flush()
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            stop(proc)
    done = json.loads(state.read_text(encoding="utf-8"))["rows"]  # never corrupt
    written = out_path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(written) >= 1 + done
    assert written[: 1 + done] == expected[: 1 + done]
    # rows written after the last save (at most one chunk) are re-emitted identically on resume
    extra = [line for line in written[1 + done:] if line.endswith("\n")]
    assert len(extra) <= int(chunk)
    # (resuming with another chunk size changes nothing, and saves less often: each save is an fsync)
    rest = ok(smooth("-", *BASE, "--state", state, "--chunksize", "400", input=header + "".join(rows[done:])))
    assert rest.splitlines(keepends=True)[: len(extra)] == extra
    assert "".join(written[: 1 + done]) + rest == one_run
    assert sorted(f.name for f in tmp_path.iterdir()) == ["out.csv", "s.json"]  # no temporary file left


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "args, fragments",
    [
        (("--column", "x", "--beta", "1.5"), ["beta", "1.5"]),
        (("--column", "x", "--beta", "-0.1"), ["beta", "-0.1"]),
        (("--column", "x", "--beta", "nan"), ["beta", "nan"]),
        (("--column", "x", "--beta", "abc"), ["--beta", "'abc'"]),
        (("--column", "x", "--span", "0.5"), ["span", "0.5"]),
        (("--column", "x", "--com", "-1"), ["com", "-1"]),
        (("--column", "x", "--halflife", "0"), ["halflife", "0"]),
        (("--column", "x", "--alpha", "1.5"), ["alpha", "1.5"]),
        (("--column", "x", "--beta", "0.9", "--span", "3"), ["--span", "--beta"]),
        (("--column", "x"), ["--beta", "--span"]),
        (("--beta", "0.9"), ["--column"]),
        (("--column", "x", "--beta", "0.9", "--chunksize", "0"), ["--chunksize", "'0'"]),
        (("--column", "x", "--beta", "0.9", "--chunksize", "2.5"), ["--chunksize", "'2.5'"]),
    ],
)
def test_bad_parameters_exit_2_with_one_line(args, fragments, capsys):
    """Parameter errors come before any input is read: checked in-process through the
    console script's entry point (``streamopt.cli:main``) to keep the suite fast."""
    from streamopt.cli import main

    try:
        status = main(["smooth", "-", *args])
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    assert captured.out == ""
    one_line_error(subprocess.CompletedProcess([], status, captured.out, captured.err), *fragments)


@pytest.fixture(scope="module")
def saved_state(tmp_path_factory) -> Path:
    """A state file written by a run with BASE parameters on the first 10 weather rows."""
    folder = tmp_path_factory.mktemp("state")
    path = folder / "good.json"
    head = "".join(weather_text().splitlines(keepends=True)[:11])
    ok(smooth("-", *BASE, "--state", path, input=head))
    return path


def test_bad_input_exits_2_with_one_line(tmp_path, saved_state):
    weather = weather_text()
    header = weather.splitlines(keepends=True)[0]

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        return path

    garbage = write("garbage.json", "{not json")
    good = json.loads(saved_state.read_text())
    (tmp_path / "adir").mkdir()
    base = ("--column", "temp_max", "--beta", "0.9")
    w = str(WEATHER)
    cases = [
        # (id, args, stdin, fragments that the one line must contain)
        ("missing column", (w, "--column", "nope", "--beta", "0.9"), None, ["'nope'", "'temp_max'", w]),
        ("non-numeric", ("--column", "x", "--beta", "0.9"), "x\n1\n2\nabc\n", ["'abc'", "'x'", "line 4", "row 3"]),
        ("field count", ("--column", "a", "--beta", "0.9"), "a,b\n1,2\n3\n", ["line 3", "row 2", "1 field"]),
        ("open quote", ("--column", "a", "--beta", "0.9"), 'a,b\n1,"x\n', ["line 2", "malformed"]),
        ("not utf-8", ("--column", "a", "--beta", "0.9"), b"a,b\n1,\xff\xfe\n", ["line 2", "UTF-8"]),
        ("empty input", base, "", ["<stdin>", "empty"]),
        ("no file", (tmp_path / "nofile.csv", *base), None, ["nofile.csv"]),
        ("has _ewa", ("--column", "x", "--beta", "0.9"), "x,x_ewa\n1,2\n", ["'x_ewa'"]),
        ("state garbage", (*base, "--state", garbage), weather, [str(garbage), "corrupt"]),
        ("state folder", (*base, "--state", tmp_path / "adir"), weather, ["adir"]),
        ("state no folder", (*base, "--state", tmp_path / "no" / "s.json"), weather, ["s.json", "no folder"]),
        ("state column", ("--column", "temp_min", "--beta", "0.9", "--bias-correction", "--state", saved_state),
         weather, [str(saved_state), "--column 'temp_max'", "'temp_min'"]),
        ("state span", ("--column", "temp_max", "--span", "19", "--bias-correction", "--state", saved_state),
         weather, [str(saved_state), "--beta 0.9", "--span 19"]),
        ("state bias", ("--column", "temp_max", "--beta", "0.9", "--state", saved_state),
         weather, [str(saved_state), "--bias-correction"]),
        ("state header", (*BASE, "--state", saved_state), "temp_max,other\n1,2\n", [str(saved_state), "header"]),
    ]

    def run(case):
        _, args, stdin, _ = case
        return smooth(*args, input=stdin)

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(run, cases))
    failures = []
    for (name, _, _, fragments), res in zip(cases, results):
        try:
            one_line_error(res, *fragments)
        except AssertionError:
            failures.append(f"{name}: exit {res.returncode}, stderr {res.stderr!r}")
    assert not failures, "\n".join(failures)
    # a rejected state file is left as it was
    assert json.loads(saved_state.read_text()) == good


def test_bad_value_in_a_later_chunk_keeps_the_earlier_chunks(tmp_path):
    state = tmp_path / "s.json"
    args = ("--column", "x", "--beta", "0.5", "--chunksize", "2", "--state", state)
    res = smooth(*args, input="x\n1\n2\n3\n4\noops\n6\n")
    assert res.returncode == 2 and "'oops'" in res.stderr and "row 5" in res.stderr
    # the two complete chunks before the bad one were written, and recorded
    v = streamopt.ewa(np.arange(1.0, 7.0), 0.5)
    assert res.stdout == "x,x_ewa\n" + "".join(f"{i + 1},{float(v[i])!r}\n" for i in range(4))
    assert _state_rows(state) == 4
    rest = ok(smooth(*args, input="x\n5\n6\n"))
    assert rest == "".join(f"{i + 1},{float(v[i])!r}\n" for i in range(4, 6))


def one_line_error(res: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit status 2 and one line on standard error holding every fragment."""
    return one_line(res, "smooth", *fragments)


# ------------------------------------------------------------------ values
def test_infinity_is_read_as_pandas_does_and_smoothed_as_the_library_does():
    """inf / -Infinity are numbers (pandas reads them); what they do is streamopt.ewa's rule."""
    text = "x\n1\ninf\n2\n-Infinity\n3\n+INF\n"
    out = ok(smooth("-", "--column", "x", "--beta", "0.5", "--bias-correction", "--chunksize", "2", input=text))
    x = pd.read_csv(io.StringIO(text))["x"].to_numpy()
    assert x.dtype == np.float64 and np.isinf(x).sum() == 3  # pandas' reading of the column
    np.testing.assert_array_equal(ewa_column(out, "x_ewa"), streamopt.ewa(x, 0.5, bias_correction=True))


@pytest.mark.parametrize("value", ["1e309", "-1e309", "1" * 400])
def test_a_number_beyond_float64_is_an_error(value):
    res = smooth("-", "--column", "x", "--beta", "0.5", input=f"x,y\n1,a\n{value},b\n")
    one_line_error(res, "line 3", "row 2", "'x'", "float64 range", repr(value)[:20])
    assert res.stdout == "x,y,x_ewa\n"


@pytest.mark.parametrize("value", ["\u0663", "\u0661\u066b\u0665", "\uff13", "0x10", "NAN", "1.5e", "\u00a01"])
def test_only_ascii_numbers_as_pandas_reads_them(value):
    """float() reads Arabic-Indic and full-width digits, NAN and a no-break space; pandas does not."""
    text = f"x\n1\n{value}\n"
    assert not pd.api.types.is_numeric_dtype(pd.read_csv(io.StringIO(text))["x"])  # pandas: not numbers
    one_line_error(smooth("-", "--column", "x", "--beta", "0.5", input=text), "line 3", "row 2", "non-numeric",
                   repr(value))


def test_a_repeated_column_name_is_an_error():
    res = smooth("-", "--column", "a", "--beta", "0.5", input="a,b,a\n1,2,3\n")
    one_line_error(res, "'a'", "2 columns", "positions 1, 3")
    assert res.stdout == ""
    # another repeated name is no concern of smooth's
    assert ok(smooth("-", "--column", "a", "--beta", "0.5", input="a,b,b\n1,2,3\n")) == "a,b,b,a_ewa\n1,2,3,0.5\n"


# ------------------------------------------------------------------ bytes and line endings
def test_other_columns_are_copied_byte_for_byte_crlf_included():
    raw = b'id,note,x\r\n1,"two\r\nlines",2\r\n2,"lf\nonly",4\n3,"a\rb",6\r\n'
    res = subprocess.run([*COMMAND, "--column", "x", "--beta", "0.5"], input=raw, capture_output=True, timeout=60)
    assert res.returncode == 0 and res.stderr == b"", res.stderr
    v = [repr(float(a)).encode() for a in streamopt.ewa([2.0, 4.0, 6.0], 0.5)]
    # each record as it came, its own line ending kept, plus the new field
    assert res.stdout == (b'id,note,x,x_ewa\r\n1,"two\r\nlines",2,' + v[0] + b'\r\n2,"lf\nonly",4,' + v[1]
                          + b'\n3,"a\rb",6,' + v[2] + b'\r\n')
    back = pd.read_csv(io.BytesIO(res.stdout))
    assert back["note"].tolist() == ["two\r\nlines", "lf\nonly", "a\rb"]


def test_cr_only_line_endings_are_refused_clearly():
    res = smooth("--column", "x", "--beta", "0.5", input=b"x,y\r1,2\r3,4\r", timeout=60)
    err = one_line_error(res, "line 1", "carriage return", "LF or CRLF")
    assert "universal-newline" not in err


def test_a_large_text_field_is_copied(tmp_path):
    """A 200 KB field (beyond csv's default 128 KiB field limit) in another column: pandas reads it, so do we."""
    big = "w" * 200_000
    text = f"x,text\n1,{big}\n2,\"{big[:-1]},\"\n"
    out = ok(smooth("-", "--column", "x", "--beta", "0.5", input=text))
    lines = out.splitlines()
    v = streamopt.ewa([1.0, 2.0], 0.5)
    assert lines == ["x,text,x_ewa", f"1,{big},{float(v[0])!r}", f"2,\"{big[:-1]},\",{float(v[1])!r}"]


def _stream_through_smooth(*, head: bytes, body_bytes: int, tail: bytes = b"") -> tuple[int, bytes, str, int]:
    """Run smooth on ``head``, then ``body_bytes`` zeros, then ``tail``, written by a generator process.

    Returns (exit status, stdout, stderr, peak resident memory of smooth in bytes).  smooth runs under
    a small Python parent that reports its children's peak memory (a child forked from this test
    process would count this process's memory too).  Every process is killed after 60 s.
    """
    code = ("import sys\nw = sys.stdout.buffer.write\nw(bytes.fromhex(sys.argv[1]))\nn = int(sys.argv[2])\n"
            "block = b'0' * 2**20\nwhile n > 0:\n    w(block[:n])\n    n -= 2**20\nw(bytes.fromhex(sys.argv[3]))\n")
    measure = ("import resource, subprocess, sys\nstatus = subprocess.call(sys.argv[1:])\n"
               "sys.stderr.write(f'{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n')\n"
               "sys.exit(status)\n")
    gen = subprocess.Popen([sys.executable, "-c", code, head.hex(), str(body_bytes), tail.hex()],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    proc = subprocess.Popen([sys.executable, "-c", measure, *COMMAND, "--column", "x", "--beta", "0.5"],
                            stdin=gen.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    gen.stdout.close()
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        for p in (proc, gen):
            with suppress(OSError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=60)
    err, _, peak_kib = err.decode().rstrip("\n").rpartition("\n")
    return proc.returncode, out, err + "\n" if err else "", int(peak_kib) * 1024


def test_a_record_of_the_longest_length_is_read():
    from streamopt.commands.smooth import MAX_RECORD_BYTES

    head = b"x,y\n1,"
    # the second record: "1," + zeros + "\n" is exactly MAX_RECORD_BYTES long
    status, out, err, _ = _stream_through_smooth(head=head, body_bytes=MAX_RECORD_BYTES - 3, tail=b"\n")
    assert status == 0 and err == "", err
    assert out.startswith(b"x,y,x_ewa\n1,000") and out.endswith(b"000,0.5\n")
    assert len(out) == len(b"x,y,x_ewa\n") + MAX_RECORD_BYTES + len(b",0.5")


def test_a_longer_record_is_an_error_naming_the_line_and_the_limit():
    from streamopt.commands.smooth import MAX_RECORD_BYTES

    status, out, err, _ = _stream_through_smooth(head=b"x,y\n1,", body_bytes=MAX_RECORD_BYTES - 2, tail=b"\n")
    assert status == 2 and out == b"x,y,x_ewa\n"
    assert err == ("streamopt smooth: error: <stdin>: line 2 is longer than 64 MiB, the longest record "
                   "smooth reads\n")


def test_a_line_without_end_is_not_read_whole():
    """`head -c 2G /dev/zero | streamopt smooth ...`: the memory stays bounded by the record limit."""
    from streamopt.commands.smooth import MAX_RECORD_BYTES

    body = 8 * MAX_RECORD_BYTES  # 512 MiB: read whole, it would take more than that
    status, out, err, peak = _stream_through_smooth(head=b"x\n", body_bytes=body)
    assert status == 2 and "line 2 is longer than 64 MiB" in err and err.count("\n") == 1
    assert peak < body, f"peak resident memory {peak / 2**20:.0f} MiB"
    # a quoted field's line breaks do not reset the count: one record of many short lines
    status, out, err, _ = _stream_through_smooth(head=b'x,y\n1,"' + b"0\n" * 1000, body_bytes=2 * MAX_RECORD_BYTES)
    assert status == 2 and "the record starting on line 2 is longer than 64 MiB" in err, err


# ------------------------------------------------------------------ state file format
#: A state file written by streamopt 0.1.0: `printf 'x,y\n1,a\n2.5,b\n,c\n4,d\n' |
#: streamopt smooth --column x --span 3 --bias-correction --state s.json`
STATE_0_1_0 = (
    '{"format": "streamopt smooth state", "version": 1, "column": "x", "header": ["x", "y"], '
    '"decay": {"span": 3.0}, "alpha": 0.5, "bias_correction": true, "skipna": true, "rows": 4, '
    '"ewa": {"format": "streamopt.EWA", "version": 1, "alpha": "0x1.0000000000000p-1", '
    '"beta": "0x1.0000000000000p-1", "bias_correction": true, "skipna": true, "mode": "series", '
    '"dtype": "float64", "k": 1, "value": ["0x1.6000000000000p+1"], "count": [3]}}'
)
STATE_ARGS = ("--column", "x", "--span", "3", "--bias-correction")


def test_a_state_written_by_0_1_0_still_resumes(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(STATE_0_1_0)
    rest = ok(smooth("-", *STATE_ARGS, "--state", path, input="x,y\n5,e\n,f\n6,g\n"))
    v = streamopt.ewa([1.0, 2.5, math.nan, 4.0, 5.0, math.nan, 6.0], span=3, bias_correction=True)
    assert rest == f"5,e,{float(v[4])!r}\n,f,{float(v[5])!r}\n6,g,{float(v[6])!r}\n"
    # and is rewritten in the current envelope
    saved = json.loads(path.read_text())
    assert saved["format"] == "streamopt.SmoothState" and saved["version"] == 2 and saved["rows"] == 7
    assert saved["decay"] == {"span": (3.0).hex()} and set(saved) == {"format", "version", "column", "header",
                                                                       "decay", "rows", "ewa"}


def test_the_state_is_the_shared_envelope_and_resumes_exactly(tmp_path):
    path = tmp_path / "s.json"
    ok(smooth("-", "--column", "x", "--beta", "0.1", "--state", path, input="x\n0.3\n"))
    saved = json.loads(path.read_text())
    assert saved == {"format": "streamopt.SmoothState", "version": 2, "column": "x", "header": ["x"],
                     "decay": {"beta": (0.1).hex()}, "rows": 1, "ewa": saved["ewa"]}
    assert streamopt.EWA.from_state(saved["ewa"]).count == 1


@pytest.mark.parametrize("edit, fragment", [
    (lambda s: s.update(version=True), "version"),
    (lambda s: s.update(version=2.0), "version"),
    (lambda s: s.update(version=4), "newer"),
    (lambda s: s.update(version=3), "'ewm'"),  # the ewm mode's version has other fields
    (lambda s: s.update(extra=1), "'extra'"),
    (lambda s: s.pop("rows"), "'rows'"),
    (lambda s: s.update(rows=-1), "rows"),
    (lambda s: s.update(rows=True), "rows"),
    (lambda s: s.update(decay={"beta": "0.5"}), "decay"),  # exact floats only as float.hex writes them
    (lambda s: s.update(decay={"beta": 0.5}), "decay"),
    (lambda s: s.update(decay={"gamma": (0.5).hex()}), "decay"),
    (lambda s: s.update(header="x"), "header"),
    (lambda s: s.update(column=1), "column"),
    (lambda s: s.update(ewa={"format": "streamopt.EWA"}), "corrupt"),
    (lambda s: s.update(format="streamopt smooth state"), "version"),  # 0.1.0's name with 2's fields
])
def test_a_bad_state_field_is_an_error_naming_it(tmp_path, edit, fragment):
    path = tmp_path / "s.json"
    ok(smooth("-", "--column", "x", "--beta", "0.5", "--state", path, input="x\n1\n"))
    state = json.loads(path.read_text())
    edit(state)
    path.write_text(json.dumps(state))
    res = smooth("-", "--column", "x", "--beta", "0.5", "--state", path, input="x\n2\n")
    one_line_error(res, str(path), fragment)
    assert res.stdout == "" and json.loads(path.read_text()) == state  # left as it was


def test_a_0_1_0_state_with_other_fields_is_refused(tmp_path):
    path = tmp_path / "s.json"
    for bad in (STATE_0_1_0.replace('"version": 1', '"version": true'),
                STATE_0_1_0.replace('"rows": 4', '"rows": 4, "more": 1'),
                STATE_0_1_0.replace('{"span": 3.0}', '{"span": "3"}'),
                STATE_0_1_0.replace('"skipna": true, "rows"', '"skipna": 1, "rows"'),
                STATE_0_1_0.replace('"alpha": 0.5', '"alpha": "0.5"')):
        path.write_text(bad)
        one_line_error(smooth("-", *STATE_ARGS, "--state", path, input="x,y\n5,e\n"), str(path), "corrupt")


def test_the_parameter_check_is_the_ewa_s(tmp_path):
    """A mismatch of the decay, --bias-correction or --skipna is found by EWA.load_state_dict."""
    path = tmp_path / "s.json"
    path.write_text(STATE_0_1_0)
    for args, saved, given in [
        (("--column", "x", "--alpha", "0.5"), "--span 3.0, --bias-correction", "--alpha 0.5, no --bias-correction"),
        (("--column", "x", "--alpha", "0.5", "--bias-correction", "--no-skipna"), "--skipna", "--no-skipna"),
        (("--column", "x", "--span", "3.0001", "--bias-correction"), "--span 3.0,", "--span 3.0001"),
    ]:
        one_line_error(smooth("-", *args, "--state", path, input="x,y\n5,e\n"),
                       f"state file {path} was written with", saved, "this command has", given)
    # the same alpha by another option is the same EWA
    assert ok(smooth("-", "--column", "x", "--alpha", "0.5", "--bias-correction", "--state", path,
                     input="x,y\n5,e\n")).startswith("5,e,")


# ------------------------------------------------------------------ standard streams
def test_a_full_disk_is_one_line_and_no_state_is_saved(tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    state = tmp_path / "s.json"
    res = cli_shell("smooth", "--column", "x", "--beta", "0.5", "--state", state, redirect="> /dev/full",
                    input="x\n1\n")
    one_line_error(res, "cannot write output", "No space left on device")
    assert not state.exists()  # nothing was written, so nothing is recorded


def test_closed_standard_streams_are_one_line():
    args = ("smooth", "--column", "x", "--beta", "0.5")
    one_line_error(cli_shell(*args, redirect=">&-", input="x\n1\n"), "cannot write output",
                   "standard output is closed")
    one_line_error(cli_shell(*args, redirect="<&-"), "<stdin>", "standard input is closed")


def test_a_reader_that_goes_away_is_not_an_error():
    res = subprocess.run(["/bin/bash", "-c", f"'{SCRIPT}' smooth '{WEATHER}' --column wind --beta 0.5 "
                          "--chunksize 1 | head -n 2; echo \"status ${PIPESTATUS[0]}\""],
                         capture_output=True, text=True, timeout=120)
    assert res.stdout.splitlines()[-1] == "status 0" and res.stderr == "", res.stderr
