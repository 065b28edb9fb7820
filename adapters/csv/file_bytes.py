"""The bytes of a file as pyarrow's streaming reader takes them: kept with their
line breaks counted until released, so that the offset of a line can be found,
and with each byte that is not UTF-8 replaced and its line noted."""

from __future__ import annotations

import codecs
import io
import os
import threading
from typing import BinaryIO

import attrs
import numpy as np

from adapters.csv.rules import _CR, _LF, _NOT_UTF8_STANDIN, BLOCK_BYTES
from domain.model.ingestion import ResumePoint
from domain.model.inputs import BoolArray, Int64Array


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

