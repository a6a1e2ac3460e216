"""The service's SQLite database: schema, loading at start, one transaction per group of batches.

Every method runs on the one thread that owns the connection (the engine's
database thread).  SQL is parameterised only.  Tables:

- ``streams`` (name, config JSON, state_dtype JSON, observations, batches);
- ``keys`` (stream, key, pos, state): ``state`` is the key's
  :meth:`streamopt.EWMStream.key_states` record bytes, ``pos`` its order of
  first appearance;
- ``producers`` (stream, producer, last_seq): the exactly-once bookkeeping;
- ``batches`` (stream, batch, producer, seq, n): the applied order;
- ``models`` (name, config JSON, step, state JSON), ``model_producers``
  (model, producer, last_seq) and ``model_steps`` (model, step, producer,
  seq, n, loss, accuracy, loss_ewa, accuracy_ewa): the models of
  :mod:`streamopt.service.models`, their exactly-once bookkeeping and their
  applied order.

The database is the source of truth; the engine's memory is a cache rebuilt
from it at start.  The connection holds an exclusive lock, so two servers
never share a database (the second one is refused at start).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Store", "StoreError", "StreamRecord", "GroupWrites"]

#: The schema version this code writes; a database of a newer version is refused.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS streams (
    name TEXT PRIMARY KEY, config TEXT NOT NULL, state_dtype TEXT NOT NULL,
    observations INTEGER NOT NULL, batches INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keys (
    stream TEXT NOT NULL, key NOT NULL, pos INTEGER NOT NULL, state BLOB NOT NULL,
    PRIMARY KEY (stream, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS producers (
    stream TEXT NOT NULL, producer TEXT NOT NULL, last_seq INTEGER NOT NULL,
    PRIMARY KEY (stream, producer)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    stream TEXT NOT NULL, batch INTEGER NOT NULL, producer TEXT, seq INTEGER, n INTEGER NOT NULL,
    PRIMARY KEY (stream, batch)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batches_by_seq ON batches (stream, producer, seq);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, config TEXT NOT NULL, step INTEGER NOT NULL, state TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS model_producers (
    model TEXT NOT NULL, producer TEXT NOT NULL, last_seq INTEGER NOT NULL,
    PRIMARY KEY (model, producer)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS model_steps (
    model TEXT NOT NULL, step INTEGER NOT NULL, producer TEXT, seq INTEGER, n INTEGER NOT NULL,
    loss REAL NOT NULL, accuracy REAL NOT NULL, loss_ewa REAL NOT NULL, accuracy_ewa REAL NOT NULL,
    PRIMARY KEY (model, step)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS model_steps_by_seq ON model_steps (model, producer, seq);
"""

DURABILITY = {"full": "FULL", "normal": "NORMAL"}


class StoreError(Exception):
    """The database cannot be opened or read (corrupt, locked by another server, written by a newer version)."""


@dataclass
class StreamRecord:
    """One stream as stored: what the engine needs to rebuild it."""

    name: str
    config: dict[str, Any]
    state_dtype: list[Any]
    observations: int
    batches: int
    keys: list[Any] = field(default_factory=list)
    states: bytes = b""
    producers: dict[str, int] = field(default_factory=dict)


@dataclass
class GroupWrites:
    """What one group commit writes: rows for ``executemany``, and the duplicates whose batch to look up."""

    keys: list[tuple[str, Any, int, bytes]] = field(default_factory=list)
    producers: list[tuple[str, str, int]] = field(default_factory=list)
    batches: list[tuple[str, int, str | None, int | None, int]] = field(default_factory=list)
    streams: list[tuple[int, int, str]] = field(default_factory=list)
    lookups: list[tuple[str, str, int]] = field(default_factory=list)
    models: list[tuple[int, str, str]] = field(default_factory=list)  # (step, state, name)
    model_producers: list[tuple[str, str, int]] = field(default_factory=list)
    model_steps: list[tuple[Any, ...]] = field(default_factory=list)
    model_lookups: list[tuple[str, str, int]] = field(default_factory=list)


