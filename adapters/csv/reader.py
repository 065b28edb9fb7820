"""Reading and validating the three input files of a data folder.

The rules are those of the report contract ("Inputs", "Bad rows",
"Duplicates"):

* UTF-8, with or without a byte-order mark; LF or CRLF line ends; white space
  around any field is ignored; columns in any order, extra columns ignored;
  ``day`` is accepted for ``dayOfWeek``. Header names match ignoring case.
* ``store_id`` is an opaque string, kept as written (trimmed); a row whose
  id holds a control character or is longer than ``MAX_STORE_ID_CHARS`` is
  rejected, in every file.
* A poll before 1970-01-01 UTC, or more than a day after the reading
  machine's clock, is rejected: a poller with a wrong clock must not move
  the report's "now" for every store.
* A row that cannot be read is rejected: counted, and the first
  ``MAX_LISTED_ERRORS`` listed with their 1-based physical line (the header
  is line 1) and the reason. A row with fewer or more fields than the header
  is rejected too. Blank lines are not rows.
* Duplicates: the first valid row in file order wins; later ones are counted.

Speed: a week of polls is about 1.9M rows. A file without quotes (the usual
case) is mapped and its lines and commas are found with numpy, a slice at a
time, so every row keeps its exact line and rows of the wrong shape are
skipped; pandas' C parser reads the text columns of the others, and the
timestamps are read from the bytes (see ``_canonical_instants``). Every check
then works on whole columns, and on the few distinct values of a column
(store ids, statuses, times, timezone names) rather than on each row. A file
with quotes, a lone carriage return or bytes that are not UTF-8 is read with
the ``csv`` module instead: slower, same results.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import mmap
import os
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import attrs
import numpy as np
import pandas as pd
import pytz
from numpy.typing import NDArray

from domain.clock import MICROS_PER_DAY, MICROS_PER_SECOND, to_micros
from domain.errors import InvalidInputError, clipped, quoted
from domain.ingestion import (
    HOURS_FILE,
    MAX_LISTED_ERRORS,
    STATUS_FILE,
    TIMEZONE_FILE,
    FileSummary,
    ParsedInput,
    RejectedRow,
)
from domain.inputs import BoolArray, BusinessHours, Int64Array, StatusPolls, StoreTimezones
from domain.ports import InputReader

_T = TypeVar("_T")
# The reading machine's clock: an aware datetime of the current instant.
Clock = Callable[[], datetime]
# A file's bytes: mapped, or (when empty) read.
Bytes = bytes | mmap.mmap

# Each required column: the header names it may have, the preferred first.
ColumnNames = tuple[str, ...]
STATUS_COLUMNS: tuple[ColumnNames, ...] = (("store_id",), ("status",), ("timestamp_utc",))
HOURS_COLUMNS: tuple[ColumnNames, ...] = (
    ("store_id",),
    ("dayOfWeek", "day"),
    ("start_time_local",),
    ("end_time_local",),
)
TIMEZONE_COLUMNS: tuple[ColumnNames, ...] = (("store_id",), ("timezone_str",))

_BOM = b"\xef\xbb\xbf"
_LF = ord("\n")
_CR = ord("\r")
_COMMA = ord(",")
_SLICE = 1 << 20
_BLOCK_ROWS = 1 << 15
# Days of each month (index 1-12) in a common year.
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
# What counts as white space on a blank line (the same bytes as bytes.strip()).
_ASCII_SPACE = " \t\n\r\x0b\x0c"
# A bad value is shown in a reason up to this many characters.
_SHOWN_CHARS = 40
# A message lists a header's names up to about this many characters.
_SHOWN_HEADER_CHARS = 120
# The longest store id kept; a longer one is rejected.
MAX_STORE_ID_CHARS = 255
# C0 controls and DEL: never part of a store id.
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
_TIME_OF_DAY = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{0,9}))?)?")
_WEEKDAY = re.compile(r"[0-9]+")
_UTC_SUFFIX = re.compile(r"\s*(?i:utc)$")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def system_clock() -> datetime:
    """This machine's clock, in UTC."""
    return datetime.now(timezone.utc)


