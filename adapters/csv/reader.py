"""Reading and validating the three input files of a data folder, a batch of rows at a time.

The rules are those of the report contract ("Inputs", "Bad rows",
"Duplicates"):

* UTF-8, with or without a byte-order mark; LF, CRLF or lone CR line ends;
  white space around any field is ignored; columns in any order, extra
  columns ignored; ``day`` is accepted for ``dayOfWeek``. Header names match
  ignoring case.
* ``store_id`` is an opaque string, kept as written (trimmed); a row whose
  id holds a control character or is longer than ``MAX_STORE_ID_CHARS`` is
  rejected, in every file.
* A poll before 1970-01-01 UTC, or more than a day after the reading
  machine's clock, is rejected: a poller with a wrong clock must not move
  the report's "now" for every store.
* A row that cannot be read is rejected: counted, and the first
  ``MAX_LISTED_ERRORS`` listed with their 1-based physical line (the header
  is line 1) and the reason. A row with fewer or more fields than the header
  is rejected too, and so is a row holding bytes that are not UTF-8. Blank
  lines are not rows.
* Duplicates: the first valid row in file order wins; later ones are counted.

How: the header line is read here (it fixes the columns, and where the data
starts); pyarrow's streaming CSV reader parses the rest, a block of bytes at
a time, into batches of rows, so memory does not grow with the file. A row of
the wrong shape reaches pyarrow's invalid-row handler instead, with its
record number. The physical line of every row follows from the record
numbers and the line breaks inside quoted values (see ``_Pass``). Every check
then works on a batch's whole columns, and on the distinct values of a
column (store ids, statuses, times, timezone names) rather than on each row,
each distinct value converted once per file.

Resume points: every batch tells where a later read of the same file, grown
by appended lines, goes on (the end of the last complete line taken); a read
can start there, taking its columns from the header line.
"""

from __future__ import annotations

import atexit
import codecs
import ctypes
import csv
import gc
import hashlib
import io
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, BinaryIO, Generic, Literal, TypeVar, cast

import attrs
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytz
from numpy.typing import NDArray

from domain.clock import MICROS_PER_DAY, MICROS_PER_SECOND, to_micros
from domain.errors import InvalidInputError, clipped, quoted
from domain.ingestion import (
    HOURS_FILE,
    MAX_LISTED_ERRORS,
    START,
    STATUS_FILE,
    TIMEZONE_FILE,
    BatchCounts,
    FileSummary,
    Fingerprint,
    HoursBatch,
    InputBatch,
    ParsedInput,
    RejectedRow,
    ResumePoint,
    StatusBatch,
    TimezoneBatch,
    summarize,
)
from domain.inputs import BoolArray, BusinessHours, Int64Array, StatusPolls, StoreTimezones
from domain.ports import InputReader

_Scalar = TypeVar("_Scalar", bound=np.generic)
_Value = TypeVar("_Value")
# The reading machine's clock: an aware datetime of the current instant.
Clock = Callable[[], datetime]

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

# Bytes pyarrow parses at a time: about 70,000 polls. A row longer than a
# block is read by parsing again from the last batch with larger blocks.
BLOCK_BYTES = 4 << 20

_BOM = b"\xef\xbb\xbf"
_LF = ord("\n")
_CR = ord("\r")
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
# What a byte that is not UTF-8 becomes before pyarrow sees it: one ASCII byte
# for each, so that no offset moves; its row is rejected anyway.
_NOT_UTF8_STANDIN = b"?"
# Bytes of each end of what was read that a fingerprint covers.
_FINGERPRINT_BYTES = 1 << 20
# Distinct values remembered per column and file; past it the memory starts again.
_MAX_REMEMBERED = 1 << 20


def system_clock() -> datetime:
    """This machine's clock, in UTC."""
    return datetime.now(timezone.utc)


class CsvInputReader(InputReader):
    """Reads ``store_status.csv`` (required), ``menu_hours.csv`` and ``timezone.csv``.

    ``clock`` is the reading machine's clock: polls more than a day after it are rejected.
    """

    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock

    def read(self, folder: Path) -> ParsedInput:
        polls, polls_summary = read_status(_status_path(folder), self._clock())
        hours_path = folder / HOURS_FILE
        hours, hours_summary = read_hours(hours_path) if hours_path.exists() else (BusinessHours.empty(), FileSummary())
        timezone_path = folder / TIMEZONE_FILE
        timezones, timezones_summary = (
            read_timezones(timezone_path) if timezone_path.exists() else (StoreTimezones(), FileSummary())
        )
        return ParsedInput(polls, polls_summary, hours, hours_summary, timezones, timezones_summary)

    def status_batches(self, folder: Path, resume: ResumePoint | None = None) -> Iterator[StatusBatch]:
        return iter_status_batches(_status_path(folder), self._clock, resume)

    def hours(self, folder: Path) -> tuple[BusinessHours, FileSummary] | None:
        path = folder / HOURS_FILE
        return read_hours(path) if path.exists() else None

    def timezones(self, folder: Path) -> tuple[StoreTimezones, FileSummary] | None:
        path = folder / TIMEZONE_FILE
        return read_timezones(path) if path.exists() else None

    def fingerprint(self, folder: Path, name: str, length: int | None = None) -> Fingerprint | None:
        """SHA-256 of the first and the last MiB of the first ``length`` bytes, and of ``length``.

        Reading both ends costs the same whatever the file's size; a file
        rewritten rather than appended to (rotated, truncated, regenerated)
        changes at least one of them.
        """
        try:
            file = (folder / name).open("rb")
        except OSError:
            return None
        with file:
            size = file.seek(0, os.SEEK_END)
            length = size if length is None else length
            if size < length:
                return None
            digest = hashlib.sha256(str(length).encode())
            file.seek(0)
            digest.update(file.read(min(length, _FINGERPRINT_BYTES)))
            file.seek(max(0, length - _FINGERPRINT_BYTES))
            digest.update(file.read(min(length, _FINGERPRINT_BYTES)))
        return Fingerprint(length, digest.hexdigest())


