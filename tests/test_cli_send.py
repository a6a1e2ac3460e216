"""``streamopt send``: a CSV into a real server process, exactly once, resumable after SIGKILL; one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
from conftest import SCRIPT, cli, one_line

pytest.importorskip("httpx")

import streamopt  # noqa: E402
from streamopt.client import Client  # noqa: E402

from _server import Server  # noqa: E402  (tests/_server.py: a real `streamopt serve` process)

T0 = pd.Timestamp("2024-05-01T00:00:00Z").value


def write_csv(path, n: int, seed: int = 0, keys: int = 7, times: bool = True) -> pd.DataFrame:
    """``n`` rows of key, value (some missing) and, with ``times``, an ISO-8601 or integer-ns time."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"city": [f"c{k}" for k in rng.integers(0, keys, n)],
                       "temp": rng.normal(15, 5, n).round(3)})
    df.loc[rng.random(n) < 0.1, "temp"] = np.nan
    if times:
        ns = T0 + np.arange(n, dtype=np.int64) * 60 * 10**9
        df.insert(0, "time", [str(t) if i % 2 else pd.Timestamp(t, tz="UTC").isoformat() for i, t in enumerate(ns)])
        df["ns"] = ns
    df.drop(columns=[c for c in ["ns"] if c in df]).to_csv(path, index=False)
    return df


def expected_state(df: pd.DataFrame, **decay) -> dict[str, tuple[int, float]]:
    """Each key's (count, last mean) from ``streamopt.ewm`` over the rows once."""
    values = df["temp"].to_numpy(dtype=float)
    times = pd.DatetimeIndex(df["ns"].to_numpy().view("datetime64[ns]")) if "ns" in df else None
    mean = streamopt.ewm(values, **decay, times=times, by=df["city"].to_numpy()).mean()
    out = {}
    for key, rows in df.groupby("city").indices.items():
        out[key] = (int(np.isfinite(values[rows]).sum()), float(mean[rows[-1]]))
    return out


def service_state(url: str, stream: str, token: str | None = None) -> dict[str, tuple[int, float]]:
    with Client(url, token=token) as c:
        return {k: (c.get(stream, k)["count"], c.get(stream, k)["mean"]) for k in c.keys(stream)}


def same(a: dict, b: dict) -> bool:
    """Equal counts and bit-equal means (NaN equal to NaN)."""
    return a.keys() == b.keys() and all(
        a[k][0] == b[k][0] and np.float64(a[k][1]).tobytes() == np.float64(b[k][1]).tobytes() for k in a)


def test_send_a_file_then_stdin_then_rerun_is_exactly_once(tmp_path):
    path = tmp_path / "temps.csv"
    df = write_csv(path, 500)
    with Server(tmp_path / "srv.db", token="tok") as srv:
        with Client(srv.url, token="tok") as c:
            c.create_stream("temps", halflife="1h", times=True)
        args = (srv.url, "temps", path, "--key-column", "city", "--value-column", "temp", "--time-column", "time",
                "--batch", "64", "--token", "tok")
        res = cli("send", *args)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("sent 500 rows in 8 batches to temps: 500 applied, 0 already applied before")
        assert same(service_state(srv.url, "temps", "tok"), expected_state(df, halflife="1h"))
        again = cli("send", *args)  # the same input again: every batch a duplicate
        assert again.returncode == 0 and "0 applied, 500 already applied before" in again.stdout
        assert again.stdout.split("(producer ")[1] == res.stdout.split("(producer ")[1]
        # the same rows on standard input, with the token from the environment: the same input, nothing new
        env = {**os.environ, "STREAMOPT_TOKEN": "tok"}
        piped = subprocess.run([str(SCRIPT), "send", *map(str, args[:2]), "-", *map(str, args[3:-2])],
                               input=path.read_bytes(), capture_output=True, env=env, timeout=120)
        assert piped.returncode == 0 and b"0 applied, 500 already applied before" in piped.stdout, piped.stderr
        assert same(service_state(srv.url, "temps", "tok"), expected_state(df, halflife="1h"))
        with Client(srv.url, token="tok") as c:
            assert c.info("temps")["observations"] == 500