class PandasCsvReader(InputReader):
    """Reads ``store_status.csv`` (required), ``menu_hours.csv`` and ``timezone.csv``.

    ``clock`` is the reading machine's clock: polls more than a day after it are rejected.
    """

    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock

    def read(self, folder: Path) -> ParsedInput:
        if not folder.is_dir():
            raise InvalidInputError(f"the data folder {clipped(str(folder))} does not exist or is not a folder")
        status_path = folder / STATUS_FILE
        if not status_path.exists():
            raise InvalidInputError(f"{STATUS_FILE} is missing from the data folder {clipped(str(folder))}")
        polls, polls_summary = read_status(status_path, self._clock())
        hours_path = folder / HOURS_FILE
        hours, hours_summary = read_hours(hours_path) if hours_path.exists() else (BusinessHours.empty(), FileSummary())
        timezone_path = folder / TIMEZONE_FILE
        timezones, timezones_summary = (
            read_timezones(timezone_path) if timezone_path.exists() else (StoreTimezones(), FileSummary())
        )
        return ParsedInput(polls, polls_summary, hours, hours_summary, timezones, timezones_summary)


def read_status(path: Path, now: datetime | None = None) -> tuple[StatusPolls, FileSummary]:
    """The valid, distinct polls of a ``store_status.csv`` and what was read.

    ``now`` is the reading machine's clock (by default ``system_clock()``):
    polls more than a day after it are rejected, as are polls before 1970.
    """
    now = system_clock() if now is None else now
    latest = to_micros(now) + MICROS_PER_DAY
    table = _read_table(path, STATUS_COLUMNS, _InstantColumn("timestamp_utc", 0, latest))
    checks = _Checks(table)
    store_codes, store_names = _store_codes(checks, "store_id")
    active = _statuses(table.values["status"])
    checks.reject(active < 0, "status", "is not 'active' or 'inactive'")
    instants, readable = _table_instants(table, "timestamp_utc")
    checks.reject(~readable, "timestamp_utc", "is not a timestamp (such as 2023-01-22 12:09:39.388884 UTC)")
    checks.reject(instants < 0, "timestamp_utc", "is before 1970-01-01 UTC")
    checks.reject(
        instants > latest,
        "timestamp_utc",
        f"is more than a day after this machine's clock ({now.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC)",
    )

    valid = checks.valid()
    store_ids, store_index = _vocabulary(store_codes[valid], store_names)
    instants = instants[valid]
    repeated = _repeated_polls(store_index, instants)
    keep = ~repeated
    polls = StatusPolls(store_ids, store_index[keep], instants[keep], active[valid][keep] == 1)
    return polls, table.summary(int(repeated.sum()))


def read_hours(path: Path) -> tuple[BusinessHours, FileSummary]:
    """The distinct valid rows of a ``menu_hours.csv`` and what was read."""
    table = _read_table(path, HOURS_COLUMNS)
    checks = _Checks(table)
    store_codes, store_names = _store_codes(checks, "store_id")
    weekday = _per_value(table.values["dayOfWeek"], _weekday)
    checks.reject(weekday < 0, "dayOfWeek", "is not a whole number from 0 (Monday) to 6 (Sunday)")
    start = _per_value(table.values["start_time_local"], _time_of_day)
    checks.reject(start < 0, "start_time_local", "is not a time of day (HH:MM:SS or HH:MM)")
    end = _per_value(table.values["end_time_local"], _time_of_day)
    checks.reject(end < 0, "end_time_local", "is not a time of day (HH:MM:SS or HH:MM)")

    valid = checks.valid()
    store_ids, store_index = _vocabulary(store_codes[valid], store_names)
    columns = (store_index, weekday[valid], start[valid], end[valid])
    repeated = pd.DataFrame(dict(enumerate(columns))).duplicated(keep="first").to_numpy()
    keep = ~repeated
    hours = BusinessHours(store_ids, *(column[keep] for column in columns))
    return hours, table.summary(int(repeated.sum()))


def read_timezones(path: Path) -> tuple[StoreTimezones, FileSummary]:
    """Each store's timezone (its first valid row) from a ``timezone.csv``, and what was read."""
    table = _read_table(path, TIMEZONE_COLUMNS)
    checks = _Checks(table)
    store_codes, store_names = _store_codes(checks, "store_id")
    codes, names = _unique_values(table.values["timezone_str"], _timezone_name)
    unknown = np.array([name is None for name in names], dtype=np.bool_)[codes]
    checks.reject(unknown, "timezone_str", "is not a timezone name pytz knows")

    valid = checks.valid()
    store_ids, store_index = _vocabulary(store_codes[valid], store_names)
    repeated = pd.Series(store_index).duplicated(keep="first").to_numpy()
    first_rows = ~repeated
    by_store = {
        store_ids[store]: str(names[code])
        for store, code in zip(store_index[first_rows].tolist(), codes[valid][first_rows].tolist())
    }
    return StoreTimezones(dict(sorted(by_store.items()))), table.summary(int(repeated.sum()))


