"""``streamopt smooth``: add exponentially weighted statistics columns to a CSV stream.

The command line face of :class:`streamopt.EWA` and :class:`streamopt.EWMStream`:
CSV records are read a chunk at a time with the :mod:`csv` module (one line at
a time, so a slow producer is served as soon as a chunk is complete), the
column is smoothed by the streaming EWA (``C_ewa``, bit-identical to
:func:`streamopt.ewa` on the whole column, whatever the chunking) or, in the
ewm mode (any of ``--stat``, ``--by``, ``--time-column``, ``--min-periods``,
``--adjust``, ``--ignore-na``), by ``EWMStream`` (``C_mean``, ``C_std``,
``C_var``, bit-identical to :func:`streamopt.ewm` with ``times`` and ``by``),
and each record is written back as its own bytes plus the new fields.
``DESCRIPTION`` and ``EPILOG`` below are the ``--help`` text: they state the
output format, the resume and kill semantics and the exit status.
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

The ewm mode (pandas' ewm semantics, streamopt.ewm / streamopt.EWMStream):
any of --stat, --by, --time-column, --min-periods, --adjust/--no-adjust,
--ignore-na selects it.  It adds one column C_S per statistic S of --stat
(mean, std, var; default mean): C_mean, C_std, C_var, equal bit for bit to
streamopt.ewm(C, ..., times=T, by=K).mean() / .std() / .var() of the whole
input, whatever the chunk size and across resumes.  --by K makes each key
(the text of column K, as it is) its own series; --time-column T reads the
times with pandas.to_datetime (in the format of the run's first time) and
takes the decay as --halflife, a time span such as 7D: observation i
weighs 0.5^((t - t_i)/halflife) at time t.  --beta, --bias-correction and
--skipna/--no-skipna belong to the EWA mode and are refused with them.
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
  the last bit), same --bias-correction and --skipna, same header; in the
  ewm mode the same --stat, --by, --time-column, --min-periods, --adjust and
  --ignore-na (the times' format is the one the state recorded).

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
  state file; in the ewm mode also a missing or unreadable time and a time
  before its key's previous time.  The chunks before a bad row are written
  and saved in the state; the chunk holding it writes nothing.

examples:
  streamopt smooth weather.csv --column temp_max --beta 0.9 > smoothed.csv
  sensor | streamopt smooth --column value --span 20 --chunksize 1 --state s.json >> out.csv
  streamopt smooth weather.csv --column temp_max --time-column date --halflife 7D \\
      --by weather --stat mean,std > smoothed.csv
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
        help="add EW average (or ewm mean/std/var) columns to a CSV file or stream",
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
    decay.add_argument("--halflife", type=_halflife, metavar="H",
                       help="half-life in rows; with --time-column a time span such as 7D")
    p.add_argument("--bias-correction", action="store_true",
                   help="divide by 1 - beta^t, t = observations so far")
    p.add_argument("--skipna", action=argparse.BooleanOptionalAction, default=None,
                   help="a missing value keeps the average unchanged (default); with --no-skipna "
                        "every output from the first missing value on is missing")
    ewm = p.add_argument_group("ewm mode (pandas' ewm semantics: any of these options selects it)")
    ewm.add_argument("--stat", type=_stats, metavar="S[,S...]",
                     help="statistics from mean, std, var (unbiased), one column C_S each (C_mean, C_std, "
                          "C_var), in this order (default: mean)")
    ewm.add_argument("--by", metavar="K", help="one series per key: the text of column K is the key")
    ewm.add_argument("--time-column", metavar="T",
                     help="the times (read by pandas.to_datetime), non-decreasing within a key, none "
                          "missing; the decay is --halflife, a time span such as 7D")
    ewm.add_argument("--min-periods", type=_non_negative_int, metavar="N",
                     help="an output is empty until its series has N observations")
    ewm.add_argument("--adjust", action=argparse.BooleanOptionalAction, default=None,
                     help="pandas' adjust: weighted average of all observations (default), or the recursion")
    ewm.add_argument("--ignore-na", action="store_true", default=None,
                     help="a missing value does not age the observations before it (without times)")
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
    """What ``--state`` records: the run's column, header and decay option, the rows done, the smoother.

    The EWA mode's state (version 2) holds the ``EWA.state_dict()`` in ``ewa``;
    the ewm mode's (version 3) the ``EWMStream.state_dict()`` in ``ewm``, with
    the ``--by`` and ``--time-column`` columns and the format of the times.
    """

    column: str
    header: list[str]
    decay: dict[str, Any]  # the option and its value: a float, or a time span's text
    rows: int
    ewa: dict[str, Any] | None
    by: str | None = None
    time_column: str | None = None
    time_format: str | None = None
    ewm: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The state in the ``streamopt.SmoothState`` envelope (exact floats)."""
        from ..state import envelope, hex_float

        (name, value), = self.decay.items()
        decay = {name: value if isinstance(value, str) else hex_float(value)}
        if self.ewm is not None:
            return envelope(STATE_KIND, EWM_STATE_VERSION, {
                "column": self.column, "header": list(self.header), "decay": decay, "rows": self.rows,
                "by": self.by, "time_column": self.time_column, "time_format": self.time_format, "ewm": self.ewm,
            })
        return envelope(STATE_KIND, STATE_VERSION, {
            "column": self.column, "header": list(self.header), "decay": decay,
            "rows": self.rows, "ewa": self.ewa,
        })

    @classmethod
    def from_json(cls, state: Any) -> SmoothState:
        """Read a state written by :meth:`to_json` or by 0.1.0; :class:`StateError` names a bad field."""
        from ..state import StateError, open_envelope, parse_hex_float, parse_int

        version, state = open_envelope(state, STATE_KIND, (STATE_VERSION, EWM_STATE_VERSION),
                                       {STATE_VERSION: STATE_FIELDS, EWM_STATE_VERSION: EWM_STATE_FIELDS},
                                       legacy=_legacy)
        column, header, decay = state["column"], state["header"], state["decay"]
        if not isinstance(column, str):
            raise StateError(f"state['column'] must be a string, got {column!r:.80}")
        if not isinstance(header, list) or not header or not all(isinstance(h, str) for h in header):
            raise StateError(f"state['header'] must be a list of strings, got {header!r:.80}")
        if not isinstance(decay, dict) or len(decay) != 1 or next(iter(decay)) not in DECAYS:
            raise StateError(f"state['decay'] must be one of {{{', '.join(DECAYS)}: value}}, got {decay!r:.80}")
        (name, value), = decay.items()
        rows = parse_int("state['rows']", state["rows"], minimum=0)
        if version == EWM_STATE_VERSION:
            if not (name == "halflife" and isinstance(value, str) and state["time_column"] is not None):
                value = parse_hex_float(f"state['decay'][{name!r}]", value, finite=True)
            for field in ("by", "time_column", "time_format"):
                if state[field] is not None and not isinstance(state[field], str):
                    raise StateError(f"state[{field!r}] must be a string or null, got {state[field]!r:.80}")
            if state["time_column"] is None and state["time_format"] is not None:
                raise StateError("state['time_format'] must be null without state['time_column'], "
                                 f"got {state['time_format']!r:.80}")
            if not isinstance(state["ewm"], dict):
                raise StateError(f"state['ewm'] must be an EWMStream state, got {state['ewm']!r:.80}")
            return cls(column, header, {name: value}, rows, None, state["by"], state["time_column"],
                       state["time_format"], state["ewm"])
        if version == STATE_VERSION:
            value = parse_hex_float(f"state['decay'][{name!r}]", value, finite=True)
        if not isinstance(state["ewa"], dict):
            raise StateError(f"state['ewa'] must be an EWA state, got {state['ewa']!r:.80}")
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
            decay: dict[str, float], skipna: bool) -> None:
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
                       f", this command has {_options(decay, args.bias_correction, skipna)} ({exc})") from None


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