class Store:
    """The SQLite database at ``path`` (``":memory:"`` for one without a file).

    Parameters
    ----------
    path : str
        The database file, created if missing.
    durability : {"full", "normal"}
        ``PRAGMA synchronous``: "full" fsyncs every commit (an acknowledged
        batch survives a power loss), "normal" survives a killed process but
        may lose the last commits on a power loss.
    """

    def __init__(self, path: str, durability: str = "full") -> None:
        if durability not in DURABILITY:
            raise ValueError(f"durability must be one of {sorted(DURABILITY)}, got {durability!r}")
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from None
        try:
            self._setup(durability)
        except sqlite3.Error as exc:
            self._db.close()
            reason = str(exc)
            if "locked" in reason or "busy" in reason:
                reason += " (another streamopt serve uses it?)"
            raise StoreError(f"cannot use database {path}: {reason}") from None

    def _setup(self, durability: str) -> None:
        db = self._db
        db.execute("PRAGMA busy_timeout = 0")
        if self.path != ":memory:":
            db.execute("PRAGMA locking_mode = EXCLUSIVE")  # one server per database: its memory is the cache
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL mode (journal_mode is {mode})")
        db.execute(f"PRAGMA synchronous = {DURABILITY[durability]}")
        db.executescript(_SCHEMA)
        db.execute("BEGIN IMMEDIATE")  # takes the exclusive lock now, not at the first batch
        try:
            row = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta (name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif not row[0].isdigit() or int(row[0]) > SCHEMA_VERSION:
                raise StoreError(f"database {self.path} has schema version {row[0]!r}; this streamopt reads "
                                 f"versions up to {SCHEMA_VERSION} (written by a newer streamopt?)")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ reading
    def load(self) -> list[StreamRecord]:
        """Every stream with its keys (in order of first appearance), states and producers."""
        try:
            return self._load()
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"cannot read database {self.path}: {exc}") from None

    def _load(self) -> list[StreamRecord]:
        db = self._db
        out = {}
        for name, config, dtype, observations, batches in db.execute(
                "SELECT name, config, state_dtype, observations, batches FROM streams ORDER BY name"):
            out[name] = StreamRecord(name, json.loads(config), json.loads(dtype), observations, batches)
        for name, record in out.items():
            rows = db.execute("SELECT key, state FROM keys WHERE stream = ? ORDER BY pos", (name,)).fetchall()
            record.keys = [key for key, _ in rows]
            record.states = b"".join(state for _, state in rows)
            record.producers = dict(db.execute(
                "SELECT producer, last_seq FROM producers WHERE stream = ?", (name,)).fetchall())
        return list(out.values())

    def size(self) -> int:
        """Bytes on disk: the database file and its write-ahead log (0 in memory)."""
        if self.path == ":memory:":
            return 0
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.stat(self.path + suffix).st_size
            except OSError:
                pass
        return total

    # ------------------------------------------------------------ writing
    def _transaction(self, work: Any) -> Any:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return result

    def create_stream(self, name: str, config: dict[str, Any], state_dtype: Sequence[Any]) -> None:
        """Add the stream ``name`` (no keys, no producers)."""
        self._transaction(lambda db: db.execute(
            "INSERT INTO streams (name, config, state_dtype, observations, batches) VALUES (?, ?, ?, 0, 0)",
            (name, json.dumps(config), json.dumps(list(state_dtype)))))

    def delete_stream(self, name: str) -> None:
        """Remove the stream ``name`` and everything it holds."""
        def work(db: sqlite3.Connection) -> None:
            for table in ("keys", "producers", "batches"):
                db.execute(f"DELETE FROM {table} WHERE stream = ?", (name,))  # table names are constants
            db.execute("DELETE FROM streams WHERE name = ?", (name,))
        self._transaction(work)

    def commit(self, writes: GroupWrites) -> list[int | None]:
        """Write one group in one transaction; returns the batch number of each of ``writes.lookups``,
        then the step of each of ``writes.model_lookups``."""
        def work(db: sqlite3.Connection) -> list[int | None]:
            db.executemany("INSERT INTO keys (stream, key, pos, state) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (stream, key) DO UPDATE SET state = excluded.state", writes.keys)
            db.executemany("INSERT INTO producers (stream, producer, last_seq) VALUES (?, ?, ?) "
                           "ON CONFLICT (stream, producer) DO UPDATE SET last_seq = excluded.last_seq",
                           writes.producers)
            db.executemany("INSERT INTO batches (stream, batch, producer, seq, n) VALUES (?, ?, ?, ?, ?)",
                           writes.batches)
            db.executemany("UPDATE streams SET observations = ?, batches = ? WHERE name = ?", writes.streams)
            if writes.models or writes.model_lookups:
                self._write_models(db, writes)
            return [_first(db.execute("SELECT batch FROM batches WHERE stream = ? AND producer = ? AND seq = ?",
                                      lookup)) for lookup in writes.lookups] + \
                [_first(db.execute("SELECT step FROM model_steps WHERE model = ? AND producer = ? AND seq = ?",
                                   lookup)) for lookup in writes.model_lookups]
        return self._transaction(work)

    def batches(self, name: str) -> list[tuple[int, str | None, int | None, int]]:
        """The applied batches of ``name`` in order: (batch, producer, seq, n)."""
        return self._db.execute("SELECT batch, producer, seq, n FROM batches WHERE stream = ? ORDER BY batch",
                                (name,)).fetchall()

    def close(self) -> None:
        """Close the connection (a WAL checkpoint runs, the lock is released)."""
        self._db.close()

    # ------------------------------------------------------------ models
    @staticmethod
    def _write_models(db: sqlite3.Connection, writes: GroupWrites) -> None:
        db.executemany("INSERT INTO model_steps (model, step, producer, seq, n, loss, accuracy, loss_ewa, "
                       "accuracy_ewa) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", writes.model_steps)
        db.executemany("INSERT INTO model_producers (model, producer, last_seq) VALUES (?, ?, ?) "
                       "ON CONFLICT (model, producer) DO UPDATE SET last_seq = excluded.last_seq",
                       writes.model_producers)
        db.executemany("UPDATE models SET step = ?, state = ? WHERE name = ?", writes.models)

    def load_models(self, points: int) -> list[tuple[str, str, int, str, dict[str, int], list[tuple]]]:
        """Every model: (name, config, step, state, producers, its last ``points`` steps' points)."""
        try:
            db = self._db
            out = []
            for name, config, step, state in db.execute("SELECT name, config, step, state FROM models ORDER BY name"):
                producers = dict(db.execute("SELECT producer, last_seq FROM model_producers WHERE model = ?",
                                            (name,)).fetchall())
                rows = db.execute("SELECT step, loss, accuracy, loss_ewa, accuracy_ewa FROM model_steps "
                                  "WHERE model = ? ORDER BY step DESC LIMIT ?", (name, points)).fetchall()
                out.append((name, config, step, state, producers, rows[::-1]))
            return out
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read database {self.path}: {exc}") from None

    def create_model(self, name: str, config: str, state: str) -> None:
        """Add the model ``name`` (step 0, no producers)."""
        self._transaction(lambda db: db.execute(
            "INSERT INTO models (name, config, step, state) VALUES (?, ?, 0, ?)", (name, config, state)))

    def delete_model(self, name: str) -> None:
        """Remove the model ``name``, its producers and its steps."""
        def work(db: sqlite3.Connection) -> None:
            for table in ("model_producers", "model_steps"):
                db.execute(f"DELETE FROM {table} WHERE model = ?", (name,))  # table names are constants
            db.execute("DELETE FROM models WHERE name = ?", (name,))
        self._transaction(work)

    def model_steps(self, name: str) -> list[tuple[int, str | None, int | None, int]]:
        """The applied steps of model ``name`` in order: (step, producer, seq, n)."""
        return self._db.execute("SELECT step, producer, seq, n FROM model_steps WHERE model = ? ORDER BY step",
                                (name,)).fetchall()


def _first(cursor: Iterable[tuple[Any, ...]]) -> Any:
    for row in cursor:
        return row[0]
    return None
