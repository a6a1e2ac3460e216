"""Mini-batch sources: the notes' batches, the epoch seeds, CSV streaming."""

from __future__ import annotations

import io
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SETTINGS
from streamopt import EWA, csv_batches, epochs, ewa, minibatches
from streamopt import reference as R
from streamopt._kernels.legacy_rng import SCRATCH_SIZE, STATE_SIZE, legacy_permutation, seed4, shuffle_seeded


# ------------------------------------------------------------------ in memory
@SETTINGS
@given(m=st.integers(1, 200), batch_size=st.integers(1, 80), seed=st.integers(0, 2**32 - 1))
def test_minibatches_are_the_notes_batches(m, batch_size, seed):
    rng = np.random.default_rng(m)
    X = rng.normal(size=(3, m))
    Y = (rng.random((1, m)) > 0.5).astype(np.int64)
    ours = list(minibatches(X, Y, batch_size, seed=seed, axis=1))
    notes = R.random_mini_batches(X, Y, batch_size, seed)
    assert len(ours) == len(notes) == -(-m // batch_size)
    for (xb, yb), (nx, ny) in zip(ours, notes):
        np.testing.assert_array_equal(xb, nx)
        np.testing.assert_array_equal(yb, ny)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 3000), seed=st.integers(0, 2**32 - 1))
def test_compiled_legacy_permutation_is_numpys(m, seed):
    out = np.empty(m, dtype=np.int64)
    legacy_permutation(np.zeros(SCRATCH_SIZE, dtype=np.uint64), seed, out)
    np.testing.assert_array_equal(out, np.random.RandomState(seed).permutation(m))
    # the training loop's form: four consecutive seeds at once
    seeds = [(seed + g) % 2**32 for g in range(4)]
    perms = np.empty((4, m), dtype=np.int64)
    states = np.zeros((4, STATE_SIZE), dtype=np.uint64)
    seed4(states, *seeds)
    for g in range(4):
        shuffle_seeded(states[g], np.zeros(624, dtype=np.uint64), perms[g])
        np.testing.assert_array_equal(perms[g], np.random.RandomState(seeds[g]).permutation(m))


def test_epochs_use_seed_plus_one_plus_i():
    X, Y = np.arange(20.0).reshape(2, 10), np.arange(10).reshape(1, 10) % 2
    for i, batches in enumerate(epochs(X, Y, 4, seed=10, n_epochs=3, axis=1)):
        expected = R.random_mini_batches(X, Y, 4, 10 + 1 + i)
        got = list(batches)
        assert len(got) == 3
        for (xb, yb), (ex, ey) in zip(got, expected):
            np.testing.assert_array_equal(xb, ex)
            np.testing.assert_array_equal(yb, ey)
    assert sum(1 for _ in epochs(X, Y, 4, n_epochs=0, axis=1)) == 0


def test_rows_layout_1d_targets_drop_last_and_no_shuffle_views():
    X = np.arange(30.0).reshape(10, 3)
    y = np.arange(10)
    batches = list(minibatches(X, y, 4, shuffle=False, drop_last=True))
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3)]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.arange(8))
    assert np.shares_memory(batches[0][0], X)  # unshuffled batches are views
    shuffled = list(minibatches(X, y, 4, seed=0))
    assert [len(b[1]) for b in shuffled] == [4, 4, 2]
    np.testing.assert_array_equal(np.sort(np.concatenate([b[1] for b in shuffled])), y)
    for xb, yb in shuffled:
        np.testing.assert_array_equal(xb, X[yb])  # rows stay with their targets


def test_pandas_batches_stay_pandas_and_inputs_are_not_written():
    df = pd.DataFrame({"a": np.arange(7.0), "b": np.arange(7.0) * 2}, index=list("abcdefg"))
    s = pd.Series(np.arange(7), index=df.index)
    before = df.copy()
    out = list(minibatches(df, s, 3, seed=1))
    assert all(isinstance(xb, pd.DataFrame) and isinstance(yb, pd.Series) for xb, yb in out)
    for xb, yb in out:
        assert list(xb.index) == list(yb.index)
    pd.testing.assert_frame_equal(df, before)
    only_x = list(minibatches(np.arange(5), batch_size=2, shuffle=False))
    assert [b.tolist() for b in only_x] == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(X=np.zeros((2, 5)), Y=np.zeros((1, 4)), axis=1), ValueError, ["same number of examples", "5", "4"]),
        (dict(X=np.zeros((2, 5)), batch_size=0), ValueError, ["batch_size", "0"]),
        (dict(X=np.zeros((2, 5)), batch_size=2.5), TypeError, ["batch_size"]),
        (dict(X=np.zeros((0, 3))), ValueError, ["no examples"]),
        (dict(X=np.zeros(4), seed=-1), ValueError, ["seed", "-1"]),
        (dict(X=np.zeros(4), seed=2**32), ValueError, ["seed"]),
        (dict(X=np.zeros(4), axis=2), ValueError, ["axis"]),
    ],
)
def test_minibatches_errors_name_the_parameter(kwargs, exc, words):
    with pytest.raises(exc) as info:
        minibatches(**kwargs)
    for w in words:
        assert w in str(info.value)


# ------------------------------------------------------------------------ CSV
@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"x1": rng.normal(size=103), "x2": rng.normal(size=103),
                       "label": rng.integers(0, 2, size=103)})
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return df, path


