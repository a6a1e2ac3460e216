"""``streamopt smooth``: add an exponentially weighted average column to a CSV stream.

The command line face of :class:`streamopt.EWA`: CSV records are read a chunk
at a time with the :mod:`csv` module (one line at a time, so a slow producer
is served as soon as a chunk is complete), the column is smoothed by the
streaming EWA (bit-identical to :func:`streamopt.ewa` on the whole column,
whatever the chunking), and each record is written back as its own text plus
the new field.  ``DESCRIPTION`` and ``EPILOG`` below are the ``--help`` text:
they state the output format, the resume and kill semantics and the exit
status.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import tempfile
from contextlib import suppress
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from . import CLIError

DESCRIPTION = """\
Add an exponentially weighted average column to a CSV file or stream.

Reads CSV from FILE (or standard input: '-' or no FILE) in chunks of
--chunksize rows and writes it to standard output with one more column,
C_ewa: the EWA of column C, V_t = beta*V_{t-1} + (1-beta)*x_t with V_0 = 0
(divided by 1 - beta^t with --bias-correction).  Each chunk is written and
flushed before the next one is read, so it works on a stream that never
ends (use a small --chunksize for low latency).  The other columns are
copied as the input's text, unchanged; the new values are written in the
shortest form that reads back to the same float64, whatever the chunk size.
Empty fields and pandas' missing-value markers (NA, NaN, null, ...) are
missing values; a missing smoothed value is written as an empty field.
Blank lines are skipped.
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
  0 success; 2 bad arguments or bad input: one line on standard error naming
  the column, the row (counted in this run's input, with its line number) or
  the file.  The chunks before a bad row are written and saved in the state.

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

STATE_FORMAT = "streamopt smooth state"
STATE_VERSION = 1


def _positive_int(text: str) -> int:
    """``--chunksize``: an integer >= 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``smooth``; its argument errors are one line on standard error, exit status 2."""
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
    p.add_argument("--chunksize", type=_positive_int, default=1000, metavar="N",
                   help="rows per chunk: read, smooth, write and flush N rows at a time (default: %(default)s)")

    def one_line_error(message: str) -> None:
        # argparse prints the usage too; bad input here is one line, as everywhere in the CLI
        p.exit(2, f"{p.prog}: error: {message} (see '{p.prog} --help')\n")

    p.error = one_line_error  # type: ignore[method-assign]
    p.set_defaults(func=run)


# ------------------------------------------------------------------ reading CSV
class _Records:
    """The records of a CSV byte stream, read one line at a time.

    Lines are decoded one by one (UTF-8, a leading BOM dropped, CRLF read as
    LF), so a decoding error names its line, and ``csv.reader`` pulls them
    only as it needs them (a quoted field may span lines): a record is returned
    as soon as its last line has arrived, with its raw text, to be written
    back unchanged.
    """

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._stream = stream
        self.name = name
        self.line_no = 0
        self._raw: list[str] = []
        self._reader = csv.reader(self._lines(), strict=True)

    def _lines(self) -> Iterator[str]:
        while True:
            try:
                data = self._stream.readline()
            except OSError as exc:
                raise CLIError(f"cannot read {self.name}: {exc.strerror or exc}") from None
            if not data:
                return
            self.line_no += 1
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError:
                raise CLIError(f"{self.name}: line {self.line_no} is not UTF-8 text") from None
            if self.line_no == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if line.endswith("\r\n"):
                line = line[:-2] + "\n"
            self._raw.append(line)
            yield line

    def next(self) -> tuple[int, list[str], str] | None:
        """``(first line number, fields, raw text without the final newline)``, or None at the end."""
        while True:
            self._raw.clear()
            start = self.line_no + 1
            try:
                fields = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                raise CLIError(f"{self.name}: line {start}: malformed CSV ({exc})") from None
            if fields:  # a blank line is no record
                text = "".join(self._raw)
                return start, fields, text[:-1] if text.endswith("\n") else text


def _csv_field(value: str) -> str:
    """``value`` as one CSV field (quoted if it must be)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value])
    return buf.getvalue()


def _format(value: float) -> str:
    """The shortest text that reads back as the same float64; a missing value is empty."""
    return "" if math.isnan(value) else repr(value)


# --------------------------------------------------------------------- state file
def _save_state(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: temporary file in the same folder, fsync, rename."""
    text = json.dumps(state, indent=1)
    folder = path.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CLIError(f"cannot write state file {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CLIError(f"cannot write state file {path}: {exc.strerror or exc}") from None
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        with suppress(OSError):
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def _remove_leftovers(path: Path) -> None:
    """Delete temporary files that a run killed in the middle of a save left next to ``path``."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with suppress(OSError):
            leftover.unlink()


def _describe(decay: dict[str, float]) -> str:
    """The decay option as typed on the command line, e.g. ``--beta 0.9``."""
    (name, value), = decay.items()
    return f"--{name} {value!r}"


def _load_state(path: Path) -> dict[str, Any] | None:
    """The saved state, checked for shape; None if the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise CLIError(f"state file {path} is corrupt (not UTF-8 text)") from None
    except OSError as exc:
        raise CLIError(f"cannot read state file {path}: {exc.strerror or exc}") from None
    try:
        state = json.loads(text)
    except ValueError as exc:
        raise CLIError(f"state file {path} is corrupt (not JSON: {exc})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CLIError(f"state file {path} is not a streamopt smooth state")
    if state.get("version") != STATE_VERSION:
        raise CLIError(f"state file {path} has version {state.get('version')!r}, expected {STATE_VERSION}")
    expected = {
        "column": str, "header": list, "decay": dict, "alpha": float, "bias_correction": bool,
        "skipna": bool, "rows": int, "ewa": dict,
    }
    for key, kind in expected.items():
        value = state.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise CLIError(f"state file {path} is corrupt ({key!r} is {value!r})")
    if state["rows"] < 0 or len(state["decay"]) != 1 or not all(isinstance(h, str) for h in state["header"]):
        raise CLIError(f"state file {path} is corrupt")
    return state


def _check_state_matches(state: dict[str, Any], path: Path, args: argparse.Namespace,
                         decay: dict[str, float], alpha: float) -> None:
    """Refuse to continue a state written by a command with other parameters."""
    def flag(on: bool, name: str) -> str:
        return f"--{name}" if on else f"--no-{name}" if name == "skipna" else f"no --{name}"

    saved: str | None = None
    if state["column"] != args.column:
        saved, given = f"--column {state['column']!r}", f"--column {args.column!r}"
    elif state["alpha"] != alpha:
        saved = f"{_describe(state['decay'])} (alpha={state['alpha']!r})"
        given = f"{_describe(decay)} (alpha={alpha!r})"
    elif state["bias_correction"] != args.bias_correction:
        saved = flag(state["bias_correction"], "bias-correction")
        given = flag(args.bias_correction, "bias-correction")
    elif state["skipna"] != args.skipna:
        saved, given = flag(state["skipna"], "skipna"), flag(args.skipna, "skipna")
    if saved is not None:
        raise CLIError(f"state file {path} was written with {saved}, this command has {given}")


# ---------------------------------------------------------------------- command
def _open_input(file: str) -> tuple[BinaryIO, str]:
    """The input as a binary stream, and its name for messages."""
    if file == "-":
        return sys.stdin.buffer, "<stdin>"
    try:
        return open(file, "rb"), file
    except OSError as exc:
        raise CLIError(f"cannot read {file}: {exc.strerror or exc}") from None


def _parse_values(records: list[tuple[int, list[str], str]], index: int, n_fields: int,
                  column: str, name: str, first_row: int) -> list[float]:
    """The column's values in a chunk of records, exactly as ``float`` reads them; missing → NaN.

    A record with the wrong number of fields or a non-numeric value stops the
    run (:class:`CLIError` naming the line, the row, the column and the value).
    """
    values = []
    for offset, (line, fields, _) in enumerate(records):
        row = first_row + offset
        if len(fields) != n_fields:
            raise CLIError(f"{name}: line {line} (row {row}) has {len(fields)} field{'s' * (len(fields) != 1)}, "
                           f"the header has {n_fields}")
        text = fields[index].strip()
        if text in MISSING:
            values.append(math.nan)
            continue
        try:
            if "_" in text:  # float() accepts 1_000, CSV readers do not
                raise ValueError(text)
            values.append(float(text))
        except ValueError:
            raise CLIError(f"{name}: line {line} (row {row}): column {column!r} has a non-numeric value "
                           f"{fields[index]!r}") from None
    return values


def run(args: argparse.Namespace) -> int:
    """Smooth the input to standard output, chunk by chunk; returns the exit status (0).

    Order of work per chunk: read ``--chunksize`` records, parse and check
    them all, smooth them (``EWA.update``), write and flush their output, then
    save the state.  So the state never records rows that were not written,
    and a bad row stops the run before any of its chunk is written.
    """
    import numpy as np

    from .._checks import resolve_alpha
    from ..ewa import EWA

    decay = {name: getattr(args, name) for name in DECAYS if getattr(args, name) is not None}
    try:
        alpha = resolve_alpha(**decay)
        smoother = EWA(**decay, bias_correction=args.bias_correction, skipna=args.skipna)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"{_describe(decay)}: {exc}") from None

    state_path = Path(args.state) if args.state is not None else None
    state = _load_state(state_path) if state_path is not None else None
    if state_path is not None and state_path.parent.is_dir():
        _remove_leftovers(state_path)
    if state is not None:
        _check_state_matches(state, state_path, args, decay, alpha)
        try:
            smoother.load_state_dict(state["ewa"])
        except (TypeError, ValueError, KeyError) as exc:
            raise CLIError(f"state file {state_path} is corrupt ({exc})") from None
    elif state_path is not None and not state_path.parent.is_dir():
        raise CLIError(f"cannot write state file {state_path}: no folder {str(state_path.parent)!r}")

    stream, name = _open_input(args.file)
    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(encoding="utf-8")
    try:
        records = _Records(stream, name)
        first = records.next()
        if first is None:
            raise CLIError(f"{name}: the input is empty (a CSV header line is expected)")
        _, header, header_text = first
        if args.column not in header:
            shown = ", ".join(repr(h) for h in header[:20]) + (", ..." if len(header) > 20 else "")
            raise CLIError(f"{name}: no column {args.column!r} in the header (columns: {shown})")
        new_column = f"{args.column}_ewa"
        if new_column in header:
            raise CLIError(f"{name}: the input already has a column {new_column!r}")
        if state is not None and state["header"] != header:
            raise CLIError(f"{name}: the header differs from the one recorded in state file {state_path}")
        index = header.index(args.column)
        rows = state["rows"] if state is not None else 0

        def save() -> None:
            _save_state(state_path, {
                "format": STATE_FORMAT, "version": STATE_VERSION, "column": args.column, "header": header,
                "decay": decay, "alpha": alpha, "bias_correction": args.bias_correction,
                "skipna": args.skipna, "rows": rows, "ewa": smoother.state_dict(),
            })

        if state is None:
            out.write(f"{header_text},{_csv_field(new_column)}\n")
            out.flush()
            if state_path is not None:
                save()
        row_in_input = 1
        while True:
            chunk = list(islice(iter(records.next, None), args.chunksize))
            if not chunk:
                return 0
            values = _parse_values(chunk, index, len(header), args.column, name, row_in_input)
            smoothed = smoother.update(np.array(values, dtype=np.float64))
            out.write("".join(f"{text},{_format(v)}\n" for (_, _, text), v in zip(chunk, smoothed.tolist())))
            out.flush()
            rows += len(chunk)
            row_in_input += len(chunk)
            if state_path is not None:
                save()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