# --- Reading a file into columns -------------------------------------------------------------


class _Rejections:
    """The rejected rows of a file: all counted, the first listed with a reason.

    Reasons are written only for rows that may be listed, so a file of a
    million bad rows costs no more than a million booleans.
    """

    def __init__(self) -> None:
        self.count = 0
        self._groups: list[tuple[Int64Array, Callable[[int], str]]] = []

    def add(self, lines: Int64Array, reason: Callable[[int], str]) -> None:
        """Rows on ``lines`` (ascending); ``reason(i)`` explains the one on ``lines[i]``."""
        if len(lines):
            self.count += len(lines)
            self._groups.append((lines[:MAX_LISTED_ERRORS], reason))

    def listed(self) -> tuple[RejectedRow, ...]:
        candidates = sorted(
            (int(line), group, i) for group, (lines, _) in enumerate(self._groups) for i, line in enumerate(lines)
        )
        return tuple(
            RejectedRow(line, self._groups[group][1](i)) for line, group, i in candidates[:MAX_LISTED_ERRORS]
        )


@attrs.frozen
class _InstantColumn:
    """A column of timestamps, and the instants (UTC µs) a valid row may hold: ``[earliest, latest]``."""

    name: str
    earliest: int
    latest: int


@attrs.define
class _Table:
    """The rows of one file that have as many fields as its header.

    ``values`` holds, per required column, the fields as written, indexed by
    row; ``lines`` the line of each row; rows of the wrong shape are already
    rejected. ``instants``, when set, are the timestamps already read from
    the bytes (see ``_canonical_instants``); the timestamp column's
    ``values`` then hold only the rows those could not read, and those whose
    instant is out of the column's range (for the reason that rejects them).
    """

    file_name: str
    labels: dict[str, str]
    values: dict[str, pd.Series]
    lines: Int64Array
    rejections: _Rejections
    malformed: int
    instants: tuple[Int64Array, BoolArray] | None = None

    def summary(self, duplicates: int) -> FileSummary:
        # Called untyped: mypy cannot see through the ``tuple`` converter of ``errors``.
        build: Any = FileSummary
        summary: FileSummary = build(
            rows=len(self.lines) + self.malformed,
            duplicates=duplicates,
            rejected=self.rejections.count,
            errors=self.rejections.listed(),
        )
        return summary