def _column_index(header: list[str], column: str, name: str, flag: str) -> int:
    """The position of ``column`` (the value of ``flag``) in ``header``: it must be there exactly once."""
    positions = [i for i, h in enumerate(header) if h == column]
    if not positions:
        shown = ", ".join(repr(h) for h in header[:20]) + (", ..." if len(header) > 20 else "")
        raise CLIError(f"{name}: no column {column!r} in the header (columns: {shown})")
    if len(positions) > 1:
        raise CLIError(f"{name}: the header has {len(positions)} columns named {column!r} (positions "
                       f"{', '.join(str(i + 1) for i in positions)}): {flag} must name exactly one")
    return positions[0]


def _new_columns(header: list[str], columns: list[str], name: str) -> None:
    """The added columns must not be in ``header`` already."""
    for column in columns:
        if column in header:
            raise CLIError(f"{name}: the input already has a column {column!r}")


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


# ------------------------------------------------------------------ the ewm mode
#: The statistics of the ewm mode; each adds the column ``C_<stat>``.
STATS = ("mean", "std", "var")
#: The state's fields in the ewm mode (version 3); versions 1 and 2 are the EWA mode's.
EWM_STATE_VERSION = 3
EWM_STATE_FIELDS = ("column", "header", "decay", "rows", "by", "time_column", "time_format", "ewm")
#: The stream parameters a resumed run must share with the state (``EWMStream.state_dict`` fields).
EWM_PARAMETERS = ("alpha", "log_beta", "halflife_ns", "adjust", "ignore_na", "min_periods", "stats")


