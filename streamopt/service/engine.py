"""The service's state and its one writer: streams in memory, batches applied in order, group commits.

Design (see ``streamopt serve --help`` for the contract it gives):

- Each stream is one :class:`streamopt.EWMStream` in memory, a cache of the
  database (:mod:`streamopt.service.store`), which is rebuilt from it at start.
- Every change goes through one queue to one writer task, in arrival order.
  The writer takes every batch waiting and applies them in order, each
  stream's batches by one ``EWMStream.update`` (chunk-invariant: the same
  outputs as one update per batch; if it refuses the data, one update per
  batch finds the batch at fault, which gets its own 4xx and changes
  nothing, and the others apply), writes the touched keys' states, the
  producers' last seq and the applied batches in ONE transaction on the
  database thread (one fsync), and only then answers all of them: a 2xx
  answer means committed.  If the commit fails, the touched keys get back
  the state they had before the group, and every batch of it that was to
  apply (or be answered as a duplicate) gets 503.
- Readers run on the event loop, as the writer's apply does, so they never
  see part of a batch; they also wait while a group is applied but not yet
  committed, so a read never shows a batch that could still be lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .models import POINTS, LearnBatch, Model, Models
from .parse import ApiError, Batch, key_from_text
from .recent import Recent
from .store import GroupWrites, Store, StoreError, StreamRecord

__all__ = ["Engine"]

log = logging.getLogger("streamopt.service")

#: A group stops taking batches past this many observations (bounds the time to its commit).
GROUP_OBSERVATIONS = 1_000_000
#: The message of EWMStream's error for a time before its key's last time (answered with 422).
_TIME_ORDER = "times must be non-decreasing within each key"


class Entry:
    """One stream in memory: the EWMStream, its configuration, counters, producers and key order."""

    def __init__(self, name: str, config: dict[str, Any], stream: Any) -> None:
        self.name = name
        self.config = config  # canonical: EWMStream.config() and "times"
        self.stream = stream
        self.observations = 0
        self.batches = 0
        self.producers: dict[str, int] = {}
        self.order: list[Any] = []  # keys in order of first appearance (the stream's own order)
        self.pos: dict[Any, int] = {}
        self.recent = Recent()  # the last observations, for the dashboard (memory only)

    @property
    def times(self) -> bool:
        return bool(self.config["times"])

    def add_keys(self, keys: Any) -> None:
        for k in keys:
            if k not in self.pos:
                self.pos[k] = len(self.order)
                self.order.append(k)


def _new_stream(config: dict[str, Any]) -> Any:
    from ..ewmstream import EWMStream

    return EWMStream(**{k: v for k, v in config.items() if k != "times"})


def canonical_config(params: dict[str, Any], times: bool) -> dict[str, Any]:
    """The configuration as stored and compared: ``EWMStream(**params).config()`` plus ``times``."""
    try:
        stream = _new_stream(params)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc)) from None
    return {**stream.config(), "times": times}


def _dtype_json(dtype: np.dtype) -> list[Any]:
    return json.loads(json.dumps(dtype.descr))


@dataclass
class _Undo:
    """A stream's state before the group touched it: what a failed commit restores."""

    n_keys: int
    observations: int
    batches: int
    keys: list[Any] = field(default_factory=list)  # keys known before the group, as first touched
    rows: list[np.ndarray] = field(default_factory=list)  # their records from before the group
    saved: set[Any] = field(default_factory=set)
    touched: dict[Any, None] = field(default_factory=dict)  # every key the group changed, in order
    producers: dict[str, int | None] = field(default_factory=dict)  # touched producer -> its last seq before


@dataclass
class _Job:
    future: asyncio.Future[Any]


@dataclass
class _BatchJob(_Job):
    name: str
    batch: Batch
    results: bool
    answer: tuple[int, Any] | None = None
    lookup: int | None = None  # index into the group's lookups (a duplicate)
    out: Any = None  # (observations before it, its statistics): for the stream's recent window


@dataclass
class _LearnJob(_BatchJob):
    """One optimizer step of model ``name`` (``batch`` is a :class:`~streamopt.service.models.LearnBatch`)."""


@dataclass
class _ControlJob(_Job):
    kind: str  # "create" or "delete" (a stream), "create_model" or "delete_model"
    name: str
    config: dict[str, Any] | None = None