class _Checks:
    """Rejects rows column by column; a row is explained by the first check it fails."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.bad: BoolArray = np.zeros(len(table.lines), dtype=np.bool_)

    def reject(self, mask: BoolArray, column: str, problem: str) -> None:
        rows = np.flatnonzero(mask & ~self.bad)
        self.bad |= mask
        label = self.table.labels[column]
        values = self.table.values[column]

        def reason(i: int) -> str:
            value = str(values.loc[rows[i]])
            if not value.strip():
                return f"{label} is blank"
            return f"{label} {_show(value)} {problem}"

        self.table.rejections.add(self.table.lines[rows], reason)

    def valid(self) -> BoolArray:
        return ~self.bad


def _show(value: str) -> str:
    return quoted(value, _SHOWN_CHARS)


def _read_table(
    path: Path, columns: Sequence[ColumnNames], instant_column: _InstantColumn | None = None
) -> _Table:
    """The file's rows that have the header's shape; the others rejected.

    ``instant_column`` holds timestamps: the fast path reads them from the bytes.
    """
    try:
        with path.open("rb") as file:
            # Mapped rather than read: the scans below look at every byte
            # once, and a 100 MB copy would cost more than they do.
            empty = os.fstat(file.fileno()).st_size == 0
            raw: Bytes = b"" if empty else mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"{path.name} cannot be read: {_os_reason(error)}") from error
    try:
        begin = len(_BOM) if raw[: len(_BOM)] == _BOM else 0
        table = None
        if raw.find(b'"', begin) < 0 and not _has_lone_carriage_return(raw):
            table = _read_with_pandas(path, raw, begin, columns, instant_column)
        return table if table is not None else _read_with_csv_module(path.name, bytes(raw[begin:]), columns)
    finally:
        if isinstance(raw, mmap.mmap):
            with contextlib.suppress(BufferError):  # a traceback may still hold a view: then the GC closes it
                raw.close()


def _os_reason(error: Exception) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error)


def _has_lone_carriage_return(raw: Bytes) -> bool:
    """Whether a CR ends a line on its own: pandas would split there, the line scan here would not."""
    if raw.find(b"\r") < 0:
        return False
    data = np.frombuffer(raw, dtype=np.uint8)
    following = _positions(data, _CR) + 1
    return bool(following[-1] >= len(data) or (data[following[following < len(data)]] != _LF).any())


def _locate(file_name: str, header: Sequence[str], columns: Sequence[ColumnNames]) -> dict[str, int]:
    """Position of each required column in the header, by its first name."""
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        positions.setdefault(name.strip().casefold(), i)
    found: dict[str, int] = {}
    missing: list[str] = []
    for names in columns:
        position = next((positions[n.casefold()] for n in names if n.casefold() in positions), None)
        if position is None:
            missing.append(" or ".join(repr(n) for n in names))
        else:
            found[names[0]] = position
    if missing:
        present = _header_names(header) if header else "none: the file has no header row"
        what = "column" if len(missing) == 1 else "columns"
        raise InvalidInputError(
            f"{file_name} has no {what} {', '.join(missing)} (its columns: {present}); nothing was loaded from it"
        )
    return found


def _header_names(header: Sequence[str]) -> str:
    """The header's names for a message: as many as fit in about ``_SHOWN_HEADER_CHARS``."""
    shown: list[str] = []
    length = 0
    for name in header:
        text = quoted(name.strip(), _SHOWN_CHARS)
        if shown and length + len(text) > _SHOWN_HEADER_CHARS:
            shown.append(f"and {len(header) - len(shown)} more")
            break
        shown.append(text)
        length += len(text) + 2
    return ", ".join(shown)


def _is_blank(fields: Sequence[str]) -> bool:
    return len(fields) <= 1 and not "".join(fields).strip(_ASCII_SPACE)


def _wrong_shape(fields: int, expected: int) -> str:
    return f"the row has {fields} field{'s' if fields != 1 else ''}; the header has {expected}"


def _read_with_pandas(
    path: Path, raw: Bytes, begin: int, columns: Sequence[ColumnNames], instant_column: _InstantColumn | None
) -> _Table | None:
    """A file without quotes nor lone carriage returns, whose bytes are ``raw``, text from ``begin``.

    Its lines are found with numpy, so every row keeps its line and rows of
    the wrong shape are skipped; pandas reads the text columns of the others.
    None if the file is not UTF-8, or if pandas does not find the lines of ``raw``.
    """
    file_name = path.name
    header_index, header_start, data_start = _header_line(raw, begin)
    try:
        header_text = raw[header_start:data_start].decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return None
    header = header_text.split(",") if header_text.strip(_ASCII_SPACE) else []
    found = _locate(file_name, header, columns)
    labels = {name: header[i].strip() for name, i in found.items()}
    width = len(header)
    rejections = _Rejections()
    data = np.frombuffer(raw, dtype=np.uint8)
    if not _is_utf8(raw, data):
        return None

    lines = _Lines.scan(data)
    data_lines = np.arange(header_index + 1, len(lines.ends), dtype=np.int64)
    fields = lines.fields[data_lines]
    one_field = data_lines[fields == 1]
    blank = np.isin(data_lines, [i for i in one_field if not raw[lines.starts[i] : lines.ends[i]].strip()])
    good = (fields == width) & ~blank
    malformed = ~good & ~blank
    bad_lines, bad_fields = data_lines[malformed], fields[malformed]
    rejections.add(bad_lines + 1, lambda i: _wrong_shape(int(bad_fields[i]), width))
    rows = data_lines[good]
    values: dict[str, pd.Series] = {}
    if len(rows) == 0:
        values = {name: pd.Series([], dtype="str") for name in found}
        return _Table(file_name, labels, values, rows + 1, rejections, len(bad_lines))

    text_columns = dict(found)
    instants = None
    if instant_column is not None:
        start, end = lines.field(data, rows, text_columns.pop(instant_column.name), width)
        instants = _canonical_instants(data, start, end)
        outside = (instants[0] < instant_column.earliest) | (instants[0] > instant_column.latest)
        shown = np.flatnonzero(~instants[1] | outside)
        texts = [raw[i:j].decode("utf-8") for i, j in zip(start[shown].tolist(), end[shown].tolist())]
        values[instant_column.name] = pd.Series(texts, index=shown, dtype="str")
    skip: int | list[int] = header_index + 1
    if len(rows) < len(data_lines):
        skip = list(range(header_index + 1)) + data_lines[~good].tolist()
    frame = _pandas_read(path, width, sorted(text_columns.values()), skip)
    if frame is None or len(frame) != len(rows):
        return None
    values.update({name: frame[position] for name, position in text_columns.items()})
    return _Table(file_name, labels, values, rows + 1, rejections, len(bad_lines), instants)


