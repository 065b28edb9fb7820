"""From a file to its rows a part at a time: opening it, pyarrow's streaming
reader over its bytes, and the physical line of every row."""

from __future__ import annotations

import atexit
import csv
import gc
import io
import os
import re
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, BinaryIO, Literal, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from adapters.csv.file_bytes import _Source
from adapters.csv.header import Layout, is_blank, read_layout, rows_start
from adapters.csv.parts import Part, Rejections, column_data, value_lengths
from adapters.csv.rules import _ASCII_SPACE, _CR, _LF, ColumnNames
from domain.model.errors import InvalidInputError, clipped
from domain.model.ingestion import START, ResumePoint
from domain.model.inputs import Int64Array


def open_csv(
    path: Path, columns: Sequence[ColumnNames], resume: ResumePoint | None, block_bytes: int
) -> tuple[dict[str, str], Iterator[Part]]:
    """The labels of the required columns, and the file's rows from ``resume`` on, a part at a time."""
    try:
        file = path.open("rb")
    except OSError as error:
        raise InvalidInputError(f"{path.name} cannot be read: {_os_reason(error)}") from error
    try:
        size = os.fstat(file.fileno()).st_size
        layout = read_layout(file, path.name, columns, size)
        start = rows_start(file, layout, resume)
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


def _wrong_shape(fields: int, expected: int) -> str:
    return f"the row has {fields} field{'s' if fields != 1 else ''}; the header has {expected}"


class _Straddled(Exception):
    """pyarrow could not cut a block into records: parse again with larger blocks."""


# The longest block pyarrow takes.
_MAX_BLOCK_BYTES = 1 << 30
_QUOTED_REST = re.compile(r'[^"]*(?:""[^"]*)*"')


def _parts(file: BinaryIO, layout: Layout, start: ResumePoint, block_bytes: int) -> Iterator[Part]:
    """The rows of the file from ``start`` to the end it had when the header was read."""
    try:
        if not layout.complete:
            yield Part(_empty_values(layout), np.empty(0, dtype=np.int64), Rejections(), START)
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


def _empty_values(layout: Layout) -> dict[str, pa.BinaryArray]:
    return {name: pa.array([], type=pa.binary()) for name in layout.positions}


# pyarrow reads ahead in a thread of its own, which calls ``_Source.read``: a
# reader still open when Python stops (a batch iterator left unfinished) would
# call into a stopped interpreter. They are closed first.
_open_parts: weakref.WeakSet[Iterator[Part]] = weakref.WeakSet()


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

    def __init__(self, file: BinaryIO, layout: Layout, start: ResumePoint, block_bytes: int) -> None:
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

    def parts(self) -> Iterator[Part]:
        if self.resume.offset >= self.source.end:
            yield Part(_empty_values(self.layout), np.empty(0, dtype=np.int64), Rejections(), self.resume)
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

    def _part(self, batch: pa.RecordBatch | None) -> Part:
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

        rejections = Rejections()
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
                empty &= value_lengths(column) == 0
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
        return Part(values, row_lines[keep], rejections, self.resume)

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


def _breaks_in_values(columns: Sequence[pa.BinaryArray]) -> Int64Array:
    """The line breaks inside each row's values (LF, CRLF or a lone CR)."""
    total = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        if not (column_data(column) <= _CR).any():
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
    return is_blank(next(csv.reader(io.StringIO(text, newline="")), []))


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


