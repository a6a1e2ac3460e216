"""``streamopt send``: stream a CSV file into the statistics service, resumable after a kill.

The command line face of :class:`streamopt.client.Client`: the CSV is read a
batch of ``--batch`` rows at a time (bounded memory, a stream that never ends
is fine), each batch sent as one request and acknowledged before the next is
read.  ``DESCRIPTION`` and ``EPILOG`` below are the ``--help`` text: they
state the resume rule and the exit status.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from itertools import islice
from typing import Any

from . import CLIError, emit, positive_int

DESCRIPTION = """\
Send the rows of a CSV file or stream to a streamopt service's stream.

Reads CSV from FILE (or standard input: '-' or no FILE) with a header line,
--batch rows at a time, and sends each batch (the key, value and, for a
stream with times, time of each row) as one request to STREAM at URL (as
`streamopt serve` prints it); the next batch is read once the service has
acknowledged it (a 2xx answer: the batch is durable).  The stream must
exist (create it with the client or curl: see the README's Service section).

Values are numbers as pandas reads them; empty fields, NA, NaN, null, ... and
+-inf are missing values (they age the key's statistics).  Times are integer
nanoseconds since the epoch or ISO-8601 ('2024-05-01T12:00:00Z'; without an
offset: UTC).  Keys are text, one to 256 bytes.
"""

EPILOG = """\
exactly once, resuming:
  Batch i of the input (i = 1, 2, ...; every batch has --batch rows but the
  last) is sent with sequence number i under one producer id, and the
  service applies a producer's batch only if its number is above the last
  one it applied.  So running the same command again on the same input
  after a kill (or a lost connection) resends the batches already applied,
  which the service answers as duplicates without applying them, and
  applies the rest: every row is counted once.  Each batch is retried (the
  same producer and number) on connection errors, timeouts and 5xx answers,
  with exponential backoff; --retries bounds the attempts.
  The producer id is --producer P, or by default a fingerprint of the input's
  header and first batch (its bytes), of the three columns and of --batch: the
  same input and options give the same id, another input another one.  Keep
  --batch the same to resume.  An input that grew since the earlier run:
  its rows that fall in that run's last (short) batch are skipped too; send
  what was appended as a new input (or with a new --producer).

exit status:
  0 every batch acknowledged (the summary line on standard output says how
  many rows were applied and how many were duplicates);
  2 bad arguments, bad input, a batch the service refused (4xx) or no answer
  after every retry: one line on standard error naming the flag, or the
  row (counted from 1 after the header, with its line number) and the
  column, or the service's message.  The batches before are acknowledged:
  fix the input and run the command again to send the rest.

examples:
  streamopt send http://127.0.0.1:8000 temps readings.csv --key-column city \\
      --value-column temp --time-column time --token "$STREAMOPT_TOKEN"
  sensor | streamopt send http://127.0.0.1:8000 temps --key-column city --value-column temp \\
      --time-column time --batch 100 --producer sensor-7
"""

#: The longest key the service accepts, in UTF-8 bytes.
MAX_KEY_BYTES = 256

_INTEGER = re.compile(r"[+-]?[0-9]+")
#: Where a service message names a position in the batch: "keys[12]", "index 12", "position 12".
_INDEX = re.compile(r"\[(\d+)\]|\b(?:index|position) (\d+)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``send``."""
    p = sub.add_parser(
        "send",
        help="stream a CSV file into a streamopt service (resumable, exactly once)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("url", metavar="URL", help="the service, e.g. http://127.0.0.1:8000")
    p.add_argument("stream", metavar="STREAM", help="the stream to send to (it must exist)")
    p.add_argument("file", nargs="?", default="-", metavar="FILE",
                   help="CSV file with a header line; '-' or nothing: standard input")
    p.add_argument("--key-column", required=True, metavar="K", help="the column holding each row's key")
    p.add_argument("--value-column", required=True, metavar="V", help="the column holding each row's value")
    p.add_argument("--time-column", metavar="T",
                   help="the column holding each row's time (for a stream with times)")
    p.add_argument("--batch", type=positive_int, default=10_000, metavar="N",
                   help="rows per request (default: %(default)s); keep it the same to resume")
    p.add_argument("--token", metavar="TOKEN",
                   help="the service's token (default: the environment variable STREAMOPT_TOKEN)")
    p.add_argument("--producer", metavar="P",
                   help="the producer id (default: a fingerprint of the input's first batch and the options)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for each answer (default: %(default)s)")
    p.add_argument("--retries", type=int, default=10, metavar="N",
                   help="attempts after the first one, per batch (default: %(default)s)")
    p.set_defaults(func=run)


def _column(header: list[str], column: str, flag: str, name: str) -> int:
    """The position of ``column`` in ``header``: it must be there exactly once."""
    positions = [i for i, h in enumerate(header) if h == column]
    if len(positions) == 1:
        return positions[0]
    if not positions:
        shown = ", ".join(repr(h) for h in header[:20]) + (", ..." if len(header) > 20 else "")
        raise CLIError(f"{flag} {column}: {name} has no such column (columns: {shown})")
    raise CLIError(f"{flag} {column}: {name} has {len(positions)} columns of that name (positions "
                   f"{', '.join(str(i + 1) for i in positions)})")


def _times(texts: list[str], records: list[Any], first_row: int, flag: str, name: str) -> list[int]:
    """The time fields of a batch as integer nanoseconds since the epoch (ISO-8601 without offset: UTC)."""
    import pandas as pd

    out: list[int | None] = [None] * len(texts)
    iso: list[int] = []
    for i, text in enumerate(texts):
        text = text.strip()
        if _INTEGER.fullmatch(text):
            out[i] = int(text)
        else:
            iso.append(i)
    if iso:
        try:
            ns = pd.to_datetime([texts[i].strip() for i in iso], format="ISO8601", utc=True).as_unit("ns").asi8
        except (ValueError, OverflowError, TypeError):
            for i in iso:  # find the first bad one, to name it
                try:
                    pd.to_datetime([texts[i].strip()], format="ISO8601", utc=True)
                except (ValueError, OverflowError, TypeError):
                    raise CLIError(f"{name}: line {records[i].line} (row {first_row + i}): {flag} has "
                                   f"{texts[i][:80]!r}, not a time (ISO-8601 or integer nanoseconds)") from None
            raise
        for i, t in zip(iso, ns.tolist()):
            out[i] = t
    return out  # type: ignore[return-value]


def _batch(records: list[Any], columns: dict[str, int], n_fields: int, first_row: int, args: argparse.Namespace,
           name: str) -> tuple[list[str], list[float], list[int] | None]:
    """(keys, values, times or None) of a batch; :class:`CLIError` names the row, its line and the flag."""
    from .smooth import parse_value

    keys, values = [], []
    k, v = columns["--key-column"], columns["--value-column"]
    for row, record in enumerate(records, start=first_row):
        fields = record.fields
        if len(fields) != n_fields:
            raise CLIError(f"{name}: line {record.line} (row {row}) has {len(fields)} "
                           f"field{'s' * (len(fields) != 1)}, the header has {n_fields}")
        key = fields[k]
        if not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise CLIError(f"{name}: line {record.line} (row {row}): --key-column {args.key_column} has "
                           f"{key[:80]!r}: a key is 1 to {MAX_KEY_BYTES} bytes")
        try:
            values.append(parse_value(fields[v]))
        except ValueError as exc:
            what = "not a number" if str(exc) == "not a number" else "out of the float64 range"
            raise CLIError(f"{name}: line {record.line} (row {row}): --value-column {args.value_column} has "
                           f"{fields[v][:80]!r}, {what}") from None
        keys.append(key)
    if "--time-column" not in columns:
        return keys, values, None
    t = columns["--time-column"]
    return keys, values, _times([r.fields[t] for r in records], records, first_row,
                                f"--time-column {args.time_column}", name)


def default_producer(header: str, first_batch: list[Any], args: argparse.Namespace) -> str:
    """The producer id of an input: a fingerprint of its header, first batch and the options that cut it.

    >>> ns = argparse.Namespace(key_column="k", value_column="v", time_column=None, batch=2)
    >>> a = default_producer("k,v", [], ns)
    >>> a.startswith("send-"), len(a), a == default_producer("k,v", [], ns)
    (True, 37, True)
    >>> a == default_producer("k,v", [], argparse.Namespace(**{**vars(ns), "batch": 3}))
    False
    """
    h = hashlib.sha256()
    for part in (header, args.key_column, args.value_column, args.time_column or "", str(args.batch)):
        h.update(part.encode("utf-8") + b"\0")
    for record in first_batch:
        h.update(record.text.encode("utf-8") + b"\n")
    return "send-" + h.hexdigest()[:32]


def _refused(exc: Any, records: list[Any], first_row: int, seq: int, name: str,
             args: argparse.Namespace) -> CLIError:
    """A batch the service refused, as one line naming the flag, or the row when the message names an index."""
    if exc.status == 401:
        return CLIError(f"--token: the service refused it ({exc.status}): {exc.message}")
    if exc.status == 404:
        return CLIError(f"STREAM {args.stream!r}: the service refused it ({exc.status}): {exc.message}")
    if exc.status == 413:
        return CLIError(f"--batch {args.batch}: the service refused batch {seq} as too big ({exc.status}): "
                        f"{exc.message}; use a smaller --batch")
    where = f"rows {first_row}-{first_row + len(records) - 1} (batch {seq})"
    m = _INDEX.search(exc.message)
    if m is not None:
        i = int(m.group(1) or m.group(2))
        if i < len(records):
            where = f"line {records[i].line} (row {first_row + i})"
    return CLIError(f"{name}: {where}: the service refused it ({exc.status}): {exc.message}")


def run(args: argparse.Namespace) -> int:
    """Send the input batch by batch; returns 0 when every batch is acknowledged."""
    import csv

    from ..client import Client, ServiceError, ServiceUnavailable
    from .smooth import MAX_RECORD_BYTES, _open_input, _Records

    token = args.token if args.token is not None else os.environ.get("STREAMOPT_TOKEN") or None
    if args.retries < 0:
        raise CLIError(f"--retries {args.retries}: must be 0 or more")
    if not args.timeout > 0:
        raise CLIError(f"--timeout {args.timeout}: must be a positive number of seconds")
    if args.producer is not None and not args.producer:
        raise CLIError("--producer: must not be empty")
    try:
        client = Client(args.url, token, timeout=args.timeout, retries=args.retries, producer=args.producer or None)
    except ValueError as exc:
        raise CLIError(f"URL {args.url!r}: {exc}") from None
    csv.field_size_limit(MAX_RECORD_BYTES)
    stream, name = _open_input(args.file)
    try:
        records = _Records(stream, name)
        first = records.next()
        if first is None:
            raise CLIError(f"{name}: the input is empty (a CSV header line is expected)")
        header = first.fields
        flags = {"--key-column": args.key_column, "--value-column": args.value_column,
                 "--time-column": args.time_column}
        columns = {flag: _column(header, col, flag, name) for flag, col in flags.items() if col is not None}
        rows = applied = duplicates = 0
        seq = 0
        batch = list(islice(iter(records.next, None), args.batch))
        if args.producer is None:
            client.producer = default_producer(first.text, batch, args)
        while batch:
            seq += 1
            keys, values, times = _batch(batch, columns, len(header), rows + 1, args, name)
            try:
                ack = client.send(args.stream, keys, values, times, results=False, seq=seq)
            except ServiceError as exc:
                raise _refused(exc, batch, rows + 1, seq, name, args) from None
            except ServiceUnavailable as exc:
                raise CLIError(f"{args.url}: {exc}; run the same command again to resume") from None
            rows += len(batch)
            applied += ack.applied
            duplicates += len(batch) if ack.duplicate else 0
            batch = list(islice(iter(records.next, None), args.batch))
        emit(f"sent {rows} rows in {seq} batches to {args.stream}: {applied} applied, {duplicates} already "
             f"applied before (producer {client.producer})\n")
        return 0
    finally:
        client.close()
        if args.file != "-":
            stream.close()
