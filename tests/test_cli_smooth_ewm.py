"""``streamopt smooth`` in the ewm mode (``--stat``, ``--by``, ``--time-column``, ``--min-periods``,
``--adjust``, ``--ignore-na``): the real console script, run in subprocesses.

The oracle is :func:`streamopt.ewm` on the whole file read by pandas (values, keys as text, times by
``pandas.to_datetime``): every added column must equal it bit for bit, whatever the chunk size, across
resumes and after a ``kill -9``.
"""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

import streamopt
from conftest import WEATHER
from test_cli_smooth import COMMAND, _state_rows, _wait_for, ok, one_line_error, smooth, stop


def messy_keyed_csv(seed: int, n: int = 300, keys: tuple[str, ...] = ("a", "b", "01", "1", "NA", "")) -> str:
    """A CSV of keyed, timed rows: times non-decreasing within each key only (ties included), keys that
    pandas would read as numbers or missing (``01``, ``1``, ``NA``: here the text is the key), values with
    empty fields, NA, NaN, ±inf, and a quoted field with a line break."""
    rng = np.random.default_rng(seed)
    keys = rng.choice(list(keys), size=n)
    clock = {k: pd.Timestamp("2024-01-01") for k in set(keys)}
    lines = ["id,key,when,note,x"]
    for i, k in enumerate(keys):
        clock[k] += pd.Timedelta(hours=int(rng.choice([0, 1, 5, 30, 200])))
        r = rng.random()
        x = ("" if r < 0.08 else "NA" if r < 0.12 else "NaN" if r < 0.14 else "inf" if r < 0.16
             else repr(float(np.round(rng.normal(10, 5), 3))))
        note = '"two\nlines"' if i == 7 else f"n{i}"
        lines.append(f"{i},{k},{clock[k]:%Y-%m-%d %H:%M:%S},{note},{x}")
    return "\n".join(lines) + "\n"


def read(text: str, *text_columns: str) -> pd.DataFrame:
    """The CSV as the oracle reads it: ``text_columns`` as their text (no missing markers), the rest as pandas does."""
    df = pd.read_csv(io.StringIO(text))
    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for column in text_columns:
        df[column] = raw[column]
    return df


def added(out: str, n: int) -> pd.DataFrame:
    """The last ``n`` columns of an output, as float64 (an empty field is NaN), checking the shortest form."""
    df = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    cols = df.iloc[:, -n:]
    for col in cols:
        for text in cols[col]:
            assert text == "" or text == repr(float(text))
    return cols.replace("", "nan").astype(np.float64)


def oracle(df: pd.DataFrame, column: str, stats: tuple[str, ...], **kw) -> pd.DataFrame:
    e = streamopt.ewm(df[column].astype(np.float64), **kw)
    return pd.DataFrame({f"{column}_{s}": getattr(e, s)() for s in stats})


