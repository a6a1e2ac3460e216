"""``streamopt smooth``: add an exponentially weighted average column to a CSV stream.

The command line face of :class:`streamopt.EWA`: CSV records are read a chunk
at a time with the :mod:`csv` module (one line at a time, so a slow producer
is served as soon as a chunk is complete), the column is smoothed by the
streaming EWA (bit-identical to :func:`streamopt.ewa` on the whole column,
whatever the chunking), and each record is written back as its own bytes plus
the new field.  ``DESCRIPTION`` and ``EPILOG`` below are the ``--help`` text:
they state the output format, the resume and kill semantics and the exit
status.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from contextlib import suppress
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Iterator, NamedTuple

from . import CLIError, emit, positive_int

#: The longest record (a line, or the lines of a quoted field with line breaks) smooth reads, in bytes:
#: the bound on the memory a line without an end can take.
MAX_RECORD_BYTES = 64 * 2**20

DESCRIPTION = """\
Add an exponentially weighted average column to a CSV file or stream.

Reads CSV from FILE (or standard input: '-' or no FILE) in chunks of
--chunksize rows and writes it to standard output with one more column,
C_ewa: the EWA of column C, V_t = beta*V_{t-1} + (1-beta)*x_t with V_0 = 0
(divided by 1 - beta^t with --bias-correction).  Each chunk is written and
flushed before the next one is read, so it works on a stream that never
ends (use a small --chunksize for low latency).  The other columns are
copied as the input's bytes, unchanged (quoting and line breaks inside
quotes included); each record keeps its line ending (LF or CRLF).  The new
values are written in the shortest form that reads back to the same float64,
whatever the chunk size.