def test_send_resumes_after_a_kill(tmp_path):
    path = tmp_path / "big.csv"
    df = write_csv(path, 5_000, seed=3, keys=50, times=False)
    lines = path.read_bytes().splitlines(keepends=True)
    with Server(tmp_path / "srv.db") as srv:
        with Client(srv.url) as c:
            c.create_stream("big", alpha=0.05)
        argv = [str(SCRIPT), "send", srv.url, "big", "-", "--key-column", "city", "--value-column", "temp",
                "--batch", "100"]
        # the first 1,050 rows arrive, then the input stalls: 10 batches are sent, the 11th waits; SIGKILL
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            proc.stdin.write(b"".join(lines[:1051]))
            proc.stdin.flush()
            with Client(srv.url) as c:
                deadline = time.monotonic() + 60
                while c.info("big")["observations"] < 1_000 and time.monotonic() < deadline:
                    time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        with Client(srv.url) as c:
            assert c.info("big")["observations"] == 1_000
        argv[4] = str(path)  # the same input, from the file
        res = subprocess.run(argv, capture_output=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert b"sent 5000 rows in 50 batches to big: 4000 applied, 1000 already applied before" in res.stdout
        assert same(service_state(srv.url, "big"), expected_state(df, alpha=0.05))


def test_bad_input_is_one_line_naming_the_flag_or_the_row(tmp_path):
    good = tmp_path / "good.csv"
    write_csv(good, 10)
    bad_value = tmp_path / "bad_value.csv"
    bad_value.write_text("time,city,temp\n1,a,1.5\n2,a,warm\n")
    bad_time = tmp_path / "bad_time.csv"
    bad_time.write_text("time,city,temp\n1,a,1.5\n2,a,2\nyesterday,b,3\n")
    no_key = tmp_path / "no_key.csv"
    no_key.write_text("time,city,temp\n1,a,1.5\n2,,2\n")
    short = tmp_path / "short.csv"
    short.write_text("time,city,temp\n1,a,1.5\n2,a\n")
    old = tmp_path / "old.csv"
    old.write_text("time,city,temp\n5,a,1.5\n6,b,2\n7,b,2\n4,a,3\n")
    big = tmp_path / "big.csv"
    write_csv(big, 300)
    with Server(tmp_path / "srv.db", token="tok", args=("--max-body-bytes", "4000")) as srv:
        with Client(srv.url, token="tok") as c:
            c.create_stream("t", halflife="1h", times=True)
        flags = ("--key-column", "city", "--value-column", "temp", "--time-column", "time", "--token", "tok")
        cases = [
            ((good, "--key-column", "town", *flags[2:]), ["--key-column town", "no such column", "'city'"]),
            ((good, *flags[:4], "--time-column", "when", *flags[6:]), ["--time-column when", "no such column"]),
            ((bad_value, *flags), ["line 3 (row 2)", "--value-column temp", "'warm'", "not a number"]),
            ((bad_time, *flags), ["line 4 (row 3)", "--time-column time", "'yesterday'"]),
            ((no_key, *flags), ["line 3 (row 2)", "--key-column city", "''"]),
            ((short, *flags), ["line 3 (row 2)", "2 fields, the header has 3"]),
            ((old, *flags), ["line 5 (row 4)", "refused it (422)", "'a'"]),
            ((good, *flags[:-2], "--token", "nope"), ["--token", "401"]),
            ((good, *flags[:-2]), ["--token", "401"]),
            ((tmp_path / "none.csv", *flags), ["cannot read", "none.csv"]),
            ((big, *flags, "--batch", "300"), ["--batch 300", "too big (413)", "use a smaller --batch"]),
        ]
        for argv, fragments in cases:
            one_line(cli("send", srv.url, "t", *argv), "send", *fragments)
        one_line(cli("send", srv.url, "nope", good, *flags), "send", "STREAM 'nope'", "404")
        with Client(srv.url, token="tok") as c:
            assert c.info("t")["observations"] == 0  # every batch above was refused whole
        port = srv.url.rsplit(":", 1)[1]
    one_line(cli("send", f"http://127.0.0.1:{port}", "t", good, *flags, "--retries", "1"), "send",
             f"http://127.0.0.1:{port}", "no answer after 2 attempts", "run the same command again")
    one_line(cli("send", "ftp://x", "t", good, *flags), "send", "URL 'ftp://x'", "http://")
    res = cli("send", "http://127.0.0.1:1", "t", good, *flags, "--batch", "0")
    assert res.returncode == 2 and "--batch: must be a positive integer, got '0'" in res.stderr