def _halflife(text: str) -> str:
    """An argparse ``type`` for ``--halflife``: the text, read as rows or as a time span once the mode is known."""
    return text


def _stats(text: str) -> tuple[str, ...]:
    """An argparse ``type`` for ``--stat``: distinct names from :data:`STATS`, comma-separated.

    >>> _stats("mean,std")
    ('mean', 'std')
    >>> _stats("mean,median")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be distinct names from mean, std, var separated by commas, got 'mean,median'
    """
    names = tuple(part.strip() for part in text.split(","))
    if not all(name in STATS for name in names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"must be distinct names from {', '.join(STATS)} separated by commas, "
                                         f"got {text!r}")
    return names


def _non_negative_int(text: str) -> int:
    """An argparse ``type``: an integer >= 0.

    >>> _non_negative_int("0")
    0
    >>> _non_negative_int("-1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be an integer >= 0, got '-1'
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _ewm_flags(args: argparse.Namespace) -> list[str]:
    """The ewm mode's options on the command line, as typed (none: the EWA mode)."""
    given = [("--stat", args.stat), ("--by", args.by), ("--time-column", args.time_column),
             ("--min-periods", args.min_periods), ("--adjust" if args.adjust else "--no-adjust", args.adjust),
             ("--ignore-na", args.ignore_na)]
    return [flag for flag, value in given if value is not None]


def _ewa_flags(args: argparse.Namespace) -> list[str]:
    """The EWA mode's own options on the command line, as typed."""
    given = [("--beta", args.beta is not None), ("--bias-correction", args.bias_correction),
             ("--skipna" if args.skipna else "--no-skipna", args.skipna is not None)]
    return [flag for flag, present in given if present]


def _rows_halflife(decay: dict[str, Any]) -> dict[str, Any]:
    """``decay`` with a ``--halflife`` read as a number of rows (a time span needs ``--time-column``)."""
    if "halflife" not in decay:
        return decay
    text = decay["halflife"]
    try:
        return {"halflife": float(text)}
    except ValueError:
        raise CLIError(f"--halflife {text!r}: a half-life that is a time span needs --time-column; "
                       "without it the half-life is a number of rows") from None