Values are ASCII numbers as pandas reads them (1, -2.5, .5, 1e-3, inf,
-Infinity); +-inf is a missing value, as in streamopt.ewa and pandas.  Empty
fields and pandas' missing-value markers (NA, NaN, null, ...) are missing
values; a missing smoothed value is written as an empty field.  Blank lines
are skipped.  Line endings are LF or CRLF (a file with CR-only line endings
is refused: convert it first, e.g. with tr '\\r' '\\n').  A record may be at
most 64 MiB long.
"""

EPILOG = """\
decay (exactly one):
  --beta B        V_t = B*V_{t-1} + (1-B)*x_t, B in [0, 1)
  --alpha A       A = 1 - beta, in (0, 1]
  --span S        alpha = 2/(S+1), S >= 1          (pandas' ewm conventions)
  --com COM       alpha = 1/(1+COM), COM >= 0
  --halflife H    alpha = 1 - exp(-ln(2)/H), H > 0

resuming (--state PATH):
  The state (EWA value, observation count, rows done, parameters) is loaded
  from PATH if the file exists, and saved after every chunk, once that chunk's
  output has been flushed, atomically (temporary file in the same folder,
  fsync, rename): the file is always complete and never corrupt (a run
  removes the temporary files a killed run left there).  A run that
  starts from an existing state file writes no header line, so its output
  appended (>>) to the earlier run's output is one valid CSV, identical to a
  single run over the whole input.  Each run's input starts with the header.
  The state must match the command: same --column, same decay (alpha equal to
  the last bit), same --bias-correction and --skipna, same header.

  After a kill: the state's "rows" count says how many data rows are done.
  The output already written holds the header and at least those rows,
  complete; it may hold up to one more chunk (written when the kill came
  between the flush and the state save).  Resume on the input rows after the
  first "rows" ones: the resumed run writes that chunk again, bit-identical,
  so keep the header and the first "rows" rows of the killed run's output and
  append the new output.  Without a state file nothing is recorded: start over.

exit status:
  0 success (also when the reader of the output goes away, as with | head);
  2 bad arguments, bad input or output that cannot be written: one line on
  standard error naming the column, the row (counted in this run's input,
  with its line number) or the file.  Bad input: a missing or repeated
  column, a value that is not a number or out of the float64 range (1e309),
  a row with the wrong number of fields, a record over 64 MiB, CR-only line
  endings, text that is not UTF-8, an unreadable, corrupt or mismatched
  state file.  The chunks before a bad row are written and saved in the state.

examples:
  streamopt smooth weather.csv --column temp_max --beta 0.9 > smoothed.csv
  sensor | streamopt smooth --column value --span 20 --chunksize 1 --state s.json >> out.csv
"""

#: The decay options, each passed to ``streamopt.EWA`` under the same name.
DECAYS = ("beta", "alpha", "span", "com", "halflife")

#: Fields read as missing values: pandas' default ``na_values`` and the empty field.
MISSING = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})

#: A number as pandas' CSV reader reads one: ASCII decimal digits, or inf / infinity in any case.
NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)")

#: The state file: ``streamopt.state``'s envelope, kind and version.
STATE_KIND = "SmoothState"
STATE_VERSION = 2
STATE_FIELDS = ("column", "header", "decay", "rows", "ewa")
#: The format 0.1.0 wrote (``{"format": LEGACY_FORMAT, "version": 1, ...}``), still read.
LEGACY_FORMAT = "streamopt smooth state"
LEGACY_FIELDS = frozenset({"format", "version", "column", "header", "decay", "alpha", "bias_correction",
                           "skipna", "rows", "ewa"})


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``smooth``."""
    p = sub.add_parser(
        "smooth",
        help="add an EWA column to a CSV file or stream",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", default="-", metavar="FILE",
                   help="CSV file with a header line; '-' or nothing: standard input")
    p.add_argument("--column", required=True, metavar="C", help="the column to smooth (must be numeric)")
    decay = p.add_mutually_exclusive_group(required=True)
    decay.add_argument("--beta", type=float, metavar="B", help="decay rate in [0, 1)")
    decay.add_argument("--alpha", type=float, metavar="A", help="smoothing factor 1 - beta, in (0, 1]")
    decay.add_argument("--span", type=float, metavar="S", help="pandas span: alpha = 2/(S+1)")
    decay.add_argument("--com", type=float, metavar="COM", help="pandas center of mass: alpha = 1/(1+COM)")
    decay.add_argument("--halflife", type=float, metavar="H", help="half-life in rows")
    p.add_argument("--bias-correction", action="store_true",
                   help="divide by 1 - beta^t, t = observations so far")
    p.add_argument("--skipna", action=argparse.BooleanOptionalAction, default=True,
                   help="a missing value keeps the average unchanged (default); with --no-skipna "
                        "every output from the first missing value on is missing")
    p.add_argument("--state", metavar="PATH",
                   help="resume from PATH if it exists; save the state there after every chunk")
    p.add_argument("--chunksize", type=positive_int, default=1000, metavar="N",
                   help="rows per chunk: read, smooth, write and flush N rows at a time (default: %(default)s)")
    p.set_defaults(func=run)


# ------------------------------------------------------------------ reading CSV
class Record(NamedTuple):
    """One CSV record: where it starts, its fields, and its bytes (decoded) to write back."""

    line: int
    fields: list[str]
    text: str  # the record's text without its line ending
    end: str  # its line ending: "\n" or "\r\n" ("\n" for a last line without one)


def _has_bare_cr(text: str) -> bool:
    """Whether ``text`` holds a carriage return that is not part of a CRLF."""
    return "\r" in text.replace("\r\n", "")


class _Records:
    """The records of a CSV byte stream, read one line at a time.

    Lines are decoded one by one (UTF-8, a leading BOM dropped), so a decoding
    error names its line, and ``csv.reader`` pulls them only as it needs them
    (a quoted field may span lines): a record is returned as soon as its last
    line has arrived, with its text, to be written back unchanged.  A record
    longer than :data:`MAX_RECORD_BYTES` stops the read at that many bytes.
    """

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._stream = stream
        self.name = name
        self.line_no = 0
        self._start = 1
        self._raw: list[str] = []
        self._size = 0  # bytes of the record being read
        self._reader = csv.reader(self._lines(), strict=True)

    def _too_long(self, data: bytes) -> CLIError:
        where = f"line {self.line_no} is" if self._start == self.line_no else \
            f"the record starting on line {self._start} is"
        hint = ("; it holds CR line breaks, and smooth reads LF or CRLF line endings"
                if re.search(rb"\r(?!\n)", data) else "")
        return CLIError(f"{self.name}: {where} longer than {MAX_RECORD_BYTES // 2**20} MiB, the longest "
                        f"record smooth reads{hint}")

    def _lines(self) -> Iterator[str]:
        while True:
            room = MAX_RECORD_BYTES - self._size
            try:
                data = self._stream.readline(room + 1)
            except OSError as exc:
                raise CLIError(f"cannot read {self.name}: {exc.strerror or exc}") from None
            if not data:
                return
            self.line_no += 1
            if len(data) > room:
                raise self._too_long(data)
            self._size += len(data)
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError:
                raise CLIError(f"{self.name}: line {self.line_no} is not UTF-8 text") from None
            if self.line_no == 1 and line.startswith("\ufeff"):
                line = line[1:]
            self._raw.append(line)
            yield line

    def next(self) -> Record | None:
        """The next record, or None at the end."""
        while True:
            self._raw.clear()
            self._size = 0
            self._start = self.line_no + 1
            try:
                fields = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                text = "".join(self._raw)
                if _has_bare_cr(text):
                    raise CLIError(f"{self.name}: line {self._start} has a carriage return (CR) outside "
                                   "quotes: smooth reads LF or CRLF line endings (convert CR-only line "
                                   "endings first, e.g. with tr '\\r' '\\n')") from None
                raise CLIError(f"{self.name}: line {self._start}: malformed CSV ({exc})") from None
            if fields:  # a blank line is no record
                text = "".join(self._raw)
                end = "\r\n" if text.endswith("\r\n") else "\n" if text.endswith("\n") else ""
                return Record(self._start, fields, text[: len(text) - len(end)], end or "\n")


def _csv_field(value: str) -> str:
    """``value`` as one CSV field (quoted if it must be)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value])
    return buf.getvalue()


def _format(value: float) -> str:
    """The shortest text that reads back as the same float64; a missing value is empty."""
    return "" if math.isnan(value) else repr(value)


# --------------------------------------------------------------------- state file
@dataclass(frozen=True)
class SmoothState:
    """What ``--state`` records: the run's column, header and decay option, the rows done, the EWA."""

    column: str
    header: list[str]
    decay: dict[str, float]
    rows: int
    ewa: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The state in the ``streamopt.SmoothState`` envelope (exact floats)."""
        from ..state import envelope, hex_float

        (name, value), = self.decay.items()
        return envelope(STATE_KIND, STATE_VERSION, {
            "column": self.column, "header": list(self.header), "decay": {name: hex_float(value)},
            "rows": self.rows, "ewa": self.ewa,
        })

    @classmethod
    def from_json(cls, state: Any) -> SmoothState:
        """Read a state written by :meth:`to_json` or by 0.1.0; :class:`StateError` names a bad field."""
        from ..state import StateError, open_envelope, parse_hex_float, parse_int

        version, state = open_envelope(state, STATE_KIND, STATE_VERSION, STATE_FIELDS, legacy=_legacy)
        column, header, decay = state["column"], state["header"], state["decay"]
        if not isinstance(column, str):
            raise StateError(f"state['column'] must be a string, got {column!r:.80}")
        if not isinstance(header, list) or not header or not all(isinstance(h, str) for h in header):
            raise StateError(f"state['header'] must be a list of strings, got {header!r:.80}")
        if not isinstance(decay, dict) or len(decay) != 1 or next(iter(decay)) not in DECAYS:
            raise StateError(f"state['decay'] must be one of {{{', '.join(DECAYS)}: value}}, got {decay!r:.80}")
        (name, value), = decay.items()
        if version == STATE_VERSION:
            value = parse_hex_float(f"state['decay'][{name!r}]", value, finite=True)
        if not isinstance(state["ewa"], dict):
            raise StateError(f"state['ewa'] must be an EWA state, got {state['ewa']!r:.80}")
        rows = parse_int("state['rows']", state["rows"], minimum=0)
        return cls(column, header, {name: value}, rows, state["ewa"])


def _legacy(state: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """A state written by 0.1.0 in the current fields (its parameters are in its ``ewa`` too); else None."""
    from ..state import StateError, excerpt, parse_bool

    if state.get("format") != LEGACY_FORMAT:
        return None
    version = state.get("version")
    if isinstance(version, bool) or version != 1 or not isinstance(version, int):
        raise StateError(f"state['version'] must be the integer 1 for a {LEGACY_FORMAT!r}, got {excerpt(version)}")
    if set(state) != LEGACY_FIELDS:
        raise StateError(f"a {LEGACY_FORMAT!r} has the fields {sorted(LEGACY_FIELDS)}, got {sorted(state)!r:.200}")
    parse_bool("state['bias_correction']", state["bias_correction"])
    parse_bool("state['skipna']", state["skipna"])
    if type(state["alpha"]) is not float:
        raise StateError(f"state['alpha'] must be a number, got {excerpt(state['alpha'])}")
    decay = state["decay"]
    if isinstance(decay, dict) and not all(type(v) is float and math.isfinite(v) for v in decay.values()):
        raise StateError(f"state['decay'] must hold a finite number, got {excerpt(decay)}")
    return 1, {key: state[key] for key in STATE_FIELDS}


def _remove_leftovers(path: Path) -> None:
    """Delete temporary files that a run killed in the middle of a save left next to ``path``."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with suppress(OSError):
            leftover.unlink()


def _load_state(path: Path) -> SmoothState | None:
    """The saved state, checked field by field; None if the file does not exist."""
    from ..state import StateError, read_json

    try:
        return SmoothState.from_json(read_json(path))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CLIError(f"cannot read state file {path}: {exc.strerror or exc}") from None
    except (StateError, TypeError) as exc:
        raise CLIError(f"state file {path} is corrupt ({exc})") from None


def _save_state(path: Path, state: SmoothState) -> None:
    """Write ``state`` to ``path`` atomically (``streamopt.state.write_json``)."""
    from ..state import write_json

    try:
        write_json(path, state.to_json())
    except OSError as exc:
        raise CLIError(f"cannot write state file {path}: {exc.strerror or exc}") from None


def _options(decay: dict[str, float], bias_correction: bool, skipna: bool) -> str:
    """The parameters as typed on the command line, e.g. ``--beta 0.9, --bias-correction, --skipna``."""
    (name, value), = decay.items()
    return ", ".join([f"--{name} {value!r}", "--bias-correction" if bias_correction else "no --bias-correction",
                      "--skipna" if skipna else "--no-skipna"])


def _resume(smoother: Any, state: SmoothState, path: Path, args: argparse.Namespace,
            decay: dict[str, float]) -> None:
    """Continue ``smoother`` from ``state``; a state written with other parameters is refused.

    The column is smooth's own to check; the EWA parameters are compared by
    :meth:`EWA.load_state_dict` (its ValueError names the parameter).
    """
    from ..ewa import EWA

    if state.column != args.column:
        raise CLIError(f"state file {path} was written with --column {state.column!r}, "
                       f"this command has --column {args.column!r}")
    try:
        saved = EWA.from_state(state.ewa)
    except (TypeError, ValueError, KeyError) as exc:
        raise CLIError(f"state file {path} is corrupt ({exc})") from None
    try:
        smoother.load_state_dict(state.ewa)
    except ValueError as exc:
        raise CLIError(f"state file {path} was written with {_options(state.decay, saved.bias_correction, saved.skipna)}"
                       f", this command has {_options(decay, args.bias_correction, args.skipna)} ({exc})") from None


# ---------------------------------------------------------------------- command
def _open_input(file: str) -> tuple[BinaryIO, str]:
    """The input as a binary stream, and its name for messages."""
    if file == "-":
        if sys.stdin is None:  # started with `<&-`
            raise CLIError("cannot read <stdin>: standard input is closed")
        return sys.stdin.buffer, "<stdin>"
    try:
        return open(file, "rb"), file
    except OSError as exc:
        raise CLIError(f"cannot read {file}: {exc.strerror or exc}") from None


def _column_index(header: list[str], column: str, name: str) -> int:
    """The position of ``column`` in ``header``: it must be there exactly once, and ``column_ewa`` not at all."""
    positions = [i for i, h in enumerate(header) if h == column]
    if not positions:
        shown = ", ".join(repr(h) for h in header[:20]) + (", ..." if len(header) > 20 else "")
        raise CLIError(f"{name}: no column {column!r} in the header (columns: {shown})")
    if len(positions) > 1:
        raise CLIError(f"{name}: the header has {len(positions)} columns named {column!r} (positions "
                       f"{', '.join(str(i + 1) for i in positions)}): --column must name exactly one")
    if f"{column}_ewa" in header:
        raise CLIError(f"{name}: the input already has a column {column + '_ewa'!r}")
    return positions[0]


def parse_value(text: str) -> float:
    """A field as a number, the way pandas reads a CSV number; missing markers and ±inf are NaN/±inf.

    Raises ValueError (not a number, or a finite number beyond the float64
    range, which ``float`` would turn into inf).

    >>> parse_value(" -2.5e1 "), parse_value("NA"), parse_value("-Infinity")
    (-25.0, nan, -inf)
    >>> parse_value("\\u0663")  # ARABIC-INDIC DIGIT THREE: float() reads it, pandas does not
    Traceback (most recent call last):
    ValueError: not a number
    """
    text = text.strip(" \t")
    if text in MISSING:
        return math.nan
    if NUMBER.fullmatch(text) is None:
        raise ValueError("not a number")
    value = float(text)
    if math.isinf(value) and text.lstrip("+-")[0] not in "iI":
        raise ValueError("out of the float64 range")
    return value


def _parse_values(records: list[Record], index: int, n_fields: int, column: str, name: str,
                  first_row: int) -> list[float]:
    """The column's values in a chunk of records (:func:`parse_value`).

    A record with the wrong number of fields or a bad value stops the run
    (:class:`CLIError` naming the line, the row, the column and the value).
    """
    values = []
    for row, record in enumerate(records, start=first_row):
        fields = record.fields
        if len(fields) != n_fields:
            raise CLIError(f"{name}: line {record.line} (row {row}) has {len(fields)} "
                           f"field{'s' * (len(fields) != 1)}, the header has {n_fields}")
        try:
            values.append(parse_value(fields[index]))
        except ValueError as exc:
            what = "a non-numeric value" if str(exc) == "not a number" else "a value out of the float64 range"
            raise CLIError(f"{name}: line {record.line} (row {row}): column {column!r} has {what} "
                           f"{fields[index][:80]!r}") from None
    return values


def run(args: argparse.Namespace) -> int:
    """Smooth the input to standard output, chunk by chunk; returns the exit status (0).

    Order of work per chunk: read ``--chunksize`` records, parse and check
    them all, smooth them (``EWA.update``), write and flush their output, then
    save the state.  So the state never records rows that were not written,
    and a bad row stops the run before any of its chunk is written.
    """
    import numpy as np

    from ..ewa import EWA

    decay = {name: getattr(args, name) for name in DECAYS if getattr(args, name) is not None}
    try:
        smoother = EWA(**decay, bias_correction=args.bias_correction, skipna=args.skipna)
    except (TypeError, ValueError) as exc:
        (option, value), = decay.items()
        raise CLIError(f"--{option} {value!r}: {exc}") from None

    state_path = Path(args.state) if args.state is not None else None
    state = _load_state(state_path) if state_path is not None else None
    if state_path is not None and state_path.parent.is_dir():
        _remove_leftovers(state_path)
    if state is not None:
        _resume(smoother, state, state_path, args, decay)
    elif state_path is not None and not state_path.parent.is_dir():
        raise CLIError(f"cannot write state file {state_path}: no folder {str(state_path.parent)!r}")

    csv.field_size_limit(MAX_RECORD_BYTES)  # a field is no longer than its record (csv's default: 128 KiB)
    stream, name = _open_input(args.file)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    try:
        records = _Records(stream, name)
        first = records.next()
        if first is None:
            raise CLIError(f"{name}: the input is empty (a CSV header line is expected)")
        header = first.fields
        index = _column_index(header, args.column, name)
        if state is not None and state.header != header:
            raise CLIError(f"{name}: the header differs from the one recorded in state file {state_path}")
        rows = state.rows if state is not None else 0

        def save() -> None:
            _save_state(state_path, SmoothState(args.column, header, decay, rows, smoother.state_dict()))

        if state is None:
            emit(f"{first.text},{_csv_field(args.column + '_ewa')}{first.end}")
            if state_path is not None:
                save()
        row_in_input = 1
        while True:
            chunk = list(islice(iter(records.next, None), args.chunksize))
            if not chunk:
                return 0
            values = _parse_values(chunk, index, len(header), args.column, name, row_in_input)
            smoothed = smoother.update(np.array(values, dtype=np.float64))
            emit("".join(f"{r.text},{_format(v)}{r.end}" for r, v in zip(chunk, smoothed.tolist())))
            rows += len(chunk)
            row_in_input += len(chunk)
            if state_path is not None:
                save()
    finally:
        if args.file != "-":
            stream.close()