def _is_utf8(raw: Bytes, data: NDArray[np.uint8]) -> bool:
    # Pure ASCII (the usual case) is checked without decoding.
    if not any((data[offset : offset + _SLICE] >= 0x80).any() for offset in range(0, len(data), _SLICE)):
        return True
    try:
        with memoryview(raw) as view:
            codecs.utf_8_decode(view, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def _header_line(raw: Bytes, begin: int) -> tuple[int, int, int]:
    """The first non-blank line from ``begin``: its 0-based index, where it starts, where the next starts."""
    index, start = 0, begin
    while start < len(raw):
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end
        if raw[start:end].strip():
            return index, start, min(end + 1, len(raw))
        index, start = index + 1, end + 1
    return index, len(raw), len(raw)


@attrs.frozen
class _Lines:
    """The physical lines of a file without quotes (split at LF) and their commas."""

    starts: Int64Array
    ends: Int64Array  # where each line's LF is (or the end of the file)
    commas: Int64Array  # where every comma is
    first_comma: Int64Array  # per line, the index in ``commas`` of its first comma
    fields: Int64Array  # per line, how many comma-separated fields it has

    @classmethod
    def scan(cls, data: NDArray[np.uint8]) -> _Lines:
        ends = _positions(data, _LF)
        if len(data) and data[-1] != _LF:
            ends = np.append(ends, len(data))
        starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64) if len(ends) else ends
        commas = _positions(data, _COMMA)
        first_comma = np.searchsorted(commas, starts).astype(np.int64)
        fields = np.searchsorted(commas, ends).astype(np.int64) - first_comma + 1
        return cls(starts, ends, commas, first_comma, fields)

    def field(
        self, data: NDArray[np.uint8], lines: Int64Array, column: int, width: int
    ) -> tuple[Int64Array, Int64Array]:
        """Where field ``column`` starts and ends on each of ``lines`` (which have ``width`` fields)."""
        first = self.first_comma[lines]
        start = self.starts[lines] if column == 0 else self.commas[first + column - 1] + 1
        if column < width - 1:
            return start, self.commas[first + column]
        end = self.ends[lines]
        # The last field ends before the CR of a CRLF.
        return start, end - ((end > start) & (data[np.maximum(end - 1, 0)] == _CR))


def _positions(data: NDArray[np.uint8], value: int) -> Int64Array:
    """Where ``value`` occurs in ``data``.

    Found a slice at a time: one comparison of the whole file would allocate
    (and fault in) as many bytes again, which costs more than the search.
    """
    found = [np.flatnonzero(data[offset : offset + _SLICE] == value) + offset for offset in range(0, len(data), _SLICE)]
    return np.concatenate(found).astype(np.int64) if found else np.empty(0, dtype=np.int64)


def _pandas_read(path: Path, width: int, usecols: list[int], skiprows: int | list[int]) -> pd.DataFrame | None:
    """The fields of ``usecols`` as strings, on every line not skipped; None if pandas fails."""
    try:
        # From the path: pandas reads a file faster than a BytesIO of its bytes.
        return pd.read_csv(
            path,
            header=None,
            names=list(range(width)),
            usecols=usecols,
            skiprows=skiprows,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            index_col=False,
            encoding="utf-8",
        )
    except (pd.errors.ParserError, UnicodeDecodeError, OSError):
        return None