def _ewm_decay(args: argparse.Namespace) -> dict[str, Any]:
    """The decay option of the ewm mode: a number, or with ``--time-column`` a ``--halflife`` time span."""
    decay = {name: getattr(args, name) for name in DECAYS if getattr(args, name) is not None}
    if args.time_column is None:
        return _rows_halflife(decay)
    (name, value), = decay.items()
    if name != "halflife":
        raise CLIError(f"--time-column needs the decay as --halflife, a time span such as 7D, got --{name}")
    try:
        float(value)
    except ValueError:
        return decay
    raise CLIError(f"--halflife {value!r}: with --time-column the half-life is a time span with a unit, "
                   "such as 7D or 12h")


class _EWMRun:
    """The ewm mode: :class:`streamopt.EWMStream` on the column, per ``--by`` key, at ``--time-column`` times.

    Its outputs, chunk after chunk, equal ``streamopt.ewm(column, ..., times=..., by=...)``'s
    statistics on the whole input, bit for bit.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        from ..ewmstream import EWMStream

        self.args = args
        self.decay = _ewm_decay(args)
        self.stats = args.stat or ("mean",)
        (name, value), = self.decay.items()
        try:
            self.stream = EWMStream(**self.decay, adjust=True if args.adjust is None else args.adjust,
                                    ignore_na=bool(args.ignore_na), min_periods=args.min_periods or 0,
                                    stats=self.stats)
        except (TypeError, ValueError) as exc:
            raise CLIError(f"--{name} {value!r}: {exc}") from None
        self.time_format: str | None = None
        self.columns = [f"{args.column}_{stat}" for stat in self.stats]

    def options(self, decay: dict[str, Any], stream: dict[str, Any], by: str | None,
                time_column: str | None) -> str:
        """A run's parameters as typed, e.g. ``--span 3.0, --adjust, no --ignore-na, --min-periods 1, ...``."""
        (name, value), = decay.items()
        return ", ".join([f"--{name} {value!r}", "--adjust" if stream.get("adjust") else "--no-adjust",
                          "--ignore-na" if stream.get("ignore_na") else "no --ignore-na",
                          f"--min-periods {stream.get('min_periods')}", f"--stat {','.join(stream.get('stats', ()))}",
                          f"--by {by!r}" if by is not None else "no --by",
                          f"--time-column {time_column!r}" if time_column is not None else "no --time-column"])

    def resume(self, state: SmoothState, path: Path) -> None:
        """Continue from ``state``; a state of the EWA mode or with other parameters is refused."""
        from ..ewmstream import EWMStream
        from ..state import StateError

        args = self.args
        if state.ewm is None:
            raise CLIError(f"state file {path} was written in the EWA mode (--beta, --bias-correction, ...), "
                           f"this command is in the ewm mode ({', '.join(_ewm_flags(args))})")
        if state.column != args.column:
            raise CLIError(f"state file {path} was written with --column {state.column!r}, "
                           f"this command has --column {args.column!r}")
        try:
            stream = EWMStream.from_state(state.ewm)
        except (StateError, TypeError, ValueError, KeyError) as exc:
            raise CLIError(f"state file {path} is corrupt ({exc})") from None
        saved, mine = state.ewm, self.stream.state_dict()
        differs = [p for p in EWM_PARAMETERS if saved.get(p) != mine.get(p)]
        if (state.by, state.time_column) != (args.by, args.time_column):
            differs.append("by" if state.by != args.by else "time_column")
        if differs:
            raise CLIError(f"state file {path} was written with "
                           f"{self.options(state.decay, saved, state.by, state.time_column)}, this command has "
                           f"{self.options(self.decay, mine, args.by, args.time_column)} "
                           f"({', '.join(differs)} differ{'s' * (len(differs) == 1)})")
        self.stream = stream
        self.time_format = state.time_format

    def bind(self, header: list[str], name: str) -> None:
        """Find the columns in ``header``."""
        args = self.args
        self.index, self.n_fields = _column_index(header, args.column, name, "--column"), len(header)
        self.key_index = None if args.by is None else _column_index(header, args.by, name, "--by")
        self.time_index = (None if args.time_column is None
                           else _column_index(header, args.time_column, name, "--time-column"))
        if args.time_column == args.column:
            raise CLIError(f"--time-column {args.time_column!r} is the column to smooth (--column): "
                           "give the column of the times")
        _new_columns(header, self.columns, name)

    def state(self, header: list[str], rows: int) -> SmoothState:
        """What ``--state`` saves now."""
        args = self.args
        return SmoothState(args.column, header, self.decay, rows, None, args.by, args.time_column,
                           self.time_format, self.stream.state_dict())

    def _times(self, records: list[Record], name: str, first_row: int) -> Any:
        """The chunk's times (pandas.to_datetime, in the run's one format); CLIError naming a bad row."""
        import pandas as pd
        from pandas.tseries.api import guess_datetime_format

        column, j = self.args.time_column, self.time_index
        texts = [r.fields[j] for r in records]
        for row, (record, text) in enumerate(zip(records, texts), start=first_row):
            if text.strip(" \t") in MISSING or text.strip(" \t") == "NaT":
                raise CLIError(f"{name}: line {record.line} (row {row}): column {column!r} has a missing time "
                               f"{text[:80]!r} (each row needs a time)")
        if self.time_format is None:  # the first time of the run fixes the format, as pandas infers it
            self.time_format = guess_datetime_format(texts[0]) or "mixed"

        def parse(values: list[str]) -> Any:
            return pd.DatetimeIndex(pd.to_datetime(pd.Series(values, dtype=object), format=self.time_format))

        try:
            return parse(texts)
        except (TypeError, ValueError, OverflowError) as exc:
            error = exc
        for row, (record, text) in enumerate(zip(records, texts), start=first_row):
            try:
                parse([text])
            except (TypeError, ValueError, OverflowError):
                how = ("" if self.time_format == "mixed"
                       else f" in the format {self.time_format!r} of the run's first time")
                raise CLIError(f"{name}: line {record.line} (row {row}): column {column!r} has {text[:80]!r}, "
                               f"not a time pandas.to_datetime reads{how}") from None
        raise CLIError(f"{name}: lines {records[0].line}-{records[-1].line} (rows {first_row}-"
                       f"{first_row + len(records) - 1}): column {column!r}: {str(error).splitlines()[0]}")

    def _check_order(self, records: list[Record], keys: list[str] | None, ticks: Any, name: str,
                     first_row: int) -> None:
        """A time before its key's previous time is an error naming the row (the stream would refuse it too)."""
        last: dict[Any, int | None] = {}
        for i, tick in enumerate(ticks.tolist()):
            key = None if keys is None else keys[i]
            if key not in last:
                try:
                    previous = self.stream.get(key)["time"]
                except KeyError:
                    previous = None
                last[key] = None if previous is None else previous.value
            if last[key] is not None and tick < last[key]:
                import pandas as pd

                where = "its series" if keys is None else f"key {key!r}"
                raise CLIError(f"{name}: line {records[i].line} (row {first_row + i}): column "
                               f"{self.args.time_column!r} has the time {records[i].fields[self.time_index][:80]!r}"
                               f", before the previous time {pd.Timestamp(last[key])} of {where}: times must "
                               "not go back" + ("" if keys is None else " within a key"))
            last[key] = tick

    def step(self, records: list[Record], name: str, first_row: int) -> list[str]:
        """Smooth one chunk; the text each record gains (``,v1,v2...``).  Checks all before any change."""
        import numpy as np

        values = _parse_values(records, self.index, self.n_fields, self.args.column, name, first_row)
        keys = None if self.key_index is None else [r.fields[self.key_index] for r in records]
        times = None
        if self.time_index is not None:
            times = self._times(records, name, first_row)
            self._check_order(records, keys, times.as_unit("ns").asi8, name, first_row)
        try:
            out = self.stream.update(np.array(values, dtype=np.float64), times=times,
                                     keys=None if keys is None else np.array(keys, dtype=object))
        except (TypeError, ValueError) as exc:
            raise CLIError(f"{name}: lines {records[0].line}-{records[-1].line} (rows {first_row}-"
                           f"{first_row + len(records) - 1}): {exc}") from None
        columns = [out[stat].tolist() for stat in self.stats]
        return ["".join(f",{_format(v)}" for v in row) for row in zip(*columns)]


