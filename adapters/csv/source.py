"""From a file's bytes to batches of its rows' fields: the header, pyarrow's
streaming reader, and the physical line of every row."""

from __future__ import annotations

import atexit
import codecs
import csv
import gc
import io
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, BinaryIO, Literal, cast

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from adapters.csv.rules import (
    _ASCII_SPACE,
    _BOM,
    _CR,
    _LF,
    _NOT_UTF8_STANDIN,
    _SHOWN_CHARS,
    _SHOWN_HEADER_CHARS,
    BLOCK_BYTES,
    ColumnNames,
)
from domain.model.errors import InvalidInputError, clipped, quoted
from domain.model.ingestion import MAX_LISTED_ERRORS, START, BatchCounts, RejectedRow, ResumePoint
from domain.model.inputs import BoolArray, Int64Array

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


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


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