class Engine:
    """The streams, their database and the writer.

    Parameters
    ----------
    db : str
        The SQLite file (``":memory:"``: nothing survives the process).
    durability : {"full", "normal"}
        See :class:`streamopt.service.store.Store`.
    """

    def __init__(self, db: str, durability: str = "full") -> None:
        self.db = db
        self.durability = durability
        self.streams: dict[str, Entry] = {}
        self.models = Models()
        self.applied_observations = 0
        self.applied_batches = 0
        self.duplicates = 0
        self.commits = 0
        self._store: Store | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._queue: asyncio.Queue[_Job | None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._committed: asyncio.Event | None = None
        self._stopping = False

    @property
    def started(self) -> bool:
        return self._writer is not None

    # ------------------------------------------------------------ life
    async def start(self) -> None:
        """Open the database, load every stream, start the writer (a second call does nothing).

        Raises :class:`streamopt.service.store.StoreError` when the database
        cannot be used.
        """
        if self._writer is not None:
            return
        loop = asyncio.get_running_loop()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="streamopt-db")
        try:
            self._store = await loop.run_in_executor(self._thread, Store, self.db, self.durability)
            records = await loop.run_in_executor(self._thread, self._store.load)
            self.streams = {r.name: self._entry(r) for r in records}
            self.models.load(await loop.run_in_executor(self._thread, self._store.load_models, POINTS))
        except BaseException:
            if self._store is not None:
                await loop.run_in_executor(self._thread, self._store.close)
                self._store = None
            self._thread.shutdown()
            self._thread = None
            raise
        self._queue = asyncio.Queue()
        self._committed = asyncio.Event()
        self._committed.set()
        self._stopping = False
        self._writer = asyncio.create_task(self._run(), name="streamopt-writer")

    def _entry(self, record: StreamRecord) -> Entry:
        try:
            stream = _new_stream(record.config)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"stream {record.name!r} has a configuration this streamopt refuses: {exc}") from None
        if _dtype_json(stream.state_dtype) != record.state_dtype:
            raise StoreError(f"stream {record.name!r} was saved with per-key records {record.state_dtype}; this "
                             f"streamopt keeps {_dtype_json(stream.state_dtype)}")
        entry = Entry(record.name, record.config, stream)
        if record.keys:
            rows = np.frombuffer(record.states, dtype=stream.state_dtype)
            stream.set_key_states(record.keys, rows)
            entry.add_keys(record.keys)
        entry.observations, entry.batches = record.observations, record.batches
        entry.producers = dict(record.producers)
        return entry

    async def stop(self) -> None:
        """Finish the queued work, stop the writer, close the database (a second call does nothing)."""
        if self._writer is not None:
            assert self._queue is not None
            self._stopping = True  # what comes after the sentinel would never be answered: refuse it
            await self._queue.put(None)
            await self._writer
            self._writer = None
        if self._store is not None:
            assert self._thread is not None
            await asyncio.get_running_loop().run_in_executor(self._thread, self._store.close)
            self._store = None
        if self._thread is not None:
            self._thread.shutdown()
            self._thread = None

    def database_size(self) -> int:
        return self._store.size() if self._store is not None else 0

    # ------------------------------------------------------------ reads
    async def committed(self) -> None:
        """Wait until no group is applied but uncommitted (call before reading)."""
        assert self._committed is not None
        while not self._committed.is_set():
            await self._committed.wait()

    def entry(self, name: str) -> Entry:
        try:
            return self.streams[name]
        except KeyError:
            raise ApiError(404, f"no stream {name!r}") from None

    def info(self, name: str) -> dict[str, Any]:
        e = self.entry(name)
        return {"name": e.name, "config": e.config, "keys": len(e.order), "observations": e.observations,
                "batches": e.batches, "producers": len(e.producers)}

    def key_state(self, name: str, text: str) -> dict[str, Any]:
        e = self.entry(name)
        key = key_from_text(text, bool(e.order) and type(e.order[0]) is int)
        if key is None or key not in e.pos:
            raise ApiError(404, f"no key {text!r} in stream {name!r}")
        state = e.stream.get(key)
        time = state["time"]
        out: dict[str, Any] = {"key": key, "count": state["count"],
                               "time": None if time is None else pd.Timestamp(time).tz_localize("UTC").isoformat(),
                               "time_ns": None if time is None else int(pd.Timestamp(time).value)}
        for stat in ("mean", "var", "std"):
            if stat in e.config["stats"]:
                out[stat] = state[stat]
        return out

    def keys_page(self, name: str, after: str | None, limit: int) -> dict[str, Any]:
        e = self.entry(name)
        start = 0
        if after is not None:
            key = key_from_text(after, bool(e.order) and type(e.order[0]) is int)
            if key is None or key not in e.pos:
                raise ApiError(400, f"after: no key {after!r} in stream {name!r}")
            start = e.pos[key] + 1
        page = e.order[start:start + limit]
        more = start + limit < len(e.order)
        return {"keys": page, "next": page[-1] if more and page else None}

    # ------------------------------------------------------------ writes
    async def _submit(self, job: _Job) -> Any:
        if self._writer is None or self._stopping:
            raise ApiError(503, "the service is not running (starting or stopping)")
        assert self._queue is not None
        self._queue.put_nowait(job)
        return await job.future

    async def create(self, name: str, config: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(201, info) for a new stream, (200, info) for one with this configuration; 409 otherwise."""
        future = asyncio.get_running_loop().create_future()
        return await self._submit(_ControlJob(future, "create", name, config))

    async def delete(self, name: str) -> tuple[int, None]:
        future = asyncio.get_running_loop().create_future()
        return await self._submit(_ControlJob(future, "delete", name))

    async def post(self, name: str, batch: Batch, results: bool = True) -> tuple[int, dict[str, Any]]:
        """Apply ``batch`` to stream ``name`` once, durably: (200, answer) or an :class:`ApiError`."""
        future = asyncio.get_running_loop().create_future()
        return await self._submit(_BatchJob(future, name, batch, results))

    async def create_model(self, name: str, config: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(201, info) for a new model, (200, info) for one with this configuration; 409 otherwise."""
        future = asyncio.get_running_loop().create_future()
        return await self._submit(_ControlJob(future, "create_model", name, config))

    async def delete_model(self, name: str) -> tuple[int, None]:
        future = asyncio.get_running_loop().create_future()
        return await self._submit(_ControlJob(future, "delete_model", name))

    async def learn(self, name: str, batch: LearnBatch) -> tuple[int, dict[str, Any]]:
        """One optimizer step of model ``name`` on ``batch``, once, durably: (200, answer) or an ApiError."""
        future = asyncio.get_running_loop().create_future()
        return await self._submit(_LearnJob(future, name, batch, False))

    # ------------------------------------------------------------ the writer
    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            group = [job]
            size = len(job.batch) if isinstance(job, _BatchJob) else 0
            while size < GROUP_OBSERVATIONS and not self._queue.empty():
                job = self._queue.get_nowait()
                group.append(job)
                size += len(job.batch) if isinstance(job, _BatchJob) else 0
            run: list[_BatchJob] = []
            for job in group:
                if isinstance(job, _BatchJob):
                    run.append(job)
                    continue
                if run:
                    await self._group(run)
                    run = []
                if job is None:
                    return
                await self._control(job)
            if run:
                await self._group(run)
            await asyncio.sleep(0)  # let the readers woken by the commit read before the next group

    async def _in_db(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def _control(self, job: _ControlJob) -> None:
        try:
            if job.kind == "create":
                assert job.config is not None
                old = self.streams.get(job.name)
                if old is not None:
                    if old.config != job.config:
                        raise ApiError(409, f"stream {job.name!r} exists with another configuration "
                                            f"({json.dumps(old.config)}); delete it first to change it")
                    answer: tuple[int, Any] = (200, self.info(job.name))
                else:
                    stream = _new_stream(job.config)
                    await self._in_db(self._store.create_stream, job.name, job.config,
                                      _dtype_json(stream.state_dtype))
                    self.streams[job.name] = Entry(job.name, job.config, stream)
                    answer = (201, self.info(job.name))
            elif job.kind == "delete":
                self.entry(job.name)
                await self._in_db(self._store.delete_stream, job.name)
                del self.streams[job.name]
                answer = (204, None)
            else:
                answer = await self._model_control(job)
        except ApiError as exc:
            _resolve(job.future, exc)
        except Exception as exc:  # the database failed: nothing changed in memory
            log.exception("%s of stream %r failed", job.kind, job.name)
            _resolve(job.future, ApiError(503, f"the database failed ({exc}); nothing changed, retry"))
        else:
            _resolve(job.future, answer)

    async def _model_control(self, job: _ControlJob) -> tuple[int, Any]:
        models = self.models.models
        if job.kind == "delete_model":
            self.models.get(job.name)
            await self._in_db(self._store.delete_model, job.name)
            del models[job.name]
            return 204, None
        assert job.config is not None
        old = models.get(job.name)
        if old is not None:
            if old.config != job.config:
                raise ApiError(409, f"model {job.name!r} exists with another configuration "
                                    f"({json.dumps(old.config)}); delete it first to change it")
            return 200, old.info(points=False)
        model = Model.new(job.name, job.config)
        await self._in_db(self._store.create_model, job.name, json.dumps(job.config), json.dumps(model.saved))
        models[job.name] = model
        return 201, model.info(points=False)

    async def _group(self, jobs: list[_BatchJob]) -> None:
        """Apply ``jobs`` in order, commit them in one transaction, then answer each."""
        assert self._committed is not None
        self._committed.clear()
        undo: dict[Entry, _Undo] = {}
        model_undo: dict[Model, Any] = {}
        writes = GroupWrites()
        try:
            try:
                learn = [job for job in jobs if isinstance(job, _LearnJob)]
                self._apply_all([job for job in jobs if not isinstance(job, _LearnJob)], undo, writes)
                for job in learn:  # one model's steps in arrival order
                    try:
                        status, body, job.lookup = self.models.learn(job.name, job.batch, model_undo, writes)
                        job.answer = (status, body)
                    except ApiError as exc:
                        job.answer = (exc.status, exc)
                self._write_rows(undo, writes)
                self.models.write(model_undo, writes)
                found = await self._in_db(self._store.commit, writes) \
                    if undo or writes.lookups or model_undo or writes.model_lookups else []
            except Exception as exc:
                log.exception("a group of %d batches failed to commit", len(jobs))
                self._rollback(undo)
                self.models.rollback(model_undo)
                failure = ApiError(503, f"the database failed ({exc}); the batch was not applied, retry it")
                for job in jobs:
                    if job.answer is None or job.answer[0] < 300:
                        job.answer = (503, failure)
            else:
                self.commits += 1
                self.models.committed(model_undo, len(writes.model_steps))
                for job in jobs:
                    status, body = job.answer
                    if isinstance(job, _LearnJob):
                        if job.lookup is not None:
                            body["step"] = found[len(writes.lookups) + job.lookup]
                            self.models.duplicates += 1
                        continue
                    if job.lookup is not None:
                        body["batch"] = found[job.lookup]
                        self.duplicates += 1
                    elif status == 200:
                        self.applied_batches += 1
                        self.applied_observations += body["applied"]
                        self.streams[job.name].recent.add(job.batch, *job.out)
        finally:
            self._committed.set()
        for job in jobs:
            status, body = job.answer
            _resolve(job.future, body if isinstance(body, ApiError) else (status, body))

    def _apply_all(self, jobs: list[_BatchJob], undo: dict[Entry, _Undo], writes: GroupWrites) -> None:
        """Apply each stream's batches of the group: all in one update, or one by one if that one fails."""
        runs: dict[str, list[_BatchJob]] = {}
        for job in jobs:
            runs.setdefault(job.name, []).append(job)
        for name, run in runs.items():
            e = self.streams.get(name)
            if e is None:
                for job in run:
                    job.answer = (404, ApiError(404, f"no stream {name!r}"))
                continue
            try:
                self._apply_run(e, run, undo, writes)
            except ApiError as exc:
                if len(run) == 1:
                    run[0].answer = (exc.status, exc)
                    continue
                for job in run:  # find the batches at fault; the others still apply, in order
                    try:
                        self._apply_run(e, [job], undo, writes)
                    except ApiError as exc:
                        job.answer = (exc.status, exc)

    def _apply_run(self, e: Entry, jobs: list[_BatchJob], undo: dict[Entry, _Undo], writes: GroupWrites) -> None:
        """Apply ``jobs`` (batches of stream ``e``, in order) as ONE update and set their answers.

        The outputs are those of one update per batch, bit for bit (EWMStream
        is chunk-invariant), at the cost of one.  Raises :class:`ApiError`
        when that update refuses the data; then nothing changed.
        """
        pending: dict[str, int] = {}  # the producers' last seq, counting the batches before in the run
        accepted: list[_BatchJob] = []
        duplicates: list[_BatchJob] = []
        refused: list[tuple[_BatchJob, ApiError]] = []
        for job in jobs:
            b = job.batch
            if b.producer is not None and b.seq <= pending.get(b.producer, e.producers.get(b.producer, -1)):
                duplicates.append(job)
            elif e.times and b.times is None:
                refused.append((job, ApiError(400, f"times: required (stream {e.name!r} has a time-span halflife)")))
            elif not e.times and b.times is not None:
                refused.append((job, ApiError(400, f"times: stream {e.name!r} takes no times (its decay is not a "
                                                   "time-span halflife)")))
            else:
                if b.producer is not None:
                    pending[b.producer] = b.seq
                accepted.append(job)
        if accepted:
            self._update(e, accepted, undo, writes)
            u = undo[e]
            for p, seq in pending.items():
                u.producers.setdefault(p, e.producers.get(p))
                e.producers[p] = seq
        for job, exc in refused:
            job.answer = (exc.status, exc)
        for job in duplicates:
            job.lookup = len(writes.lookups)
            writes.lookups.append((e.name, job.batch.producer, job.batch.seq))
            job.answer = (200, {"applied": 0, "duplicate": True, "batch": None})

    def _update(self, e: Entry, jobs: list[_BatchJob], undo: dict[Entry, _Undo], writes: GroupWrites) -> None:
        """The one ``EWMStream.update`` of ``jobs``' batches; each job's answer gets its slice of the outputs."""
        batches = [job.batch for job in jobs]
        if len(batches) == 1:
            keys, values, times = batches[0].keys, batches[0].values, batches[0].times
        else:
            keys = np.concatenate([b.keys for b in batches])
            values = np.concatenate([b.values for b in batches])
            times = None if e.times is False else np.concatenate([b.times for b in batches])
        u = undo.get(e)
        if u is None:
            u = undo[e] = _Undo(len(e.order), e.observations, e.batches)
        uniq = pd.unique(keys).tolist()
        unsaved = [k for k in uniq if k in e.pos and k not in u.saved]
        if unsaved:
            u.rows.append(e.stream.key_states(unsaved))
            u.keys.extend(unsaved)
            u.saved.update(unsaved)
        try:
            out = e.stream.update(values, keys=keys, times=times)
        except ValueError as exc:
            if str(exc).startswith(_TIME_ORDER):
                raise ApiError(422, f"{exc}; nothing was applied") from None
            raise ApiError(400, f"{exc}; nothing was applied") from None
        except TypeError as exc:
            raise ApiError(400, f"keys: {exc}; nothing was applied") from None
        e.add_keys(uniq)
        u.touched.update(dict.fromkeys(uniq))
        start = 0
        for job, b in zip(jobs, batches):
            n = len(b)
            job.out = (e.observations, {s: a[start:start + n] for s, a in out.items()})
            e.batches += 1
            e.observations += n
            writes.batches.append((e.name, e.batches, b.producer, b.seq, n))
            body: dict[str, Any] = {"applied": n, "duplicate": False, "batch": e.batches}
            if job.results:
                body["results"] = {s: a[start:start + n] for s, a in out.items()}
            job.answer = (200, body)
            start += n

    @staticmethod
    def _write_rows(undo: dict[Entry, _Undo], writes: GroupWrites) -> None:
        for e, u in undo.items():
            if u.touched:
                touched = list(u.touched)
                rows = e.stream.key_states(touched)
                raw, size = rows.tobytes(), rows.dtype.itemsize
                writes.keys.extend((e.name, k, e.pos[k], raw[i * size:(i + 1) * size]) for i, k in enumerate(touched))
            writes.producers.extend((e.name, p, e.producers[p]) for p in u.producers)
            writes.streams.append((e.observations, e.batches, e.name))

    @staticmethod
    def _rollback(undo: dict[Entry, _Undo]) -> None:
        """Give every stream the group touched its state from before the group."""
        for e, u in undo.items():
            if len(e.order) > u.n_keys:  # keys the group added: a stream without them
                fresh = _new_stream(e.config)
                old = e.order[:u.n_keys]
                if old:
                    fresh.set_key_states(old, e.stream.key_states(old))
                for k in e.order[u.n_keys:]:
                    del e.pos[k]
                del e.order[u.n_keys:]
                e.stream = fresh
            if u.keys:
                e.stream.set_key_states(u.keys, np.concatenate(u.rows))
            e.observations, e.batches = u.observations, u.batches
            for p, seq in u.producers.items():
                if seq is None:
                    del e.producers[p]
                else:
                    e.producers[p] = seq


def _resolve(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():  # the request went away
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