def _status_path(folder: Path) -> Path:
    """The folder's status file; ``InvalidInputError`` when the folder or the file is missing."""
    if not folder.is_dir():
        raise InvalidInputError(f"the data folder {clipped(str(folder))} does not exist or is not a folder")
    path = folder / STATUS_FILE
    if not path.exists():
        raise InvalidInputError(f"{STATUS_FILE} is missing from the data folder {clipped(str(folder))}")
    return path


# The name the composition root and the CSV repositories know it by.
PandasCsvReader = CsvInputReader


# --- Whole files -----------------------------------------------------------------------------


def read_status(path: Path, now: datetime | None = None) -> tuple[StatusPolls, FileSummary]:
    """The valid, distinct polls of a ``store_status.csv`` and what was read.

    ``now`` is the reading machine's clock (by default ``system_clock()``):
    polls more than a day after it are rejected, as are polls before 1970.
    """
    moment = system_clock() if now is None else now
    parts: list[StatusPolls] = []
    counts: list[BatchCounts] = []
    for batch in iter_status_batches(path, lambda: moment):
        parts.append(batch.valid)
        counts.append(batch.counts)
    polls, repeated = merge_polls(parts)
    return polls, summarize(counts, repeated)


def read_hours(path: Path) -> tuple[BusinessHours, FileSummary]:
    """The distinct valid rows of a ``menu_hours.csv`` and what was read."""
    parts: list[BusinessHours] = []
    counts: list[BatchCounts] = []
    for batch in iter_hours_batches(path):
        parts.append(batch.valid)
        counts.append(batch.counts)
    hours, repeated = merge_hours(parts)
    return hours, summarize(counts, repeated)


def read_timezones(path: Path) -> tuple[StoreTimezones, FileSummary]:
    """Each store's timezone (its first valid row) from a ``timezone.csv``, and what was read."""
    by_store: dict[str, str] = {}
    counts: list[BatchCounts] = []
    repeated = 0
    for batch in iter_timezone_batches(path):
        counts.append(batch.counts)
        for store, name in batch.valid.by_store.items():
            if store in by_store:
                repeated += 1
            else:
                by_store[store] = name
    return StoreTimezones(dict(sorted(by_store.items()))), summarize(counts, repeated)


def merge_polls(parts: Sequence[StatusPolls]) -> tuple[StatusPolls, int]:
    """The polls of consecutive batches as one, the first of each ``(store, instant)``
    winning; and how many repeated a poll of an earlier batch."""
    store_ids, index = _joined_index(parts)
    instants = _concatenated([part.timestamp_us for part in parts], np.int64)
    active = _concatenated([part.active for part in parts], np.bool_)
    keep = ~_repeated_polls(index, instants)
    return StatusPolls(store_ids, index[keep], instants[keep], active[keep]), int(len(keep) - keep.sum())


def merge_hours(parts: Sequence[BusinessHours]) -> tuple[BusinessHours, int]:
    """The hours rows of consecutive batches as one set; and how many repeated a row of an earlier batch."""
    store_ids, index = _joined_index(parts)
    columns = (
        index,
        _concatenated([part.weekday for part in parts], np.int64),
        _concatenated([part.start_us for part in parts], np.int64),
        _concatenated([part.end_us for part in parts], np.int64),
    )
    keep = ~_repeated_rows(columns)
    return BusinessHours(store_ids, *(column[keep] for column in columns)), int(len(keep) - keep.sum())


def _joined_index(parts: Sequence[StatusPolls | BusinessHours]) -> tuple[tuple[str, ...], Int64Array]:
    """The sorted ids of all ``parts``, and each row's position among them."""
    store_ids = tuple(sorted(set().union(*(part.store_ids for part in parts))))
    position = {store_id: i for i, store_id in enumerate(store_ids)}
    index = [
        np.array([position[s] for s in part.store_ids], dtype=np.int64)[part.store_index]
        for part in parts
        if len(part.store_index)
    ]
    return store_ids, _concatenated(index, np.int64)


def _concatenated(arrays: Sequence[NDArray[_Scalar]], dtype: type[_Scalar]) -> NDArray[_Scalar]:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)


def release_free_memory() -> None:
    """Give the memory freed after reading a file back to the system.

    Reading leaves freed blocks in pyarrow's allocator and in the C heap
    (numpy's columns of a batch, pyarrow's buffers); a process that goes on
    computing would otherwise carry them, a few hundred MiB at a large
    fleet, into its peak.
    """
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - only glibc has it
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


# --- Batches -----------------------------------------------------------------------------------