def _read_with_csv_module(file_name: str, raw: bytes, columns: Sequence[ColumnNames]) -> _Table:
    """Any file, quotes included; line numbers from the ``csv`` module's count."""
    text = raw.decode("utf-8", errors="surrogateescape")
    check_utf8 = _NOT_UTF8.search(text) is not None
    # The csv module refuses fields over 128 KiB by default; the fast path
    # reads any length, and both paths must agree.
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    reader = csv.reader(io.StringIO(text, newline=""))
    rejections = _Rejections()
    bad_lines: list[int] = []
    bad_reasons: list[str] = []
    found: dict[str, int] | None = None
    labels: dict[str, str] = {}
    width = 0
    kept: list[list[str]] = []
    lines: list[int] = []
    last_line = 0
    while True:
        try:
            row = next(reader)
            problem = None
        except StopIteration:
            break
        except csv.Error as error:
            row, problem = [], f"the row cannot be read as CSV: {error}"
        line, last_line = last_line + 1, reader.line_num
        if problem is None and _is_blank(row):
            continue
        if found is None:
            if problem is not None:
                raise InvalidInputError(f"{file_name}: the header on line {line} cannot be read: {problem}")
            found = _locate(file_name, row, columns)
            labels = {name: row[i].strip() for name, i in found.items()}
            width = len(row)
            continue
        if problem is None and check_utf8 and any(_NOT_UTF8.search(field) for field in row):
            problem = "the row is not valid UTF-8"
        if problem is None and len(row) != width:
            problem = _wrong_shape(len(row), width)
        if problem is not None:
            bad_lines.append(line)
            bad_reasons.append(problem)
            continue
        kept.append([row[i] for i in found.values()])
        lines.append(line)
    if found is None:
        found = _locate(file_name, [], columns)
    rejections.add(np.array(bad_lines, dtype=np.int64), bad_reasons.__getitem__)
    values = {
        name: pd.Series([row[k] for row in kept], dtype="str") for k, name in enumerate(found)
    }
    return _Table(file_name, labels, values, np.array(lines, dtype=np.int64), rejections, len(bad_lines))


# --- Column checks ---------------------------------------------------------------------------


def _unique_values(values: pd.Series, convert: Callable[[str], _T]) -> tuple[Int64Array, list[_T]]:
    """Per row, the code of its value, and each distinct value converted once."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    return np.asarray(codes, dtype=np.int64), [convert(str(value)) for value in uniques]


def _per_value(values: pd.Series, convert: Callable[[str], int]) -> Int64Array:
    """``convert`` of every row's value, computed once per distinct value."""
    codes, converted = _unique_values(values, convert)
    return np.asarray(converted, dtype=np.int64)[codes]


def _store_codes(checks: _Checks, column: str) -> tuple[Int64Array, list[str]]:
    """Per row, the code of its (trimmed) store id.

    Rows whose id is blank, holds a control character or is longer than
    ``MAX_STORE_ID_CHARS`` are rejected; each distinct id is checked once.
    Around the id, spaces, tabs and line ends are white space, trimmed; any
    other control character, even at either end, rejects the row.
    """
    codes, written = _unique_values(checks.table.values[column], str)
    names = [text.strip() for text in written]

    def reject(problem: Callable[[int], bool], reason: str) -> None:
        checks.reject(np.array([problem(i) for i in range(len(names))], dtype=np.bool_)[codes], column, reason)

    reject(lambda i: not names[i], "is blank")
    reject(
        lambda i: _CONTROL_CHARACTER.search(written[i].strip(_ASCII_SPACE)) is not None,
        "holds a control character (U+0000 to U+001F or U+007F)",
    )
    reject(lambda i: len(names[i]) > MAX_STORE_ID_CHARS, f"is longer than {MAX_STORE_ID_CHARS} characters")
    return codes, names


def _vocabulary(codes: Int64Array, names: list[str]) -> tuple[tuple[str, ...], Int64Array]:
    """The sorted distinct names that ``codes`` use, and each code's position among them."""
    used = np.flatnonzero(np.bincount(codes, minlength=len(names)))
    store_ids = sorted({names[i] for i in used.tolist()})
    position = {name: i for i, name in enumerate(store_ids)}
    remap = np.array([position.get(name, -1) for name in names], dtype=np.int64)
    return tuple(store_ids), remap[codes]