class _EWARun:
    """The EWA mode: :class:`streamopt.EWA` on the column (``C_ewa``)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from ..ewa import EWA

        self.args = args
        self.decay = _rows_halflife({name: getattr(args, name) for name in DECAYS if getattr(args, name) is not None})
        self.skipna = True if args.skipna is None else args.skipna
        try:
            self.smoother = EWA(**self.decay, bias_correction=args.bias_correction, skipna=self.skipna)
        except (TypeError, ValueError) as exc:
            (option, value), = self.decay.items()
            raise CLIError(f"--{option} {value!r}: {exc}") from None
        self.columns = [f"{args.column}_ewa"]

    def resume(self, state: SmoothState, path: Path) -> None:
        """Continue from ``state`` (:func:`_resume`); a state of the ewm mode is refused."""
        if state.ewm is not None:
            raise CLIError(f"state file {path} was written in the ewm mode (--stat, --by, --time-column, ...), "
                           f"this command is in the EWA mode")
        _resume(self.smoother, state, path, self.args, self.decay, self.skipna)

    def bind(self, header: list[str], name: str) -> None:
        """Find the column in ``header``."""
        self.index, self.n_fields = _column_index(header, self.args.column, name, "--column"), len(header)
        _new_columns(header, self.columns, name)

    def state(self, header: list[str], rows: int) -> SmoothState:
        """What ``--state`` saves now."""
        return SmoothState(self.args.column, header, self.decay, rows, self.smoother.state_dict())

    def step(self, records: list[Record], name: str, first_row: int) -> list[str]:
        """Smooth one chunk; the text each record gains (``,v``)."""
        import numpy as np

        values = _parse_values(records, self.index, self.n_fields, self.args.column, name, first_row)
        smoothed = self.smoother.update(np.array(values, dtype=np.float64))
        return [f",{_format(v)}" for v in smoothed.tolist()]


def run(args: argparse.Namespace) -> int:
    """Smooth the input to standard output, chunk by chunk; returns the exit status (0).

    Order of work per chunk: read ``--chunksize`` records, parse and check
    them all, smooth them (``EWA.update`` or ``EWMStream.update``), write and
    flush their output, then save the state.  So the state never records rows
    that were not written, and a bad row stops the run before any of its
    chunk is written.
    """
    ewm_flags, ewa_flags = _ewm_flags(args), _ewa_flags(args)
    if ewm_flags and ewa_flags:
        raise CLIError(f"{ewa_flags[0]} (the EWA mode) cannot be combined with {ewm_flags[0]} (the ewm mode): "
                       "the ewm mode takes --alpha, --span, --com or --halflife and pandas' adjust")
    smoother: _EWARun | _EWMRun = _EWMRun(args) if ewm_flags else _EWARun(args)

    state_path = Path(args.state) if args.state is not None else None
    state = _load_state(state_path) if state_path is not None else None
    if state_path is not None and state_path.parent.is_dir():
        _remove_leftovers(state_path)
    if state is not None:
        smoother.resume(state, state_path)
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
        smoother.bind(header, name)
        if state is not None and state.header != header:
            raise CLIError(f"{name}: the header differs from the one recorded in state file {state_path}")
        rows = state.rows if state is not None else 0

        def save() -> None:
            _save_state(state_path, smoother.state(header, rows))

        if state is None:
            emit(first.text + "".join(f",{_csv_field(c)}" for c in smoother.columns) + first.end)
            if state_path is not None:
                save()
        row_in_input = 1
        while True:
            chunk = list(islice(iter(records.next, None), args.chunksize))
            if not chunk:
                return 0
            added = smoother.step(chunk, name, row_in_input)
            emit("".join(f"{r.text}{a}{r.end}" for r, a in zip(chunk, added)))
            rows += len(chunk)
            row_in_input += len(chunk)
            if state_path is not None:
                save()
    finally:
        if args.file != "-":
            stream.close()