def iter_status_batches(
    path: Path,
    clock: Clock = system_clock,
    resume: ResumePoint | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[StatusBatch]:
    """The rows of a ``store_status.csv`` in batches, from ``resume`` (else from the first row) to its end.

    The header is read at once: a missing column raises ``InvalidInputError``
    here, before any batch. ``clock`` is read once: polls more than a day
    after it are rejected, as are polls before 1970. Each batch holds its
    valid polls (distinct within the batch: the first wins), its counts, and
    where a later read goes on; at least one batch comes, empty when there is
    nothing to read.
    """
    now = clock()
    labels, parts = _open(path, STATUS_COLUMNS, resume, block_bytes)
    return _StatusChecks(labels, now).batches(parts)


def iter_hours_batches(
    path: Path, resume: ResumePoint | None = None, block_bytes: int = BLOCK_BYTES
) -> Iterator[HoursBatch]:
    """The rows of a ``menu_hours.csv`` in batches, as ``iter_status_batches`` gives polls."""
    labels, parts = _open(path, HOURS_COLUMNS, resume, block_bytes)
    return _HoursChecks(labels).batches(parts)


def iter_timezone_batches(
    path: Path, resume: ResumePoint | None = None, block_bytes: int = BLOCK_BYTES
) -> Iterator[TimezoneBatch]:
    """The rows of a ``timezone.csv`` in batches: each store's first valid timezone in
    the batch, in file order, as ``iter_status_batches`` gives polls."""
    labels, parts = _open(path, TIMEZONE_COLUMNS, resume, block_bytes)
    return _TimezoneChecks(labels).batches(parts)


# --- The header --------------------------------------------------------------------------------


@attrs.frozen
class _Layout:
    """A file's header: the position of each required column (by its first name) among
    ``width`` columns, its name as written, and where the rows start."""

    file_name: str
    width: int
    positions: dict[str, int]
    labels: dict[str, str]
    data: ResumePoint
    # False when the header line has no line break yet: a later read starts over.
    complete: bool
    size: int


def _open(
    path: Path, columns: Sequence[ColumnNames], resume: ResumePoint | None, block_bytes: int
) -> tuple[dict[str, str], Iterator[_Part]]:
    """The labels of the required columns, and the file's rows from ``resume`` on, a part at a time."""
    try:
        file = path.open("rb")
    except OSError as error:
        raise InvalidInputError(f"{path.name} cannot be read: {_os_reason(error)}") from error
    try:
        size = os.fstat(file.fileno()).st_size
        layout = _read_layout(file, path.name, columns, size)
        start = _start(file, layout, resume)
    except OSError as error:
        file.close()
        raise InvalidInputError(f"{path.name} cannot be read: {_os_reason(error)}") from error
    except BaseException:
        file.close()
        raise
    parts = _parts(file, layout, start, block_bytes)
    _open_parts.add(parts)
    return layout.labels, parts


def _os_reason(error: Exception) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error)


def _read_layout(file: BinaryIO, file_name: str, columns: Sequence[ColumnNames], size: int) -> _Layout:
    """The first line that is not blank, read as the header."""
    begin = len(_BOM) if file.read(len(_BOM)) == _BOM else 0
    file.seek(begin)
    # A header may hold a name of any length.
    csv.field_size_limit(max(csv.field_size_limit(), size))
    text = io.TextIOWrapper(file, encoding="utf-8", errors="surrogateescape", newline="")
    taken: list[str] = []

    def lines() -> Iterator[str]:
        for line in text:
            taken.append(line)
            yield line

    reader = csv.reader(lines())
    header: list[str] = []
    line = 0
    try:
        for row in reader:
            if not _is_blank(row):
                header = row
                break
            line = reader.line_num
    except csv.Error as error:
        raise InvalidInputError(f"{file_name}: the header on line {line + 1} cannot be read: {error}") from error
    finally:
        text.detach()
    found = _locate(file_name, header, columns)
    labels = {name: header[i].strip() for name, i in found.items()}
    offset = begin + sum(len(line.encode("utf-8", "surrogateescape")) for line in taken)
    last = taken[-1] if taken else ""
    complete = last.endswith("\n") or (last.endswith("\r") and offset < size)
    return _Layout(file_name, len(header), found, labels, ResumePoint(offset, reader.line_num + 1), complete, size)


def _start(file: BinaryIO, layout: _Layout, resume: ResumePoint | None) -> ResumePoint:
    """Where the read starts: the first row, or ``resume`` after checking that it starts a line."""
    if resume is None or resume.offset <= layout.data.offset:
        return layout.data
    if resume.offset > layout.size:
        raise InvalidInputError(
            f"{layout.file_name} has {layout.size} bytes, fewer than the {resume.offset} read before: "
            "it was replaced or cut"
        )
    if os.pread(file.fileno(), 1, resume.offset - 1) not in (b"\n", b"\r"):
        raise InvalidInputError(
            f"{layout.file_name}: byte {resume.offset} does not start a line; was the file replaced?"
        )
    return resume


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


# --- The bytes pyarrow reads -------------------------------------------------------------------


@attrs.define
class _Chunk:
    """Bytes handed to pyarrow: where they are in the file, and the line breaks before and in them."""

    offset: int
    data: bytes
    breaks_before: int
    breaks: int
    has_cr: bool

    @property
    def end(self) -> int:
        return self.offset + len(self.data)

    def after_break(self, number: int) -> int:
        """The offset in ``data`` just after its ``number``-th line break (from 1)."""
        if not self.has_cr:
            if number <= self.breaks // 2:
                position = -1
                for _ in range(number):
                    position = self.data.find(b"\n", position + 1)
            else:
                position = len(self.data)
                for _ in range(self.breaks - number + 1):
                    position = self.data.rfind(b"\n", 0, position)
            return position + 1
        return int(_break_ends(self.data)[number - 1])


def _break_ends(data: bytes) -> Int64Array:
    """Where each line break of ``data`` ends: after an LF, a CRLF or a lone CR."""
    array = np.frombuffer(data, dtype=np.uint8)
    lf = array == _LF
    cr = array == _CR
    cr[:-1] &= ~lf[1:]
    return np.flatnonzero(lf | cr).astype(np.int64) + 1