@pytest.mark.parametrize("chunksize, batch_size", [(7, 5), (100, 16), (1000, 64), (1, 1)])
def test_csv_batches_regroup_chunks_in_file_order(table, chunksize, batch_size):
    df, path = table
    out = list(csv_batches(path, ["x1", "x2"], "label", batch_size=batch_size, chunksize=chunksize))
    assert [len(y) for _, y in out][:-1] == [batch_size] * (len(out) - 1)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in out]), df[["x1", "x2"]].to_numpy())
    np.testing.assert_array_equal(np.concatenate([y for _, y in out]), df["label"].to_numpy())


def test_csv_batches_notes_layout_drop_last_and_default_columns(table):
    df, path = table
    out = list(csv_batches(path, target="label", batch_size=10, chunksize=9, axis=1, drop_last=True))
    assert len(out) == 10
    assert out[0][0].shape == (2, 10) and out[0][1].shape == (1, 10)
    np.testing.assert_array_equal(np.hstack([x for x, _ in out]), df[["x1", "x2"]].to_numpy()[:100].T)


@pytest.mark.parametrize("buffer", [5, 40, 1000])
def test_shuffle_buffer_yields_every_row_once(table, buffer):
    df, path = table
    out = list(csv_batches(path, ["x1", "x2"], "label", batch_size=8, chunksize=11, shuffle_buffer=buffer,
                           seed=3))
    rows = np.column_stack([np.concatenate([x for x, _ in out]), np.concatenate([y for _, y in out])])
    expected = df.to_numpy(dtype=float)
    assert rows.shape == expected.shape
    order = np.lexsort(rows.T[::-1])
    np.testing.assert_array_equal(rows[order], expected[np.lexsort(expected.T[::-1])])
    assert not np.array_equal(rows, expected)  # actually shuffled
    again = list(csv_batches(path, ["x1", "x2"], "label", batch_size=8, chunksize=11, shuffle_buffer=buffer,
                             seed=3))
    np.testing.assert_array_equal(np.concatenate([x for x, _ in again]), np.concatenate([x for x, _ in out]))


def test_csv_batches_reads_standard_input(table, monkeypatch):
    df, path = table
    monkeypatch.setattr(sys, "stdin", io.StringIO(path.read_text()))
    out = list(csv_batches("-", ["x2"], batch_size=50, chunksize=30))
    assert [b.shape for b in out] == [(50, 1), (50, 1), (3, 1)]
    np.testing.assert_array_equal(np.concatenate(out)[:, 0], df["x2"].to_numpy())


class _CountingFile(io.RawIOBase):
    """A binary file that records how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._buf.readinto(b)
        self.bytes_read += n
        return n


def test_csv_batches_do_not_load_the_whole_file():
    n = 200_000
    data = ("a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(n))).encode()
    f = _CountingFile(data)
    it = csv_batches(io.BufferedReader(f), ["a"], "b", batch_size=32, chunksize=1000)
    x, y = next(it)
    np.testing.assert_array_equal(x[:, 0], np.arange(32))
    assert f.bytes_read < len(data) / 4


def test_an_ewa_consumes_csv_batches_like_the_whole_column(table):
    df, path = table
    smoother = EWA(0.9)
    pieces = [smoother.update(xb) for xb in csv_batches(path, ["x1", "x2"], batch_size=10, chunksize=13)]
    whole = np.column_stack([ewa(df["x1"].to_numpy(), 0.9), ewa(df["x2"].to_numpy(), 0.9)])
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_csv_errors(tmp_path, table):
    df, path = table
    with pytest.raises(ValueError, match="nope"):
        list(csv_batches(path, ["x1", "nope"]))
    text = tmp_path / "text.csv"
    pd.DataFrame({"x": [1.0, 2.0], "name": ["a", "b"]}).to_csv(text, index=False)
    with pytest.raises(TypeError, match="'name'"):
        list(csv_batches(text, ["x", "name"]))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        list(csv_batches(empty))
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    with pytest.raises(ValueError, match="no data rows"):
        list(csv_batches(header_only, target="b"))
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        csv_batches(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="batch_size"):
        csv_batches(path, batch_size=0)
    with pytest.raises(ValueError, match="axis"):
        csv_batches(path, axis=2)


@pytest.mark.parametrize("m", [0, 1, 2, 3, 255, 256, 257, 300, 450, 624, 625, 1024, 1300, 5000])
@pytest.mark.parametrize("seed", [0, 11, 10_011, 2**31, 2**32 - 1])
def test_compiled_permutation_at_mask_edges_and_regenerations(m, seed):
    # sizes at powers of two (the mask changes) and past 624 outputs (the
    # generator regenerates mid-shuffle, possibly several times)
    out = np.empty(m, dtype=np.int64)
    legacy_permutation(np.zeros(SCRATCH_SIZE, dtype=np.uint64), seed, out)
    np.testing.assert_array_equal(out, np.random.RandomState(seed).permutation(m))


def test_public_names_are_the_three_sources():
    # n_batches (exported, unused) is gone; the module offers the three batch sources
    import streamopt.pipeline as pipeline

    assert pipeline.__all__ == ["minibatches", "epochs", "csv_batches"]
    assert not hasattr(pipeline, "n_batches")