# (smooth's options, ewm's keyword arguments (times and by filled in), stats)
CASES = [
    (("--by", "key", "--time-column", "when", "--halflife", "1D", "--stat", "mean,std,var"),
     dict(halflife="1D"), ("mean", "std", "var"), True, True),
    (("--by", "key", "--span", "6", "--no-adjust", "--ignore-na", "--min-periods", "3", "--stat", "var,mean"),
     dict(span=6.0, adjust=False, ignore_na=True, min_periods=3), ("var", "mean"), True, False),
    (("--time-column", "when", "--halflife", "36h", "--ignore-na", "--no-adjust", "--stat", "std"),
     dict(halflife="36h", ignore_na=True, adjust=False), ("std",), False, True),
    (("--alpha", "0.3", "--adjust"), dict(alpha=0.3), ("mean",), False, False),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_output_equals_ewm_of_the_whole_file_whatever_the_chunks(case, tmp_path):
    flags, kw, stats, keyed, timed = CASES[case]
    text = messy_keyed_csv(case, keys=("a", "b", "01", "1", "NA", "") if keyed else ("a",))
    df = read(text, "key", "when")
    if keyed:
        kw = {**kw, "by": df["key"]}
    if timed:
        kw = {**kw, "times": pd.to_datetime(df["when"])}
    expected = oracle(df, "x", stats, **kw)
    outs = [ok(smooth("-", "--column", "x", *flags, "--chunksize", size, input=text)) for size in ("1", "7", "1000")]
    assert outs[1] == outs[0] and outs[2] == outs[0]
    got = added(outs[0], len(stats))
    assert list(got.columns) == list(expected.columns)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    # the other columns are the input's text, the quoted line break included
    rows = list(csv.reader(io.StringIO(outs[0])))
    assert [r[: -len(stats)] for r in rows] == list(csv.reader(io.StringIO(text)))
    assert '"two\nlines"' in outs[0]


def test_the_weather_example_equals_ewm():
    out = ok(smooth(WEATHER, "--column", "temp_max", "--time-column", "date", "--halflife", "7D",
                    "--by", "weather", "--stat", "mean,std"))
    df = pd.read_csv(WEATHER)
    e = streamopt.ewm(df["temp_max"], halflife="7D", times=pd.to_datetime(df["date"]), by=df["weather"])
    got = added(out, 2)
    np.testing.assert_array_equal(got["temp_max_mean"].to_numpy(), e.mean().to_numpy())
    np.testing.assert_array_equal(got["temp_max_std"].to_numpy(), e.std().to_numpy())
    # pandas' own groupby: the time-weighted mean per key, re-aligned to the rows
    g = (df.assign(t=pd.to_datetime(df["date"])).groupby("weather")["temp_max"]
         .ewm(halflife="7D", times=pd.to_datetime(df["date"])).mean().droplevel(0).sort_index())
    np.testing.assert_allclose(got["temp_max_mean"].to_numpy(), g.to_numpy(), rtol=1e-12)


ARGS = ("--column", "x", "--by", "key", "--time-column", "when", "--halflife", "1D", "--stat", "mean,var")


def test_resume_in_parts_equals_one_run(tmp_path):
    text = messy_keyed_csv(5)
    header, *rows = text.splitlines(keepends=True)
    # the quoted line break spans two lines: cut only between records
    one = ok(smooth("-", *ARGS, input=text))
    state = tmp_path / "s.json"
    cuts = [0, 0, 101, 250, len(rows)]
    outs = []
    for a, b in zip(cuts, cuts[1:]):
        outs.append(ok(smooth("-", *ARGS, "--state", state, "--chunksize", "13", input=header + "".join(rows[a:b]))))
    assert "".join(outs) == one
    saved = json.loads(state.read_text())
    assert saved["format"] == "streamopt.SmoothState" and saved["version"] == 3
    assert set(saved) == {"format", "version", "column", "header", "decay", "rows", "by", "time_column",
                          "time_format", "ewm"}
    assert saved["decay"] == {"halflife": "1D"} and saved["by"] == "key" and saved["time_column"] == "when"
    assert saved["time_format"] == "%Y-%m-%d %H:%M:%S" and saved["ewm"]["format"] == "streamopt.EWMStream"
    assert saved["rows"] == 300 and sorted(saved["ewm"]["keys"]) == sorted({"a", "b", "01", "1", "NA", ""})


@pytest.mark.parametrize("seed", [0, 1])
def test_kill_9_with_chunksize_1_then_resume(tmp_path, seed):
    """SIGKILL at a random moment: the state is valid, the output complete up to it, the resume exact."""
    text = messy_keyed_csv(10 + seed).replace('"two\nlines"', "two lines")  # one record per line
    lines = text.splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    expected = ok(smooth("-", *ARGS, input=text)).splitlines(keepends=True)
    state, out_path = tmp_path / "s.json", tmp_path / "out.csv"
    with out_path.open("wb") as out:
        proc = subprocess.Popen([*COMMAND, *ARGS, "--state", str(state), "--chunksize", "1"],
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE)
        try:
            proc.stdin.write(header.encode())
            proc.stdin.flush()
            _wait_for(state.exists)
            proc.stdin.write("".join(rows).encode())
            proc.stdin.flush()
            _wait_for(lambda: (_state_rows(state) or 0) >= 5)
            time.sleep(random.Random(seed).uniform(0.0, 0.2))
        finally:
            stop(proc)
    done = _state_rows(state)
    assert 5 <= done <= len(rows)
    written = out_path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert written[: 1 + done] == expected[: 1 + done]
    extra = [line for line in written[1 + done:] if line.endswith("\n")]
    assert len(extra) <= 1
    rest = ok(smooth("-", *ARGS, "--state", state, "--chunksize", "50", input=header + "".join(rows[done:])))
    assert rest.splitlines(keepends=True)[: len(extra)] == extra
    assert "".join(written[: 1 + done]) + rest == "".join(expected)


# ------------------------------------------------------------------ bad input
TIMED = "k,t,x\na,2024-01-01,1\nb,2024-01-03,2\na,2024-01-02,3\n"


@pytest.mark.parametrize("body, fragments", [
    ("a,2024-01-02,4\nb,2024-01-02,5\n", ["line 3 (row 2)", "'2024-01-02'", "key 'b'", "2024-01-03"]),
    ("a,2024-01-04,4\nb,,5\n", ["line 3 (row 2)", "column 't'", "missing time"]),
    ("a,2024-01-04,4\nb,NaT,5\n", ["line 3 (row 2)", "column 't'", "missing time"]),
    ("a,2024-01-04,4\nb,yesterday,5\n", ["line 3 (row 2)", "'yesterday'", "'%Y-%m-%d'"]),
    ("a,2024-01-04,4\nb,2024-02-30,5\n", ["line 3 (row 2)", "'2024-02-30'"]),
    ("a,2024-01-04,4\nb,2024-01-05,x\n", ["line 3 (row 2)", "column 'x'", "non-numeric"]),
])
def test_a_bad_time_stops_the_run_before_its_chunk(tmp_path, body, fragments):
    """The chunks before are written and saved; the bad chunk writes nothing and the state stays."""
    state = tmp_path / "s.json"
    args = ("--column", "x", "--by", "k", "--time-column", "t", "--halflife", "1D", "--state", state)
    first = ok(smooth("-", *args, input=TIMED))
    saved = state.read_text()
    res = smooth("-", *args, "--chunksize", "2", input="k,t,x\n" + body)
    one_line_error(res, *fragments)
    assert res.stdout == "" and state.read_text() == saved  # the first chunk (2 rows) holds the bad row
    assert first.count("\n") == 4


def test_times_go_back_within_a_key_is_an_error_without_by_too():
    res = smooth("-", "--column", "x", "--time-column", "t", "--halflife", "1D", "--chunksize", "1", input=TIMED)
    one_line_error(res, "line 4 (row 3)", "'2024-01-02'", "2024-01-03", "its series")
    assert res.stdout.count("\n") == 3  # header and the rows before


@pytest.mark.parametrize("args, fragments", [
    (("--beta", "0.9", "--stat", "mean"), ["--beta", "--stat"]),
    (("--span", "3", "--bias-correction", "--by", "k"), ["--bias-correction", "--by"]),
    (("--span", "3", "--skipna", "--no-adjust"), ["--skipna", "--no-adjust"]),
    (("--span", "3", "--no-skipna", "--ignore-na"), ["--no-skipna", "--ignore-na"]),
    (("--beta", "0.9", "--min-periods", "2"), ["--beta", "--min-periods"]),
    (("--span", "3", "--time-column", "t"), ["--time-column", "--halflife", "--span"]),
    (("--halflife", "7", "--time-column", "t"), ["--halflife", "'7'", "unit"]),
    (("--halflife", "7D", "--by", "k"), ["--halflife", "'7D'", "--time-column"]),
    (("--halflife", "7D"), ["--halflife", "'7D'", "--time-column"]),
    (("--halflife=-1D", "--time-column", "t"), ["--halflife", "'-1D'"]),
    (("--halflife", "soon", "--time-column", "t"), ["--halflife", "'soon'"]),
    (("--span", "0.5", "--stat", "std"), ["--span", "0.5"]),
    (("--span", "3", "--stat", "mean,median"), ["--stat", "'mean,median'"]),
    (("--span", "3", "--stat", "mean,mean"), ["--stat", "'mean,mean'"]),
    (("--span", "3", "--min-periods", "-1"), ["--min-periods", "'-1'"]),
    (("--span", "3", "--min-periods", "1.5"), ["--min-periods", "'1.5'"]),
])
def test_bad_flags_exit_2_naming_the_flag(args, fragments, capsys):
    from streamopt.cli import main

    try:
        status = main(["smooth", "-", "--column", "x", *args])
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    assert captured.out == ""
    one_line_error(subprocess.CompletedProcess([], status, captured.out, captured.err), *fragments)


@pytest.mark.parametrize("args, text, fragments", [
    (("--by", "k"), "x,y\n1,2\n", ["no column 'k'"]),
    (("--time-column", "t", "--halflife", "1D"), "x,t,t\n1,2,3\n", ["2 columns named 't'", "--time-column"]),
    (("--time-column", "x", "--halflife", "1D"), "x\n2024-01-01\n", ["--time-column", "--column"]),
    (("--stat", "mean,std"), "x,x_std\n1,2\n", ["already has a column 'x_std'"]),
])
def test_bad_columns_exit_2(args, text, fragments):
    decay = () if "--halflife" in args else ("--span", "3")
    res = smooth("-", "--column", "x", *decay, *args, input=text)
    one_line_error(res, *fragments)
    assert res.stdout == ""


def test_a_state_of_the_other_mode_or_other_parameters_is_refused(tmp_path):
    ewm_state, ewa_state = tmp_path / "ewm.json", tmp_path / "ewa.json"
    ok(smooth("-", *ARGS, "--state", ewm_state, input=TIMED.replace("k,t", "key,when")))
    ok(smooth("-", "--column", "x", "--beta", "0.5", "--state", ewa_state, input="x\n1\n"))
    one_line_error(smooth("-", "--column", "x", "--beta", "0.5", "--state", ewm_state, input="x\n1\n"),
                   str(ewm_state), "ewm mode", "EWA mode")
    one_line_error(smooth("-", "--column", "x", "--span", "3", "--stat", "mean", "--state", ewa_state,
                          input="x\n1\n"), str(ewa_state), "EWA mode", "--stat")
    saved = ewm_state.read_text()
    for change, fragment in [(("--halflife", "1D"), None), (("--halflife", "2D"), "halflife_ns"),
                             (("--halflife", "24h"), None), (("--stat", "mean"), "stats"),
                             (("--min-periods", "2"), "min_periods"), (("--no-adjust",), "adjust"),
                             (("--by", "when"), "by")]:
        args = list(ARGS)
        for flag, *value in [change]:
            if flag in args:
                i = args.index(flag)
                args[i + 1:i + 2] = value
            else:
                args += [flag, *value]
        res = smooth("-", *args, "--state", ewm_state, input="key,when,x\na,2024-01-05,4\n")
        if fragment is None:  # the same half-life written another way is the same stream
            assert ok(res).startswith("a,2024-01-05,4,")
            ewm_state.write_text(saved)
        else:
            one_line_error(res, str(ewm_state), "was written with", "this command has", fragment)
            assert ewm_state.read_text() == saved


def test_help_documents_the_ewm_mode(capsys):
    from streamopt.cli import main

    with pytest.raises(SystemExit):
        main(["smooth", "--help"])
    text = capsys.readouterr().out
    for fragment in ("--stat", "--by", "--time-column", "--min-periods", "--no-adjust", "--ignore-na", "ewm mode",
                     "C_mean"):
        assert fragment in text


@pytest.mark.parametrize("edit, fragment", [
    (lambda s: s.update(by=1), "by"),
    (lambda s: s.update(time_column=["when"]), "time_column"),
    (lambda s: s.update(time_format=7), "time_format"),
    (lambda s: s.update(ewm="x"), "ewm"),
    (lambda s: s.pop("ewm"), "'ewm'"),
    (lambda s: s.update(ewa={}), "'ewa'"),
    (lambda s: s.update(decay={"span": "3"}), "decay"),
    (lambda s: s["ewm"].update(alpha=0.5), "alpha"),
    (lambda s: s["ewm"]["arrays"].pop("last_time"), "arrays"),
])
def test_a_bad_ewm_state_field_is_an_error_naming_it(tmp_path, edit, fragment):
    path = tmp_path / "s.json"
    ok(smooth("-", *ARGS, "--state", path, input="key,when,x\na,2024-01-01,1\n"))
    state = json.loads(path.read_text())
    edit(state)
    path.write_text(json.dumps(state))
    res = smooth("-", *ARGS, "--state", path, input="key,when,x\na,2024-01-02,2\n")
    one_line_error(res, str(path), "corrupt", fragment)
    assert res.stdout == "" and json.loads(path.read_text()) == state