def _repeated_polls(store_index: Int64Array, instants: Int64Array) -> BoolArray:
    """True for each row whose ``(store, instant)`` an earlier row has."""
    if len(instants) == 0:
        return np.zeros(0, dtype=np.bool_)
    first = int(instants.min())
    span = int(instants.max()) - first + 1
    if (int(store_index.max()) + 1) * span >= 2**62:
        return pd.DataFrame({"store": store_index, "instant": instants}).duplicated(keep="first").to_numpy()
    key = store_index * span + (instants - first)
    # Sorting one int64 column to see that nothing repeats (the usual case)
    # is ten times faster than hashing it to find what repeats.
    ordered = np.sort(key)
    if not (ordered[1:] == ordered[:-1]).any():
        return np.zeros(len(key), dtype=np.bool_)
    return pd.Series(key).duplicated(keep="first").to_numpy()


def _statuses(values: pd.Series) -> Int64Array:
    """1 for active, 0 for inactive, -1 for anything else."""
    # Nearly every value is written exactly so; comparing is faster than hashing.
    text = values.to_numpy(dtype=object)
    active, inactive = text == "active", text == "inactive"
    statuses = np.where(active, 1, np.where(inactive, 0, -1)).astype(np.int64)
    others = np.flatnonzero(~(active | inactive))
    if len(others):
        statuses[others] = _per_value(values.iloc[others], _status_value)
    return statuses


def _status_value(text: str) -> int:
    """1 for active, 0 for inactive, -1 for anything else."""
    return {"active": 1, "inactive": 0}.get(text.strip().lower(), -1)


def _weekday(text: str) -> int:
    """0 (Monday) to 6 (Sunday); -1 if not such a whole number."""
    text = text.strip()
    if _WEEKDAY.fullmatch(text) and int(text) <= 6:
        return int(text)
    return -1


def _time_of_day(text: str) -> int:
    """Microseconds since local midnight of ``HH:MM[:SS[.fraction]]``; -1 if not a time."""
    match = _TIME_OF_DAY.fullmatch(text.strip())
    if match is None:
        return -1
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return -1
    fraction = int((match[4] or "").ljust(6, "0")[:6])
    return ((hour * 60 + minute) * 60 + second) * MICROS_PER_SECOND + fraction


def _timezone_name(text: str) -> str | None:
    """The IANA name pytz knows for ``text``, or None."""
    name = text.strip()
    if name in pytz.all_timezones_set:
        return name
    try:
        return str(pytz.timezone(name))  # also accepts other spellings, e.g. 'utc'
    except (KeyError, ValueError, OSError):
        return None


def _table_instants(table: _Table, column: str) -> tuple[Int64Array, BoolArray]:
    """UTC microseconds of each row's timestamp, and whether it could be read.

    A timestamp is read as ISO 8601 after a trailing ``UTC`` is removed; an
    offset is applied; one without an offset is UTC. A fraction finer than a
    microsecond is cut.
    """
    texts = table.values[column]
    if table.instants is None:
        return _text_instants(texts)
    instants, readable = table.instants[0].copy(), table.instants[1].copy()
    unread = ~readable[texts.index.to_numpy()]
    if unread.any():
        rows = texts.index.to_numpy()[unread]
        instants[rows], readable[rows] = _text_instants(texts[unread])
    return instants, readable


def _canonical_instants(data: NDArray[np.uint8], start: Int64Array, end: Int64Array) -> tuple[Int64Array, BoolArray]:
    """The timestamps in ``data[start:end]`` written the usual way, read straight from the bytes.

    The usual way: ``YYYY-MM-DD HH:MM:SS`` (or a ``T`` between date and time),
    an optional fraction of up to 9 digits, then `` UTC``, ``Z`` or nothing.
    A field written otherwise, or naming a date or time that does not exist,
    is not read here (``readable`` False) but by the general parse. Nearly
    every timestamp is written the usual way, and reading them from the bytes
    saves pandas making, cutting and parsing millions of strings.
    """
    instants = np.zeros(len(start), dtype=np.int64)
    readable = np.zeros(len(start), dtype=np.bool_)
    # A block at a time: the many temporary columns then stay small enough
    # to be reused from the cache instead of being fresh memory each time.
    for first in range(0, len(start), _BLOCK_ROWS):
        block = slice(first, first + _BLOCK_ROWS)
        instants[block], readable[block] = _canonical_block(data, start[block], end[block])
    return instants, readable


