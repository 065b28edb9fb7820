"""A part of a file as parsed: its rows' fields as pyarrow's binary columns, the
line each row starts on and the rows rejected already; and the access to those
columns' bytes that the checks and the timestamps share."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from domain.model.ingestion import MAX_LISTED_ERRORS, BatchCounts, RejectedRow, ResumePoint
from domain.model.inputs import Int64Array


class Rejections:
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
class Part:
    """Consecutive rows of a file, as parsed: the rows to check, and those already rejected.

    ``values`` holds, per required column, the field of each row to check as
    written; ``lines`` the line each starts on. ``rejections`` holds the rows
    of the wrong shape or not UTF-8. ``resume``: where a later read goes on.
    """

    values: dict[str, pa.BinaryArray]
    lines: Int64Array
    rejections: Rejections
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


def column_text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def value_offsets(column: pa.BinaryArray) -> Int64Array:
    """Where each value of ``column`` starts in its data (and where the last ends)."""
    buffer = column.buffers()[1]
    assert buffer is not None
    offsets = np.frombuffer(memoryview(buffer), dtype=np.int32)[column.offset : column.offset + len(column) + 1]
    return offsets.astype(np.int64)


def column_data(column: pa.BinaryArray) -> NDArray[np.uint8]:
    """The bytes of the values of ``column``, one after the other."""
    buffer = column.buffers()[2]
    return np.frombuffer(memoryview(buffer), dtype=np.uint8) if buffer is not None else np.empty(0, dtype=np.uint8)


def value_lengths(column: pa.BinaryArray) -> Int64Array:
    return np.diff(value_offsets(column))