def _complete_prefix(data: bytes) -> int:
    """How much of ``data`` to hand on now: not a last CR (its LF may follow) nor a
    UTF-8 sequence that the next read completes."""
    if data.endswith(b"\r"):
        return len(data) - 1
    for back in range(1, min(3, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) - back if back < needed else len(data)
    return len(data)


class _Source(io.RawIOBase):
    """The bytes of a file from ``start`` to ``end``, as pyarrow reads them.

    pyarrow reads ahead in a thread of its own. What it was given is kept
    (until ``release``), with its line breaks counted, so that the offset of a
    line can be found; a byte that is not UTF-8 is handed on as
    ``_NOT_UTF8_STANDIN`` and its line noted, so that its row is rejected.
    """

    def __init__(self, file: BinaryIO, start: ResumePoint, end: int) -> None:
        super().__init__()
        self._fd = file.fileno()
        self.start = start
        self.end = end
        self._next = start.offset
        self._carry = b""
        self._lock = threading.Lock()
        self._chunks: list[_Chunk] = []
        self._breaks = 0
        self._bad_lines: list[int] = []
        # Whether any byte given so far was a quote: without one, no value holds a line break.
        self.quoted = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        wanted = BLOCK_BYTES if size is None or size < 0 else max(size, 1)
        with self._lock:
            while True:
                count = max(0, min(wanted, self.end - self._next))
                fresh = os.pread(self._fd, count, self._next) if count else b""
                if len(fresh) < count:  # the file was cut meanwhile
                    self.end = self._next + len(fresh)
                self._next += len(fresh)
                data = self._carry + fresh
                last = self._next >= self.end
                cut = len(data) if last else _complete_prefix(data)
                body, self._carry = data[:cut], data[cut:]
                if body or last:
                    break
            offset = self._next - len(data)
            body = self._utf8(body, offset)
            has_cr = body.find(b"\r") >= 0
            self.quoted = self.quoted or body.find(b'"') >= 0
            array = np.frombuffer(body, dtype=np.uint8)
            breaks = int(np.count_nonzero(array == _LF))
            if has_cr:
                breaks += int(np.count_nonzero(array == _CR)) - int(
                    np.count_nonzero((array[:-1] == _CR) & (array[1:] == _LF))
                )
            if body:
                self._chunks.append(_Chunk(offset, body, self._breaks, breaks, has_cr))
            self._breaks += breaks
            return body

    def _utf8(self, body: bytes, offset: int) -> bytes:
        """``body`` with each byte that is not UTF-8 replaced, and its line noted."""
        if body.isascii():
            return body
        try:
            codecs.utf_8_decode(body, "strict", True)
            return body
        except UnicodeDecodeError:
            pass
        fixed = bytearray(body)
        bad: list[int] = []
        position = 0
        view = memoryview(body)
        while True:
            try:
                codecs.utf_8_decode(view[position:], "strict", True)
                break
            except UnicodeDecodeError as error:
                first, stop = position + error.start, position + error.end
                fixed[first:stop] = _NOT_UTF8_STANDIN * (stop - first)
                bad.append(first)
                position = stop
        view.release()
        lines = self.start.line + self._breaks + np.searchsorted(_break_ends(body), bad, side="right")
        self._bad_lines.extend(sorted(set(lines.tolist())))
        return bytes(fixed)

    def offset_after_break(self, number: int) -> int | None:
        """The file offset just after the ``number``-th line break from the start; None
        if there are not that many (yet)."""
        if number == 0:
            return self.start.offset
        with self._lock:
            if number > self._breaks:
                return None
            for chunk in reversed(self._chunks):
                if chunk.breaks_before < number:
                    return chunk.offset + chunk.after_break(number - chunk.breaks_before)
        raise RuntimeError(f"line break {number} was released")

    def byte_at(self, offset: int) -> int | None:
        """The byte at a file offset read already; None at the end of the file."""
        with self._lock:
            for chunk in reversed(self._chunks):
                if chunk.offset <= offset < chunk.end:
                    return chunk.data[offset - chunk.offset]
        if offset >= self.end:
            return None
        raise RuntimeError(f"byte {offset} was released or not read")

    def not_utf8(self, first_lines: Int64Array, stop_lines: Int64Array) -> BoolArray:
        """For each range of lines, whether one of them holds a byte that is not UTF-8."""
        with self._lock:
            bad = np.array(self._bad_lines, dtype=np.int64)
        if not len(bad):
            return np.zeros(len(first_lines), dtype=np.bool_)
        result: BoolArray = np.searchsorted(bad, stop_lines) > np.searchsorted(bad, first_lines)
        return result

    def release(self, point: ResumePoint) -> None:
        """Forget the bytes before ``point``: no later row starts there."""
        with self._lock:
            # The chunk that ends at ``point`` holds the line break before it.
            self._chunks = [chunk for chunk in self._chunks if chunk.end >= point.offset]
            self._bad_lines = [line for line in self._bad_lines if line >= point.line]


# --- From pyarrow's records to lines -----------------------------------------------------------


class _Rejections:
    """The rejected rows of a batch: all counted, the first listed with a reason.

    Reasons are written only for rows that may be listed, so a batch of bad
    rows costs no more than their lines.
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


@attrs.define
class _Part:
    """Consecutive rows of a file, as parsed: the rows to check, and those already rejected.

    ``values`` holds, per required column, the field of each row to check as
    written; ``lines`` the line each starts on. ``rejections`` holds the rows
    of the wrong shape or not UTF-8. ``resume``: where a later read goes on.
    """

    values: dict[str, pa.BinaryArray]
    lines: Int64Array
    rejections: _Rejections
    resume: ResumePoint
    rows: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.rows = len(self.lines) + self.rejections.count

    def counts(self, duplicates: int) -> BatchCounts:
        return BatchCounts(
            rows=self.rows,
            duplicates=duplicates,
            rejected=self.rejections.count,
            errors=self.rejections.listed(),
        )


class _Straddled(Exception):
    """pyarrow could not cut a block into records: parse again with larger blocks."""


# The longest block pyarrow takes.
_MAX_BLOCK_BYTES = 1 << 30
_QUOTED_REST = re.compile(r'[^"]*(?:""[^"]*)*"')


def _parts(file: BinaryIO, layout: _Layout, start: ResumePoint, block_bytes: int) -> Iterator[_Part]:
    """The rows of the file from ``start`` to the end it had when the header was read."""
    try:
        if not layout.complete:
            yield _Part(_empty_values(layout), np.empty(0, dtype=np.int64), _Rejections(), START)
            return
        while True:
            run = _Pass(file, layout, start, block_bytes)
            try:
                yield from run.parts()
                return
            except _Straddled:
                if block_bytes >= _MAX_BLOCK_BYTES:
                    raise InvalidInputError(
                        f"{layout.file_name}: a row from line {run.resume.line} on is longer than "
                        f"{_MAX_BLOCK_BYTES >> 20} MiB"
                    ) from None
                start, block_bytes = run.resume, min(block_bytes * 4, _MAX_BLOCK_BYTES)
    finally:
        file.close()


def _empty_values(layout: _Layout) -> dict[str, pa.BinaryArray]:
    return {name: pa.array([], type=pa.binary()) for name in layout.positions}


# pyarrow reads ahead in a thread of its own, which calls ``_Source.read``: a
# reader still open when Python stops (a batch iterator left unfinished) would
# call into a stopped interpreter. They are closed first.
_open_parts: weakref.WeakSet[Iterator[_Part]] = weakref.WeakSet()


@atexit.register
def _close_open_readers() -> None:
    for parts in list(_open_parts):
        close = getattr(parts, "close", None)
        if close is not None:
            close()
    gc.collect()


class _Pass:
    """One run of pyarrow's streaming reader from ``start`` to the end of the file.

    pyarrow numbers records (1 for the first from ``start``; a blank line is a
    record of empty fields, a quoted value may hold line breaks); the handler
    gets those of the wrong shape, with their number and text, the batches
    the others. A record's physical line is ``start.line`` plus the records
    before it plus the line breaks inside them: inside the values of a row,
    inside the text of a record of the wrong shape.
    """

    def __init__(self, file: BinaryIO, layout: _Layout, start: ResumePoint, block_bytes: int) -> None:
        self.layout = layout
        # From the line break before ``start``: pyarrow's first record is then
        # that blank line, and a byte-order mark that starts the next line is
        # part of its first field, not skipped as if it began the file.
        self.source = _Source(file, ResumePoint(start.offset - 1, start.line - 1), layout.size)
        self.block_bytes = block_bytes
        # Records of the wrong shape not yet placed: (number, text, fields).
        self.invalid: list[tuple[int, str, int]] = []
        self.next_record = 1
        self.next_line = start.line - 1
        self.resume = start

    def _invalid_row(self, row: pacsv.InvalidRow) -> Literal["skip"]:
        self.invalid.append((-1 if row.number is None else row.number, row.text, row.actual_columns))
        return "skip"

    def parts(self) -> Iterator[_Part]:
        if self.resume.offset >= self.source.end:
            yield _Part(_empty_values(self.layout), np.empty(0, dtype=np.int64), _Rejections(), self.resume)
            return
        names = [f"c{i}" for i in range(self.layout.width)]
        try:
            reader = pacsv.open_csv(
                cast("IO[bytes]", self.source),
                read_options=pacsv.ReadOptions(
                    block_size=self.block_bytes, use_threads=False, column_names=names
                ),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=self._invalid_row
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.binary() for name in names}, strings_can_be_null=False
                ),
            )
        except pa.ArrowInvalid as error:
            raise self._failed(error) from error
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowInvalid as error:
                    raise self._failed(error) from error
                if batch.num_rows:
                    yield self._part(batch)
            yield self._part(None)
        finally:
            reader.close()

    def _failed(self, error: pa.ArrowInvalid) -> Exception:
        # pyarrow cuts its input into blocks at the ends of records; a record
        # longer than a block, or quotes that make it cut where its parser does
        # not, fail the block: it is parsed again, larger.
        if "straddl" in str(error) or "out of sync" in str(error):
            return _Straddled()
        return InvalidInputError(
            f"{self.layout.file_name} cannot be read as CSV from line {self.next_line} on: {clipped(str(error))}"
        )

    def _part(self, batch: pa.RecordBatch | None) -> _Part:
        """The rows of ``batch`` (None: the end of the file) and the records of the
        wrong shape before its last row."""
        width = self.layout.width
        columns = [cast(pa.BinaryArray, batch.column(i)) for i in range(width)] if batch is not None else []
        rows = batch.num_rows if batch is not None else 0
        pending = list(self.invalid)  # pyarrow's thread may add more meanwhile
        numbers = np.array([number for number, _, _ in pending], dtype=np.int64)
        if (numbers < 1).any():
            raise RuntimeError("pyarrow did not number a record")
        # Per record of the wrong shape, the rows before it.
        before = numbers - self.next_record - np.arange(len(numbers), dtype=np.int64)
        taken = len(pending) if batch is None else int(np.searchsorted(before, rows, side="left"))
        invalid = pending[:taken]
        del self.invalid[:taken]
        records = rows + taken
        row_records = np.arange(rows, dtype=np.int64) + np.searchsorted(
            before[:taken], np.arange(rows, dtype=np.int64), side="right"
        )
        invalid_records = numbers[:taken] - self.next_record
        spans = np.ones(records, dtype=np.int64)
        if rows and self.source.quoted:
            spans[row_records] += _breaks_in_values(columns)
        spans[invalid_records] += np.array([_breaks_in(text) for _, text, _ in invalid], dtype=np.int64)
        starts = self.next_line + np.concatenate(([0], np.cumsum(spans)[:-1])).astype(np.int64)
        row_lines, invalid_lines = starts[row_records], starts[invalid_records]
        self.next_record += records
        end_line = self.next_line + int(spans.sum())
        self.next_line = end_line

        rejections = _Rejections()
        not_utf8 = self.source.not_utf8(starts, starts + spans)
        shape_lines: list[int] = []
        shape_reasons: list[str] = []
        for (_, text, fields), line, record in zip(invalid, invalid_lines.tolist(), invalid_records.tolist()):
            if fields == 1 and _blank_text(text):
                continue
            shape_lines.append(line)
            shape_reasons.append("the row is not valid UTF-8" if not_utf8[record] else _wrong_shape(fields, width))
        rejections.add(np.array(shape_lines, dtype=np.int64), shape_reasons.__getitem__)

        keep = ~not_utf8[row_records]
        if rows:
            empty = np.ones(rows, dtype=np.bool_)
            for column in columns:
                empty &= _lengths(column) == 0
            for row in np.flatnonzero(empty).tolist():
                offset = self.source.offset_after_break(int(row_lines[row]) - self.source.start.line)
                if offset is None or self.source.byte_at(offset) in (None, _LF, _CR):
                    keep[row] = False  # a blank line: not a row
                    not_utf8[row_records[row]] = False
        bad_rows = np.flatnonzero(not_utf8[row_records])
        rejections.add(row_lines[bad_rows], lambda i: "the row is not valid UTF-8")
        if not rows:
            values = _empty_values(self.layout)
        elif keep.all():
            values = {name: columns[i] for name, i in self.layout.positions.items()}
        else:
            mask = pa.array(keep)
            values = {name: columns[i].filter(mask) for name, i in self.layout.positions.items()}
        if records:
            last_text = invalid[-1][1] if taken and invalid_records[-1] == records - 1 else None
            self.resume = self._resume(end_line, int(starts[-1]), last_text)
            self.source.release(self.resume)
        return _Part(values, row_lines[keep], rejections, self.resume)

    def _resume(self, end_line: int, last_line: int, last_text: str | None) -> ResumePoint:
        """After the last record read, if a line break ends it; else before that record."""
        source = self.source
        offset = source.offset_after_break(end_line - source.start.line)
        if offset is not None and offset < source.end:
            return ResumePoint(offset, end_line)
        if offset is not None and source.byte_at(offset - 1) == _LF:
            if last_text is None or not _ends_inside_quotes(last_text):
                return ResumePoint(offset, end_line)
        # Unterminated (or a CR that a LF may follow): read again once complete.
        start = source.offset_after_break(last_line - source.start.line)
        assert start is not None
        return ResumePoint(start, last_line)


def _offsets(column: pa.BinaryArray) -> Int64Array:
    """Where each value of ``column`` starts in its data (and where the last ends)."""
    buffer = column.buffers()[1]
    assert buffer is not None
    offsets = np.frombuffer(memoryview(buffer), dtype=np.int32)[column.offset : column.offset + len(column) + 1]
    return offsets.astype(np.int64)


def _data(column: pa.BinaryArray) -> NDArray[np.uint8]:
    """The bytes of the values of ``column``, one after the other."""
    buffer = column.buffers()[2]
    return np.frombuffer(memoryview(buffer), dtype=np.uint8) if buffer is not None else np.empty(0, dtype=np.uint8)


def _lengths(column: pa.BinaryArray) -> Int64Array:
    return np.diff(_offsets(column))


def _breaks_in_values(columns: Sequence[pa.BinaryArray]) -> Int64Array:
    """The line breaks inside each row's values (LF, CRLF or a lone CR)."""
    total = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        if not (_data(column) <= _CR).any():
            continue
        counts = [
            pc.count_substring(column, pattern).to_numpy(zero_copy_only=False) for pattern in ("\n", "\r", "\r\n")
        ]
        total += (counts[0] + counts[1] - counts[2]).astype(np.int64)
    return total


def _breaks_in(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _blank_text(text: str) -> bool:
    """Whether a record of one field is a blank line: white space, or a quoted blank."""
    stripped = text.strip(_ASCII_SPACE)
    if not stripped:
        return True
    if not stripped.startswith('"'):
        return False
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    return _is_blank(next(csv.reader(io.StringIO(text, newline="")), []))


def _ends_inside_quotes(text: str) -> bool:
    """Whether a record's text ends inside a quoted value (which a later line may close)."""
    position = 0
    while position < len(text):
        if text[position] == '"':
            closed = _QUOTED_REST.match(text, position + 1)
            if closed is None:
                return True
            position = closed.end()
        comma = text.find(",", position)
        if comma < 0:
            return False
        position = comma + 1
    return False


# --- Checking a batch's columns ----------------------------------------------------------------


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _show(value: str) -> str:
    return quoted(value, _SHOWN_CHARS)


class _Checks:
    """Rejects rows of a part column by column; a row is explained by the first check it fails."""

    def __init__(self, part: _Part, labels: dict[str, str]) -> None:
        self.part = part
        self.labels = labels
        self.bad: BoolArray = np.zeros(len(part.lines), dtype=np.bool_)

    def reject(self, mask: BoolArray, column: str, problem: str) -> None:
        rows = np.flatnonzero(mask & ~self.bad)
        self.bad |= mask
        label = self.labels[column]
        values = self.part.values[column]

        def reason(i: int) -> str:
            value = _text(values[int(rows[i])].as_py())
            if not value.strip():
                return f"{label} is blank"
            return f"{label} {_show(value)} {problem}"

        self.part.rejections.add(self.part.lines[rows], reason)

    def valid(self) -> BoolArray:
        return ~self.bad


class _Distinct(Generic[_Value]):
    """A column's distinct values as written, each converted once per file.

    The values seen are kept as one pyarrow array, so that a batch finds the
    ones it repeats without leaving pyarrow; only new ones reach Python.
    """

    def __init__(self, convert: Callable[[str], _Value]) -> None:
        self._convert = convert
        self.converted: list[_Value] = []
        self._seen: pa.Array[Any] = pa.array([], type=pa.binary())

    def codes(self, column: pa.BinaryArray) -> Int64Array:
        """Per row, the position of its value's conversion in ``converted``."""
        if len(self.converted) > _MAX_REMEMBERED:
            self.converted, self._seen = [], pa.array([], type=pa.binary())
        encoded = cast("pa.DictionaryArray[Any, Any]", pc.dictionary_encode(column))
        values = encoded.dictionary
        found = pc.index_in(values, value_set=self._seen).fill_null(-1)
        position = np.array(found.to_numpy(zero_copy_only=False), dtype=np.int64)
        new = np.flatnonzero(position < 0)
        if len(new):
            fresh = values.take(new)
            texts = cast("list[bytes]", fresh.to_pylist())
            position[new] = len(self.converted) + np.arange(len(new), dtype=np.int64)
            self.converted.extend(self._convert(_text(text)) for text in texts)
            self._seen = pa.concat_arrays([self._seen, fresh])
        indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        return position[indices] if len(indices) else np.empty(0, dtype=np.int64)


class _Numbers:
    """A column's distinct values converted to integers, each once per file."""

    def __init__(self, convert: Callable[[str], int]) -> None:
        self._distinct = _Distinct(convert)
        self._numbers = np.empty(0, dtype=np.int64)

    def __call__(self, column: pa.BinaryArray) -> Int64Array:
        codes = self._distinct.codes(column)
        if len(self._numbers) != len(self._distinct.converted):
            self._numbers = np.array(self._distinct.converted, dtype=np.int64)
        return self._numbers[codes]


_NO_PROBLEM, _BLANK_ID, _CONTROL_ID, _LONG_ID = range(4)
_STORE_ID_PROBLEMS = (
    (_BLANK_ID, "is blank"),
    (_CONTROL_ID, "holds a control character (U+0000 to U+001F or U+007F)"),
    (_LONG_ID, f"is longer than {MAX_STORE_ID_CHARS} characters"),
)


def _store_id(written: str) -> tuple[str, int]:
    """The id (trimmed) and what is wrong with it.

    Around the id, spaces, tabs and line ends are white space, trimmed; any
    other control character, even at either end, rejects the row.
    """
    name = written.strip()
    if not name:
        return name, _BLANK_ID
    if _CONTROL_CHARACTER.search(written.strip(_ASCII_SPACE)) is not None:
        return name, _CONTROL_ID
    if len(name) > MAX_STORE_ID_CHARS:
        return name, _LONG_ID
    return name, _NO_PROBLEM


class _StoreIds:
    """The store ids of a file: each distinct one trimmed and checked once, and ranked among the others."""

    def __init__(self) -> None:
        self._ids = _Distinct(_store_id)
        self._problems = np.empty(0, dtype=np.int64)
        # Per code, the position of its name among ``_sorted``, the distinct names in order.
        self._rank = np.empty(0, dtype=np.int64)
        self._sorted: list[str] = []

    def check(self, checks: _Checks, column: str) -> Int64Array:
        """Per row, the code of its store id; rows whose id is blank, holds a
        control character or is too long are rejected."""
        codes = self._ids.codes(checks.part.values[column])
        entries = self._ids.converted
        if len(self._rank) != len(entries):
            self._problems = np.array([problem for _, problem in entries], dtype=np.int64)
            self._sorted = sorted({name for name, _ in entries})
            position = {name: i for i, name in enumerate(self._sorted)}
            self._rank = np.array([position[name] for name, _ in entries], dtype=np.int64)
        problems = self._problems[codes]
        for problem, reason in _STORE_ID_PROBLEMS:
            checks.reject(problems == problem, column, reason)
        return codes

    def vocabulary(self, codes: Int64Array) -> tuple[tuple[str, ...], Int64Array]:
        """The sorted distinct names that ``codes`` use, and each code's position among them."""
        ranks = self._rank[codes]
        present = np.zeros(len(self._sorted), dtype=np.bool_)
        present[ranks] = True
        used = np.flatnonzero(present)
        return tuple(map(self._sorted.__getitem__, used.tolist())), (np.cumsum(present) - 1)[ranks]


class _FileChecks:
    """What every file's batches share: the labels of the columns and the store ids."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self.store_ids = _StoreIds()


class _StatusChecks(_FileChecks):
    def __init__(self, labels: dict[str, str], now: datetime) -> None:
        super().__init__(labels)
        self.latest = to_micros(now) + MICROS_PER_DAY
        self.future = (
            f"is more than a day after this machine's clock ({now.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC)"
        )
        self.statuses = _Numbers(_status_value)

    def batches(self, parts: Iterable[_Part]) -> Iterator[StatusBatch]:
        for part in parts:
            yield self.batch(part)

    def batch(self, part: _Part) -> StatusBatch:
        checks = _Checks(part, self.labels)
        codes = self.store_ids.check(checks, "store_id")
        active = self._statuses(part.values["status"])
        checks.reject(active < 0, "status", "is not 'active' or 'inactive'")
        instants, readable = _instants(part.values["timestamp_utc"])
        checks.reject(~readable, "timestamp_utc", "is not a timestamp (such as 2023-01-22 12:09:39.388884 UTC)")
        checks.reject(instants < 0, "timestamp_utc", "is before 1970-01-01 UTC")
        checks.reject(instants > self.latest, "timestamp_utc", self.future)

        valid = checks.valid()
        store_ids, store_index = self.store_ids.vocabulary(codes[valid])
        instants = instants[valid]
        repeated = _repeated_polls(store_index, instants)
        keep = ~repeated
        polls = StatusPolls(store_ids, store_index[keep], instants[keep], active[valid][keep] == 1)
        return InputBatch(polls, part.counts(int(repeated.sum())), part.resume)

    def _statuses(self, values: pa.BinaryArray) -> Int64Array:
        """1 for active, 0 for inactive, -1 for anything else."""
        # Nearly every value is written exactly so; comparing is faster than hashing.
        active = _is(values, b"active")
        inactive = _is(values, b"inactive")
        statuses = np.where(active, 1, np.where(inactive, 0, -1)).astype(np.int64)
        others = np.flatnonzero(~(active | inactive))
        if len(others):
            statuses[others] = self.statuses(values.take(others))
        return statuses


def _is(values: pa.BinaryArray, text: bytes) -> BoolArray:
    equal = pc.equal(values, pa.scalar(text, type=pa.binary()))
    return np.asarray(equal.to_numpy(zero_copy_only=False), dtype=np.bool_)


class _HoursChecks(_FileChecks):
    def __init__(self, labels: dict[str, str]) -> None:
        super().__init__(labels)
        self.weekdays = _Numbers(_weekday)
        self.times = _Numbers(_time_of_day)

    def batches(self, parts: Iterable[_Part]) -> Iterator[HoursBatch]:
        for part in parts:
            yield self.batch(part)

    def batch(self, part: _Part) -> HoursBatch:
        checks = _Checks(part, self.labels)
        codes = self.store_ids.check(checks, "store_id")
        weekday = self.weekdays(part.values["dayOfWeek"])
        checks.reject(weekday < 0, "dayOfWeek", "is not a whole number from 0 (Monday) to 6 (Sunday)")
        start = self.times(part.values["start_time_local"])
        checks.reject(start < 0, "start_time_local", "is not a time of day (HH:MM:SS or HH:MM)")
        end = self.times(part.values["end_time_local"])
        checks.reject(end < 0, "end_time_local", "is not a time of day (HH:MM:SS or HH:MM)")

        valid = checks.valid()
        store_ids, store_index = self.store_ids.vocabulary(codes[valid])
        columns = (store_index, weekday[valid], start[valid], end[valid])
        repeated = _repeated_rows(columns)
        keep = ~repeated
        hours = BusinessHours(store_ids, *(column[keep] for column in columns))
        return InputBatch(hours, part.counts(int(repeated.sum())), part.resume)


class _TimezoneChecks(_FileChecks):
    def __init__(self, labels: dict[str, str]) -> None:
        super().__init__(labels)
        self.zones = _Distinct(_timezone_name)

    def batches(self, parts: Iterable[_Part]) -> Iterator[TimezoneBatch]:
        for part in parts:
            yield self.batch(part)

    def batch(self, part: _Part) -> TimezoneBatch:
        checks = _Checks(part, self.labels)
        codes = self.store_ids.check(checks, "store_id")
        zones = self.zones.codes(part.values["timezone_str"])
        unknown = np.array([name is None for name in self.zones.converted], dtype=np.bool_)[zones]
        checks.reject(unknown, "timezone_str", "is not a timezone name pytz knows")

        valid = checks.valid()
        store_ids, store_index = self.store_ids.vocabulary(codes[valid])
        first = ~pd.Series(store_index).duplicated(keep="first").to_numpy()
        by_store = {
            store_ids[store]: str(self.zones.converted[zone])
            for store, zone in zip(store_index[first].tolist(), zones[valid][first].tolist())
        }
        return InputBatch(StoreTimezones(by_store), part.counts(int(len(first) - first.sum())), part.resume)


def _repeated_polls(store_index: Int64Array, instants: Int64Array) -> BoolArray:
    """True for each row whose ``(store, instant)`` an earlier row has."""
    if len(instants) == 0:
        return np.zeros(0, dtype=np.bool_)
    first = int(instants.min())
    span = int(instants.max()) - first + 1
    if (int(store_index.max()) + 1) * span >= 2**62:
        return _repeated_rows((store_index, instants))
    key = store_index * span + (instants - first)
    # Sorting one int64 column to see that nothing repeats (the usual case)
    # is ten times faster than hashing it to find what repeats.
    ordered = np.sort(key)
    if not (ordered[1:] == ordered[:-1]).any():
        return np.zeros(len(key), dtype=np.bool_)
    return np.asarray(pd.Series(key).duplicated(keep="first").to_numpy(), dtype=np.bool_)


def _repeated_rows(columns: Sequence[Int64Array]) -> BoolArray:
    """True for each row that an earlier row repeats in every column."""
    if len(columns[0]) == 0:
        return np.zeros(0, dtype=np.bool_)
    frame = pd.DataFrame(dict(enumerate(columns)))
    return np.asarray(frame.duplicated(keep="first").to_numpy(), dtype=np.bool_)


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


# --- Timestamps --------------------------------------------------------------------------------


def _instants(values: pa.BinaryArray) -> tuple[Int64Array, BoolArray]:
    """UTC microseconds of each row's timestamp, and whether it could be read.

    A timestamp is read as ISO 8601 after a trailing ``UTC`` is removed; an
    offset is applied; one without an offset is UTC. A fraction finer than a
    microsecond is cut. Those written the usual way are read straight from
    the column's bytes; the others by a general parse.
    """
    if len(values) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.bool_)
    offsets, data = _offsets(values), _data(values)
    if len(data) < 32:  # room for every position the byte reading looks at
        data = np.concatenate((data, np.zeros(32, dtype=np.uint8)))
    instants, readable = _canonical_instants(data, offsets[:-1], offsets[1:])
    unread = np.flatnonzero(~readable)
    if len(unread):
        texts = [_text(value) for value in values.take(unread).to_pylist()]
        instants[unread], readable[unread] = _text_instants(pd.Series(texts, dtype="str"))
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