def _canonical_block(data: NDArray[np.uint8], start: Int64Array, end: Int64Array) -> tuple[Int64Array, BoolArray]:
    length = end - start
    # A field that could reach past the end of the data (only on the last
    # lines) is left to the general parse, so no position needs a bounds check.
    near_edge = (start + 29 > len(data)) | (end < 4)
    start, end = np.where(near_edge, 0, start), np.where(near_edge, 4, end)
    readable = ~near_edge

    def check(condition: BoolArray) -> None:
        np.logical_and(readable, condition, out=readable)

    def number(*offsets: int) -> Int64Array:
        value = np.zeros(len(start), dtype=np.int64)
        for offset in offsets:
            digit = data[start + offset] - np.uint8(ord("0"))  # other bytes wrap round to more than 9
            check(digit <= 9)
            value = value * 10 + digit
        return value

    utc = (length >= 23) & (data[end - 4] == ord(" ")) & (data[end - 3] == ord("U"))
    utc &= (data[end - 2] == ord("T")) & (data[end - 1] == ord("C"))
    zulu = ~utc & (data[end - 1] == ord("Z"))
    fraction_digits = length - 4 * utc - zulu - 20
    check((fraction_digits == -1) | ((fraction_digits >= 1) & (fraction_digits <= 9)))

    year = number(0, 1, 2, 3)
    check(data[start + 4] == ord("-"))
    month = number(5, 6)
    check(data[start + 7] == ord("-"))
    day = number(8, 9)
    check((data[start + 10] == ord(" ")) | (data[start + 10] == ord("T")))
    hour = number(11, 12)
    check(data[start + 13] == ord(":"))
    minute = number(14, 15)
    check(data[start + 16] == ord(":"))
    second = number(17, 18)
    check((fraction_digits < 1) | (data[start + 19] == ord(".")))
    micro = np.zeros(len(start), dtype=np.int64)
    for i in range(9):
        present = i < fraction_digits
        digit = data[start + 20 + i] - np.uint8(ord("0"))
        check(~present | (digit <= 9))
        if i < 6:  # digits past the microsecond are checked, then cut
            micro = micro * 10 + digit * present

    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(month, 0, 12)] + (leap & (month == 2))
    check((year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days))
    check((hour <= 23) & (minute <= 59) & (second <= 59))

    # Days since 1970-01-01 of the proleptic Gregorian date, counted from
    # 1 March 0000 so that a leap day ends its year.
    shifted_year = year - (month <= 2)
    era = shifted_year // 400
    year_of_era = shifted_year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146_097 + day_of_era - 719_468
    seconds = days * 86_400 + (hour * 60 + minute) * 60 + second
    return np.where(readable, seconds * MICROS_PER_SECOND + micro, 0), readable


def _text_instants(values: pd.Series) -> tuple[Int64Array, BoolArray]:
    """The timestamps of ``values`` (see ``_table_instants``), in their order.

    Nearly all go through one vectorised parse; the ones it cannot read are
    cleaned and tried again, then one by one.
    """
    text = values
    if values.head(100).str.endswith(" UTC").any():
        text = values.str.removesuffix(" UTC")
    instants, readable = _iso_micros(text)
    failed = np.flatnonzero(~readable)
    if len(failed):
        cleaned = values.iloc[failed].str.strip().str.replace(_UTC_SUFFIX, "", regex=True)
        again, read_again = _iso_micros(cleaned)
        instants[failed[read_again]] = again[read_again]
        readable[failed[read_again]] = True
        for row, value in zip(failed[~read_again].tolist(), cleaned.to_numpy()[~read_again].tolist()):
            instant = _one_instant(value)
            if instant is not None:
                instants[row] = instant
                readable[row] = True
    return instants, readable


def _iso_micros(text: pd.Series) -> tuple[Int64Array, BoolArray]:
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    readable = np.array(parsed.notna(), dtype=np.bool_)
    instants = np.array(parsed.dt.as_unit("us").astype("int64"), dtype=np.int64)  # a writable copy
    return instants, readable


def _one_instant(text: str) -> int | None:
    """One timestamp that the vectorised parse could not read (e.g. beyond its range)."""
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return to_micros(moment)
